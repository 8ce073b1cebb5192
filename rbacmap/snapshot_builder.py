"""Feed API objects from any importer into one snapshot: normalize, resolve, load.

Shared by `import files` and `import kube` so both produce identical snapshots from the
same objects. Most rows stream straight into the open transaction; roles and bindings are
held until the end because aggregation and dangling-binding detection need all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rbacmap.aggregation import SelectorError, aggregate_cluster_roles
from rbacmap.model import CLUSTER_ROLE, Binding, BindingKey, Role, RoleKey
from rbacmap.normalize import (
    WORKLOAD_KINDS,
    InvalidObject,
    ItemPath,
    Row,
    describe_item,
    normalize,
    object_identity,
    role_rule_rows,
)
from rbacmap.pod_security_config import PLUGIN_NAME, POD_SECURITY_TABLE
from rbacmap.store import ImportError_, SnapshotWriter, sqlite_values
from rbacmap.workload_rows import WORKLOAD_COLUMNS, workload_values

# The line where each list item of a document starts (`ItemPath` -> line); items it lacks have no known line.
ItemLines = Callable[[], Mapping[ItemPath, int]]


@dataclass
class SnapshotBuilder:
    writer: SnapshotWriter
    default_namespace: str = "default"
    roles: dict[RoleKey, tuple[Role, Row]] = field(default_factory=dict)
    bindings: dict[BindingKey, tuple[Binding, list[tuple[str, Row]]]] = field(default_factory=dict)
    # Where each role and binding held was read, to name it when the same object comes again.
    _read_at: dict[RoleKey | BindingKey, str] = field(default_factory=dict)
    # Rows waiting for the next batch insert, per table: the columns and the rows' values.
    _pending: dict[str, tuple[Sequence[str], list[Sequence[Any]]]] = field(default_factory=dict)
    # The PodSecurity configuration kept (an API server reads one), and where it came from.
    _pod_security: tuple[Row, str] | None = None
    # (kind, namespace, name) of every other object counted: one read again (overlapping dumps) replaces its
    # row, so it must not count twice either.
    _counted: set[tuple[str, str, str]] = field(default_factory=set)

    def add(
        self,
        obj: Mapping[str, Any],
        source: str,
        document: int | None = None,
        line: int | None = None,
    ) -> bool:
        """Add one object; a bad one is recorded as an import error and False is returned."""
        if type(obj) is dict:
            kind = obj.get("kind")
            if type(kind) is str and kind in WORKLOAD_KINDS:
                values = workload_values(obj, self.default_namespace)
                if values is not None:
                    self.writer.object_counts[kind] += 1
                    self._queue("workloads", WORKLOAD_COLUMNS, values)
                    return True
        return self._add_normalized(obj, source, document, line)

    def add_all(
        self,
        objects: Iterable[tuple[ItemPath, Any]],
        source: str,
        document: int | None = None,
        line: int | None = None,
        item_lines: ItemLines | None = None,
    ) -> None:
        """`add` each object of one document, given with its item path (`iter_list_items`).

        A bad one is recorded as an import error naming its list item, and the item's line when
        `item_lines` knows it (called only then: finding lines may mean parsing the document again)."""
        # The same as calling add() in a loop, unrolled for pods and workload templates (most
        # objects of a big cluster): they go straight to row values. normalize_workload gives
        # the same row, and handles whatever workload_values declines.
        counts = self.writer.object_counts
        namespace = self.default_namespace
        queue = self._queue
        for path, obj in objects:
            if type(obj) is dict:
                kind = obj.get("kind")
                if type(kind) is str and kind in WORKLOAD_KINDS:
                    values = workload_values(obj, namespace)
                    if values is not None:
                        counts[kind] += 1
                        queue("workloads", WORKLOAD_COLUMNS, values)
                        continue
            self._add_normalized(obj, source, document, line, path, item_lines)

    def _add_normalized(self, obj: Any, source: str, document: int | None, line: int | None,
                        path: ItemPath = (), item_lines: ItemLines | None = None) -> bool:
        """The reference path for any object: normalize, then hold or queue its rows."""
        try:
            normalized = normalize(obj, self.default_namespace)
        except InvalidObject as exc:
            kind, name, _ = object_identity(obj) if isinstance(obj, Mapping) else ("", "", "")
            self.writer.error(located(ImportError_(source, str(exc), document, line, kind or None, name or None),
                                       path, item_lines))
            return False
        if normalized.skipped:
            self.writer.skip(normalized.kind)
            return True
        if normalized.role is not None or normalized.binding is not None:
            self._hold(normalized.role, normalized.binding, normalized.rows, source, document, line, path,
                       item_lines)
            return True
        identity = (normalized.kind, normalized.namespace, normalized.name)
        if identity not in self._counted:
            self._counted.add(identity)
            self.writer.count(normalized.kind)
        for table, row in normalized.rows:
            if table == POD_SECURITY_TABLE and not self._first_pod_security(row, source, document, line,
                                                                            path, item_lines):
                return False
            columns = WORKLOAD_COLUMNS if table == "workloads" else self._columns(table, row)
            self._queue(table, columns, sqlite_values(row, columns))
        return True

    def _hold(self, role: Role | None, binding: Binding | None, rows: list[tuple[str, Row]], source: str,
              document: int | None, line: int | None, path: ItemPath, item_lines: ItemLines | None) -> None:
        """Hold a role or binding until `finish`. The same object read again (overlapping dumps) counts once, and
        the later one is kept, whole: an earlier binding's extra subjects must not survive under the later one. A
        later one that authorizes differently (rules and aggregation of a role, and a ClusterRole's labels, which
        select it into aggregated ones; roleRef and subjects of a binding, apiGroup aside) is an error naming
        both places; metadata alone (annotations, resourceVersion, a Role's labels) is no error."""
        key: RoleKey | BindingKey
        if role is not None:
            key, held_role = role.key, self.roles.get(role.key)
            # Labels only matter where selectors read them: a ClusterRole's, for aggregation.
            same = held_role is None or (held_role[0] == role and (
                role.key.kind != CLUSTER_ROLE or held_role[0].labels == role.labels))
            self.roles[role.key] = (role, rows[0][1])
        else:
            assert binding is not None  # `_add_normalized` holds a role or a binding
            key, held_binding = binding.key, self.bindings.get(binding.key)
            same = held_binding is None or _grants_alike(held_binding[0], binding)
            self.bindings[binding.key] = (binding, rows)
        earlier = self._read_at.get(key)
        if earlier is None:
            self.writer.count(key.kind)
        elif not same:
            self.writer.error(located(ImportError_(
                source, f"{key} again, different from the one in {earlier}: this later one is kept",
                document, line, key.kind, key.name), path, item_lines))
        self._read_at[key] = source + (f" document {document}" if document is not None else "") + (
            f" {describe_item(path)}" if path else "")

    @property
    def pod_security(self) -> Row | None:
        """The PodSecurity configuration row kept, if any."""
        return self._pod_security[0] if self._pod_security is not None else None

    def _first_pod_security(self, row: Row, source: str, document: int | None, line: int | None,
                            path: ItemPath, item_lines: ItemLines | None) -> bool:
        """Whether to keep this PodSecurity configuration: the first one, or the same one again (the
        AdmissionConfiguration and the file its plugin names, say); a different second one is an error."""
        where = source + (f" document {document}" if document is not None else "")
        if self._pod_security is None:
            self._pod_security = (row, where)
            return True
        kept, kept_where = self._pod_security
        if {**row, "kind": ""} != {**kept, "kind": ""}:
            self.writer.error(located(ImportError_(
                source, f"a second, different PodSecurity configuration: the one from {kept_where} is kept "
                "(an API server reads one)", document, line, row["kind"], PLUGIN_NAME), path, item_lines))
        return False

    def _columns(self, table: str, row: Row) -> Sequence[str]:
        """The columns of a table's pending rows: the first row's keys (later rows may lack some)."""
        pending = self._pending.get(table)
        return pending[0] if pending is not None else list(row)

    def _queue(self, table: str, columns: Sequence[str], values: Sequence[Any]) -> None:
        pending = self._pending.get(table)
        if pending is None:
            pending = self._pending[table] = (columns, [])
        pending[1].append(values)
        if len(pending[1]) >= 5000:
            self._flush(table)

    def _flush(self, table: str) -> None:
        pending = self._pending.pop(table, None)
        if pending is not None:
            self.writer.insert_values(table, *pending)

    def _recount_workloads(self) -> None:
        """Count pods and workloads as stored: one read twice (overlapping dumps) replaced its row, and was
        counted twice on the way in (the fast path keeps no set of names)."""
        counts = self.writer.object_counts
        if not any(counts.get(kind) for kind in WORKLOAD_KINDS):
            return
        stored = dict(self.writer.conn.execute(
            "SELECT kind, COUNT(*) FROM workloads WHERE snapshot_id = ? GROUP BY kind", [self.writer.snapshot_id]))
        for kind in WORKLOAD_KINDS:
            if counts.get(kind):
                counts[kind] = stored.get(kind, 0)

    def finish(self) -> None:
        """Aggregate ClusterRoles, flag dangling bindings and write the held rows."""
        for table in list(self._pending):
            self._flush(table)
        self._recount_workloads()
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
        for binding, rows in self.bindings.values():
            for table, row in rows:
                if table == "bindings":
                    binding_rows.append({**row, "dangling": binding.role_key() not in self.roles})
                else:
                    subject_rows.append(row)
        self.writer.insert("bindings", binding_rows)
        self.writer.insert("binding_subjects", subject_rows)


def _grants_alike(one: Binding, other: Binding) -> bool:
    """Whether two versions of a binding authorize alike: the same roleRef and subjects, a subject's apiGroup
    aside (the authorizer matches kind, name and namespace only)."""
    def who(binding: Binding) -> list[tuple[str, str, str]]:
        return [(subject.kind, subject.name, subject.namespace) for subject in binding.subjects]
    return one.role_ref == other.role_ref and sorted(who(one)) == sorted(who(other))


def located(error: ImportError_, path: ItemPath, item_lines: ItemLines | None) -> ImportError_:
    """The error of a list item names the item, and its line instead of the document's (None if not known)."""
    if not path:
        return error
    return replace(error, item=describe_item(path), line=(item_lines() if item_lines is not None else {}).get(path))
