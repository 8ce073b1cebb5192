"""Primitive 12, second half: rewrite a role bound to *another* identity, then become that identity.

`escalate` covers roles bound to the attacker itself. Here attacker X may update (or patch) and
`escalate` a role R that a binding B grants to some Y. Once R is rewritten to `*`/`*`/`*`, B
gives Y everything in B's scope, and X gets it by becoming Y. That is two conditions (the
rewrite, and a path from X to Y), which one edge of the graph cannot say, so this source runs
on the built graph: a forward search from X (pool members included, even those that lead
nowhere on their own) meets the identities nearest to X first, and the first one a rewritable
binding applies to gives one `ChainedEdge` X -> cluster-admin (a ClusterRoleBinding) or X ->
"Y plus everything in N" (a RoleBinding in N). The edge carries the rewrite, the path to Y and
the final hold, and costs their number of steps in the reverse search, so a proof through it
is chosen only when no shorter one exists. (The path to Y may itself use the attacker's own
rewrite of the same role, bound to it elsewhere: valid, if a step longer than needed.)

Skipped, because they gain nothing: attackers that already hold everything cluster-wide, bindings
in a namespace where the attacker or Y already holds everything, and bindings that apply to the
attacker itself (`escalate` reports those). The search from X stops at the distance where X
reaches cluster-admin anyway. The graph runs this source again while it adds chains
(`MAX_CHAIN_PASSES`): a second rewrite that only a first one makes reachable follows the first
chain, which then appears in the second one's path.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from functools import partial

from rbacmap.authorizer import Grant
from rbacmap.model import CLUSTER_ROLE_BINDING, Binding, BindingKey, ResourceRequest, Role, RoleKey
from rbacmap.normalize import RBAC_GROUP
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import ChainedEdge, Edge, Node, ObjectRef, Pool
from rbacmap.solver.graph import EscalationGraph
from rbacmap.solver.identity import ROLE_HOLDER, Identity
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import CLUSTER_ADMIN_REQUEST, EffectivePermissions
from rbacmap.solver.primitives.bind import hold_rewritten_role
from rbacmap.solver.primitives.escalate import ESCALATE_ANY, applied_bindings, rewrite_grants, where
from rbacmap.solver.primitives.scopes import in_namespace
from rbacmap.solver.targets import CLUSTER_ADMIN_TARGET, Target

Rewrite = tuple[ResourceRequest, ResourceRequest, tuple[Grant, ...]]  # as `rewrite_grants`
Reached = dict[Node, tuple[int, Edge | None, Node | None]]  # node -> (distance, edge into it, node it came from)

UPDATE_ANY = [ResourceRequest(verb, resource, api_group=RBAC_GROUP)
              for verb in ("update", "patch") for resource in ("roles", "clusterroles")]
ESCALATE_ROLES = [ESCALATE_ANY[0]]
ESCALATE_CLUSTER_ROLES = [ESCALATE_ANY[1]]


def escalate_others(ctx: SolverContext, graph: EscalationGraph) -> Iterator[ChainedEdge]:
    attackers = []
    holds_both: dict[int, bool] = {}  # class key -> some rule it holds may allow escalate and update on roles
    for identity in list(ctx.identities.values()):
        if identity.kind == ROLE_HOLDER:
            continue
        permissions = ctx.permissions(identity)
        key = permissions.class_key()
        both = holds_both.get(key)
        if both is None:  # ~8k identities, a few hundred classes
            both = holds_both[key] = (permissions.may_allow_any(ESCALATE_ANY)
                                      and permissions.may_allow_any(UPDATE_ANY))
        if both and _may_rewrite_for_others(permissions):
            attackers.append((identity, permissions))
    # One step from cluster-admin already (e.g. rewriting a role bound to itself): a chain costs at least two.
    # Not a chain of an earlier pass: it costs more, and a shorter one may still be found.
    admin = graph.index.get(CLUSTER_ADMIN_TARGET)
    one_step = ({graph.sources[edge_id] for edge_id in graph.into[admin] if edge_id not in graph.extra_cost}
                if admin is not None else set())
    attackers = [(identity, permissions) for identity, permissions in attackers
                 if graph.index.get(identity) not in one_step]
    if not attackers:
        return
    outgoing = _outgoing(graph)
    members: dict[Pool, list[Edge]] = {}  # every member of each pool met, listed once for all attackers
    for attacker, permissions in attackers:
        yield from _chains(ctx, graph, outgoing, members, attacker, permissions)


def _may_rewrite_for_others(permissions: EffectivePermissions) -> bool:
    """Whether the identity may rewrite some role that could give it more than it holds.

    Asked of identities whose rules may allow escalate and update on some role. A namespace
    admin with `*` on everything in its namespace gains nothing from rewriting the Roles there.
    """
    if permissions.system_masters or permissions.allows(CLUSTER_ADMIN_REQUEST):
        return False
    # ClusterRoles are cluster-scoped: only ClusterRoleBindings can allow rewriting one.
    if permissions.allows(ESCALATE_CLUSTER_ROLES[0]) or any(
            permissions.allows(in_namespace(ESCALATE_CLUSTER_ROLES[0], None, name))
            for name in permissions.named_resources(ESCALATE_CLUSTER_ROLES[0])):
        return True
    places: set[str | None] = set(permissions.where_any(ESCALATE_ROLES))
    if permissions.named_resources(ESCALATE_ROLES[0]):
        within = permissions.namespaces_it_may_act_in()
        places |= {None} if within is None else set(within)
    # Roles, in the namespaces where escalate may hold: worth it unless it holds everything there.
    return None in places or not all(_holds_everything(permissions, namespace) for namespace in places
                                     if namespace is not None)


def _holds_everything(permissions: EffectivePermissions, namespace: str) -> bool:
    return permissions.allows(in_namespace(CLUSTER_ADMIN_REQUEST, namespace))


def _outgoing(graph: EscalationGraph) -> dict[int, list[int]]:
    """Edge ids by source node, for the identities (pools are expanded from the context, in full)."""
    outgoing: dict[int, list[int]] = defaultdict(list)
    nodes = graph.nodes
    for edge_id, source in enumerate(graph.sources):
        if not isinstance(nodes[source], Pool):
            outgoing[source].append(edge_id)
    return outgoing


def _chains(ctx: SolverContext, graph: EscalationGraph, outgoing: dict[int, list[int]],
            members: dict[Pool, list[Edge]], attacker: Identity,
            permissions: EffectivePermissions) -> Iterator[ChainedEdge]:
    """Forward 0-1 search from the attacker: at each identity met, the bindings it could rewrite there."""
    own = {binding.key for binding, _, _ in applied_bindings(permissions)}
    rewritable: dict[RoleKey, Rewrite | None] = {}
    done: set[tuple[RoleKey, str]] = set()  # (role, scope) already chained
    reached: Reached = {attacker: (0, None, None)}
    queue: deque[Node] = deque([attacker])
    # Nodes reached over a chain of an earlier pass (it costs its whole length), by distance: they join
    # the queue's front once its nodes are that far, as in `EscalationGraph.reverse_search`.
    later: dict[int, list[Node]] = {}
    admin_at: int | None = None
    while queue or later:
        if later:
            nearest = min(later)
            if not queue or reached[queue[0]][0] >= nearest:
                queue.extendleft(reversed(later.pop(nearest)))
        node = queue.popleft()
        here = reached[node][0]
        if admin_at is not None and here + 2 >= admin_at:
            break  # a chain from here costs at least 2 more steps: never shorter than reaching cluster-admin
        if isinstance(node, Target):
            continue
        if isinstance(node, Identity) and node is not attacker:
            yield from _rewrites_for(ctx, attacker, permissions, node, own, rewritable, done,
                                     partial(_path_to, reached, node), here)
        for edge, steps in _edges_from(ctx, graph, outgoing, members, node):
            target = edge.target
            cost = here + steps
            if target in reached and reached[target][0] <= cost:
                continue
            reached[target] = (cost, edge, node)
            if target == CLUSTER_ADMIN_TARGET and (admin_at is None or cost < admin_at):
                admin_at = cost
            if steps == 0:
                queue.appendleft(target)
            elif steps == 1:
                queue.append(target)
            else:
                later.setdefault(cost, []).append(target)


def _edges_from(ctx: SolverContext, graph: EscalationGraph, outgoing: dict[int, list[int]],
                members: dict[Pool, list[Edge]], node: Node) -> Iterator[tuple[Edge, int]]:
    """The edges out of a node, each with its cost in steps (a pool's members: 0; a chain: its length)."""
    if isinstance(node, Pool):
        found = members.get(node)
        if found is None:
            found = members[node] = list(ctx.pool_members(node))
        for edge in found:
            yield edge, 0
        return
    node_id = graph.index.get(node)
    if node_id is None:
        return
    extra_cost = graph.extra_cost
    for edge_id in outgoing.get(node_id, ()):
        yield graph.edges[edge_id], 1 + extra_cost.get(edge_id, 0)


def _path_to(reached: Reached, node: Node) -> tuple[Edge, ...]:
    path: list[Edge] = []
    _, edge, previous = reached[node]
    while edge is not None and previous is not None:
        path.append(edge)
        _, edge, previous = reached[previous]
    return tuple(reversed(path))


def _rewrites_for(ctx: SolverContext, attacker: Identity, permissions: EffectivePermissions, holder: Identity,
                  own: set[BindingKey], rewritable: dict[RoleKey, Rewrite | None], done: set[tuple[RoleKey, str]],
                  path_to: Callable[[], tuple[Edge, ...]], distance: int) -> Iterator[ChainedEdge]:
    holder_permissions = ctx.permissions(holder)
    for binding, subject_index, role in applied_bindings(holder_permissions):
        if binding.key in own:
            continue
        scope = "" if binding.key.kind == CLUSTER_ROLE_BINDING else binding.key.namespace
        if (role.key, scope) in done:
            continue
        if scope and (_holds_everything(permissions, scope) or _holds_everything(holder_permissions, scope)):
            continue
        if role.key not in rewritable:
            rewritable[role.key] = rewrite_grants(permissions, role)
        rewrite = rewritable[role.key]
        if rewrite is None:
            continue
        done.add((role.key, scope))
        via = path_to()
        yield _chain(ctx, attacker, holder, (binding, subject_index), role, scope, rewrite, via, distance)


def _chain(ctx: SolverContext, attacker: Identity, holder: Identity, applied: tuple[Binding, int], role: Role,
           scope: str, rewrite: Rewrite, via: tuple[Edge, ...], distance: int) -> ChainedEdge:
    update, escalate_request, grants = rewrite
    binding, subject_index = applied
    binding_ref = ObjectRef(binding.key.kind, binding.key.name, binding.key.namespace,
                            f"roleRef {role.key}, applies to {holder}")
    detail = (f"rewrite {role.key} to allow everything; {binding.key} grants it {where(scope)} to "
              f"{holder}, which it can become")
    first = Edge(attacker, attacker, f"escalate {role.key}", detail, grants=grants, objects=(binding_ref,),
                 explain=sentence(attacker, escalate_request, grants, f"with {update.verb} it can {detail}"),
                 primitive="escalate")
    target = (CLUSTER_ADMIN_TARGET if scope == ""
              else hold_rewritten_role(ctx, holder, binding, subject_index, role))
    final = Edge(holder, target, "holds the rewritten role",
                 f"{binding.key} grants {holder} {role.key}, rewritten to allow everything {where(scope)}",
                 objects=(binding_ref,), primitive="escalate")
    return ChainedEdge(first, via, final, distance + 2)
