"""The changes `rbacmap diff` reports about objects (shared by the RBAC and the admission comparisons)."""

from __future__ import annotations

from dataclasses import dataclass

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"
GAINED = "gained"
LOST = "lost"


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class ObjectChange:
    """One role, binding, service account or admission object that was added, removed or changed.

    `members_added`/`members_removed` are a role's rules, a binding's subjects or Pod Security's
    exemptions; an added object lists all its members as added, a removed one all as removed.
    """

    kind: str
    namespace: str
    name: str
    change: str
    members_added: tuple[str, ...] = ()
    members_removed: tuple[str, ...] = ()
    fields: tuple[FieldChange, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"
