"""Pod Security's exempt RuntimeClasses: a pod naming one (`runtimeClassName`) skips Pod Security entirely.

Upstream `pod-security-admission/admission/admission.go` admits a pod of an exempt RuntimeClass
whoever writes it and in any namespace (it compares the name only), and judges a debug container
(an update of `pods/ephemeralcontainers`) the same way, by the pod's RuntimeClass. So:

- a privileged pod (or a workload template) naming an exempt class escapes to the node from a
  namespace whose level blocks privileged pods. The RuntimeClass admission plugin refuses a new pod
  naming a class that does not exist, and adds the class's `scheduling.nodeSelector` to the pod
  (the kubelet refuses a pod whose selector its node does not match): with one, the pod runs only
  on the matching nodes, and reaches their pods' tokens, not every node's. Every usable class
  gives its edges (the graph keeps the first edge to each place: classes without a condition and
  without a nodeSelector first);
- an exempt class that does not exist is created by whoever may create RuntimeClasses (handler
  `runc`, containerd's default), and then used; the step carries both grants;
- a privileged debug container in a running pod of an exempt class is root on that pod's node,
  whether or not the RuntimeClass still exists (RuntimeClass admission judges new pods only).

A known sandbox handler (gVisor, Kata, Firecracker) keeps a privileged container inside it: a new
pod still mounts the node's `/` as a hostPath volume, which the sandbox shares in (the step's
condition says so); a debug container cannot add a volume, so it escapes only from a pod that
already mounts a hostPath. When the snapshot holds no RuntimeClasses (the import could not list
them, or it predates their recording), every exempt one is
taken to exist, with no nodeSelector, and the step says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from rbacmap.authorizer import Grant
from rbacmap.model import ResourceRequest
from rbacmap.pod_security_config import sandbox_handler
from rbacmap.solver.admission import admission_condition
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import NODE_POD_SERVICE_ACCOUNTS_POOL, Edge, ObjectRef, Pool, lazy_edge
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import EffectivePermissions
from rbacmap.solver.primitives.ephemeral_containers import EPHEMERAL
from rbacmap.solver.primitives.node_escape import (
    POD_WRITES,
    SINGLE_WRITE,
    describe_create,
    lazy_pair,
    namespaces_judged_last,
    new_privileged_pods_refused,
    pick_edge,
    pod_writes,
)
from rbacmap.solver.primitives.scopes import pods_reached_by_name, proving_request, where

CREATE_RUNTIME_CLASS = ResourceRequest("create", "runtimeclasses", api_group="node.k8s.io")
ASKED = [*POD_WRITES, *EPHEMERAL, CREATE_RUNTIME_CLASS]
DEFAULT_HANDLER = "runc"
PRIMITIVE = "exempt_runtime_class"


@dataclass(frozen=True)
class ExemptClass:
    """An exempt RuntimeClass a new privileged pod can name, and where such a pod runs."""

    name: str
    note: str  # what the PodSecurity configuration exempts, and how the class is there
    condition: str
    nodes: tuple[str, ...] | None  # None: any node (no nodeSelector); else the nodes matching it
    created_with: tuple[Grant, ...] = ()  # the grants to create it first (it does not exist yet)

    @property
    def rank(self) -> tuple[bool, bool, bool]:
        """Sort key: the ones that reach more, with fewer caveats and fewer writes, first."""
        return bool(self.condition), self.nodes is not None, bool(self.created_with)


@dataclass(frozen=True)
class ClassPod:
    """A running pod of an exempt RuntimeClass (a debug container joins it)."""

    namespace: str
    name: str
    node: str
    runtime_class: str
    host_paths: tuple[str, ...]
    sandboxed: bool = False  # its class's handler is a known sandbox (then `host_paths` is not empty)
    caveat: bool = False  # its step carries a condition (a sandbox, or a handler not known)


def exempt_runtime_class(ctx: SolverContext) -> Iterator[Edge]:
    existing, missing, class_pods = _snapshot_facts(ctx)
    if not (existing or missing or class_pods) or new_privileged_pods_refused(ctx):
        return
    first_namespace = next(iter(namespaces_judged_last(ctx)), None)
    for identity, permissions in ctx.frontier_permissions(ASKED):
        candidates = list(existing)
        if missing and (created := permissions.grants(CREATE_RUNTIME_CLASS)):
            candidates.append(_created(missing[0], created))
            candidates.sort(key=lambda exempt: exempt.rank)
        if candidates and first_namespace is not None:
            writes = list(pod_writes(ctx, permissions))
            for chosen in candidates:
                yield from _new_pods(ctx, identity, permissions, chosen, writes, first_namespace)
        if class_pods:
            yield from _debug_containers(ctx, identity, permissions, class_pods)


def _new_pods(ctx: SolverContext, identity: Identity, permissions: EffectivePermissions, chosen: ExemptClass,
              writes: list[tuple[str | None, ResourceRequest]], first_namespace: str) -> Iterator[Edge]:
    """A privileged pod, or workload template, naming the class: wherever the identity writes one."""
    for namespace, request in writes:
        describe = partial(describe_create, ctx, identity, permissions, namespace, namespace or first_namespace,
                           SINGLE_WRITE[request], chosen.note, chosen.condition, also=chosen.created_with)
        if chosen.nodes is None:
            yield from lazy_pair(identity, describe, PRIMITIVE)
            continue
        for node in chosen.nodes:
            yield lazy_edge(identity, Pool.of(NODE_POD_SERVICE_ACCOUNTS_POOL, node), PRIMITIVE,
                            partial(pick_edge, partial(describe, node=node), 1))


def _debug_containers(ctx: SolverContext, identity: Identity, permissions: EffectivePermissions,
                      class_pods: dict[str, list[ClassPod]]) -> Iterator[Edge]:
    """A privileged debug container in a pod of an exempt class: Pod Security judges it by the pod's class.
    Where the identity may debug any pod, one pod per node (one whose class is no sandbox first); where
    resourceNames limit it, each named pod of an exempt class."""
    places = permissions.where_any(EPHEMERAL)
    for place in places:
        nodes: dict[str, ClassPod] = {}  # node -> the pod shown for it: one without the sandbox caveat first
        candidates = [pod for namespace in ([place] if place is not None else sorted(class_pods))
                      for pod in class_pods.get(namespace, ())]
        for pod in sorted(candidates, key=lambda pod: pod.caveat):  # stable: by namespace and name otherwise
            nodes.setdefault(pod.node, pod)
        for node, pod in sorted(nodes.items()):
            yield lazy_edge(identity, Pool.of(NODE_POD_SERVICE_ACCOUNTS_POOL, node), PRIMITIVE,
                            partial(_describe_debug, ctx, identity, permissions, place, pod))
    for named in pods_reached_by_name(ctx.objects, permissions, EPHEMERAL, places):
        class_pod = next((found for found in class_pods.get(named.pod.namespace, ())
                          if found.name == named.pod.name), None)
        if class_pod is not None:
            yield lazy_edge(identity, Pool.of(NODE_POD_SERVICE_ACCOUNTS_POOL, class_pod.node), PRIMITIVE,
                            partial(_describe_debug, ctx, identity, permissions, class_pod.namespace, class_pod,
                                    (named.request, named.grants)))


def _describe_debug(ctx: SolverContext, identity: Identity, permissions: EffectivePermissions, place: str | None,
                    pod: ClassPod, named: tuple[ResourceRequest, tuple[Grant, ...]] | None = None) -> Edge:
    """The step of a debug container in `pod`, allowed in `place`, or (`named`: the request on the pod and its
    grants) only by the pod's name."""
    if named is not None:
        request, grants = named
        allowed = f"{request.verb} pods/ephemeralcontainers on Pod {pod.namespace}/{pod.name} (named in resourceNames)"
    else:
        grants = permissions.grants_where(EPHEMERAL, place)
        request = proving_request(grants, EPHEMERAL, pod.namespace)
        allowed = f"{request.verb} pods/ephemeralcontainers{where(place)}"
    how = (f"{allowed}: a privileged debug container (kubectl debug --profile=sysadmin) in pod "
           f"{pod.namespace}/{pod.name} (runtimeClassName: {pod.runtime_class}) is root on its node {pod.node}")
    objects = ctx.objects
    handler = objects.runtime_classes.get(pod.runtime_class)
    conditions = [_debug_condition(pod, handler, objects.runtime_classes_unlisted),
                  admission_condition(objects, pod.namespace, "UPDATE", "ephemeralcontainers", labels_chosen=False,
                                      name_chosen=False)]
    config = objects.pod_security
    note = (f"exemptions.runtimeClasses lists {pod.runtime_class}: Pod Security admits a debug container in any "
            "pod of that class")
    return Edge(identity, Pool.of(NODE_POD_SERVICE_ACCOUNTS_POOL, pod.node), "escape to the node", how, grants=grants,
                objects=(ObjectRef("Pod", pod.name, pod.namespace,
                                   f"runtimeClassName: {pod.runtime_class}, nodeName: {pod.node}"),
                         ObjectRef(config.kind if config else "PodSecurityConfiguration", "PodSecurity", "", note)),
                explain=sentence(identity, request, grants, "root on that node reads the token of every pod "
                                 "running there"),
                condition="; ".join(condition for condition in conditions if condition), primitive=PRIMITIVE)


