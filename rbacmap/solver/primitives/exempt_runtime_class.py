"""Pod Security's exempt RuntimeClasses: a pod naming one (`runtimeClassName`) skips Pod Security entirely.

Upstream `pod-security-admission/admission/admission.go` admits a pod of an exempt RuntimeClass
whoever writes it and in any namespace, and judges a debug container (an update of
`pods/ephemeralcontainers`) the same way, by the pod's RuntimeClass. So:

- a privileged pod (or a workload template) naming an exempt class escapes to the node from a
  namespace whose level blocks privileged pods. The RuntimeClass admission plugin refuses a pod
  naming a class that does not exist, and adds the class's `scheduling.nodeSelector` to the pod:
  with one, the pod runs only on the matching nodes (their pods' tokens, not every node's);
- a privileged debug container in an existing pod of an exempt class is root on that pod's node;
- an exempt class that does not exist is created by whoever may create RuntimeClasses (handler
  `runc`, containerd's default), and then used.

A known sandbox handler (gVisor, Kata, Firecracker) keeps a privileged container inside it, but
a hostPath volume of the node's `/` is shared into it: the step says so as its condition. When
the import could not list RuntimeClasses, every exempt one is taken to exist, and the step says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from rbacmap.authorizer import Grant
from rbacmap.model import ResourceRequest
from rbacmap.pod_security_config import sandbox_handler
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
    new_privileged_pods_refused,
    pick_edge,
    pod_writes,
)
from rbacmap.solver.primitives.scopes import proving_request, where

CREATE_RUNTIME_CLASS = ResourceRequest("create", "runtimeclasses", api_group="node.k8s.io")
ASKED = [*POD_WRITES, *EPHEMERAL, CREATE_RUNTIME_CLASS]
DEFAULT_HANDLER = "runc"


@dataclass(frozen=True)
class ExemptClass:
    """An exempt RuntimeClass a privileged pod can name, and where such a pod runs."""

    name: str
    note: str  # what the PodSecurity configuration exempts, and how the class is there
    condition: str
    nodes: tuple[str, ...] | None  # None: any node (no nodeSelector); else the nodes matching it


def exempt_runtime_class(ctx: SolverContext) -> Iterator[Edge]:
    existing, missing = _classes(ctx)
    if not existing and not missing or new_privileged_pods_refused(ctx):
        return
    all_namespaces = ctx.objects.all_namespaces()
    class_pods = ctx.objects.pods_of_runtime_classes([exempt.name for exempt in existing])
    for identity, permissions in ctx.frontier_permissions(ASKED):
        chosen = existing[0] if existing else None
        if chosen is None:
            created = permissions.grants(CREATE_RUNTIME_CLASS)
            if not created:
                continue
            chosen = _created(missing[0], created)
        if all_namespaces:
            yield from _new_pods(ctx, identity, permissions, chosen, all_namespaces[0])
        if existing:
            yield from _debug_containers(ctx, identity, permissions, existing, class_pods)


def _new_pods(ctx: SolverContext, identity: Identity, permissions: EffectivePermissions, chosen: ExemptClass,
              first_namespace: str) -> Iterator[Edge]:
    """A privileged pod, or workload template, naming the class: wherever the identity writes one."""
    for namespace, request in pod_writes(ctx, permissions):
        describe = partial(describe_create, ctx, identity, permissions, namespace, namespace or first_namespace,
                           SINGLE_WRITE[request], chosen.note, chosen.condition)
        if chosen.nodes is None:
            yield from lazy_pair(identity, describe)
            continue
        for node in chosen.nodes:
            yield lazy_edge(identity, Pool.of(NODE_POD_SERVICE_ACCOUNTS_POOL, node), "exempt_runtime_class",
                            partial(pick_edge, partial(describe, node=node), 1))


def _debug_containers(ctx: SolverContext, identity: Identity, permissions: EffectivePermissions,
                      existing: list[ExemptClass], class_pods: dict[str, list[tuple[str, str, str]]],
                      ) -> Iterator[Edge]:
    """A privileged debug container in a pod of an exempt class: Pod Security judges it by the pod's class."""
    for place in permissions.where_any(EPHEMERAL):
        nodes: dict[str, tuple[str, str, str]] = {}  # node -> (namespace, pod, class): one pod per node is enough
        for namespace in [place] if place is not None else sorted(class_pods):
            for pod, node, class_name in class_pods.get(namespace, ()):
                nodes.setdefault(node, (namespace, pod, class_name))
        for node, (namespace, pod, class_name) in sorted(nodes.items()):
            exempt = next((found for found in existing if found.name == class_name), existing[0])
            yield lazy_edge(identity, Pool.of(NODE_POD_SERVICE_ACCOUNTS_POOL, node), "exempt_runtime_class",
                            partial(_describe_debug, ctx, identity, permissions, place, namespace, pod, node,
                                    exempt))


