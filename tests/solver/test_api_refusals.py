"""Steps the API server refuses are not paths: immutable Job templates, partial group impersonation."""

from __future__ import annotations

from pathlib import Path

from rbacmap.importers.manifests import import_files
from rbacmap.solver import CLUSTER_ADMIN, find_risks, solve
from rbacmap.store import Store
from tests.solver.helpers import FIXTURES, actions, path_of, solve_fixture

FIXTURE = "review/immutable-jobs-group-impersonation.yaml"


def test_a_jobs_pod_template_is_immutable_but_a_cronjobs_is_not(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FIXTURE)
    assert result.paths(subject="user:joe") == []
    cal = path_of(result, "user:cal", CLUSTER_ADMIN)
    assert actions(cal) == ["patch cronjobs", "holds cluster-admin"]


def test_impersonating_a_service_account_group_does_not_add_system_serviceaccounts(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FIXTURE)
    # gia may impersonate only system:serviceaccounts:web: the request carries that group and
    # system:authenticated, not system:serviceaccounts (bound to cluster-admin).
    assert result.paths(subject="user:gia") == []
    gil = path_of(result, "user:gil", CLUSTER_ADMIN)
    assert actions(gil) == ["impersonate a group", "holds cluster-admin"]


TOKENS = "review/ghost-and-invalid-tokens.yaml"


def test_token_secrets_of_missing_service_accounts_or_marked_invalid_are_no_path(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, TOKENS)
    assert path_of(result, "user:rita", CLUSTER_ADMIN) is None
    vault = path_of(result, "user:rita", "secrets", "vault")
    assert actions(vault) == ["read a token Secret", "read secrets"]
    # Not aaa-keeper-token-2019 (first by name): made for a ServiceAccount keeper of another UID, refused.
    assert vault is not None and [o.name for o in vault.steps[0].objects] == ["keeper-token"]


def test_removing_the_invalid_since_label_re_enables_a_token(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, TOKENS)
    ron = path_of(result, "user:ron", CLUSTER_ADMIN)
    assert actions(ron) == ["re-enable a token Secret", "holds cluster-admin"]
    assert ron is not None
    step = ron.steps[0]
    assert (step.as_identity.namespace, step.as_identity.name) == ("apps", "old-admin")
    assert {g.binding.key.name for g in step.grants} == {"ron-patches-apps", "ron-lists-apps"}
    [secret] = step.objects
    assert secret.name == "old-admin-token"
    assert secret.note.endswith("kubernetes.io/legacy-token-invalid-since: 2024-01-01")
    assert "patch secrets in apps to remove the label" in step.detail
    # Patching without reading: the re-enabled token stays out of reach.
    assert result.paths(subject="user:pam") == []


def test_re_enabling_shows_the_write_and_the_read_from_their_own_scopes(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "review/revive-scopes.yaml")
    for user, write, read in (("carl", "carl-updates-everywhere", "carl-lists-apps"),
                              ("dora", "dora-updates-apps", "dora-lists-everywhere")):
        path = path_of(result, f"user:{user}", CLUSTER_ADMIN)
        assert path is not None
        step = path.steps[0]
        assert {g.binding.key.name for g in step.grants} == {write, read}
        assert step.detail.startswith("update secrets in apps to remove the label")
        assert "kubectl auth can-i update secrets -n apps" in step.explanation


def test_an_empty_invalid_since_label_does_not_invalidate(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "review/empty-invalid-label.yaml")
    assert actions(path_of(result, "user:sam", CLUSTER_ADMIN)) == ["read a token Secret", "holds cluster-admin"]


def test_a_service_account_only_a_template_names_does_not_exist(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, TOKENS)
    # web has ServiceAccount objects, and ghost is not one: no token request, no pod as ghost.
    assert path_of(result, "user:tara", CLUSTER_ADMIN) is None
    reached = {(s.as_identity.namespace, s.as_identity.name) for p in result.paths()
               if p.subject.kind == "User" and p.subject.name != "ron" for s in p.steps}  # ron: see above
    assert ("web", "ghost") not in reached and ("apps", "old-admin") not in reached


def test_an_update_needs_an_object_to_update(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "review/nothing-to-update.yaml")
    assert result.paths(subject="user:kim") == []  # no Deployment in 'empty'
    assert result.paths(subject="user:wes") == []  # no MutatingWebhookConfiguration at all


def test_a_dump_without_any_workload_leaves_every_kind_possible(tmp_path: Path) -> None:
    text = (FIXTURES / "review/nothing-to-update.yaml").read_text()
    rbac_only = tmp_path / "rbac-only.yaml"
    rbac_only.write_text(text[:text.index("---\napiVersion: apps/v1\nkind: DaemonSet")])
    store = Store(tmp_path / "solver.db")
    imported = import_files(store, [str(FIXTURES / "cluster-admin.yaml"), str(rbac_only)], "test")
    result = solve(store, imported.snapshot)
    # No workload at all in the dump: 'empty' may well run a Deployment kim can patch; the proof says so.
    kim = path_of(result, "user:kim", CLUSTER_ADMIN)
    assert actions(kim)[0] == "patch deployments"
    assert kim is not None and kim.conditions == [
        "a Deployment exists in empty to patch (the snapshot holds no workload at all, so one is assumed)"]
    assert result.paths(subject="user:wes") == []  # webhooks: a cluster without any is common


def test_kinds_a_live_import_could_not_list_are_unknown_not_absent(tmp_path: Path) -> None:
    store, _ = solve_fixture(tmp_path, "review/nothing-to-update.yaml")
    store.conn.execute("UPDATE snapshots SET incomplete_kinds = ?",
                       ['["Deployment", "MutatingWebhookConfiguration"]'])
    result = solve(store, store.latest_snapshot(), use_cache=False)
    kim = path_of(result, "user:kim", CLUSTER_ADMIN)
    assert actions(kim)[0] == "patch deployments"
    assert kim is not None and kim.conditions == [
        "a Deployment exists in empty to patch (the import was forbidden to list Deployments, so one is assumed)"]
    assert actions(path_of(result, "user:wes", CLUSTER_ADMIN))[0] in (
        "update mutatingwebhookconfigurations", "patch mutatingwebhookconfigurations")


def test_re_enabling_a_token_by_name(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "review/revive-named.yaml")
    nina = path_of(result, "user:nina", CLUSTER_ADMIN)
    assert actions(nina) == ["re-enable a token Secret", "holds cluster-admin"]
    assert nina is not None
    step = nina.steps[0]
    assert step.detail.startswith("patch secret apps/old-admin-token (named in resourceNames)")
    assert [o.name for o in step.objects] == ["old-admin-token"]
    assert result.paths(subject="user:otto") == []  # a named patch without a read


def test_an_invalidated_token_secret_is_a_risk_to_delete(tmp_path: Path) -> None:
    store, result = solve_fixture(tmp_path, TOKENS)
    [risk] = [r for r in find_risks(store, result.snapshot) if r.risk == "invalidated-token-secret"]
    assert risk.subject is not None and (risk.subject.namespace, risk.subject.name) == ("apps", "old-admin")
    assert [o.name for o in risk.objects] == ["old-admin-token"] and risk.detail.endswith("delete the Secret")
