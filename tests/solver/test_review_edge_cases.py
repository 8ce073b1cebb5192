"""Edge cases from a review of the primitives against issue 5 and upstream behaviour.

The fixtures live in fixtures/solver/review/, out of the glob bench/check_solver_answers.py
compares. Each positive case sits next to its negative.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from rbacmap.model import SYSTEM_MASTERS
from rbacmap.solver import CLUSTER_ADMIN, SECRETS
from rbacmap.solver.primitives.webhooks import CONDITION
from tests.solver.helpers import actions, beyond_mounted_secrets, path_of, solve_fixture

EDGE_CASES = "review/edge-cases.yaml"


def test_pod_security_enforce_levels_for_created_pods(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, EDGE_CASES)
    for open_namespace_user in ("user:pri", "user:nol"):  # enforce=privileged, and no label at all
        assert actions(path_of(result, open_namespace_user, CLUSTER_ADMIN)) == [
            "escape to the node", "holds cluster-admin"]
    # enforce=baseline rejects the privileged pod; bea's pods only run as the powerless `default`.
    assert beyond_mounted_secrets(result, "user:bea") == []


def test_workload_update_in_an_open_namespace_escapes_to_the_node(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, EDGE_CASES)
    dep = path_of(result, "user:dep", CLUSTER_ADMIN)
    assert actions(dep) == ["escape to the node", "holds cluster-admin"]
    assert dep is not None and dep.steps[0].grants[0].binding.key.name == "dep"
    assert "patch deployments" in dep.steps[0].detail
    # The same patch in a baseline namespace: the controller's privileged pod is rejected.
    assert beyond_mounted_secrets(result, "user:dbp") == []


def test_nodes_proxy_counts_only_cluster_wide(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, EDGE_CASES)
    assert actions(path_of(result, "user:npc", CLUSTER_ADMIN)) == ["get nodes/proxy", "holds cluster-admin"]
    # nodes are cluster-scoped: a RoleBinding of the same ClusterRole allows nothing on them.
    assert result.paths(subject="user:npx") == []


def test_reading_secrets_without_a_legacy_token_secret_reaches_only_the_secrets(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, EDGE_CASES)
    found = result.paths(subject="user:sel")
    assert [(p.target.kind, p.target.namespace) for p in found] == [(SECRETS, "kube-system")]


def test_impersonating_a_service_account_needs_the_serviceaccounts_resource(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, EDGE_CASES)
    # users resourceNames naming system:serviceaccount:kube-system:boss: the API server checks
    # `impersonate serviceaccounts boss -n kube-system` for that username, so no path.
    assert result.paths(subject="user:ius") == []
    isn = path_of(result, "user:isn", CLUSTER_ADMIN)
    assert actions(isn) == ["impersonate a ServiceAccount", "holds cluster-admin"]
    assert isn is not None and isn.steps[0].as_identity.name == "boss"


def test_attach_over_websocket_get_reads_the_pods_token(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, EDGE_CASES)
    assert actions(path_of(result, "user:atg", CLUSTER_ADMIN)) == ["get pods/attach", "holds cluster-admin"]


def test_aws_auth_edit_needs_the_config_map_and_webhook_patch_is_conditional(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, EDGE_CASES)
    assert result.paths(subject="user:awa") == []  # may patch configmaps in kube-system: no aws-auth there
    whp = path_of(result, "user:whp", CLUSTER_ADMIN)
    assert whp is not None and whp.steps[0].action == "patch mutatingwebhookconfigurations"
    assert whp.conditions == [CONDITION]


def test_client_certificate_never_carries_system_masters(tmp_path: Path) -> None:
    # The CertificateSubjectRestriction admission plugin (default on) rejects a CSR for
    # kubernetes.io/kube-apiserver-client with O=system:masters; any other user or group is signed.
    _, result = solve_fixture(tmp_path, EDGE_CASES)
    csw = path_of(result, "user:csw", CLUSTER_ADMIN)
    assert csw is not None and actions(csw) == ["sign a client certificate", "holds cluster-admin"]
    assert all(step.as_identity.name != SYSTEM_MASTERS for step in csw.steps)
    # approve on the wildcard signer name is what allows it: the check asks for that name.
    assert "kubernetes.io/*" in csw.steps[0].explanation
    # resourceNames ["*"] is no signer the approval plugin asks about.
    assert result.paths(subject="user:css") == []


def test_client_certificate_for_a_group_bound_to_cluster_admin(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "review/csr-group-admin.yaml")
    cg = path_of(result, "user:cg", CLUSTER_ADMIN)
    assert actions(cg) == ["sign a client certificate", "holds cluster-admin"]
    assert cg is not None and cg.steps[0].as_identity.name == "kubeadm:cluster-admins"


KUBECTL_CHECK = re.compile(r"Check: `([^`]*)`")


def _checks(tmp_path: Path, *fixtures: str) -> list[str]:
    _, result = solve_fixture(tmp_path, *fixtures)
    return [check for path in result.paths() for line in path.explain() for check in KUBECTL_CHECK.findall(line)]


def test_explain_checks_are_commands_kubectl_accepts(tmp_path: Path) -> None:
    checks = _checks(tmp_path, EDGE_CASES, "secrets.yaml", "tokens.yaml", "impersonate.yaml")
    assert checks
    for check in checks:
        words = shlex.split(check.split(" | ")[-1])  # a quoted shell line: no `*` left for the shell to expand
        assert not re.search(r"(^|\s)\*", check), check
        if words[:3] == ["kubectl", "auth", "can-i"]:
            # exactly VERB and TYPE[/NAME]: a third argument is an error, a subresource needs --subresource
            positional = [w for i, w in enumerate(words[3:], 3) if not w.startswith("-") and words[i - 1] != "-n"]
            assert len(positional) == 2, check
            assert positional[1].count("/") <= 1, check
    assert "kubectl auth can-i get pods --subresource=attach -n kube-system --as=atg" in checks
    assert "kubectl auth can-i get secrets/robot-token -n vault --as=nina" in checks
    assert "kubectl auth can-i create serviceaccounts/pusher --subresource=token -n build --as=tim" in checks
    # cluster-scoped and every-namespace questions are asked cluster-wide, not in kubectl's current namespace
    assert "kubectl auth can-i get nodes --subresource=proxy -A --as=npc" in checks
    assert "kubectl auth can-i impersonate users/boss@example.com -A --as=una" in checks


def test_explain_checks_kubectl_cannot_resolve_use_an_access_review(tmp_path: Path) -> None:
    checks = _checks(tmp_path, EDGE_CASES)
    # cluster-admin is `*` in every API group, and signers are not discoverable: kubectl auth can-i
    # would ask about the core group; a SubjectAccessReview asks exactly.
    admin = next(c for c in checks if "system:serviceaccount:kube-system:boss" in c and '"verb":"*"' in c)
    assert admin.startswith("echo '{") and admin.endswith("}' | kubectl create -o jsonpath='{.status.allowed}' -f -")
    assert '"group":"*"' in admin and '"groups":["system:serviceaccounts"' in admin
    signer = next(c for c in checks if '"resource":"signers"' in c)
    assert '"name":"kubernetes.io/*"' in signer and '"user":"csw"' in signer