def _describe_debug(ctx: SolverContext, identity: Identity, permissions: EffectivePermissions, place: str | None,
                    namespace: str, pod: str, node: str, exempt: ExemptClass) -> Edge:
    grants = permissions.grants_where(EPHEMERAL, place)
    request = proving_request(grants, EPHEMERAL, namespace)
    how = (f"{request.verb} pods/ephemeralcontainers{where(place)}: a privileged debug container (kubectl debug "
           f"--profile=sysadmin) in pod {namespace}/{pod} (runtimeClassName: {exempt.name}) is root on its node {node}")
    config = ctx.objects.pod_security
    enabler = ObjectRef(config.kind if config else "PodSecurityConfiguration", "PodSecurity", "", exempt.note)
    return Edge(identity, Pool.of(NODE_POD_SERVICE_ACCOUNTS_POOL, node), "escape to the node", how, grants=grants,
                objects=(ObjectRef("Pod", pod, namespace, f"runtimeClassName: {exempt.name}, nodeName: {node}"),
                         enabler),
                explain=sentence(identity, request, grants, "root on that node reads the token of every pod "
                                 "running there"),
                condition=exempt.condition, primitive="exempt_runtime_class")


def _classes(ctx: SolverContext) -> tuple[list[ExemptClass], list[str]]:
    """The exempt classes that exist, most useful first (no sandbox, then no nodeSelector), and the missing ones;
    worked out once per snapshot."""
    known: tuple[list[ExemptClass], list[str]] | None = ctx.memo.get("exempt_runtime_classes")
    if known is None:
        objects = ctx.objects
        found = []
        for name, handler, selector in objects.exempt_runtime_classes():
            nodes = tuple(objects.nodes_matching(selector)) if selector else None
            if nodes == ():
                continue  # no node matches its nodeSelector: its pods would not run
            note = (f"exemptions.runtimeClasses lists {name} (handler {handler or 'not known'}): Pod Security admits "
                    f"any pod with runtimeClassName: {name}, in any namespace")
            if selector:
                note += f"; the RuntimeClass's nodeSelector {_labels(selector)} puts its pods on matching nodes"
            found.append(ExemptClass(name, note, _condition(name, handler), nodes))
        found.sort(key=lambda exempt: (bool(exempt.condition), exempt.nodes is not None))
        known = ctx.memo["exempt_runtime_classes"] = (found, objects.missing_exempt_runtime_classes())
    return known


def _condition(name: str, handler: str | None) -> str:
    if handler is None:
        return (f"the import could not list RuntimeClasses: {name} is taken to exist with a handler that is no "
                "sandbox")
    if sandbox_handler(handler):
        return (f"RuntimeClass {name} runs pods in the {handler} sandbox: the escape goes through the hostPath volume "
                "of the node's /, which gVisor and Kata share into the sandbox unless configured not to")
    return ""


def _created(name: str, grants: tuple[Grant, ...]) -> ExemptClass:
    grant = grants[0]
    note = (f"exemptions.runtimeClasses lists {name}, which does not exist: create RuntimeClass {name} (handler "
            f"{DEFAULT_HANDLER}; {grant.binding.key.kind} {grant.binding.key.name} grants create runtimeclasses, "
            f"{grant.rule.describe()}), then any pod naming it skips Pod Security")
    return ExemptClass(name, note, "", None)


def _labels(selector: dict[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
