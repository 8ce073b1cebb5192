"""Edges of the escalation graph, and the provenance each one carries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rbacmap.authorizer import Grant
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import Sentence
from rbacmap.solver.targets import Target


@dataclass(frozen=True)
class ObjectRef:
    """A cluster object that enables a step (a pod, a token Secret, a namespace's labels, …)."""

    kind: str
    name: str
    namespace: str = ""
    note: str = ""

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "namespace": self.namespace or None, "name": self.name, "note": self.note or None}

    def describe(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Pool:
    """A set of identities reached together ("any ServiceAccount of N", "the pods' SAs of N").

    Pools keep the graph linear: one edge into "any SA of N" instead of one per SA. Pools
    are never subjects; a path's step through a pool is shown as one step to the member.
    `namespace` "*" means every namespace.
    """

    kind: str
    namespace: str = "*"  # for a node pool (NODE_POD_SERVICE_ACCOUNTS_POOL), the node's name

    @classmethod
    def of(cls, kind: str, namespace: str = "*") -> Pool:
        """The shared Pool object for (kind, namespace): edge sources make tens of thousands of
        edges into a few thousand pools, and the graph finds a node object it has seen by `id`."""
        found = _POOLS.get((kind, namespace))
        if found is None:
            if len(_POOLS) >= _POOLS_LIMIT:
                _POOLS.clear()
            found = _POOLS[(kind, namespace)] = cls(kind, namespace)
        return found

    def __str__(self) -> str:
        if self.kind in (NODE_POD_SERVICE_ACCOUNTS_POOL, NAMESPACE_NODES_POOL):
            return f"{POOL_TITLES[self.kind]} {self.namespace}"
        if self.kind in CLUSTER_WIDE_POOLS:
            return POOL_TITLES[self.kind]
        where = "every namespace" if self.namespace == "*" else self.namespace
        return f"{POOL_TITLES.get(self.kind, self.kind)} in {where}"


_POOLS: dict[tuple[str, str], Pool] = {}
_POOLS_LIMIT = 100_000

SERVICE_ACCOUNTS_POOL = "service-accounts"
POD_SERVICE_ACCOUNTS_POOL = "pod-service-accounts"
NODE_POD_SERVICE_ACCOUNTS_POOL = "node-pod-service-accounts"  # Pool.namespace holds the node's name
NAMESPACE_NODES_POOL = "namespace-nodes"  # the node pools of the nodes running pods of a namespace
TOKEN_SECRETS_POOL = "token-secrets"
INVALIDATED_TOKEN_SECRETS_POOL = "invalidated-token-secrets"  # labelled legacy-token-invalid-since
USERS_POOL = "users"
BOUND_GROUPS_POOL = "bound-groups"  # every group a binding names, but system:masters (client certificates)
GROUPS_POOL = "groups"
# Root on a node of one's choosing: every running pod's ServiceAccount, and the nodes' cloud credentials.
ANY_NODE_POOL = "any-node"
CLUSTER_WIDE_POOLS = frozenset({USERS_POOL, BOUND_GROUPS_POOL, GROUPS_POOL, ANY_NODE_POOL})  # no namespace
POOL_TITLES = {
    SERVICE_ACCOUNTS_POOL: "any ServiceAccount",
    POD_SERVICE_ACCOUNTS_POOL: "the ServiceAccount of any running pod",
    NODE_POD_SERVICE_ACCOUNTS_POOL: "the ServiceAccount of any pod running on node",
    NAMESPACE_NODES_POOL: "the ServiceAccount of any pod on a node running pods of",
    TOKEN_SECRETS_POOL: "the ServiceAccount of any legacy token Secret",
    INVALIDATED_TOKEN_SECRETS_POOL: "the ServiceAccount of any invalidated legacy token Secret",
    USERS_POOL: "any user",
    BOUND_GROUPS_POOL: "any group a binding names, but system:masters",
    GROUPS_POOL: "any group",
    ANY_NODE_POOL: "root on any node",
}

Node = Identity | Pool | Target


class Edge:
    """One step: `source` performs `action` and becomes (or reaches) `target`.

    `grants` are the binding -> role -> rule chains that allow it (several when the step
    needs several permissions, e.g. bind); `objects` are the cluster objects it relies on.
    `explain` is a sentence a reviewer can check with kubectl (a `Sentence`, written out
    only when shown, or plain text); `condition` a caveat that must also hold (e.g. a
    reachable webhook endpoint).

    Provenance may be lazy (`lazy_edge`): the search only needs source and target, and a big
    cluster makes ~70k edges of which a few thousand end up on a reported path. Such an edge
    keeps a `describe` callable that rebuilds the full edge, with the same code and the same
    permissions objects as an eager one, on the first access to a provenance field.

    A plain slotted class, not a frozen dataclass: a frozen dataclass's `__init__` (one
    `object.__setattr__` per field) cost 5x more. Treat an edge as immutable; equality
    ignores `primitive`, as the dataclass's did.
    """

    __slots__ = ("source", "target", "primitive", "_action", "_detail", "_grants", "_objects", "_explain",
                 "_condition", "_describe", "known_conditional")

    def __init__(
        self, source: Identity | Pool, target: Node, action: str, detail: str, grants: tuple[Grant, ...] = (),
        objects: tuple[ObjectRef, ...] = (), explain: str | Sentence = "", condition: str = "", primitive: str = "",
    ) -> None:
        self.source = source
        self.target = target
        self.primitive = primitive
        self._action = action
        self._detail = detail
        self._grants = grants
        self._objects = objects
        self._explain = explain
        self._condition = condition
        self._describe: Callable[[], Edge] | None = None
        # Whether the step is known, as the graph is built, to hold only under a condition: the search prefers
        # an equally short proof without one. A lazy edge says so when it is made (`lazy_edge`).
        self.known_conditional = bool(condition)

    def _resolve(self) -> None:
        """Fill in the provenance of a lazy edge from the full edge its `describe` rebuilds."""
        describe = self._describe
        if describe is None:
            return
        full = describe()
        # Describers reuse the lazy edge's (interned) source and target objects: `is` settles most.
        if ((full.source is not self.source and full.source != self.source)
                or (full.target is not self.target and full.target != self.target)):
            raise AssertionError(f"{self.primitive}: described {full!r} instead of {self!r}")
        (self._action, self._detail, self._grants, self._objects, self._explain,
         self._condition) = full.provenance()
        self._describe = None

    def provenance(self) -> tuple[str, str, tuple[Grant, ...], tuple[ObjectRef, ...], str | Sentence, str]:
        """(action, detail, grants, objects, explain, condition), built once for a lazy edge."""
        if self._describe is not None:
            self._resolve()
        return self._action, self._detail, self._grants, self._objects, self._explain, self._condition

    @property
    def action(self) -> str:
        if self._describe is not None:
            self._resolve()
        return self._action

    @property
    def detail(self) -> str:
        if self._describe is not None:
            self._resolve()
        return self._detail

    @property
    def grants(self) -> tuple[Grant, ...]:
        if self._describe is not None:
            self._resolve()
        return self._grants

    @property
    def objects(self) -> tuple[ObjectRef, ...]:
        if self._describe is not None:
            self._resolve()
        return self._objects

    @property
    def explain(self) -> str | Sentence:
        if self._describe is not None:
            self._resolve()
        return self._explain

    @property
    def condition(self) -> str:
        if self._describe is not None:
            self._resolve()
        return self._condition

    def _compared(self) -> tuple[object, ...]:
        return (self.source, self.target, self.action, self.detail, self.grants, self.objects, self.explain,
                self.condition)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Edge) and self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    def __repr__(self) -> str:
        if self._describe is not None:
            return f"Edge(source={self.source!r}, target={self.target!r}, primitive={self.primitive!r}, lazy)"
        return (f"Edge(source={self.source!r}, target={self.target!r}, action={self._action!r}, "
                f"detail={self._detail!r}, primitive={self.primitive!r})")

    def granted_by_json(self) -> dict[str, object]:
        return {
            "grants": [{**grant.to_json(), "rule_text": grant.rule.describe()} for grant in self.grants],
            "objects": [obj.to_json() for obj in self.objects],
        }


