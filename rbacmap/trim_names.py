"""Names of the roles and bindings a trim report writes, kept unique so that applying it loses nothing.

Two proposals can derive the same name (`rbacmap-trimmed-system-foo` from `system:foo` and
`system-foo`; a ClusterRole and a Role both called `app` replaced in one namespace; `--split`
slugs of `alice@example.com` and `alice-example.com`), and a derived name can be one the
cluster already has (a previous trim's output, still bound). `kubectl apply` would write the
later object over the earlier one: one role's used rules, or a live role, silently gone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from rbacmap.model import BindingKey, RoleKey

Key = TypeVar("Key", RoleKey, BindingKey)


@dataclass
class NewNames:
    """The role and binding keys already taken: the snapshot's, and every one handed out so far."""

    roles: set[RoleKey] = field(default_factory=set)
    bindings: set[BindingKey] = field(default_factory=set)

    @classmethod
    def taken_by(cls, roles: Iterable[RoleKey], bindings: Iterable[BindingKey]) -> NewNames:
        return cls(set(roles), set(bindings))

    def role(self, wanted: RoleKey) -> RoleKey:
        """`wanted`, or the first free `NAME-2`, `NAME-3`, … of its kind and namespace; reserved from now on."""
        return _reserve(wanted, self.roles)

    def binding(self, wanted: BindingKey) -> BindingKey:
        """As `role`, for a binding."""
        return _reserve(wanted, self.bindings)


def _reserve(wanted: Key, taken: set[Key]) -> Key:
    key, number = wanted, 1
    while key in taken:
        number += 1
        key = replace(wanted, name=f"{wanted.name}-{number}")
    taken.add(key)
    return key
