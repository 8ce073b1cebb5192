"""The escalation graph of one snapshot and the reverse search that answers every subject at once."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import GROUPS_POOL, USERS_POOL, ChainedEdge, Edge, Node, Pool
from rbacmap.solver.identity import Identity
from rbacmap.solver.targets import CLUSTER_ADMIN_TARGET, EXEC, SECRETS, Target

MAX_ROUNDS = 6
# A step's cost in the reverse search; a conditional step costs one more. A path never has this many conditional
# steps, so a condition only breaks ties between equally short proofs.
STEP_COST = 1 << 10
MAX_CHAIN_PASSES = 3  # graph sources again while they add edges: a chain may open the way to another
LATE_POOLS = (USERS_POOL, GROUPS_POOL)  # their members are every known identity: expand last


@dataclass
class EscalationGraph:
    """Nodes are identities, pools and targets; `into[v]` lists the edges ending at node v."""

    nodes: list[Node] = field(default_factory=list)
    index: dict[Node, int] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    sources: list[int] = field(default_factory=list)
    edge_targets: list[int] = field(default_factory=list)  # node id each edge ends at (paths walk them)
    free: list[bool] = field(default_factory=list)  # pool -> member edges cost nothing
    into: list[list[int]] = field(default_factory=list)
    _pending_pools: list[Pool] = field(default_factory=list)
    # id() of each object in `nodes` -> its node id: the objects stay alive in `nodes`, so an id
    # cannot be reused, and the same (interned) object is found without hashing its fields.
    _by_object: dict[int, int] = field(default_factory=dict, compare=False, repr=False)
    # source << 32 | target of every edge added: a parallel edge is dropped (see `add_all`).
    _linked: set[int] = field(default_factory=set, compare=False, repr=False)
    # The same, of the edges kept that are known to be conditional -> edge id: a parallel edge without a
    # condition replaces such an edge instead of being dropped.
    _conditional_pairs: dict[int, int] = field(default_factory=dict, compare=False, repr=False)
    # edge id -> what it costs beyond 1: a ChainedEdge stands for that many more steps.
    extra_cost: dict[int, int] = field(default_factory=dict)
    # source << 32 | target of each chained edge -> its edge id (a cheaper chain found later replaces it).
    _chained: dict[int, int] = field(default_factory=dict, compare=False, repr=False)
    # (the edge count when computed, each edge's cost): see `edge_costs`.
    _costs: tuple[int, list[int]] | None = field(default=None, compare=False, repr=False)

    def node_id(self, node: Node) -> int:
        found = self._by_object.get(id(node))
        if found is not None:
            return found
        found = self.index.get(node)
        if found is not None:
            return found
        found = self.index[node] = len(self.nodes)
        self._by_object[id(node)] = found
        self.nodes.append(node)
        self.into.append([])
        if isinstance(node, Pool):
            self._pending_pools.append(node)
        return found

    def add_all(self, edges: Iterable[Edge]) -> None:
        """Add the edges (one loop with the graph's lists at hand: ~100k edges per big cluster).

        An edge parallel to one already added (same source, same target) is dropped: it costs the
        same, and the search keeps the first edge that reaches a node at its distance, so it could
        never be on a path. Different primitives often link the same pair (exec, ephemeral
        containers and pod patches all reach a namespace's pods): a third of a big cluster's edges.
        Unless the one added is known to be conditional and the new one is not: the new one replaces
        it (the search prefers steps without a condition).
        """
        by_object = self._by_object.get
        node_id = self.node_id
        into, all_edges, sources, targets, free = self.into, self.edges, self.sources, self.edge_targets, self.free
        linked = self._linked
        conditional_pairs = self._conditional_pairs
        # Sources yield runs of edges from one node (an identity's, a pool's): looked up once per run.
        last_source: object = None
        source = -1
        is_free = False
        for edge in edges:
            if edge.source is not last_source:
                last_source = edge.source
                found = by_object(id(last_source))
                source = node_id(edge.source) if found is None else found
                is_free = isinstance(last_source, Pool)
            target = by_object(id(edge.target))
            if target is None:
                target = node_id(edge.target)
            if source == target:
                continue
            if not is_free:  # a pool is expanded once, into distinct members: never a parallel edge to drop
                pair = source << 32 | target
                if pair in linked:
                    if conditional_pairs and pair in conditional_pairs and not edge.known_conditional:
                        # The same step without a condition: a stronger proof for the same cost.
                        all_edges[conditional_pairs.pop(pair)] = edge
                        self._costs = None
                    continue
                linked.add(pair)
                if edge.known_conditional:
                    conditional_pairs[pair] = len(all_edges)
            into[target].append(len(all_edges))
            all_edges.append(edge)
            sources.append(source)
            targets.append(target)
            free.append(is_free)

    def add_chained(self, edges: Iterable[ChainedEdge]) -> int:
        """Add chained edges, each charged its whole length in steps; return how many were added or made cheaper.

        One parallel to a plain edge already added is dropped (that one costs 1). One parallel to a
        chained edge added before replaces it when it is cheaper (a later pass may find a shorter
        chain), and is dropped otherwise (a later pass finds the same chains again). A chained edge
        is not recorded against later plain edges, so a plain one added afterwards still gets in.
        """
        added = 0
        for edge in edges:
            source, target = self.node_id(edge.source), self.node_id(edge.target)
            pair = source << 32 | target
            if source == target or pair in self._linked:
                continue
            known = self._chained.get(pair)
            if known is not None:
                if edge.cost < 1 + self.extra_cost.get(known, 0):
                    self.edges[known] = edge
                    self.extra_cost[known] = edge.cost - 1
                    self._costs = None  # that edge costs less now
                    added += 1
                continue
            added += 1
            edge_id = self._chained[pair] = len(self.edges)
            self.into[target].append(edge_id)
            self.edges.append(edge)
            self.sources.append(source)
            self.edge_targets.append(target)
            self.free.append(False)
            if edge.cost > 1:
                self.extra_cost[edge_id] = edge.cost - 1
        return added

    @classmethod
    def build(cls, ctx: SolverContext) -> EscalationGraph:
        """Run every identity source, then the edge sources in rounds until no identity is new, then the
        sources that read the built graph (and rounds again for the identities they reach)."""
        from rbacmap.solver.registry import GRAPH_EDGE_SOURCES, IDENTITY_SOURCES

        graph = cls()
        for identity_source in IDENTITY_SOURCES:
            for identity in identity_source(ctx):
                ctx.add_identity(identity)
        seen: set[tuple[str, str, str]] = set()
        settled: set[int] = set()  # identities whose edge sources have run: their outgoing edges are all known
        graph._run_rounds(ctx, seen, settled)
        for _ in range(MAX_CHAIN_PASSES if GRAPH_EDGE_SOURCES else 0):
            # Again while a pass adds chains: the next may follow them (a second rewrite that only a
            # first one makes reachable).
            added = sum(graph.add_chained(graph_source(ctx, graph)) for graph_source in GRAPH_EDGE_SOURCES)
            graph._run_rounds(ctx, seen, settled)
            if not added:
                break
        return graph

    def _run_rounds(self, ctx: SolverContext, seen: set[tuple[str, str, str]], settled: set[int]) -> None:
        from rbacmap.solver.registry import EDGE_SOURCES

        graph = self
        for _ in range(MAX_ROUNDS):
            frontier = [i for key, i in list(ctx.identities.items()) if key not in seen]
            if not frontier:
                break
            seen.update(i.key for i in frontier)
            ctx.frontier = frontier
            for identity in frontier:
                settled.add(graph.node_id(identity))
            for edge_source in EDGE_SOURCES:
                graph.add_all(edge_source(ctx))
            graph._expand_pools(ctx, settled, late=False)
        graph._expand_pools(ctx, settled, late=True)

    def _expand_pools(self, ctx: SolverContext, settled: set[int], *, late: bool) -> None:
        waiting: list[Pool] = []
        leads_somewhere = set(self.sources)
        by_object = self._by_object.get

        def leads_nowhere(member: Identity) -> bool:
            """An identity with no outgoing edge, now or later (settled): an edge into it is never on a
            path (the search walks back from targets through outgoing edges). A node's pool reaches
            hundreds of ServiceAccounts, and most of them can do nothing."""
            found = by_object(id(member))
            return found is not None and found in settled and found not in leads_somewhere

        while self._pending_pools:
            pool = self._pending_pools.pop()
            if (pool.kind in LATE_POOLS) != late:
                waiting.append(pool)
                continue
            self.add_all(ctx.pool_members(pool, leads_nowhere))
        self._pending_pools = waiting

    def reverse_search(self, target: Target, blocked: set[int]) -> dict[int, int]:
        """Shortest proofs to `target`: node -> first edge of its path (0-1 BFS on reversed edges).

        Nodes in `blocked` (they reach a stronger target) are not entered: their findings and
        those of everyone reaching through them are implied by the stronger one. Of equally short
        proofs, one with fewer conditional steps wins (`conditional_edges`): a step costs
        STEP_COST, and a condition one more, which never outweighs a step.
        """
        start = self.index.get(target)
        if start is None:
            return {}
        distance = {start: 0}
        first_edge: dict[int, int] = {}
        queue = deque([start])
        costs, sources, into = self.edge_costs(), self.sources, self.into
        # Nodes reached over a chained or conditional edge, by distance: they join the queue's front once its
        # nodes are that far (the queue holds distances nearest first, at most one step apart).
        later: dict[int, list[int]] = {}
        while queue or later:
            if later:
                nearest = min(later)
                if not queue or distance[queue[0]] >= nearest:
                    queue.extendleft(reversed(later.pop(nearest)))
            node = queue.popleft()
            here = distance[node]
            for edge_id in into[node]:
                source = sources[edge_id]
                if source in blocked:
                    continue
                step = costs[edge_id]
                cost = here + step
                if cost < distance.get(source, cost + 1):
                    distance[source] = cost
                    first_edge[source] = edge_id
                    if step == STEP_COST:
                        queue.append(source)
                    elif not step:
                        queue.appendleft(source)
                    else:
                        later.setdefault(cost, []).append(source)
        return first_edge

    def edge_costs(self) -> list[int]:
        """Each edge's cost in the reverse search: 0 from a pool to a member, STEP_COST a step, times the steps a
        chained edge stands for, plus 1 for a conditional step (`conditional_edges`). Kept until the graph changes
        (an edge added, or a chain made cheaper, drops it)."""
        key = len(self.edges)
        if self._costs is None or self._costs[0] != key:
            costs = [0 if free else STEP_COST for free in self.free]
            for edge_id, extra in self.extra_cost.items():
                costs[edge_id] += STEP_COST * extra
            for edge_id in self.conditional_edges():
                costs[edge_id] += 1
            self._costs = (key, costs)
        return self._costs[1]

    def conditional_edges(self) -> list[int]:
        """Edges whose step holds only under a condition known as the graph was built (`Edge.known_conditional`:
        a webhook endpoint, a signer, the authentication mode, a `get`-only exec on a server of unknown version).
        Conditions a lazy edge finds only when shown do not count (building every edge's provenance would cost
        more than the whole search)."""
        return [edge_id for edge_id, edge in enumerate(self.edges) if edge.known_conditional]

    def targets(self) -> list[Target]:
        """Targets with edges, strongest first: cluster-admin, cluster-wide, then per namespace."""
        found = [node for node in self.nodes if isinstance(node, Target)]
        return sorted(
            found, key=lambda t: (t != CLUSTER_ADMIN_TARGET, t.namespace is not None, t.kind, t.namespace or "")
        )

    def solve_all(self) -> dict[Target, dict[int, int]]:
        """One reverse search per target, stronger targets first, each pruned by the stronger ones."""
        results: dict[Target, dict[int, int]] = {}
        reach_admin: set[int] = set()
        reach_everywhere: dict[str, set[int]] = {SECRETS: set(), EXEC: set()}
        for target in self.targets():
            if target == CLUSTER_ADMIN_TARGET:
                blocked: set[int] = set()
            elif target.namespace is None:
                blocked = reach_admin
            else:
                blocked = reach_everywhere[target.kind]
            reached = self.reverse_search(target, blocked)
            results[target] = reached
            if target == CLUSTER_ADMIN_TARGET:
                reach_admin = set(reached)
                reach_everywhere = {SECRETS: set(reach_admin), EXEC: set(reach_admin)}
            elif target.namespace is None:
                reach_everywhere[target.kind] |= set(reached)
        return results

    def identity_ids(self) -> list[int]:
        return [i for i, node in enumerate(self.nodes) if isinstance(node, Identity)]
