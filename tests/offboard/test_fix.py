"""--export-fix: the YAML parses, and applied to the fixture it removes the person's direct access."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from rbacmap.authorizer import Authorizer
from rbacmap.cli import cli
from rbacmap.importers.audit import import_audit
from rbacmap.importers.manifests import import_files
from rbacmap.model import ResourceRequest, UserInfo
from rbacmap.offboard import offboard
from rbacmap.offboard_fix import ClusterFix, render_fix
from rbacmap.offboard_identity import parse_person
from rbacmap.offboard_report import ObjectRef
from rbacmap.policy import load_policy
from rbacmap.store import Store
from tests.offboard.conftest import SHARED, build_store

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures" / "offboard"
ALICE = "alice@acme.example"
ALICE_LINE = f"{ALICE},arn:aws:iam::111122223333:user/alice,arn:aws:sts::111122223333:assumed-role/platform-admin/alice"
DELETE = re.compile(r"^#\s+kubectl delete (\S+) (\S+)(?: -n (\S+))?$")
# What alice could do only through bindings naming her (not her groups).
DIRECT_REQUESTS = [
    ResourceRequest("create", "pods", "payments"),
    ResourceRequest("update", "deployments", "web", "apps"),
]


def export(db: Path, fix: Path) -> dict[str, Any]:
    result = CliRunner().invoke(
        cli, ["offboard", "--db", str(db), "-o", "json", "--export-fix", str(fix), ALICE_LINE, "dave@acme.example"]
    )
    assert result.exit_code == 1, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def identity(kind: str, name: str, namespace: str) -> tuple[str, str, str]:
    return kind.lower(), name, namespace


def apply_fix(fix_text: str, fixture_dir: Path, out_dir: Path) -> None:
    """kubectl apply + kubectl delete, done on the fixture manifests instead of a cluster."""
    deleted = set()
    for line in fix_text.splitlines():
        match = DELETE.match(line)
        if match:
            deleted.add(identity(match.group(1), match.group(2), match.group(3) or ""))
    applied = {
        identity(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace", "")): d
        for d in yaml.safe_load_all(fix_text) if d
    }
    for source in sorted(fixture_dir.glob("*.yaml")):
        kept = []
        for document in yaml.safe_load_all(source.read_text()):
            meta = document["metadata"]
            key = identity(document["kind"], meta["name"], meta.get("namespace", ""))
            if key in deleted:
                continue
            kept.append(applied.pop(key, document))
        (out_dir / source.name).write_text(yaml.safe_dump_all(kept, sort_keys=False))
    assert not applied, f"fix rewrites objects the fixture does not have: {list(applied)}"


def test_fix_file_parses_and_says_what_to_delete(acme_db: Path, tmp_path: Path) -> None:
    fix = tmp_path / "fix.yaml"
    data = export(acme_db, fix)
    text = fix.read_text()
    documents = [d for d in yaml.safe_load_all(text) if d]
    by_name = {d["metadata"]["name"]: d for d in documents}
    assert set(by_name) == {"web-deployers", "aws-auth"}
    assert by_name["web-deployers"]["subjects"] == [
        {"kind": "User", "name": "carol@acme.example", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    assert by_name["web-deployers"]["metadata"]["labels"] == {"team": "web"}
    map_users = yaml.safe_load(by_name["aws-auth"]["data"]["mapUsers"])
    assert [u["username"] for u in map_users] == ["frank"]
    assert len(yaml.safe_load(by_name["aws-auth"]["data"]["mapRoles"])) == 2  # shared role mapping kept
    assert "#    kubectl delete rolebinding alice-payments-edit -n payments" in text
    assert "#    kubectl delete clusterrolebinding debug-alice" in text
    assert "#    kubectl delete secret debugger-token -n tools" in text
    assert "aws iam delete-login-profile --user-name alice" in text
    [cluster_fix] = data["fix"]
    assert {"kind": "RoleBinding", "namespace": "payments", "name": "alice-payments-edit"} in cluster_fix["delete"]


def test_applied_fix_removes_the_access_the_bindings_gave(tmp_path: Path, build_acme: Callable[..., Store]) -> None:
    db = tmp_path / "acme.db"
    build_acme(db).close()
    fix = tmp_path / "fix.yaml"
    export(db, fix)
    fixed_dir = tmp_path / "fixed"
    fixed_dir.mkdir()
    apply_fix(fix.read_text(), FIXTURES / "cluster", fixed_dir)
    with Store(db) as store:
        before = Authorizer(load_policy(store, store.latest_snapshot("prod-eks").id))
        # The fixed cluster is the next snapshot of the same cluster, so the audit log still applies.
        result = import_files(store, [str(fixed_dir)], "prod-eks")
        assert result.errors == []
        after = Authorizer(load_policy(store, result.snapshot.id))
        alice = UserInfo.authenticated(ALICE)
        for request in DIRECT_REQUESTS:
            assert before.authorize(alice, request).allowed
            assert not after.authorize(alice, request).allowed, request.describe()
        # carol keeps the shared binding; the debug SA lost its cluster-admin binding.
        assert after.authorize(UserInfo.authenticated("carol@acme.example"), DIRECT_REQUESTS[1]).allowed
        debugger = UserInfo.authenticated("system:serviceaccount:tools:debugger")
        assert before.authorize(debugger, ResourceRequest("delete", "nodes")).allowed
        assert not after.authorize(debugger, ResourceRequest("delete", "nodes")).allowed
        [report] = offboard(store, [parse_person(ALICE_LINE)], ["prod-eks"])
    assert report.clusters[0].snapshot_id == result.snapshot.id and report.clusters[0].sources["audit"]
    left = {f.type for f in report.clusters[0].findings if f.remains}
    # What a manifest cannot fix is still reported: IdP groups, the shared role, the certificate.
    assert not left & {"direct-binding", "created-object", "token-secret", "created-workload"}
    assert {"group-binding", "client-certificate"} <= left
    mappings = [f for f in report.clusters[0].findings if f.type == "aws-auth-mapping"]
    assert [f.provenance["section"] for f in mappings] == ["mapRoles"]


def test_fix_steps_are_numbered_over_the_steps_a_cluster_needs() -> None:
    deletions_only = ClusterFix("prod", 3, deletions=[ObjectRef("ClusterRoleBinding", "alice-admin")],
                                commands=[("aws iam delete-user --user-name alice", "")])
    text = render_fix([deletions_only], [ALICE])
    assert "# 1. delete (YAML cannot express deletion):" in text
    assert "# 2. cloud-side steps to review:" in text
    assert "#    kubectl delete clusterrolebinding alice-admin" in text


def test_several_clusters_objects_go_to_one_file_each(tmp_path: Path) -> None:
    # Two clusters with a rewritten binding each: one file applied to one cluster must not carry the other's.
    db = tmp_path / "two.db"
    with build_store(db) as store:
        assert import_files(store, [str(SHARED / "cluster")], "shared-dev").errors == []
        assert import_audit(store, [str(SHARED / "audit.jsonl")], "shared-dev").errors == []
    fix = tmp_path / "fix.yaml"
    result = CliRunner().invoke(cli, ["offboard", "--db", str(db), "--all-clusters", "--export-fix", str(fix), ALICE])
    assert result.exit_code == 1, result.output
    main = fix.read_text()
    assert not [d for d in yaml.safe_load_all(main) if d], "the main file applies nothing"
    per_cluster = {}
    for cluster in ("prod-eks", "shared-dev"):
        path = tmp_path / f"fix.{cluster}.yaml"
        assert f"in {path} to cluster {cluster} only: kubectl apply -f {path}" in main
        per_cluster[cluster] = {d["metadata"]["name"] for d in yaml.safe_load_all(path.read_text()) if d}
    assert per_cluster == {"prod-eks": {"web-deployers"}, "shared-dev": {"team-view", "oidc-admins"}}
    # Deletions of both clusters stay in the main file, under their cluster.
    order = ["== cluster prod-eks", "kubectl delete rolebinding alice-payments-edit -n payments",
             "== cluster shared-dev", "kubectl delete clusterrolebinding alice-debug"]
    assert [main.index(text) for text in order] == sorted(main.index(text) for text in order)


def test_one_cluster_keeps_one_file(acme_db: Path, tmp_path: Path) -> None:
    fix = tmp_path / "fix.yaml"
    export(acme_db, fix)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fix.yaml"]
    assert "below to cluster prod-eks: kubectl apply -f THIS_FILE" in fix.read_text()
