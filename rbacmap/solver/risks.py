"""Risks that are not (yet) a full escalation path, rbac-police style, each with severity and provenance."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from rbacmap.authorizer import Grant, effective_subject_key
from rbacmap.model import (
    GROUP,
    NODES_GROUP,
    SERVICE_ACCOUNT,
    USER,
    Binding,
    ResourceRequest,
    carries_no_name,
    parse_service_account_username,
)
from rbacmap.pod_security_config import PLUGIN_NAME, POD_CREATING_CONTROLLERS, controller_usernames, sandbox_handler
from rbacmap.solver.context import SolverContext, token_secret_ref
from rbacmap.solver.edges import ANY_NODE_POOL, ObjectRef, Pool
from rbacmap.solver.identity import NODE_USERNAME_PREFIX, Identity
from rbacmap.solver.permissions import CLUSTER_ADMIN_REQUEST, EffectivePermissions
from rbacmap.solver.primitives.direct import SECRET_READS
from rbacmap.solver.primitives.pod_create import POD_CREATORS
from rbacmap.solver.primitives.webhooks import ADMISSION
from rbacmap.store import Snapshot, Store

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass(frozen=True)
class Risk:
    """A dangerous permission or object, with who holds it and why."""

    risk: str
    severity: str
    subject: Identity | None
    detail: str
    namespace: str | None = None
    grants: tuple[Grant, ...] = ()
    objects: tuple[ObjectRef, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "risk": self.risk,
            "severity": self.severity,
            "subject": self.subject.to_json() if self.subject else None,
            "namespace": self.namespace,
            "detail": self.detail,
            "granted_by": {
                "grants": [{**g.to_json(), "rule_text": g.rule.describe()} for g in self.grants],
                "objects": [o.to_json() for o in self.objects],
            },
        }


# (risk id, severity, requests any of which is enough, text, text when only some objects are allowed); all
# checked cluster-wide (CRBs). With no second text, a rule limited by resourceNames does not count: listing one
# named Secret is not listing Secrets. With one, it does, for the objects it names: updating one webhook
# configuration rewrites what it intercepts and where it sends it; nodes/proxy on one node reaches its kubelet.
PERMISSION_RISKS: list[tuple[str, str, list[ResourceRequest], str, str | None]] = [
    ("list-secrets-cluster-wide", "high", [ResourceRequest(v, "secrets") for v in ("list", "watch")],
     "lists or watches Secrets in every namespace", None),
    ("nodes-proxy", "critical", [ResourceRequest(v, "nodes", subresource="proxy") for v in ("get", "create")],
     "talks to every kubelet API (exec, logs, pods) through nodes/proxy",
     "talks to the kubelet API (exec, logs, pods) of node(s) {names} through nodes/proxy"),
    ("webhook-control", "high",
     [ResourceRequest(v, r, api_group=ADMISSION) for r in ("mutatingwebhookconfigurations",
                                                             "validatingwebhookconfigurations")
      for v in ("create", "update", "patch", "delete")],
     "controls admission webhooks: can intercept or block every API write",
     "controls the admission webhook configuration(s) {names}: can make them intercept or block every API write"),
    ("create-persistent-volumes", "high", [ResourceRequest("create", "persistentvolumes")],
     "creates PersistentVolumes: a hostPath one gives any pod claiming it the node's files, which Pod Security "
     "never judges (a full path where it may also make the claim and the pod: see hostpath_volume)", None),
    ("node-status-edit", "medium", [ResourceRequest(v, "nodes", subresource="status") for v in ("update", "patch")],
     "edits node status (can steer scheduling and hide nodes)", None),
    ("pod-status-edit", "medium", [ResourceRequest(v, "pods", subresource="status") for v in ("update", "patch")],
     "edits pod status (can fake readiness, steer services to its pods)", None),
]

EVICT = ResourceRequest("create", "pods", subresource="eviction")
NODE_EDITS = [ResourceRequest(verb, "nodes") for verb in ("patch", "update")]


def find_risks(store: Store, snapshot: Snapshot | None = None) -> list[Risk]:
    """Every risk of a snapshot, most severe first (reuses the solver's cached context)."""
    from rbacmap.solver.result import solve

    result = solve(store, snapshot)
    risks = list(_risks(result.context))
    return sorted(risks, key=lambda r: (SEVERITY_ORDER[r.severity], r.risk, r.subject.key if r.subject else ()))


def _risks(ctx: SolverContext) -> Iterator[Risk]:
    for identity in sorted((i for i in ctx.identities.values() if i.is_subject), key=lambda i: i.key):
        permissions = ctx.permissions(identity)
        if permissions.system_masters:
            continue
        for risk, severity, requests, text, named_text in PERMISSION_RISKS:
            grants = next((g for g in (permissions.grants(r) for r in requests) if g), ())
            if grants:
                yield Risk(risk, severity, identity, f"{identity} {text}", None, grants)
            elif named_text is not None:
                names, grants = _named_grants(permissions, requests)
                if grants:
                    yield Risk(risk, severity, identity, f"{identity} {named_text.format(names=', '.join(names))}",
                               None, grants)
        evict = permissions.scope(EVICT).everywhere
        node_patch = next((g for g in (permissions.grants(r) for r in NODE_EDITS) if g), ())
        if evict and node_patch:
            text = f"{identity} can evict pods and taint/label nodes: it can move workloads onto a node it controls"
            yield Risk("evict-and-patch-nodes", "medium", identity, text, None, evict + node_patch)
        node_risk = _node_identity_granted(identity, permissions) if _is_node_identity(identity) else None
        if node_risk is not None:
            yield node_risk
        # Once per subject the binding names (not again for every member of a group it names: "binding X names
        # ServiceAccount a" was untrue, and one binding to system:serviceaccounts was a finding per ServiceAccount).
        for binding in (b for b in permissions.dangling if _names_itself(b, identity)):
            yield Risk("dangling-binding", "medium", identity,
                       f"{binding.key} names {identity} but its {binding.role_ref.kind} {binding.role_ref.name!r} does "
                       "not exist: whoever creates that role grants it", binding.key.namespace or None)
    for namespace, secrets in sorted(ctx.objects.token_secrets.items()):
        for secret in secrets:
            owner = ctx.identities.get(("ServiceAccount", secret.service_account, namespace))
            severity, power, grants = _token_owner_power(ctx, owner)
            yield Risk("legacy-token-secret", severity, owner,
                       f"Secret {namespace}/{secret.name} holds a non-expiring token of ServiceAccount "
                       f"{secret.service_account}{power}: anyone who can read secrets in {namespace} becomes it",
                       namespace, grants, (token_secret_ref(secret),))
    for namespace, secrets in sorted(ctx.objects.invalidated_token_secrets.items()):
        for secret in secrets:
            owner = ctx.identities.get(("ServiceAccount", secret.service_account, namespace))
            yield Risk("invalidated-token-secret", "low", owner,
                       f"Secret {namespace}/{secret.name} holds an invalidated token of ServiceAccount "
                       f"{secret.service_account}: removing its label re-enables it; delete the Secret",
                       namespace, (), (token_secret_ref(secret),))
    yield from _pod_security_exemptions(ctx)
    yield from _node_credentials(ctx)


def _token_owner_power(ctx: SolverContext, owner: Identity | None) -> tuple[str, str, tuple[Grant, ...]]:
    """A legacy token's severity by what its ServiceAccount may do itself (paths show what it reaches further):
    cluster-admin high, reading Secrets or starting pods medium, else low; with the text and grants saying why."""
    if owner is None:
        return "low", "", ()
    permissions = ctx.permissions(owner)
    admin = permissions.grants(CLUSTER_ADMIN_REQUEST)
    if admin:
        return "high", " (which holds cluster-admin)", admin
    for requests, what in ((SECRET_READS, "reads Secrets"), (POD_CREATORS, "starts pods")):
        places = permissions.where_any(requests)
        if places:
            where = "in every namespace" if None in places else "in " + ", ".join(str(p) for p in places[:3]) + (
                ", …" if len(places) > 3 else "")
            return "medium", f" (which {what} {where})", permissions.grants_where(requests, places[0])
    return "low", "", ()


def _named_grants(
    permissions: EffectivePermissions, requests: list[ResourceRequest],
) -> tuple[list[str], tuple[Grant, ...]]:
    """The names resourceNames allow the first request allowed for some name cluster-wide, and their grants.

    A create is authorized without a name (`carries_no_name`): a `create` rule limited by resourceNames matches
    the named request asked here but allows no real create, so it is not asked.
    """
    for request in requests:
        if carries_no_name(request):
            continue
        names, grants = [], []
        for name in sorted(permissions.named_resources(request)):
            found = permissions.grants(replace(request, name=name))  # no namespace: ClusterRoleBindings only
            if found:
                names.append(name)
                grants += [g for g in found if g not in grants]
        if grants:
            return names, tuple(grants)
    return [], ()


def _names_itself(binding: Binding, identity: Identity) -> bool:
    """Whether a binding names this identity as a subject (a ServiceAccount's namespace defaulted), rather than
    applying to it through one of its groups."""
    return any(effective_subject_key(subject, binding.key.namespace) == identity.key for subject in binding.subjects)


def _pod_security_exemptions(ctx: SolverContext) -> Iterator[Risk]:
    """Exemptions of the API server's PodSecurity configuration: privileged pods get in whatever the labels."""
    config = ctx.objects.pod_security
    if config is None:
        return
    source = ObjectRef(config.kind, PLUGIN_NAME, note="the API server's PodSecurity admission configuration")
    for username in config.exempt_usernames:
        account = parse_service_account_username(username)
        key = (SERVICE_ACCOUNT, account[1], account[0]) if account else (USER, username, "")
        kinds = [kind for kind in POD_CREATING_CONTROLLERS if username in controller_usernames(kind)]
        detail = f"exemptions.usernames lists {username}: the pods it creates skip Pod Security in every namespace"
        if kinds:
            detail += f"; it creates the pods of every {', '.join(kinds)}, so their writers' pods skip it too"
        yield Risk("pod-security-exempt-user", "high", ctx.identities.get(key), detail, None, (), (source,))
    for namespace in config.exempt_namespaces:
        yield Risk("pod-security-exempt-namespace", "medium", None,
                   f"exemptions.namespaces lists {namespace}: any pod there skips Pod Security, whatever its labels",
                   namespace, (), (source,))
    for name in config.exempt_runtime_classes:
        handler = ctx.objects.runtime_classes.get(name)
        if handler is None and ctx.objects.runtime_classes_unlisted:
            yield Risk("pod-security-exempt-runtime-class", "high", None,
                       f"exemptions.runtimeClasses lists {name}; the snapshot holds no RuntimeClasses (not listed), so "
                       "its handler is not known: any pod naming it may skip Pod Security in every namespace", None,
                       (), (source,))
            continue
        if handler is None:
            yield Risk("pod-security-exempt-runtime-class", "low", None,
                       f"exemptions.runtimeClasses lists {name}, which does not exist: whoever may create "
                       "RuntimeClasses can make one whose pods skip Pod Security", None, (), (source,))
            continue
        sandbox = sandbox_handler(handler)
        yield Risk("pod-security-exempt-runtime-class", "medium" if sandbox else "high", None,
                   f"exemptions.runtimeClasses lists {name} (handler {handler}"
                   + (", a sandbox" if sandbox else ", not a sandbox") + f"): any pod with runtimeClassName: {name} "
                   "skips Pod Security in every namespace" + (" (a hostPath volume still reaches the node's files)"
                                                               if sandbox else ""),
                   None, (), (source, ObjectRef("RuntimeClass", name, note=f"handler: {handler}")))


def _is_node_identity(identity: Identity) -> bool:
    """The group kubelets authenticate in, or one node's username: root on that node holds its power."""
    if identity.kind == GROUP:
        return identity.name == NODES_GROUP
    return identity.kind == USER and identity.name.startswith(NODE_USERNAME_PREFIX)


# What kubeadm and EKS bind to the node group: a node renews its own client certificate, reads the kubeadm
# and kubelet configuration ConfigMaps (versioned `kubeadm:kubelet-config-1.NN` before 1.24), bootstraps.
DEFAULT_NODE_ROLES = frozenset({
    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
    "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
    "kubeadm:nodes-kubeadm-config",
    "kubeadm:kubelet-config",
    "eks:node-bootstrapper",
})


def _default_node_role(name: str) -> bool:
    return name in DEFAULT_NODE_ROLES or name.startswith("kubeadm:kubelet-config-")


def _node_identity_granted(identity: Identity, permissions: EffectivePermissions) -> Risk | None:
    """The bindings that name this node group or node user itself (not those it holds through
    system:authenticated), but the defaults kubeadm and EKS make."""
    applied = [(binding, index) for binding, index, _ in (
        *permissions.cluster, *(entry for entries in permissions.namespaced.values() for entry in entries))
        if binding.subjects[index].name == identity.name and not _default_node_role(binding.role_ref.name)]
    if not applied:
        return None
    objects = tuple(ObjectRef(binding.key.kind, binding.key.name, binding.key.namespace,
                              f"roleRef {binding.role_ref.kind} {binding.role_ref.name}")
                    for binding, _ in applied)
    who = ("every kubelet" if identity.kind == GROUP
           else f"the kubelet of node {identity.name.removeprefix(NODE_USERNAME_PREFIX)}")
    roles = ", ".join(sorted({f"{binding.role_ref.kind} {binding.role_ref.name}" for binding, _ in applied}))
    return Risk("node-identity-granted", "medium", identity,
                f"{identity} is bound to {roles}: {who} holds it, and so does root on such a node (a privileged pod, "
                "or exec into one); the Node authorizer already gives kubelets what they need", None, (), objects)


def _node_credentials(ctx: SolverContext) -> Iterator[Risk]:
    """Cloud identities root on a node holds: a pod escape anywhere reaches them (see the node escape primitive).
    The kubelet's own identity is `node-identity-granted` when something is bound to it."""
    from rbacmap.solver.registry import NODE_CREDENTIAL_SOURCES

    for source in NODE_CREDENTIAL_SOURCES:
        for edge in source(ctx, Pool.of(ANY_NODE_POOL), None):
            if edge.primitive != "cloud":
                continue
            identity = edge.target if isinstance(edge.target, Identity) else None
            yield Risk("node-cloud-credentials", "high", identity,
                       f"{edge.detail}: a privileged pod, or exec into one, on such a node holds {identity}",
                       None, (), edge.objects)
