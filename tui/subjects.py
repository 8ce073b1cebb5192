"""Subjects: every user, group and service account; the detail shows what each may do and why."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Header, Input, Static, Tree

from rbacmap.authorizer import Grant
from rbacmap.model import SERVICE_ACCOUNT, Subject
from rbacmap.permissions import SubjectPermissions
from rbacmap.store import StoreError
from rbacmap.subjects import format_subject
from rbacmap.tui.base import ObjectView, RbacScreen
from rbacmap.tui.data import ROW_LIMIT, SubjectRow, list_subjects, open_snapshot, permissions_json, permissions_of
from rbacmap.tui.features import FeatureUnavailable, PathView, paths_of_subject
from rbacmap.tui.text import line, lines, plain


def subject_label(subject: Subject) -> str:
    if subject.kind == SERVICE_ACCOUNT:
        return f"{subject.kind} {subject.namespace}/{subject.name}"
    return f"{subject.kind} {subject.name}"


class SubjectsScreen(RbacScreen):
    TITLE = "Subjects"

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[SubjectRow] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="/ filter subjects (kind, namespace or name)", id="filter")
        yield DataTable(id="subjects", cursor_type="row")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#subjects", DataTable).add_columns("kind", "subject", "bindings")
        self.query_one("#subjects", DataTable).focus()
        self.load("")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.load(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#subjects", DataTable).focus()

    @work(thread=True, exclusive=True)
    def load(self, text: str) -> None:
        try:
            with open_snapshot(self.rbac_app.db_path, self.rbac_app.cluster) as (store, snapshot):
                rows, total = list_subjects(store, snapshot.id, text)
        except StoreError as exc:
            self.app.call_from_thread(self.set_status, str(exc), "red")
            return
        self.app.call_from_thread(self.show, rows, total)

    def show(self, rows: list[SubjectRow], total: int) -> None:
        self.rows = rows
        table = self.query_one("#subjects", DataTable)
        table.clear()
        for index, row in enumerate(rows):
            table.add_row(plain(row.subject.kind), plain(row.display_name), str(row.bindings), key=str(index))
        more = f" (showing {ROW_LIMIT}; filter with /)" if total > len(rows) else ""
        self.set_status(f"{total} subjects{more}; enter shows effective permissions")

    def selected(self) -> Subject | None:
        table = self.query_one("#subjects", DataTable)
        if not self.rows or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row].subject

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        subject = self.selected()
        if subject is not None:
            self.app.push_screen(SubjectDetailScreen(subject))

    def current_object(self) -> ObjectView | None:
        subject = self.selected()
        if subject is None:
            return None
        return ObjectView(subject_label(subject), {"kind": subject.kind, "name": subject.name,
                                                   "namespace": subject.namespace or None}, format_subject(subject))


def grant_label(grant: Grant) -> Text:
    rule = grant.rule
    what = ",".join(rule.resources or rule.non_resource_urls) or "-"
    if rule.resource_names:
        what += " (only " + ",".join(rule.resource_names) + ")"
    via = f"  ← {grant.binding.key} → {grant.role.key} rule #{grant.rule_index}"
    if grant.aggregated_from:
        via += f" (aggregated from {grant.aggregated_from})"
    return line((",".join(rule.verbs), "bold"), " ", (what, "cyan"), (via, "dim"))


class SubjectDetailScreen(RbacScreen):
    """Effective permissions of one subject, grouped by namespace, each with its provenance."""

    TITLE = "Subject"

    def __init__(self, subject: Subject) -> None:
        super().__init__()
        self.subject = subject
        self.permissions: SubjectPermissions | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(plain(subject_label(self.subject), "bold"), id="subject-title")
        yield Static(id="identity")
        yield Tree(plain("permissions"), id="permissions")
        yield Static(id="paths")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = subject_label(self.subject)
        self.query_one("#permissions", Tree).focus()
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        try:
            with open_snapshot(self.rbac_app.db_path, self.rbac_app.cluster) as (store, snapshot):
                permissions = permissions_of(store, snapshot.id, self.subject)
        except StoreError as exc:
            self.app.call_from_thread(self.set_status, str(exc), "red")
            return
        self.app.call_from_thread(self.show, permissions)
        self.load_paths()

    @work(thread=True, exclusive=True, group="subject-paths")
    def load_paths(self) -> None:
        try:
            with open_snapshot(self.rbac_app.db_path, self.rbac_app.cluster) as (store, snapshot):
                paths: list[PathView] | str = paths_of_subject(store, snapshot, self.subject)
        except (FeatureUnavailable, StoreError) as exc:
            paths = str(exc)
        self.app.call_from_thread(self.query_one("#paths", Static).update, self._paths(paths))

    def show(self, permissions: SubjectPermissions) -> None:
        self.permissions = permissions
        identity = permissions.identity
        groups = ", ".join(identity.groups) if identity else "(a group: members get these permissions)"
        header = [line("groups: ", (groups, "italic"))]
        header += [
            line((f"⚠ {binding.key} names this subject but its {binding.role_ref.kind} "
                  f"{binding.role_ref.name!r} does not exist (dangling)", "yellow"))
            for binding in permissions.dangling
        ]
        self.query_one("#identity", Static).update(lines(header))
        tree = self.query_one("#permissions", Tree)
        tree.clear()
        tree.root.set_label(plain(f"{len(permissions.grants)} rules from {self._binding_count()} bindings"))
        for namespace, grants in permissions.by_namespace().items():
            node = tree.root.add(line((namespace or "cluster-wide", "bold magenta")), expand=True)
            for grant in grants:
                node.add_leaf(grant_label(grant), data=grant)
        tree.root.expand()
        self.query_one("#paths", Static).update(line(("Escalation paths: solving…", "italic")))
        self.set_status("enter on a rule opens its role; y YAML, e export")

    def _binding_count(self) -> int:
        assert self.permissions is not None
        return len({grant.binding.key for grant in self.permissions.grants})

    @staticmethod
    def _paths(paths: list[PathView] | str) -> Text:
        title = line(("Escalation paths", "bold"))
        if isinstance(paths, str):
            return lines([title, plain(paths, "italic")])
        if not paths:
            return lines([title, plain("none found")])
        return lines([title, *(line(f"  → {path.target}: ", " / ".join(path.steps)) for path in paths)])

    def on_tree_node_selected(self, event: Tree.NodeSelected[Grant]) -> None:
        grant = event.node.data
        if isinstance(grant, Grant):
            from rbacmap.tui.roles import RoleDetailScreen

            self.app.push_screen(RoleDetailScreen(grant.role.key))

    def current_object(self) -> ObjectView | None:
        if self.permissions is None:
            return None
        return ObjectView(f"permissions of {subject_label(self.subject)}", permissions_json(self.permissions),
                          "permissions-" + format_subject(self.subject))
