"""Primitive 7: a privileged / hostPath / hostPID pod -> the node -> every pod's token on the nodes.

Creating such a pod needs a namespace whose Pod Security `enforce` level is `privileged`. A
missing label falls back to the PodSecurity configuration's default: `privileged` upstream,
and assumed when the import had no configuration (the proof says so). A label that is not a
level (`Restricted`, `foo`, empty) is enforced as `restricted` upstream (`ParseLevel` fails
closed), so it blocks too. The configuration's exemptions admit privileged pods whatever the
level: every pod of an exempt namespace, the pods an exempt user creates, and a workload's
pods when its controller's username is exempt (rbacmap/pod_security_config.py). Updating a
workload's pod template is creating such a pod too (its controller creates it, and Pod
Security judges that pod). A new pod may pick its node (`nodeName`), so one escape reaches
every node and every running pod's token. Exec into an existing pod that already escapes is a
path whatever the labels say, but only to its own node: the tokens of the pods running there;
so is exec into such a pod that resourceNames name.

An ephemeral container may be privileged too (`kubectl debug --profile=sysadmin`): updating
`pods/ephemeralcontainers` in a namespace that allows privileged pods (Pod Security judges the
ephemeral containers too, exempting the same users) puts root on the node of any pod there.
Such a container joins an existing pod, so it reaches only the nodes running that namespace's
pods. Rights in every namespace add nothing: exec into every pod already reads every token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from rbacmap.authorizer import Grant
from rbacmap.model import ResourceRequest
from rbacmap.pod_security_config import (
    CONTROLLER_MANAGER,
    PLUGIN_NAME,
    POD_CREATING_CONTROLLERS,
    controller_usernames,
)
from rbacmap.solver.admission import admission_condition, any_pod_judge, in_pod_condition, judges_pods
from rbacmap.solver.context import PodFacts, SolverContext
from rbacmap.solver.edges import (
    ANY_NODE_POOL,
    NAMESPACE_NODES_POOL,
    NODE_POD_SERVICE_ACCOUNTS_POOL,
    Edge,
    ObjectRef,
    Pool,
    lazy_edge,
)
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import EffectivePermissions
from rbacmap.solver.primitives.ephemeral_containers import EPHEMERAL
from rbacmap.solver.primitives.exec_attach import EXEC_REQUESTS
from rbacmap.solver.primitives.pod_create import POD_CREATORS
from rbacmap.solver.primitives.scopes import NamedPod, grants_in, pods_reached_by_name, proving_request, where
from rbacmap.solver.primitives.websocket_exec import (
    exec_requests,
    unconditional_exec_requests,
    websocket_get_condition,
)
from rbacmap.solver.primitives.workload_update import (
    UPDATABLE,
    WORKLOAD_UPDATES,
    assumed_workload,
    updatable_places,
)
from rbacmap.solver.targets import exec_target

# Writes that make a pod from a spec of one's choosing: a pod, a workload, or a workload's template.
POD_WRITES = [*POD_CREATORS, *WORKLOAD_UPDATES]
ASKED = [*POD_WRITES, *EXEC_REQUESTS, *EPHEMERAL]
POD_CREATE = POD_CREATORS[0]
# (resource, API group) -> the workload kind whose controller creates the pods.
WORKLOAD_KINDS = {**UPDATABLE, ("jobs", "batch"): "Job"}
SINGLE_WRITE = {request: [request] for request in POD_WRITES}  # one shared list per request (lookups memoize by list)


def node_escape(ctx: SolverContext) -> Iterator[Edge]:
    objects = ctx.objects
    new_pods = not new_privileged_pods_refused(ctx)
    execs = exec_requests(ctx)  # `get` alone runs nothing on a 1.35+ server (websocket_exec)
    unconditional = unconditional_exec_requests(ctx)
    for identity, permissions in ctx.frontier_permissions(ASKED):
        if new_pods:
            yield from _new_pod_escapes(ctx, identity, permissions)
        exec_places = permissions.where_any(execs)
        # Where only `get` is allowed on a server of unknown version, the exec carries a condition (websocket_exec).
        clean = permissions.where_any(unconditional) if unconditional is not None and exec_places else [None]
        for namespace in exec_places:
            conditional = None not in clean and namespace not in clean
            # Root on the node of an existing pod reads the tokens of the pods on that node only.
            for pod in objects.escaping_pods_by_node(namespace):
                assert pod.node is not None  # escaping_pods_by_node: pods on a node
                yield lazy_edge(identity, Pool.of(NODE_POD_SERVICE_ACCOUNTS_POOL, pod.node), "node_escape",
                                partial(_describe_exec, ctx, execs, identity, permissions, namespace, pod),
                                conditional)
        for named in pods_reached_by_name(objects, permissions, execs, exec_places):
            if named.pod.escapes_to_node and named.pod.node:
                yield _named_exec(ctx, identity, named)
        if new_pods:
            user_exempt = objects.exempts_user(identity.username)
            debug_places = permissions.where_any(EPHEMERAL)
            for namespace in debug_places:
                if (namespace is not None and (user_exempt or objects.admits_privileged_pods(namespace))
                        and objects.nodes_running_pods_of(namespace)):
                    yield lazy_edge(identity, Pool.of(NAMESPACE_NODES_POOL, namespace), "node_escape",
                                    partial(_describe_debug, ctx, identity, permissions, namespace))
            # A debug container in a pod that resourceNames name: root on that pod's node.
            for named in pods_reached_by_name(objects, permissions, EPHEMERAL, debug_places):
                pod = named.pod
                if pod.node and not pod.static and (user_exempt or objects.admits_privileged_pods(pod.namespace)):
                    yield _named_debug(ctx, identity, named)


def _new_pod_escapes(ctx: SolverContext, identity: Identity, permissions: EffectivePermissions) -> Iterator[Edge]:
    """A privileged pod of the identity's making: created, or a workload that exists updated."""
    objects = ctx.objects
    open_namespaces = _open_namespaces(ctx)
    for namespace, requests in pod_write_places(ctx, permissions).items():
        # A namespace not in the snapshot has no labels seen: the configured default (if any) applies.
        candidates = open_namespaces if namespace is None else [namespace] if (
            objects.admits_privileged_pods(namespace)) else []
        if candidates:
            yield from lazy_pair(identity, partial(describe_create, ctx, identity, permissions, namespace,
                                                    candidates[0], requests, ""))
    # Pod Security exemptions admit a privileged pod whatever the namespace's level: pods the identity
    # creates itself when its username is exempt, a workload's pods when its controller's is.
    all_namespaces = namespaces_judged_last(ctx)
    if all_namespaces:
        for namespace, request, note in _exempt_writes(ctx, identity, permissions, _exempt_workload_kinds(ctx)):
            yield from lazy_pair(identity, partial(describe_create, ctx, identity, permissions, namespace,
                                                    namespace or all_namespaces[0], SINGLE_WRITE[request], note))


