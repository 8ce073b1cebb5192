"""What an escalation reaches: cluster-admin, reading secrets, or exec, in a namespace or everywhere."""

from __future__ import annotations

from dataclasses import dataclass

CLUSTER_ADMIN = "cluster-admin"
SECRETS = "secrets"
EXEC = "exec"
TARGET_KINDS = (CLUSTER_ADMIN, SECRETS, EXEC)


@dataclass(frozen=True)
class Target:
    """`namespace` None means every namespace (always None for cluster-admin)."""

    kind: str
    namespace: str | None = None

    def implies(self, other: Target) -> bool:
        """cluster-admin implies everything; a cluster-wide finding implies the per-namespace one."""
        if self == other or self.kind == CLUSTER_ADMIN:
            return True
        return self.kind == other.kind and self.namespace is None

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "namespace": self.namespace}

    def __str__(self) -> str:
        if self.kind == CLUSTER_ADMIN:
            return CLUSTER_ADMIN
        return f"{self.kind} in {self.namespace}" if self.namespace else f"{self.kind} in every namespace"


CLUSTER_ADMIN_TARGET = Target(CLUSTER_ADMIN)


_TARGETS: dict[tuple[str, str | None], Target] = {}
_TARGETS_LIMIT = 100_000


def _target(kind: str, namespace: str | None) -> Target:
    # One shared object per target: the graph finds a node object it has seen by `id`.
    found = _TARGETS.get((kind, namespace))
    if found is None:
        if len(_TARGETS) >= _TARGETS_LIMIT:
            _TARGETS.clear()
        found = _TARGETS[(kind, namespace)] = Target(kind, namespace)
    return found


def secrets_target(namespace: str | None) -> Target:
    return _target(SECRETS, namespace or None)


def exec_target(namespace: str | None) -> Target:
    return _target(EXEC, namespace or None)