class ChainedEdge(Edge):
    """An edge that stands for several steps: its own action, then a path through the graph, then `final`.

    For a step with two conditions that one edge cannot say, found once the graph is built
    (rewrite a role bound to Y, then become Y: `escalate_others`). Its own provenance is the
    first step; `via` are the graph's edges from `source` to the identity `final` starts from;
    `cost` is the whole chain's length in steps, which the reverse search charges for it.
    """

    __slots__ = ("via", "final", "cost")

    def __init__(self, first: Edge, via: tuple[Edge, ...], final: Edge, cost: int) -> None:
        action, detail, grants, objects, explain, condition = first.provenance()
        super().__init__(first.source, final.target, action, detail, grants, objects, explain, condition,
                         first.primitive)
        self.via = via
        self.final = final
        self.cost = cost
        # The whole chain holds only if every step does: conditional if any step is known to be.
        self.known_conditional = (first.known_conditional or final.known_conditional
                                  or any(edge.known_conditional for edge in via))


def lazy_edge(source: Identity | Pool, target: Node, primitive: str, describe: Callable[[], Edge],
              conditional: bool = False) -> Edge:
    """An edge whose provenance `describe()` builds on first use (it must return an equal source and target).

    `conditional`: the edge `describe` builds carries a condition, as far as the primitive knows without
    building it (it may find more: a webhook that judges the step; those do not break ties in the search).

    `describe` is typically `functools.partial(_describe, permissions, identity, namespace)`
    of the primitive: it holds the permissions object the search used, so the provenance is
    exactly what an eager edge would have carried.
    """
    edge = _new_edge(Edge)
    edge.source = source
    edge.target = target
    edge.primitive = primitive
    edge._describe = describe
    edge.known_conditional = conditional
    return edge


_new_edge = object.__new__
