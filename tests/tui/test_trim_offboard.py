"""Trim and offboarding screens on the Acme offboarding fixture (manifests plus an audit log)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rbacmap.model import RoleKey
from rbacmap.tui import roles
from rbacmap.tui.app import RbacmapApp
from rbacmap.tui.features import rule_usage
from rbacmap.tui.modals import ExportScreen
from rbacmap.tui.roles import RoleDetailScreen

SIZE = (150, 45)


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
        # rbacmap trim --all's proposals, one row per change, every change accepted at first
        edit_rule = ["ClusterRole edit", "#1 {apiGroups=apps resources=deployments "
                     "verbs=get,list,watch,create,update,patch,delete}", "(removed)", "unused in 54.4 days", "accept"]
        assert edit_rule in rows
        assert ["ClusterRole edit", "RoleBinding payments/alice-payments-edit", "(removed)",
                "no request through it in 54.4 days", "accept"] in rows
        assert "audit window 2026-01-15T08:00:00.000000Z .. 2026-03-10T17:30:00.000000Z" in \
            ui.static_text(app, "#status")

        # the cursor's role, original next to trimmed
        row = rows.index(edit_rule)
        await ui.press(app, pilot, *(["down"] * row))
        assert "- deployments" in ui.static_text(app, "#original")
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
        # accepted binding removals and fully unused roles are commands to review, never applied
        assert "# kubectl delete rolebinding alice-payments-edit -n payments" in exported
        assert "# kubectl delete clusterrole cluster-admin   # every rule unused" in exported


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
