"""Trim and offboarding screens on the Acme offboarding and trim-protected fixtures (manifests plus audit logs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from rbacmap.cli import cli
from rbacmap.model import RoleKey
from rbacmap.tui import roles
from rbacmap.tui.app import RbacmapApp
from rbacmap.tui.features import rule_usage
from rbacmap.tui.modals import ExportScreen
from rbacmap.tui.roles import RoleDetailScreen

SIZE = (150, 45)
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


async def export_to(ui: Any, app: RbacmapApp, pilot: Any, target: Path) -> str:
    await ui.press(app, pilot, "e")
    assert isinstance(app.screen, ExportScreen)
    app.screen.query_one("#export-path").value = str(target)  # type: ignore[attr-defined]
    await ui.press(app, pilot, "enter")
    return target.read_text()


async def test_trim_accept_reject_and_export(acme_db: str, ui: Any, tmp_path: Path) -> None:
    app = ui.app(acme_db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "trim")
        rows = ui.table_rows(app, "#changes")
        # rbacmap trim --all's proposals, one row per change with the role's action, every change accepted at first
        edit_rule = ["ClusterRole edit", "trim in place", "#1 {apiGroups=apps resources=deployments "
                     "verbs=get,list,watch,create,update,patch,delete}", "(removed)", "unused in 54.4 days", "accept"]
        assert edit_rule in rows
        assert ["ClusterRole edit", "trim in place", "RoleBinding payments/alice-payments-edit", "(removed)",
                "no request through it in 54.4 days", "accept"] in rows
        # a role nobody used: its bindings are removed, the role itself is never rewritten or deleted
        assert ["ClusterRole cluster-admin", "remove bindings (no use)", "ClusterRoleBinding break-glass",
                "(removed)", "no request through it in 54.4 days", "accept"] in rows
        assert "audit window 2026-01-15T08:00:00.000000Z .. 2026-03-10T17:30:00.000000Z" in \
            ui.static_text(app, "#status")

        # the cursor's role, original next to trimmed
        row = rows.index(edit_rule)
        await ui.press(app, pilot, *(["down"] * row))
        assert "- deployments" in ui.static_text(app, "#original")
        assert "# action: trim in place" in ui.static_text(app, "#trimmed")
        assert "deployments" not in ui.static_text(app, "#trimmed")

        # reject: the original rule stays in the trimmed role
        await ui.press(app, pilot, "r")
        assert ui.table_rows(app, "#changes")[row][-1] == "reject"
        assert "- deployments" in ui.static_text(app, "#trimmed")

        exported = await export_to(ui, app, pilot, tmp_path / "trimmed.yaml")
        documents = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(exported) if doc}
        assert documents["edit"]["rules"] == [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
            {"apiGroups": ["apps"], "resources": ["deployments"],
             "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        ]
        assert documents["edit"]["metadata"]["annotations"]["rbacmap.io/trimmed-from"] == "ClusterRole edit"
        assert documents["oncall-debug"]["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]
        assert set(documents) == {"edit", "oncall-debug"}  # unused roles: no empty role written
        # accepted binding removals are commented kubectl lines (as `rbacmap trim -o yaml` writes them)
        assert "# 1 proposed change(s) rejected: those originals are kept" in exported
        assert "# kubectl delete rolebinding -n payments alice-payments-edit  # no request through it" in exported
        assert "# kubectl delete clusterrolebinding break-glass  # no request through it" in exported
        assert "delete clusterrole " not in exported


@pytest.fixture
def protected_db(db_from: Any, tmp_path: Path) -> str:
    """Aggregated, bootstrap and aggregated-into roles, cluster-admin bound to system:masters (see tests/audit)."""
    folder = FIXTURES / "trim-protected"
    return str(db_from(tmp_path / "protected.db", [str(folder / "cluster.yaml")], "p", (str(folder / "audit.jsonl"),)))


def cli_yaml(db_path: str) -> str:
    result = CliRunner().invoke(cli, ["trim", "--db", db_path, "--all", "-o", "yaml"])
    assert result.exit_code == 0, result.output
    return result.stdout


def names(exported: str) -> set[tuple[str, str, str]]:
    return {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])
            for d in yaml.safe_load_all(exported) if d}


async def test_trim_protected_roles_are_replaced_and_skipped_as_the_cli_does(
    protected_db: str, ui: Any, tmp_path: Path,
) -> None:
    app = ui.app(protected_db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "trim")
        rows = ui.table_rows(app, "#changes")
        web = next(r for r in rows if r[2] == "RoleBinding web/web-admins -> ClusterRole admin")
        assert web[:2] == ["ClusterRole admin", "new role + rebind"]
        assert web[3] == ("RoleBinding web/web-admins-trimmed -> Role web/rbacmap-trimmed-admin: "
                          '{apiGroups="" resources=pods verbs=list}; {apiGroups="" resources=pods/exec verbs=create}')
        assert web[4].startswith("not in place: aggregated ClusterRole (aggregationRule)") and web[5] == "accept"
        assert ["ClusterRole deploy-viewer", "new role + rebind"] in [r[:2] for r in rows]
        skipped = next(r for r in rows if r[0] == "ClusterRole cluster-admin")
        assert skipped[1:4] == ["skip (bypasses RBAC)", "ClusterRole cluster-admin", "(unchanged)"]
        assert skipped[4].startswith("bound only to group(s) that bypass RBAC (system:masters") and skipped[5] == "-"

        # a skipped role has nothing to decide: r leaves it alone, and the panel says why
        await ui.press(app, pilot, *(["down"] * rows.index(skipped)), "r")
        assert ui.table_rows(app, "#changes")[rows.index(skipped)][5] == "-"
        assert "# why skipped: bound only to group(s) that bypass RBAC" in ui.static_text(app, "#trimmed")

        # everything accepted: the export is `rbacmap trim --all -o yaml` after comment lines
        exported = await export_to(ui, app, pilot, tmp_path / "all.yaml")
        header, _, body = exported.partition("\napiVersion: ")
        assert "# skip (bypasses RBAC): ClusterRole cluster-admin: bound only to group(s)" in header
        assert "apiVersion: " + body == cli_yaml(protected_db)
        objects = names(exported)
        assert {("Role", "web", "rbacmap-trimmed-admin"), ("RoleBinding", "web", "web-admins-trimmed"),
                ("ClusterRole", "", "team-reader")} <= objects
        assert ("ClusterRole", "", "admin") not in objects  # never an in-place rewrite of an aggregated role
        assert ("ClusterRole", "", "cluster-admin") not in objects
        assert "# kubectl delete rolebinding -n web web-admins  # replaced by a binding to a trimmed role" in exported
        assert "cluster-admin" not in body


async def test_trim_rejected_rebinding_keeps_the_old_binding(protected_db: str, ui: Any, tmp_path: Path) -> None:
    app = ui.app(protected_db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "trim")
        rows = ui.table_rows(app, "#changes")
        admin_rows = [i for i, r in enumerate(rows) if r[0] == "ClusterRole admin"]
        web = next(i for i in admin_rows if rows[i][2].startswith("RoleBinding web/web-admins "))
        await ui.press(app, pilot, *(["down"] * web), "r")
        assert ui.table_rows(app, "#changes")[web][5] == "reject"
        exported = await export_to(ui, app, pilot, tmp_path / "one.yaml")
        objects = names(exported)
        assert ("RoleBinding", "web", "web-admins-trimmed") not in objects
        assert ("Role", "web", "rbacmap-trimmed-admin") not in objects  # no accepted swap uses it
        assert ("RoleBinding", "payments", "pay-admins-trimmed") in objects
        assert "delete rolebinding -n web web-admins " not in exported
        assert "# kubectl delete rolebinding -n payments pay-admins  # replaced" in exported

        # every admin swap rejected: nothing about admin is written, least of all admin rewritten in place
        for index in admin_rows:
            await ui.press(app, pilot, *(["up"] * len(rows)), *(["down"] * index), "r")
        assert "# nothing to apply: the original stays as it is" in ui.static_text(app, "#trimmed")
        exported = await export_to(ui, app, pilot, tmp_path / "none.yaml")
        assert not any("admin" in name for _, _, name in names(exported))
        assert "(from ClusterRole admin)" not in exported
        for doc in yaml.safe_load_all(exported):
            if doc:
                kubernetes_validate.validate(doc, "1.30.0", strict=True)


async def test_role_detail_marks_used_and_unused_rules(acme_db: str, ui: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    analyses: list[RoleKey] = []

    def counted(policy: Any, key: RoleKey, inputs: Any) -> Any:
        analyses.append(key)
        return rule_usage(policy, key, inputs)

    monkeypatch.setattr(roles, "rule_usage", counted)
    app = ui.app(acme_db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "roles")
        for _ in range(2):  # the second time, the markers come from the session's memo
            await ui.press(app, pilot, "slash", *"clusterrole /edit", "enter", "enter")
            assert isinstance(app.screen, RoleDetailScreen)
            assert [row[0] + " " + row[-1] for row in ui.table_rows(app, "#rules")] == ["0 used", "1 UNUSED"]
            assert "used/UNUSED: seen in the audit window or not (2026-01-15" in ui.static_text(app, "#usage")
            await ui.press(app, pilot, "escape")
        assert analyses == [RoleKey("ClusterRole", "edit")]


@pytest.mark.parametrize(("identifiers", "verdict"), [("dave@acme.example", "nothing remains"),
                                                      ("alice@acme.example", "ACCESS REMAINS")])
async def test_offboarding_report_and_fix_export(acme_db: str, ui: Any, tmp_path: Path, identifiers: str,
                                                 verdict: str) -> None:
    app = ui.app(acme_db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "offboard")
        await ui.press(app, pilot, *identifiers, "enter")
        report = ui.static_text(app, "#report")
        assert f"== {identifiers} ({identifiers}): {verdict}" in report
        assert "-- cluster prod-eks (snapshot 1)" in report
        assert verdict in ui.static_text(app, "#status")
        fix = await export_to(ui, app, pilot, tmp_path / "fix.yaml")
        assert fix.startswith(f"# rbacmap offboard fix for: {identifiers}\n")
        if verdict == "nothing remains":
            assert "last seen acting at 2026-01-15T08:00:00.000000Z" in report
            assert "# nothing to change" in fix
        else:
            assert "RoleBinding/payments/alice-payments-edit" in report
            assert "#    kubectl delete clusterrolebinding debug-alice" in fix
            rewritten = [doc for doc in yaml.safe_load_all(fix.split("---\n", 1)[1]) if doc]
            assert [(d["kind"], d["metadata"]["name"]) for d in rewritten] == [("RoleBinding", "web-deployers")]
            assert rewritten[0]["subjects"] == [{"kind": "User", "name": "carol@acme.example",
                                                 "apiGroup": "rbac.authorization.k8s.io"}]


async def test_offboarding_rejects_a_bad_identifier(acme_db: str, ui: Any) -> None:
    app = ui.app(acme_db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "offboard")
        await ui.press(app, pilot, *"arn:nonsense", "enter")
        assert "is not an AWS IAM or STS ARN" in ui.static_text(app, "#status")
        assert app.screen.current_object() is None  # type: ignore[attr-defined]


async def test_offboarding_marks_shared_identities_and_exports_only_the_persons_subjects(
        db_from: Any, ui: Any, tmp_path: Path) -> None:
    shared = FIXTURES / "offboard" / "shared"
    db = db_from(tmp_path / "shared.db", [str(shared / "cluster")], "shared-dev", (str(shared / "audit.jsonl"),))
    app = ui.app(db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "offboard")
        await ui.press(app, pilot, *"alice@acme.example", "enter")
        report = ui.static_text(app, "#report")
        assert "release-bot groups release-bots (shared with others: the fix leaves its bindings)" in report
        assert "oidc:alice@acme.example  <- oidc:alice@acme.example is alice@acme.example with the authenticator " \
               "prefix 'oidc:'" in report
        fix = await export_to(ui, app, pilot, tmp_path / "fix.yaml")
    documents = [doc for doc in yaml.safe_load_all(fix) if doc]
    for document in documents:
        kubernetes_validate.validate(document, "1.30.0", strict=True)
    assert {d["metadata"]["name"]: [s["name"] for s in d["subjects"]] for d in documents} == {
        "oidc-admins": ["oidc:carol@acme.example"], "team-view": ["carol@acme.example"]}


async def test_offboarding_exports_nothing_while_a_check_runs_and_takes_groups(
        acme_db: str, ui: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from textual.containers import VerticalScroll

    from rbacmap.tui import offboard as offboard_screen

    release = threading.Event()
    release.set()
    calls: list[tuple[str, tuple[str, ...]]] = []
    real = offboard_screen.offboard_person

    def slow(store: Any, cluster: str, identifiers: str, groups: tuple[str, ...] = ()) -> Any:
        calls.append((identifiers, groups))
        release.wait(10)
        return real(store, cluster, identifiers, groups)

    monkeypatch.setattr(offboard_screen, "offboard_person", slow)
    # Keys typed while the report (not the input) has focus start an export (e) of alice's fix, into the working
    # directory: a stray "@acme.examplepayments-team, oncall" was once committed at the repo root that way.
    monkeypatch.chdir(tmp_path)
    app = ui.app(acme_db)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await ui.jump(app, pilot, "offboard")
        await ui.press(app, pilot, *"alice@acme.example", "enter")
        assert "ACCESS REMAINS" in ui.static_text(app, "#status")
        # A second person, still being checked: e exports nothing (not alice's fix) and says why.
        release.clear()
        identifiers = app.screen.query_one("#identifiers")
        identifiers.value = ""  # type: ignore[attr-defined]
        identifiers.focus()
        await pilot.pause()
        assert app.focused is identifiers
        await pilot.press(*"dave@acme.example", "tab", *"payments-team, oncall", "enter")
        await pilot.pause()
        app.screen.query_one(VerticalScroll).focus()
        await pilot.press("e")
        await pilot.pause()
        assert not isinstance(app.screen, ExportScreen)
        assert app.screen.current_object() is None  # type: ignore[attr-defined]
        assert "still running" in ui.static_text(app, "#status")
        release.set()
        await ui.settle(app, pilot)
        assert calls[-1] == ("dave@acme.example", ("payments-team", "oncall"))
        report = ui.static_text(app, "#report")
        assert "== dave@acme.example" in report and "alice" not in report.split("\n", 1)[0]
        fix = await export_to(ui, app, pilot, tmp_path / "fix.yaml")
    assert fix.startswith("# rbacmap offboard fix for: dave@acme.example\n")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("acme.db")) == ["fix.yaml"]
