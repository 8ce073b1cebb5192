"""Pilot tests: every screen driven by keys, asserting on what it shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rbacmap.tui.app import RbacmapApp
from rbacmap.tui.key_bar import KeyBar
from rbacmap.tui.modals import ExportScreen, HelpScreen, YamlScreen
from rbacmap.tui.roles import RoleDetailScreen, RolesScreen
from rbacmap.tui.subjects import SubjectDetailScreen, SubjectsScreen
from rbacmap.tui.who_can import WhoCanScreen
from tests.tui.conftest import FIXTURES

SIZE = (140, 40)


async def test_dashboard_shows_cluster_counts_and_missing_solver(tui_db: str, ui: Any) -> None:
    app = ui.app(tui_db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        summary = ui.static_text(app, "#summary") + ui.static_text(app, "#subject-count")
        assert "Cluster demo" in summary
        assert "3 ClusterRole, 2 ClusterRoleBinding" in summary
        assert "6 subjects" in summary
        assert ui.table_rows(app, "#clusters") == [["▶ demo", "1", "1"]]
        assert "Subjects reaching cluster-admin" in ui.static_text(app, "#dangerous")


async def test_dashboard_warns_about_incomplete_snapshot(tui_db: str, ui: Any) -> None:
    from rbacmap.store import Store

    with Store(tui_db) as store:
        store.conn.execute("""UPDATE snapshots SET incomplete_kinds = '["Secret"]'""")
    app = ui.app(tui_db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        assert "the importer could not read Secret" in ui.static_text(app, "#warnings")


async def test_subjects_filter_detail_and_role_drill_in(tui_db: str, ui: Any) -> None:
    app = ui.app(tui_db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "subjects")
        assert isinstance(app.screen, SubjectsScreen)
        kinds = [row[:2] for row in ui.table_rows(app, "#subjects")]
        assert ["ServiceAccount", "ci/deployer"] in kinds
        assert ["ServiceAccount", "web/frontend"] in kinds  # namespace defaulted from the RoleBinding
        assert ["Group", "developers"] in kinds

        await ui.press(app, pilot, "slash", *"alice", "enter")
        assert [row[:2] for row in ui.table_rows(app, "#subjects")] == [["User", "alice@example.com"]]

        await ui.press(app, pilot, "enter")
        assert isinstance(app.screen, SubjectDetailScreen)
        tree = ui.tree_lines(app, "#permissions")
        assert tree[0] == "2 rules from 1 bindings"
        assert tree[1].strip() == "payments"
        assert "create pods/exec  ← RoleBinding payments/deployer → Role payments/payments-deployer rule #1" in tree[3]
        assert "system:authenticated" in ui.static_text(app, "#identity")

        # enter on a rule opens the role that grants it; esc comes back
        await ui.press(app, pilot, "down", "down", "enter")
        assert isinstance(app.screen, RoleDetailScreen)
        assert app.screen.key.name == "payments-deployer"
        await ui.press(app, pilot, "escape")
        assert isinstance(app.screen, SubjectDetailScreen)
        await ui.press(app, pilot, "escape")
        assert isinstance(app.screen, SubjectsScreen)


async def test_group_detail_and_dangling_binding(tui_db: str, ui: Any) -> None:
    app = ui.app(tui_db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "subjects")
        await ui.press(app, pilot, "slash", *"developers", "enter", "enter")
        assert isinstance(app.screen, SubjectDetailScreen)
        assert "get,list,watch pods,pods/log" in "\n".join(ui.tree_lines(app, "#permissions"))
        identity = ui.static_text(app, "#identity")
        assert "RoleBinding web/web-editors names this subject but its ClusterRole 'edit' does not exist" in identity


async def test_roles_detail_yaml_and_export(tui_db: str, ui: Any, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = ui.app(tui_db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "roles")
        assert isinstance(app.screen, RolesScreen)
        rows = ui.table_rows(app, "#roles")
        assert ["ClusterRole", "-", "secret-reader", "1", "1"] in rows
        assert ["Role", "payments", "payments-deployer", "2", "1"] in rows

        await ui.press(app, pilot, "slash", *"secret", "enter", "enter")
        assert isinstance(app.screen, RoleDetailScreen)
        assert ui.table_rows(app, "#rules") == [["0", '""', "secrets", "db-password", "get", "-"]]
        assert ui.table_rows(app, "#role-bindings") == [
            ["RoleBinding read-db-password", "payments", "User", "bob@example.com"]
        ]
        assert "no audit logs imported for cluster demo" in ui.static_text(app, "#usage")

        await ui.press(app, pilot, "y")
        assert isinstance(app.screen, YamlScreen)
        assert "resourceNames:\n  - db-password" in app.screen.yaml_text
        await ui.press(app, pilot, "escape")

        await ui.press(app, pilot, "c")
        assert yaml.safe_load(app.clipboard)["metadata"]["name"] == "secret-reader"

        await ui.press(app, pilot, "e")
        assert isinstance(app.screen, ExportScreen)
        await ui.press(app, pilot, "enter")
        written = tmp_path / "ClusterRole-secret-reader.yaml"
        assert yaml.safe_load(written.read_text()) == {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "secret-reader"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["db-password"],
                       "verbs": ["get"]}],
        }

        # exporting again never overwrites: the modal stays open and says so
        await ui.press(app, pilot, "e", "enter")
        assert isinstance(app.screen, ExportScreen)
        assert "exists; choose another name" in ui.static_text(app, "#export-error")
        await ui.press(app, pilot, "escape")

        # enter on a bound subject shows that subject
        await ui.press(app, pilot, "enter")
        assert isinstance(app.screen, SubjectDetailScreen)
        assert app.screen.subject.name == "bob@example.com"


async def test_who_can_answers_with_provenance_and_exports(tui_db: str, ui: Any, tmp_path: Path) -> None:
    app = ui.app(tui_db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "who-can")
        assert isinstance(app.screen, WhoCanScreen)
        await ui.press(app, pilot, *"create", "tab", *"pods/exec", "tab", *"payments", "enter")
        rows = ui.table_rows(app, "#answers")
        assert [row[:3] for row in rows] == [
            ["Group", "system:masters", "cluster-wide"],
            ["Group", "platform-admins", "cluster-wide"],
            ["ServiceAccount", "ci/deployer", "payments"],
            ["User", "alice@example.com", "payments"],
        ]
        assert rows[2][3:] == ["RoleBinding payments/deployer", "Role payments/payments-deployer",
                               '#1 {apiGroups="" resources=pods/exec verbs=create}']
        assert "4 answers: who can create pods/exec in namespace payments" in ui.static_text(app, "#status")

        target = tmp_path / "out" / "who-can.yaml"
        await ui.press(app, pilot, "e")
        app.screen.query_one("#export-path").value = str(target)  # type: ignore[attr-defined]
        await ui.press(app, pilot, "enter")
        exported = yaml.safe_load(target.read_text())
        assert exported["request"] == "create pods/exec in namespace payments"
        assert [s["subject"]["name"] for s in exported["subjects"]] == [
            "system:masters", "platform-admins", "deployer", "alice@example.com"
        ]

        await ui.press(app, pilot, "down", "down", "enter")
        assert isinstance(app.screen, SubjectDetailScreen)
        assert app.screen.subject.namespace == "ci"


async def test_who_can_all_namespaces(tui_db: str, ui: Any) -> None:
    app = ui.app(tui_db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "who-can")
        await ui.press(app, pilot, *"get", "tab", *"secrets", "tab", "*", "enter")
        names = [row[1] for row in ui.table_rows(app, "#answers")]
        assert names == ["system:masters", "platform-admins"]
        # bob may only get the secret named db-password: a resourceNames rule is not the whole resource
        assert "bob@example.com" not in names
        assert "who can get secrets in any namespace" in ui.static_text(app, "#status")
        view = app.screen.current_object()
        assert view.title == "who can get secrets in any namespace"
        assert view.data["request"] == "get secrets in any namespace"  # not "cluster-wide": rows say where


async def test_paths_and_trim_without_audit_data(tui_db: str, ui: Any) -> None:
    """Paths show the solver's answer; trim says precisely that audit data is missing."""
    app = ui.app(tui_db, solver=True)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "paths")
        assert app.current_mode == "paths"
        assert "path(s) to cluster-admin" in ui.tree_lines(app, "#path-tree")[0]
        await ui.jump(app, pilot, "trim")
        assert "no audit logs imported for cluster demo" in ui.static_text(app, "#status")


