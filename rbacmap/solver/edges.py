"""Edges of the escalation graph, and the provenance each one carries."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    namespace: str = "*"

    def __str__(self) -> str:
        where = "every namespace" if self.namespace == "*" else self.namespace
        return f"{POOL_TITLES.get(self.kind, self.kind)} in {where}"


SERVICE_ACCOUNTS_POOL = "service-accounts"
POD_SERVICE_ACCOUNTS_POOL = "pod-service-accounts"
TOKEN_SECRETS_POOL = "token-secrets"
USERS_POOL = "users"
GROUPS_POOL = "groups"
POOL_TITLES = {
    SERVICE_ACCOUNTS_POOL: "any ServiceAccount",
    POD_SERVICE_ACCOUNTS_POOL: "the ServiceAccount of any running pod",
    TOKEN_SECRETS_POOL: "the ServiceAccount of any legacy token Secret",
    USERS_POOL: "any user",
    GROUPS_POOL: "any group",
}

Node = Identity | Pool | Target


@dataclass(frozen=True)
class Edge:
    """One step: `source` performs `action` and becomes (or reaches) `target`.

    `grants` are the binding -> role -> rule chains that allow it (several when the step
    needs several permissions, e.g. bind); `objects` are the cluster objects it relies on.
    `explain` is a sentence a reviewer can check with kubectl (a `Sentence`, written out
    only when shown, or plain text); `condition` a caveat that must also hold (e.g. a
    reachable webhook endpoint).
    """

    source: Identity | Pool
    target: Node
    action: str
    detail: str
    grants: tuple[Grant, ...] = ()
    objects: tuple[ObjectRef, ...] = ()
    explain: str | Sentence = ""
    condition: str = ""
    primitive: str = field(default="", compare=False)

    def granted_by_json(self) -> dict[str, object]:
        return {
            "grants": [{**grant.to_json(), "rule_text": grant.rule.describe()} for grant in self.grants],
            "objects": [obj.to_json() for obj in self.objects],
        }
