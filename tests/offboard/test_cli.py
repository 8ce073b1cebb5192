"""`rbacmap offboard`: exit codes for CI gates, JSON with provenance, SARIF 2.1.0 structure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from rbacmap.cli import cli
from rbacmap.offboard_report import FINDING_TYPES

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures" / "offboard"
ALICE = "alice@acme.example,arn:aws:iam::111122223333:user/alice"


def run(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["offboard", "--db", str(db), *args])
    return result.exit_code, result.output


def test_exit_codes(acme_db: Path, tmp_path: Path) -> None:
    assert run(acme_db, ALICE)[0] == 1
    code, output = run(acme_db, "dave@acme.example")
    assert code == 0 and "nothing remains" in output
    assert run(acme_db, "--from-file", str(FIXTURES / "departed.txt"))[0] == 1
    bad = tmp_path / "departed.txt"
    bad.write_text("dave@acme.example\narn:aws:nonsense\n")
    code, output = run(acme_db, "--from-file", str(bad))
    assert code == 2 and "line 2" in output
    assert run(acme_db, "--cluster", "nope", ALICE)[0] == 2
    assert run(acme_db, "--cluster", "prod-eks", "--all-clusters", ALICE)[0] == 2
    assert run(acme_db)[0] == 2  # nobody named


def test_table_names_each_way_in(acme_db: Path) -> None:
    code, output = run(acme_db, ALICE)
    assert code == 1
    assert "ACCESS REMAINS" in output
    assert "RoleBinding/payments/alice-payments-edit" in output
    assert "cannot be revoked" in output
    assert "can still do:" in output


def test_json_carries_provenance(acme_db: Path) -> None:
    code, output = run(acme_db, "-o", "json", "--all-clusters", ALICE, "dave@acme.example")
    assert code == 1
    data = json.loads(output)
    alice, dave = data["people"]
    assert alice["remains"] and not dave["remains"]
    [cluster] = alice["clusters"]
    direct = [f for f in cluster["findings"] if f["type"] == "direct-binding"]
    assert {f["location"]["name"] for f in direct} == {"alice-payments-edit", "web-deployers"}
    assert all(f["provenance"]["role_ref"] == {"kind": "ClusterRole", "name": "edit"} for f in direct)
    assert cluster["sources"] == {"audit": True, "cloud": False, "solver": True}
    web_rules = cluster["permissions"]["web"]
    assert web_rules[0]["grant"]["role"]["name"] == "edit"
    assert web_rules[0]["grant"]["rule"]["verbs"][0] == "get"


def _assert_sarif(log: dict[str, Any]) -> None:
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    [sarif_run] = log["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "rbacmap"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert rule_ids == list(FINDING_TYPES) and len(set(rule_ids)) == len(rule_ids)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("note", "warning", "error")
    for result in sarif_run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("note", "warning", "error")
        assert result["message"]["text"]
        for location in result["locations"]:
            for logical in location["logicalLocations"]:
                assert logical["name"] and logical["kind"] in ("resource", "module")


def test_sarif_has_a_rule_per_finding_type_and_logical_locations(acme_db: Path) -> None:
    code, output = run(acme_db, "-o", "sarif", ALICE)
    assert code == 1
    log = json.loads(output)
    _assert_sarif(log)
    results = log["runs"][0]["results"]
    names = {logical["fullyQualifiedName"] for r in results for location in r["locations"]
             for logical in location["logicalLocations"] if "fullyQualifiedName" in logical}
    assert "prod-eks/ClusterRoleBinding/debug-alice" in names
    assert "prod-eks/RoleBinding/payments/alice-payments-edit" in names
    levels = {r["ruleId"]: r["level"] for r in results}
    assert levels["last-seen"] == "note" and levels["direct-binding"] == "error"


def test_sarif_for_nothing_left_is_valid_and_empty(acme_db: Path) -> None:
    code, output = run(acme_db, "-o", "sarif", "dave@acme.example")
    assert code == 0
    log = json.loads(output)
    _assert_sarif(log)
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["last-seen"]
