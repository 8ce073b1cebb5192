"""Roles and bindings: every Role and ClusterRole, its rules, and who is bound to it where."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Header, Input, Static

from rbacmap.model import SERVICE_ACCOUNT, RoleKey, Subject
from rbacmap.store import StoreError
from rbacmap.tui.base import ObjectView, RbacScreen
from rbacmap.tui.data import ROW_LIMIT, RoleDetail, RoleRow, list_roles, open_snapshot, role_detail, role_manifest
from rbacmap.tui.features import FeatureUnavailable, rule_usage
from rbacmap.tui.text import line, plain


class RolesScreen(RbacScreen):
    TITLE = "Roles"

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[RoleRow] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="/ filter roles (kind, namespace or name)", id="filter")
        yield DataTable(id="roles", cursor_type="row")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#roles", DataTable)
        table.add_columns("kind", "namespace", "name", "rules", "bindings")
        table.focus()
        self.load("")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.load(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#roles", DataTable).focus()

    @work(thread=True, exclusive=True)
    def load(self, text: str) -> None:
        try:
            with open_snapshot(self.rbac_app.db_path, self.rbac_app.cluster) as (store, snapshot):
                rows, total = list_roles(store, snapshot.id, text)
        except StoreError as exc:
            self.app.call_from_thread(self.set_status, str(exc), "red")
            return
        self.app.call_from_thread(self.show, rows, total)

    def show(self, rows: list[RoleRow], total: int) -> None:
        self.rows = rows
        table = self.query_one("#roles", DataTable)
        table.clear()
        for index, row in enumerate(rows):
            table.add_row(plain(row.key.kind), plain(row.key.namespace or "-"), plain(row.key.name),
                          str(row.rules), str(row.bindings), key=str(index))
        more = f" (showing {ROW_LIMIT}; filter with /)" if total > len(rows) else ""
        self.set_status(f"{total} roles{more}; enter shows rules and bindings")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        table = self.query_one("#roles", DataTable)
        if self.rows and table.cursor_row < len(self.rows):
            self.app.push_screen(RoleDetailScreen(self.rows[table.cursor_row].key))

    def current_object(self) -> ObjectView | None:
        table = self.query_one("#roles", DataTable)
        if not self.rows or table.cursor_row >= len(self.rows):
            return None
        key = self.rows[table.cursor_row].key
        return ObjectView(str(key), {"kind": key.kind, "namespace": key.namespace or None, "name": key.name},
                          "-".join(p for p in (key.kind, key.namespace, key.name) if p))


class RoleDetailScreen(RbacScreen):
    """One role's rules (used/unused when audit usage is loaded) and the bindings that grant it."""

    TITLE = "Role"

    def __init__(self, key: RoleKey) -> None:
        super().__init__()
        self.key = key
        self.detail: RoleDetail | None = None
        self.subjects: list[Subject] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(plain(str(self.key), "bold"), id="role-title")
        yield DataTable(id="rules", cursor_type="row")
        yield Static(id="usage")
        yield DataTable(id="role-bindings", cursor_type="row")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.key)
        self.query_one("#rules", DataTable).add_columns("#", "apiGroups", "resources", "resourceNames", "verbs",
                                                        "used")
        bindings = self.query_one("#role-bindings", DataTable)
        bindings.add_columns("binding", "where", "subject kind", "subject")
        bindings.focus()
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        try:
            with open_snapshot(self.rbac_app.db_path, self.rbac_app.cluster) as (store, snapshot):
                detail = role_detail(store, snapshot.id, self.key)
                try:
                    usage: dict[int, bool] | str = rule_usage(store, snapshot, self.key.kind, self.key.namespace,
                                                              self.key.name)
                except FeatureUnavailable as exc:
                    usage = str(exc)
        except StoreError as exc:
            self.app.call_from_thread(self.set_status, str(exc), "red")
            return
        self.app.call_from_thread(self.show, detail, usage)

    def show(self, detail: RoleDetail | None, usage: dict[int, bool] | str) -> None:
        if detail is None:
            self.set_status(f"{self.key} is not in this snapshot (a binding references a missing role)", "yellow")
            return
        self.detail = detail
        rules = self.query_one("#rules", DataTable)
        rules.clear()
        for index, rule in enumerate(detail.role.rules):
            used = "-" if isinstance(usage, str) else ("used" if usage.get(index) else "UNUSED")
            source = detail.role.source_of(index)
            rules.add_row(
                str(index) + (" *" if source else ""),
                plain(",".join(g or '""' for g in rule.api_groups) or "-"),
                plain(",".join(rule.resources or rule.non_resource_urls) or "-"),
                plain(",".join(rule.resource_names) or "(all)"),
                plain(",".join(rule.verbs)),
                plain(used, "red" if used == "UNUSED" else ""),
            )
        note = usage if isinstance(usage, str) else "used/UNUSED: seen in the audit window or not"
        self.query_one("#usage", Static).update(plain(note, "italic"))
        table = self.query_one("#role-bindings", DataTable)
        table.clear()
        self.subjects = []
        for binding in detail.bindings:
            for subject in binding.subjects:
                namespace = subject.namespace or (binding.key.namespace if subject.kind == SERVICE_ACCOUNT else "")
                shown = Subject(subject.kind, subject.name, namespace)
                name = f"{namespace}/{subject.name}" if namespace else subject.name
                table.add_row(plain(f"{binding.key.kind} {binding.key.name}"),
                              plain(binding.key.namespace or "cluster-wide"), plain(subject.kind), plain(name),
                              key=str(len(self.subjects)))
                self.subjects.append(shown)
        self.set_status(line(f"{len(detail.role.rules)} rules, {len(detail.bindings)} bindings; ",
                             "enter on a subject shows its permissions; y YAML, e export"))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id != "role-bindings" or not self.subjects:
            return
        from rbacmap.tui.subjects import SubjectDetailScreen

        row = event.data_table.cursor_row
        if row < len(self.subjects):
            self.app.push_screen(SubjectDetailScreen(self.subjects[row]))

    def current_object(self) -> ObjectView | None:
        if self.detail is None:
            return None
        key = self.detail.role.key
        stem = "-".join(part for part in (key.kind, key.namespace, key.name) if part)
        return ObjectView(str(key), role_manifest(self.detail.role), stem)