def new_privileged_pods_refused(ctx: SolverContext) -> bool:
    """Whether something the snapshot's imports know refuses every new privileged pod (GKE Autopilot)."""
    from rbacmap.solver.registry import PRIVILEGED_POD_REFUSALS

    return any(refusal(ctx) for refusal in PRIVILEGED_POD_REFUSALS)


def _exempt_user_note(username: str) -> str:
    return f"exemptions.usernames lists {username}: Pod Security admits the pods it creates or updates anywhere"


def _exempt_workload_kinds(ctx: SolverContext) -> dict[str, str]:
    """Workload kind -> a note naming the exempt username of the controller that creates its pods."""
    config = ctx.objects.pod_security
    if config is None or not config.exempt_usernames:
        return {}
    found: dict[str, str] | None = ctx.memo.get("exempt_workload_kinds")
    if found is not None:
        return found
    found = ctx.memo["exempt_workload_kinds"] = {}
    for kind in POD_CREATING_CONTROLLERS:
        exempt = [name for name in controller_usernames(kind) if config.exempts_user(name)]
        if exempt:
            note = f"exemptions.usernames lists {exempt[0]}, which creates the pods of a {kind}"
            if exempt[0] == CONTROLLER_MANAGER:  # with per-controller credentials, not this user, creates them
                note += " when kube-controller-manager runs without --use-service-account-credentials"
            found[kind] = note + ": Pod Security admits them anywhere"
    return found