async def test_help_jump_palette_and_quit(tui_db: str, ui: Any) -> None:
    app = ui.app(tui_db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        # the key bar lists the screen's keys and, as textual's Footer does, the palette's
        key_bar = str(app.screen.query_one(KeyBar).render())
        assert " / Filter " in key_bar and " : Jump " in key_bar and " ^p palette " in key_bar
        await ui.press(app, pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await ui.press(app, pilot, "escape")
        await ui.press(app, pilot, "colon", *"nope", "enter")
        assert "no screen 'nope'" in ui.static_text(app, "#jump-error")
        await ui.press(app, pilot, "escape")
        assert app.current_mode == "dashboard"

        await ui.press(app, pilot, "ctrl+p", *"subject alice", "enter")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, SubjectDetailScreen)
        assert app.screen.subject.name == "alice@example.com"
        await ui.press(app, pilot, "q")
    assert app.return_code == 0


def test_bindings_have_ids_for_remapping() -> None:
    from textual.binding import Binding

    from rbacmap.tui.base import RbacScreen

    bindings = [b for b in [*RbacmapApp.BINDINGS, *RbacScreen.BINDINGS] if isinstance(b, Binding)]
    assert {b.id for b in bindings} >= {"app.quit", "app.help", "app.jump", "screen.filter", "screen.yaml",
                                        "screen.copy", "screen.export", "screen.back"}


async def test_detail_screens_are_kept_and_refilled(tui_db: str, ui: Any) -> None:
    """The second subject (role) opened reuses the first one's screen, showing only the new one."""
    app = ui.app(tui_db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "subjects")
        await ui.press(app, pilot, "slash", *"alice", "enter", "enter")
        kept = app.screen
        assert isinstance(kept, SubjectDetailScreen)
        await ui.press(app, pilot, "escape", "slash", *["backspace"] * 5, *"developers", "enter", "enter")
        assert app.screen is kept
        assert ui.static_text(app, "#subject-title") == "Group developers"
        tree = ui.tree_lines(app, "#permissions")
        assert tree[0] == "1 rules from 1 bindings"
        assert not any("payments" in line for line in tree)  # nothing left from alice
        assert "dangling" in ui.static_text(app, "#identity")

        # subject -> role -> the same subject: the kept screen is on the stack, so a second one opens
        await ui.press(app, pilot, "down", "down", "enter")
        assert isinstance(app.screen, RoleDetailScreen)
        assert ui.table_rows(app, "#role-bindings") == [
            ["ClusterRoleBinding developers-view-pods", "cluster-wide", "Group", "developers"]]
        await ui.press(app, pilot, "enter")
        assert isinstance(app.screen, SubjectDetailScreen)
        assert app.screen is not kept
        assert app.screen.subject.name == "developers"
        await ui.press(app, pilot, "escape", "escape")
        assert app.screen is kept

        # the kept role screen shows the next role with none of the previous one's rows
        role_screen = app.get_screen("role-detail")
        await ui.press(app, pilot, "escape")
        await ui.jump(app, pilot, "roles")
        await ui.press(app, pilot, "slash", *"secret", "enter", "enter")
        assert app.screen is role_screen
        assert ui.static_text(app, "#role-title") == "ClusterRole secret-reader"
        assert ui.table_rows(app, "#rules") == [["0", '""', "secrets", "db-password", "get", "-"]]
        assert ui.table_rows(app, "#role-bindings") == [
            ["RoleBinding read-db-password", "payments", "User", "bob@example.com"]]


async def test_paths_show_every_step_of_a_chained_escalation(tmp_path: Path, db_from: Any, ui: Any) -> None:
    """Rewrite a role bound to another identity, become it, hold it: three steps, each with its sentence."""
    solver = FIXTURES / "solver"
    files = [str(solver / "cluster-admin.yaml"), str(solver / "review/escalate-others.yaml")]
    db = db_from(tmp_path / "chain.db", files)
    app = ui.app(db, solver=True)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "paths")
        lines = ui.tree_lines(app, "#path-tree")
        eve = lines.index(next(line for line in lines if line.strip().startswith("User eve")))
        steps = [line.strip() for line in lines[eve + 1:eve + 4]]
        assert steps[0].startswith("1. User eve may escalate") and "viewer-lite" in steps[0]
        assert steps[1].startswith("2. User eve may create serviceaccounts/token")
        assert steps[2].startswith("3. ClusterRoleBinding helper-view grants ServiceAccount ops/helper")
