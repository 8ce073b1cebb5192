"""One positive and one negative case per primitive, on the fixtures in fixtures/solver/."""

from __future__ import annotations

from pathlib import Path

from rbacmap.solver import CLUSTER_ADMIN, EXEC, SECRETS, find_risks
from rbacmap.solver.primitives.webhooks import CONDITION
from rbacmap.solver.result import _cache_key
from rbacmap.store import Snapshot, Store
from tests.solver.helpers import actions, path_of, solve_fixture


def test_direct_grants_and_their_negatives(tmp_path: Path) -> None:
    store, result = solve_fixture(tmp_path, "direct.yaml")
    alice = path_of(result, "user:alice@example.com", SECRETS, "app")
    assert alice is not None and alice.target.namespace == "app"
    grant = alice.steps[0].grants[0]
    assert (str(grant.binding.key), str(grant.role.key), grant.rule_index) == (
        "RoleBinding app/alice-reads-secrets", "Role app/secret-reader", 0)
    assert path_of(result, "user:alice@example.com", SECRETS, "other") is None
    # resourceNames limit secrets: one named Secret is not "read secrets".
    assert result.paths(subject="user:bob@example.com") == []
    # A group binding: any member of ops is cluster-admin.
    assert actions(path_of(result, "group:ops", CLUSTER_ADMIN)) == ["holds cluster-admin"]
    # A ServiceAccount without namespace in a ClusterRoleBinding names nobody.
    assert not [p for p in result.paths() if p.subject.name == "ghost"]
    # A binding to a missing role grants nothing, and is reported as a risk.
    assert result.paths(subject="user:carol@example.com") == []
    dangling = [r for r in find_risks(store) if r.risk == "dangling-binding"]
    assert [r.subject.name for r in dangling if r.subject] == ["carol@example.com"]


def test_pod_create_and_workload_update(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "pods.yaml")
    dan = path_of(result, "user:dan", CLUSTER_ADMIN)
    assert actions(dan) == ["create deployments", "holds cluster-admin"]
    assert dan is not None and dan.steps[0].as_identity.name == "deploy-bot"
    assert actions(path_of(result, "user:wes", CLUSTER_ADMIN)) == ["patch deployments", "holds cluster-admin"]
    # Patching a pod only reaches that pod's ServiceAccount, which reads secrets in dev.
    pat = path_of(result, "user:pat", SECRETS, "dev")
    assert actions(pat) == ["patch pods", "read secrets"]
    assert path_of(result, "user:pat", CLUSTER_ADMIN) is None
    assert pat is not None and pat.steps[0].objects[0].name == "web"
    # Reading pods and deployments is no path.
    assert result.paths(subject="user:vic") == []


def test_exec_attach_ephemeral_and_nodes_proxy(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "exec.yaml")
    xena = path_of(result, "user:xena", CLUSTER_ADMIN)
    assert actions(xena) == ["create pods/exec", "holds cluster-admin"]
    # Websocket exec is authorized as `get`.
    assert actions(path_of(result, "user:gwen", CLUSTER_ADMIN)) == ["get pods/exec", "holds cluster-admin"]
    assert actions(path_of(result, "user:eph", CLUSTER_ADMIN))[0] == "patch pods/ephemeralcontainers"
    assert actions(path_of(result, "user:nox", CLUSTER_ADMIN))[0] == "get nodes/proxy"
    # Logs and node reads are no path.
    assert result.paths(subject="user:lynn") == []
    assert result.paths(subject="user:nod") == []


def test_exec_into_a_privileged_pod_escapes_to_the_node(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "node-escape.yaml")
    tess = result.paths(subject="user:tess", target=EXEC)
    # tess execs into a privileged pod in a baseline namespace: the node, then every token.
    assert [p.target.kind for p in tess] == [CLUSTER_ADMIN]


def test_node_escape_blocked_by_pod_security(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "node-escape.yaml")
    opal = path_of(result, "user:opal", CLUSTER_ADMIN)
    assert actions(opal) == ["escape to the node", "holds cluster-admin"]
    assert opal is not None
    namespace_ref = opal.steps[0].objects[0]
    assert (namespace_ref.kind, namespace_ref.name) == ("Namespace", "sandbox")
    # restricted Pod Security blocks it.
    assert path_of(result, "user:lock", CLUSTER_ADMIN) is None