def _exempt_writes(
    ctx: SolverContext, identity: Identity, permissions: EffectivePermissions, exempt_kinds: dict[str, str],
) -> Iterator[tuple[str | None, ResourceRequest, str]]:
    """Where Pod Security lets the identity's privileged pod in whatever the level, by an exemption: (place, the
    write, a note naming the exemption). Its own pods when its username is exempt; a workload created, or one
    that exists updated, when the controller that creates the workload's pods is exempt (Pod Security judges
    the pods, not the workload). Exempt RuntimeClasses: `exempt_runtime_class`."""
    if ctx.objects.exempts_user(identity.username):
        for namespace in permissions.where(POD_CREATE):
            yield namespace, POD_CREATE, _exempt_user_note(identity.username)
    if not exempt_kinds:
        return
    for namespace, request in pod_writes(ctx, permissions):
        kind = WORKLOAD_KINDS.get((request.resource, request.api_group))  # None for a pod of its own
        note = exempt_kinds.get(kind) if kind is not None else None
        if note is not None:
            yield namespace, request, note


def pod_write_places(ctx: SolverContext, permissions: EffectivePermissions) -> dict[str | None, list[ResourceRequest]]:
    """Where the identity makes a pod from a spec of its choosing (None: every namespace), with the writes that
    do it there: creates of pods or controllers, else updates of the workloads that exist there."""
    writes = dict.fromkeys(permissions.where_any(POD_CREATORS), POD_CREATORS)
    for namespace, updates in updatable_places(ctx, permissions):
        writes.setdefault(namespace, updates)
    return writes


def pod_writes(ctx: SolverContext, permissions: EffectivePermissions) -> Iterator[tuple[str | None, ResourceRequest]]:
    """Each write by which the identity makes a pod from a spec of its choosing, and where (None: every
    namespace): a pod or workload created, a workload that exists updated."""
    for request in POD_CREATORS:
        for namespace in permissions.where(request):
            yield namespace, request
    for namespace, updates in updatable_places(ctx, permissions):
        for request in updates:  # the update requests of the kinds there: some, not all, allowed
            if None in (allowed := permissions.where(request)) or namespace in allowed:
                yield namespace, request


def lazy_pair(identity: Identity, describe: partial[tuple[Edge, Edge]], primitive: str = "node_escape",
              ) -> tuple[Edge, Edge]:
    """The two edges of `_escape`, their provenance built by `describe` when shown."""
    return (lazy_edge(identity, exec_target(None), primitive, partial(pick_edge, describe, 0)),
            lazy_edge(identity, Pool.of(ANY_NODE_POOL), primitive, partial(pick_edge, describe, 1)))


def pick_edge(describe: partial[tuple[Edge, Edge]], index: int) -> Edge:
    return describe()[index]


def describe_create(ctx: SolverContext, identity: Identity, permissions: EffectivePermissions,
                    namespace: str | None, candidate: str, requests: list[ResourceRequest],
                    exemption: str, condition: str = "", node: str | None = None,
                    also: tuple[Grant, ...] = ()) -> tuple[Edge, Edge]:
    """The edges of a privileged pod made by one of `requests` in `candidate` (on `node`, when it must run there:
    then the second edge leads to that node's pool, and only it is used); `also`: the grants of another write
    the step needs first (creating the RuntimeClass it names, say)."""
    grants = grants_in(permissions, requests, namespace)
    request = proving_request(grants, requests, candidate)
    grants += also
    how = f"create a privileged pod with hostPID and a hostPath / volume in {candidate}"
    if request.verb != "create":
        how = (f"{request.verb} {request.resource} in {candidate}: a privileged pod template with hostPID and a "
               "hostPath / volume")
    elif request.resource != "pods":
        how = (f"create {request.resource} in {candidate} with a privileged pod template (hostPID and a hostPath / "
               "volume)")
    if node is not None:
        how += f", which runs on node {node}"
    return escape_edges(identity, grants, request, pod_security_ref(ctx, candidate, exemption), how,
                   join_conditions(assumed_workload(ctx, request, candidate), condition,
                               pod_write_admission(ctx, candidate, request)), node)


