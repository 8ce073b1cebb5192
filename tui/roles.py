"""Roles and bindings: every Role and ClusterRole, its rules, and who is bound to it where."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import DataTable, Header, Static

from rbacmap.model import SERVICE_ACCOUNT, Binding, RoleKey, Subject
from rbacmap.store import StoreError
from rbacmap.tui.base import ObjectView, RbacScreen
from rbacmap.tui.data import RoleDetail, RoleRow, filter_roles, role_detail, role_manifest
from rbacmap.tui.fast_table import FastTable
from rbacmap.tui.features import FeatureUnavailable, RuleUsage, rule_usage, usage_inputs
from rbacmap.tui.key_bar import KeyBar
from rbacmap.tui.lazy_table import LazyTable
from rbacmap.tui.list_screen import FilteredListScreen
from rbacmap.tui.session import SnapshotData
from rbacmap.tui.text import line, plain


def _binding_cells(item: tuple[Binding, Subject, Subject]) -> tuple[Text, Text, Text, Text]:
    binding, subject, shown = item
    name = f"{shown.namespace}/{subject.name}" if shown.namespace else subject.name
    return (plain(f"{binding.key.kind} {binding.key.name}"), plain(binding.key.namespace or "cluster-wide"),
            plain(subject.kind), plain(name))


class RolesScreen(FilteredListScreen[RoleRow]):
    TITLE = "Roles"
    AUTO_FOCUS = "#roles"  # focused before the first paint (a later focus() redraws)
    TABLE_ID = "roles"
    COLUMNS = ("kind", "namespace", "name", "rules", "bindings")
    FILTER_PLACEHOLDER = "/ filter roles (kind, namespace or name)"
    ROW_TYPE = RoleRow

    def filtered_rows(self, data: SnapshotData, text: str) -> list[RoleRow]:
        return filter_roles(data, text)

    def row_cells(self, row: RoleRow) -> tuple[Text, Text, Text, str, str]:
        return (plain(row.key.kind), plain(row.key.namespace or "-"), plain(row.key.name), str(row.rules),
                str(row.bindings))

    def list_status(self, count: int) -> str:
        return f"{count} roles; enter shows rules and bindings; / filters"

    def open_row(self, row: RoleRow) -> None:
        self.rbac_app.open_role(row.key)

    def selected(self) -> RoleKey | None:
        row = self.selected_row()
        return None if row is None else row.key

    def current_object(self) -> ObjectView | None:
        key = self.selected()
        if key is None:
            return None
        return ObjectView(str(key), {"kind": key.kind, "namespace": key.namespace or None, "name": key.name},
                          "-".join(p for p in (key.kind, key.namespace, key.name) if p))


class RoleDetailScreen(RbacScreen):
    """One role's rules (used/unused when audit usage is loaded) and the bindings that grant it."""

    TITLE = "Role"
    AUTO_FOCUS = "#role-bindings"  # focused before the first paint (a later focus() redraws)

    def __init__(self, key: RoleKey | None = None) -> None:
        """Without a key the screen stays empty until show_role (the app builds one ahead)."""
        super().__init__()
        self.key = key
        self.detail: RoleDetail | None = None
        self.subjects: list[Subject] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="role-title")
        yield FastTable(id="rules", cursor_type="row")
        yield Static(id="usage")
        yield LazyTable(id="role-bindings")
        yield Static(id="status")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#rules", DataTable).add_columns("#", "apiGroups", "resources", "resourceNames", "verbs",
                                                        "used")
        bindings = self.query_one("#role-bindings", LazyTable)
        bindings.add_columns("binding", "where", "subject kind", "subject")
        if self.key is not None:
            self.show_role(self.key)

    def show_role(self, key: RoleKey) -> None:
        """Fill the screen for `key` (the app reuses this screen for the next role)."""
        self.key = key
        self.detail = None
        self.subjects = []
        self.sub_title = str(key)
        self.query_one("#role-title", Static).update(plain(str(key), "bold"))
        data = self.cached_data()
        if data is None:
            self.load(key)
        else:
            self.show(key, role_detail(data, key))

    @work(thread=True, exclusive=True)
    def load(self, key: RoleKey) -> None:
        try:
            detail = role_detail(self.snapshot_data(), key)
        except StoreError as exc:
            self.app.call_from_thread(self.set_status, str(exc), "red")
            return
        self.app.call_from_thread(self.show, key, detail)

    @work(thread=True, exclusive=True, group="role-usage")
    def load_usage(self, key: RoleKey) -> None:
        """Used/unused per rule comes from the audit usage (the trim library), after the rules show."""
        session = self.rbac_app.session
        try:
            data = self.snapshot_data()
            with session.store() as store:
                # The audit records are read once per snapshot, each role's analysis done once.
                inputs = session.remember(("usage-inputs", data.snapshot.id),
                                          lambda: usage_inputs(store, data.snapshot))
                usage: RuleUsage | str = session.remember(
                    ("rule-usage", data.snapshot.id, key), lambda: rule_usage(data.policy, key, inputs))
        except (FeatureUnavailable, StoreError) as exc:
            usage = str(exc)
        self.app.call_from_thread(self.show_usage, key, usage)

    def show(self, key: RoleKey, detail: RoleDetail | None) -> None:
        if key != self.key:
            return  # an answer for the role shown before this one
        if detail is None:
            self.query_one("#rules", DataTable).clear()
            self.query_one("#role-bindings", LazyTable).show([], _binding_cells)
            self.query_one("#usage", Static).update("")
            self.set_status(f"{self.key} is not in this snapshot (a binding references a missing role)", "yellow")
            return
        self.detail = detail
        self.show_rules(None)
        self.query_one("#usage", Static).update(plain("audit usage: loading…", "italic"))
        rows = []
        for binding in detail.bindings:
            for subject in binding.subjects:
                namespace = subject.namespace or (binding.key.namespace if subject.kind == SERVICE_ACCOUNT else "")
                rows.append((binding, subject, Subject(subject.kind, subject.name, namespace)))
        self.subjects = [shown for _, _, shown in rows]
        self.query_one("#role-bindings", LazyTable).show(rows, _binding_cells)
        self.set_status(line(f"{len(detail.role.rules)} rules, {len(detail.bindings)} bindings "
                             f"({len(rows)} subjects); ",
                             "enter on a subject shows its permissions; y YAML, e export"))
        self.load_usage(self.key)

    def show_rules(self, usage: RuleUsage | None) -> None:
        assert self.detail is not None
        rules = self.query_one("#rules", FastTable)
        rules.clear()
        for index, rule in enumerate(self.detail.role.rules):
            used = "-" if usage is None else ("used" if index in usage.used else "UNUSED")
            source = self.detail.role.source_of(index)
            rules.add_row(
                str(index) + (" *" if source else ""),
                plain(",".join(g or '""' for g in rule.api_groups) or "-"),
                plain(",".join(rule.resources or rule.non_resource_urls) or "-"),
                plain(",".join(rule.resource_names) or "(all)"),
                plain(",".join(rule.verbs)),
                plain(used, "red" if used == "UNUSED" else ""),
            )
        rules.settle_dimensions()

    def show_usage(self, key: RoleKey, usage: RuleUsage | str) -> None:
        if key != self.key:
            return
        if isinstance(usage, str):
            self.query_one("#usage", Static).update(plain(usage, "italic"))
            return
        self.show_rules(usage)
        self.query_one("#usage", Static).update(plain(f"used/UNUSED: seen in the audit window or not ({usage.window})",
                                                      "italic"))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id != "role-bindings" or not self.subjects:
            return
        row = event.data_table.cursor_row
        if row < len(self.subjects):
            self.rbac_app.open_subject(self.subjects[row])

    def current_object(self) -> ObjectView | None:
        if self.detail is None:
            return None
        key = self.detail.role.key
        stem = "-".join(part for part in (key.kind, key.namespace, key.name) if part)
        return ObjectView(str(key), role_manifest(self.detail.role), stem)