def test_secrets_read_named_and_mint(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "secrets.yaml")
    assert actions(path_of(result, "user:rita", CLUSTER_ADMIN)) == ["read a token Secret", "holds cluster-admin"]
    nina = path_of(result, "user:nina", CLUSTER_ADMIN)
    assert nina is not None and nina.steps[0].objects[0].name == "robot-token"
    # resourceNames limit it: the other Secret is no token.
    assert result.paths(subject="user:nell") == []
    # Creating a token Secret gives nothing without reading it back: the create response comes
    # before the token controller fills it in.
    assert result.paths(subject="user:cara") == []
    # cami may get only the Secret named cami-token: she gives her minted Secret that name.
    cami = path_of(result, "user:cami", CLUSTER_ADMIN)
    assert actions(cami) == ["mint a token Secret", "holds cluster-admin"]
    assert cami is not None and "get secret cami-token" in cami.steps[0].detail
    assert {g.binding.key.name for g in cami.steps[0].grants} == {"cami"}
    assert [g.rule_index for g in cami.steps[0].grants] == [0, 1]


def test_token_request_respects_resource_names(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "tokens.yaml")
    assert actions(path_of(result, "user:tia", CLUSTER_ADMIN)) == ["request a token", "holds cluster-admin"]
    tim = path_of(result, "user:tim", CLUSTER_ADMIN)
    assert tim is not None and tim.steps[0].as_identity.name == "pusher"
    assert result.paths(subject="user:tom") == []


def test_impersonation(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "impersonate.yaml")
    ivy = path_of(result, "user:ivy", CLUSTER_ADMIN)
    assert actions(ivy) in (["impersonate a user", "holds cluster-admin"],
                            ["impersonate a group", "member of system:masters"])
    # Group impersonation alone is no path.
    assert result.paths(subject="user:gus") == []
    assert actions(path_of(result, "user:una", CLUSTER_ADMIN)) == ["impersonate a user", "holds cluster-admin"]
    assert result.paths(subject="user:uri") == []
    sam = path_of(result, "user:sam", CLUSTER_ADMIN)
    assert sam is not None and sam.steps[0].as_identity.name == "root-sa"


def test_bind_needs_bind_and_escalate_needs_escalate(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "bind-escalate.yaml")
    assert actions(path_of(result, "user:bea", CLUSTER_ADMIN)) == ["bind ClusterRole cluster-admin"]
    assert result.paths(subject="user:ben") == []
    rob = path_of(result, "user:rob", SECRETS, "team")
    assert rob is not None and rob.target.namespace == "team"
    assert actions(rob)[0] == "bind ClusterRole cluster-admin"
    assert path_of(result, "user:rob", CLUSTER_ADMIN) is None
    eli = path_of(result, "user:eli", CLUSTER_ADMIN)
    assert actions(eli) == ["escalate ClusterRole eli-role"]
    assert eli is not None and {g.rule.verbs for g in eli.steps[0].grants} == {("get", "update", "escalate")}
    assert result.paths(subject="user:ed") == []


def test_certificates_webhooks_and_aws_auth(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "control-plane.yaml")
    # A certificate as the admin ServiceAccount: O=system:masters is refused by the
    # CertificateSubjectRestriction admission plugin (on by default since 1.19).
    cy = path_of(result, "user:cy", CLUSTER_ADMIN)
    assert actions(cy) == ["sign a client certificate", "holds cluster-admin"]
    assert cy is not None and cy.steps[0].as_identity.name == "cluster-agent"
    assert result.paths(subject="user:cyd") == []
    wendy = path_of(result, "user:wendy", CLUSTER_ADMIN)
    assert wendy is not None and wendy.conditions == [CONDITION]
    assert result.paths(subject="user:walt") == []
    abe = path_of(result, "user:abe", CLUSTER_ADMIN)
    assert actions(abe) == ["patch aws-auth", "member of system:masters"]
    assert abe is not None and abe.steps[0].objects[0].name == "aws-auth"
    assert result.paths(subject="user:al") == []