def pod_write_admission(ctx: SolverContext, namespace: str, request: ResourceRequest) -> str:
    """The admission condition of a privileged pod made by this write: the pod is judged (its labels chosen
    on a create, its name only when the attacker creates the pod itself: a controller names a workload's
    pods), and so is the workload written."""
    created = request.verb == "create"
    pod = request.resource == "pods"
    written = None if pod else ("CREATE" if created else "UPDATE", request.resource, request.api_group)
    return admission_condition(ctx.objects, namespace, labels_chosen=created, name_chosen=created and pod,
                               written=written)


def _describe_exec(ctx: SolverContext, execs: list[ResourceRequest], identity: Identity,
                   permissions: EffectivePermissions, namespace: str | None, pod: PodFacts) -> Edge:
    grants = permissions.grants_where(execs, namespace)
    request = proving_request(grants, execs, pod.namespace)
    how = f"exec into {pod.kind} {pod.namespace}/{pod.name}, which can reach its node {pod.node}"
    explain = sentence(identity, request, grants, f"{how}; root on that node then reads the token of every pod "
                       "running there")
    return Edge(identity, Pool.of(NODE_POD_SERVICE_ACCOUNTS_POOL, pod.node or ""), "escape to the node", how,
                grants=grants, objects=(pod.ref(_escape_facts(pod)),), explain=explain, primitive="node_escape",
                condition=join_conditions(websocket_get_condition(ctx, request),
                                          in_pod_condition(ctx.objects, pod.namespace, request.subresource)))


def _named_exec(ctx: SolverContext, identity: Identity, named: NamedPod) -> Edge:
    pod, request = named.pod, named.request
    how = (f"{request.verb} pods/{request.subresource} on {pod.kind} {pod.namespace}/{pod.name} (named in "
           f"resourceNames), which can reach its node {pod.node}")
    explain = sentence(identity, request, named.grants, "root on that node then reads the token of every pod "
                       "running there")
    return Edge(identity, Pool.of(NODE_POD_SERVICE_ACCOUNTS_POOL, pod.node or ""), "escape to the node", how,
                grants=named.grants, objects=(pod.ref(_escape_facts(pod)),), explain=explain, primitive="node_escape",
                condition=join_conditions(websocket_get_condition(ctx, request),
                                          in_pod_condition(ctx.objects, pod.namespace, request.subresource)))


def _describe_debug(ctx: SolverContext, identity: Identity, permissions: EffectivePermissions,
                    namespace: str) -> Edge:
    grants = permissions.grants_where(EPHEMERAL, namespace)
    request = proving_request(grants, EPHEMERAL, namespace)
    how = (f"{request.verb} pods/ephemeralcontainers{where(namespace)}: a privileged debug container "
           "(kubectl debug --profile=sysadmin) in a pod there is root on that pod's node")
    explain = sentence(identity, request, grants, "root on a node reads the token of every pod running there "
                       "(kubectl get ns --show-labels shows the Pod Security level)")
    return Edge(identity, Pool.of(NAMESPACE_NODES_POOL, namespace), "escape to the node", how, grants=grants,
                objects=(pod_security_ref(ctx, namespace, _exempt_user_note(identity.username) if
                                           ctx.objects.exempts_user(identity.username) else ""),),
                explain=explain, primitive="node_escape",
                condition=admission_condition(ctx.objects, namespace, "UPDATE", "ephemeralcontainers",
                                              labels_chosen=False, name_chosen=False))


def _named_debug(ctx: SolverContext, identity: Identity, named: NamedPod) -> Edge:
    pod, request = named.pod, named.request
    how = (f"{request.verb} pods/ephemeralcontainers on {pod.kind} {pod.namespace}/{pod.name} (named in "
           f"resourceNames): a privileged debug container (kubectl debug --profile=sysadmin) there is root on its node "
           f"{pod.node}")
    explain = sentence(identity, request, named.grants, "root on that node reads the token of every pod running there")
    exemption = _exempt_user_note(identity.username) if ctx.objects.exempts_user(identity.username) else ""
    return Edge(identity, Pool.of(NODE_POD_SERVICE_ACCOUNTS_POOL, pod.node or ""), "escape to the node", how,
                grants=named.grants, objects=(pod.ref(f"nodeName: {pod.node}"),
                                              pod_security_ref(ctx, pod.namespace, exemption)),
                explain=explain, primitive="node_escape",
                condition=admission_condition(ctx.objects, pod.namespace, "UPDATE", "ephemeralcontainers",
                                              labels_chosen=False, name_chosen=False))