def _debug_condition(pod: ClassPod, handler: str | None, unlisted: bool) -> str:
    if handler is not None and sandbox_handler(handler):
        return (f"RuntimeClass {pod.runtime_class} runs pods in the {handler} sandbox: the debug container reaches "
                f"the node through the pod's hostPath volume(s) {', '.join(pod.host_paths)}, which the sandbox "
                "shares in")
    if handler is None:
        why = "the snapshot holds no RuntimeClasses (not listed)" if unlisted else "the RuntimeClass no longer exists"
        return f"{why}: the pod's handler is not known, taken to be no sandbox"
    return ""


def _snapshot_facts(ctx: SolverContext) -> tuple[list[ExemptClass], list[str], dict[str, list[ClassPod]]]:
    """The exempt classes a new pod can name (`ExemptClass.rank` order), the missing ones, and the running pods of
    exempt classes by namespace (sandboxed ones only when they mount a hostPath); worked out once per snapshot."""
    known: tuple[list[ExemptClass], list[str], dict[str, list[ClassPod]]] | None = ctx.memo.get(PRIMITIVE)
    if known is None:
        objects = ctx.objects
        found = []
        for name, handler, selector in objects.exempt_runtime_classes():
            nodes = tuple(objects.nodes_matching(selector)) if selector else None
            if nodes == ():
                continue  # no node matches its nodeSelector: a new pod of it would not run
            note = (f"exemptions.runtimeClasses lists {name} (handler {handler or 'not known'}): Pod Security admits "
                    f"any pod with runtimeClassName: {name}, in any namespace")
            if selector:
                note += f"; the RuntimeClass's nodeSelector {_labels(selector)} puts its pods on matching nodes"
            condition = _new_pod_condition(name, handler)
            if handler is not None and objects.runtime_class_selectors_unknown:
                condition = "; ".join(filter(None, [condition, f"the snapshot predates rbacmap's recording of "
                                                    f"RuntimeClass nodeSelectors: {name} is taken to have none"]))
            found.append(ExemptClass(name, note, condition, nodes))
        found.sort(key=lambda exempt: exempt.rank)
        config = objects.pod_security
        pods: dict[str, list[ClassPod]] = {}
        for namespace, rows in objects.pods_of_runtime_classes(config.exempt_runtime_classes if config else ()).items():
            kept = []
            for row in rows:
                handler = objects.runtime_classes.get(row[2])
                sandboxed = sandbox_handler(handler or DEFAULT_HANDLER)
                kept.append(ClassPod(namespace, *row, sandboxed, sandboxed or handler is None))
            kept = [pod for pod in kept if pod.host_paths or not pod.sandboxed]
            if kept:
                pods[namespace] = kept
        known = ctx.memo[PRIMITIVE] = (found, objects.missing_exempt_runtime_classes(), pods)
    return known


def _new_pod_condition(name: str, handler: str | None) -> str:
    if handler is None:
        return (f"the snapshot holds no RuntimeClasses (not listed): {name} is taken to exist, with a handler that "
                "is no sandbox and no nodeSelector")
    if sandbox_handler(handler):
        return (f"RuntimeClass {name} runs pods in the {handler} sandbox: the escape goes through the hostPath volume "
                "of the node's /, which gVisor and Kata share into the sandbox unless configured not to")
    return ""


def _created(name: str, grants: tuple[Grant, ...]) -> ExemptClass:
    note = (f"exemptions.runtimeClasses lists {name}, which does not exist: create RuntimeClass {name} (handler "
            f"{DEFAULT_HANDLER}; the step's grants include create runtimeclasses), then any pod naming it skips Pod "
            "Security")
    return ExemptClass(name, note, "", None, grants)


def _labels(selector: dict[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