def test_bound_role_adds_to_the_attackers_own_permissions(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "combined.yaml")
    # cora creates CSRs with her own role and approves them with the role she binds to herself.
    cora = path_of(result, "user:cora", CLUSTER_ADMIN)
    # The certificate names group leads (never system:masters), which may escalate its role.
    assert actions(cora) == ["bind ClusterRole csr-approver", "sign a client certificate",
                             "escalate ClusterRole lead-tools"]
    assert cora is not None
    holder = cora.steps[0].as_identity
    assert (holder.username, holder.groups) == ("cora", ("system:authenticated",))
    signed_with = {str(g.binding.key) for g in cora.steps[1].grants}
    assert signed_with == {"ClusterRoleBinding cora-requests-csrs", "ClusterRoleBinding <new binding of csr-approver>"}
    # cory can bind the same role but cannot create a CSR: binding alone is no path.
    assert result.paths(subject="user:cory") == []


def test_escalate_a_role_bound_to_a_group(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "combined.yaml")
    leads = path_of(result, "group:leads", CLUSTER_ADMIN)
    assert actions(leads) == ["escalate ClusterRole lead-tools"]
    assert leads is not None and "leads-tools" in leads.steps[0].detail
    assert result.paths(subject="group:helpers") == []


def test_bind_without_create_only_joins_existing_bindings(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "bind-existing.yaml")
    ula = path_of(result, "user:ula", CLUSTER_ADMIN)
    assert actions(ula) == ["bind ClusterRole cluster-admin"]
    assert ula is not None and "existing ClusterRoleBinding ops-admins" in ula.steps[0].detail
    # uma may only update `viewers`, a binding of a harmless role: no new power.
    assert path_of(result, "user:uma", CLUSTER_ADMIN) is None
    uno = path_of(result, "user:uno", SECRETS, "team")
    assert uno is not None and "existing RoleBinding team/readers" in uno.steps[0].detail
    # The read is granted by that binding once uno has added itself as its last subject: no new binding.
    [read] = uno.steps[1].grants
    assert (str(read.binding.key), read.subject.kind, read.subject.name) == ("RoleBinding team/readers", "User", "uno")
    assert read.subject_index == len(read.binding.subjects) - 1
    # In `empty` there is no binding to join, and patch cannot create one.
    assert path_of(result, "user:uno", SECRETS, "empty") is None
    assert {p.target.namespace for p in result.paths(subject="user:uno")} == {"team"}


EMPTY_NAME_BINDING_UPDATER = '''\
# uzi may update only a ClusterRoleBinding named "" (resourceNames [""]: it allows the
# nameless request, but every binding has a name) and bind any ClusterRole: she cannot
# add herself to ops-admins, so no path.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: blank-updater}
rules:
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterrolebindings"]
  resourceNames: [""]
  verbs: ["update"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterroles"]
  verbs: ["bind"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: uzi}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: blank-updater}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: uzi}
---
# uzo holds the same rule plus update on the ClusterRoleBinding ops-admins by name: a path.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: blank-and-ops-updater}
rules:
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterrolebindings"]
  resourceNames: ["", "ops-admins"]
  verbs: ["update"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterroles"]
  verbs: ["bind"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: uzo}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: blank-and-ops-updater}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: uzo}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ops-admins}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: ops}
'''


def test_joining_a_binding_is_not_allowed_by_an_empty_resource_name(tmp_path: Path) -> None:
    # resourceNames [""] allows the nameless update request, never one on a named binding.
    # Written here, not in fixtures/solver: bench/check_solver_answers.py compares every file there.
    (tmp_path / "empty-name.yaml").write_text(EMPTY_NAME_BINDING_UPDATER)
    _, result = solve_fixture(tmp_path, str(tmp_path / "empty-name.yaml"))  # an absolute path stays as is
    assert path_of(result, "user:uzi", CLUSTER_ADMIN) is None
    uzo = path_of(result, "user:uzo", CLUSTER_ADMIN)
    assert uzo is not None and "existing ClusterRoleBinding ops-admins" in uzo.steps[0].detail