def namespaces_judged_last(ctx: SolverContext) -> list[str]:
    """Every namespace, those where a validating webhook or policy judges a new pod last: a write allowed in
    every namespace is shown in the first (once per snapshot; do not modify)."""
    return judged_last(ctx, "all_namespaces", ctx.objects.all_namespaces)


def _open_namespaces(ctx: SolverContext) -> list[str]:
    """The namespaces that admit a privileged pod, those no validating webhook or policy judges pods in first
    (once per snapshot; do not modify): "every namespace" is shown in the first."""
    objects = ctx.objects
    return judged_last(ctx, "open_namespaces",
                        lambda: [ns for ns in objects.all_namespaces() if objects.admits_privileged_pods(ns)])


def judged_last(ctx: SolverContext, name: str, namespaces: Callable[[], list[str]]) -> list[str]:
    """`namespaces()`, those where a validating webhook or policy judges a new pod last (worked out once per
    snapshot and kept as `name`: asked for each identity that may write pods)."""
    found: list[str] | None = ctx.memo.get(name)
    if found is None:
        found = namespaces()
        if any_pod_judge(ctx.objects):
            judged = {ns for ns in found if judges_pods(ctx.objects, ns)}
            found = sorted(found, key=lambda ns: ns in judged)  # stable: name order otherwise
        ctx.memo[name] = found
    return found


def join_conditions(*conditions: str) -> str:
    return "; ".join(condition for condition in conditions if condition)


def escape_edges(
    identity: Identity, grants: tuple[Grant, ...], request: ResourceRequest, enabler: ObjectRef, how: str,
    condition: str = "", node: str | None = None,
) -> tuple[Edge, Edge]:
    explain = sentence(identity, request, grants, f"{how}; root on the node then reads every pod's token "
                       "(kubectl get ns --show-labels shows the Pod Security level)")
    landing = Pool.of(ANY_NODE_POOL) if node is None else Pool.of(NODE_POD_SERVICE_ACCOUNTS_POOL, node)
    return (Edge(identity, exec_target(None), "escape to the node", how, grants=grants, objects=(enabler,),
                 explain=explain, condition=condition, primitive="node_escape"),
            Edge(identity, landing, "escape to the node", how, grants=grants,
                 objects=(enabler,), explain=explain, condition=condition, primitive="node_escape"))


def pod_security_ref(ctx: SolverContext, namespace: str, exemption: str) -> ObjectRef:
    """What lets a privileged pod into the namespace: a username exemption of the PodSecurity configuration
    (`exemption` says which), an exempt namespace, or the namespace's level (its label, else the default)."""
    config = ctx.objects.pod_security
    if config is not None and exemption:
        return ObjectRef(config.kind, PLUGIN_NAME, "", exemption)
    if config is not None and config.exempts_namespace(namespace):
        return ObjectRef(config.kind, PLUGIN_NAME, "", f"exemptions.namespaces lists {namespace}: Pod Security "
                         "admits every pod there")
    level = ctx.objects.pod_security_enforce(namespace)
    if level is not None:
        note = f"pod-security.kubernetes.io/enforce={level}"
    elif config is not None:
        note = (f"no pod-security.kubernetes.io/enforce label: the {config.kind}'s default "
                f"enforce={config.default_enforce} applies")
    else:
        note = ("no pod-security.kubernetes.io/enforce label: the PodSecurity default applies, assumed privileged "
                "(an AdmissionConfiguration may set a stricter default: import it to check)")
    return ObjectRef("Namespace", namespace, "", note)


def _escape_facts(pod: PodFacts) -> str:
    facts = [name for name, on in (("privileged", pod.privileged), ("hostPID", pod.host_pid)) if on]
    facts += [f"hostPath {path}" for path in pod.host_path_volumes]
    return ", ".join(facts)
