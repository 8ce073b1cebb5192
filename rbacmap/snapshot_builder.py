"""Feed API objects from any importer into one snapshot: normalize, resolve, load.

Shared by `import files` and `import kube` so both produce identical snapshots from the
same objects. Most rows stream straight into the open transaction; roles and bindings are
held until the end because aggregation and dangling-binding detection need all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rbacmap.aggregation import SelectorError, aggregate_cluster_roles
from rbacmap.model import CLUSTER_ROLE, Binding, Role, RoleKey
from rbacmap.normalize import InvalidObject, Row, normalize, object_identity, role_rule_rows
from rbacmap.store import ImportError_, SnapshotWriter


@dataclass
class SnapshotBuilder:
    writer: SnapshotWriter
    default_namespace: str = "default"
    roles: dict[RoleKey, tuple[Role, Row]] = field(default_factory=dict)
    bindings: list[tuple[Binding, list[tuple[str, Row]]]] = field(default_factory=list)
    _pending: dict[str, list[Row]] = field(default_factory=dict)

    def add(
        self,
        obj: Mapping[str, Any],
        source: str,
        document: int | None = None,
        line: int | None = None,
    ) -> bool:
        """Add one object; a bad one is recorded as an import error and False is returned."""
        try:
            normalized = normalize(obj, self.default_namespace)
        except InvalidObject as exc:
            kind, name, _ = object_identity(obj) if isinstance(obj, Mapping) else ("", "", "")
            self.writer.error(ImportError_(source, str(exc), document, line, kind or None, name or None))
            return False
        if normalized.skipped:
            self.writer.skip(normalized.kind)
            return True
        self.writer.count(normalized.kind)
        if normalized.role is not None:
            self.roles[normalized.role.key] = (normalized.role, normalized.rows[0][1])
        elif normalized.binding is not None:
            self.bindings.append((normalized.binding, normalized.rows))
        else:
            for table, row in normalized.rows:
                pending = self._pending.setdefault(table, [])
                pending.append(row)
                if len(pending) >= 5000:
                    self._flush(table)
        return True

    def _flush(self, table: str) -> None:
        rows = self._pending.pop(table, [])
        if rows:
            self.writer.insert(table, rows)

    def finish(self) -> None:
        """Aggregate ClusterRoles, flag dangling bindings and write the held rows."""
        for table in list(self._pending):
            self._flush(table)
        cluster_roles = [role for role, _ in self.roles.values() if role.key.kind == CLUSTER_ROLE]
        try:
            resolved = {role.key: role for role in aggregate_cluster_roles(cluster_roles)}
        except SelectorError as exc:
            self.writer.error(ImportError_("aggregation", f"aggregationRule not evaluated: {exc}"))
            resolved = {}
        self.writer.insert("roles", (row for _, row in self.roles.values()))
        self.writer.insert(
            "rules", (rule for role, _ in self.roles.values() for rule in role_rule_rows(resolved.get(role.key, role)))
        )
        binding_rows: list[Row] = []
        subject_rows: list[Row] = []
        for binding, rows in self.bindings:
            for table, row in rows:
                if table == "bindings":
                    binding_rows.append({**row, "dangling": binding.role_key() not in self.roles})
                else:
                    subject_rows.append(row)
        self.writer.insert("bindings", binding_rows)
        self.writer.insert("binding_subjects", subject_rows)