def test_impersonating_an_absent_named_service_account_enables_group_impersonation(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "impersonate-absent-sa.yaml")
    gia = path_of(result, "user:gia", CLUSTER_ADMIN)
    assert gia is not None and actions(gia)[0] == "impersonate a group"
    assert any(g.binding.key.name == "gia-ghost" for g in gia.steps[0].grants)  # the SA half of the proof
    assert path_of(result, "user:gil", CLUSTER_ADMIN) is None


EMPTY_NAME_SECRET_READERS = '''
apiVersion: v1
kind: Namespace
metadata: {name: vault}
---
# ria may get secrets named "": every real get names a Secret, so she reads nothing.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: blank-getter, namespace: vault}
rules:
- {apiGroups: [""], resources: ["secrets", "pods/exec"], resourceNames: [""], verbs: ["get", "create"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ria, namespace: vault}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: blank-getter}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: ria}
---
# rio may list secrets named "": a list request carries no name, so the API server allows it.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: blank-lister, namespace: vault}
rules:
- {apiGroups: [""], resources: ["secrets"], resourceNames: [""], verbs: ["list"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rio, namespace: vault}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: blank-lister}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: rio}
'''


def test_an_empty_resource_name_allows_only_requests_that_carry_no_name(tmp_path: Path) -> None:
    (tmp_path / "empty-name-secrets.yaml").write_text(EMPTY_NAME_SECRET_READERS)
    _, result = solve_fixture(tmp_path, str(tmp_path / "empty-name-secrets.yaml"))
    assert path_of(result, "user:ria", SECRETS, "vault") is None  # get: always named
    assert path_of(result, "user:ria", EXEC, "vault") is None  # create pods/exec: names the pod
    rio = path_of(result, "user:rio", SECRETS, "vault")
    assert rio is not None and rio.steps[0].grants[0].binding.key.name == "rio"


def test_in_memory_stores_never_share_a_cached_solution() -> None:
    """The cache names an in-memory store by its own instance number, never by id(), which can be reused."""
    snapshot = Snapshot(1, "c", "files", "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00", "complete",
                        {}, {}, 0, [], None, None, None)
    first = Store(":memory:")
    key = _cache_key(first, snapshot)
    first.close()
    del first
    second = Store(":memory:")
    assert _cache_key(second, snapshot) != key


def test_a_rewritten_role_is_shown_as_the_existing_role_and_binding(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "review/escalate-own-role.yaml")
    devs = path_of(result, "group:devs", SECRETS, "ns3")
    assert actions(devs) == ["escalate Role ns3/escal", "read secrets"]
    assert devs is not None
    [read] = devs.steps[1].grants
    # Not a new ClusterRole nor a new binding: the binding that exists, through the subject naming devs.
    assert (str(read.binding.key), str(read.role.key), read.rule.verbs) == (
        "RoleBinding ns3/escal", "Role ns3/escal", ("*",))
    assert (read.subject.kind, read.subject.name) == ("Group", "devs")
    assert devs.steps[1].as_identity.name == (
        "Role ns3/escal rewritten to */*/* through RoleBinding ns3/escal held by group:devs")
    # kubectl answers "no" until the rewrite is done: the check says when it holds.
    assert "Check (once the bind or rewrite above is done): `kubectl auth can-i list secrets -n ns3" in (
        devs.steps[1].explanation)


def test_a_power_granted_through_an_aggregated_role(tmp_path: Path) -> None:
    # Its grants hold a role with label selectors (dicts): the bind step lists them once, keyed by grant.
    _, result = solve_fixture(tmp_path, "review/aggregated-bind.yaml")
    bo = path_of(result, "user:bo", CLUSTER_ADMIN)
    assert actions(bo) == ["bind ClusterRole cluster-admin"]
    assert bo is not None
    assert {(str(g.role.key), g.aggregated_from) for g in bo.steps[0].grants} == {("ClusterRole binder", "binder-part")}
