"""Subjects: every user, group and service account; the detail shows what each may do and why."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import DataTable, Header, Input, Static, Tree

from rbacmap.authorizer import Grant
from rbacmap.model import SERVICE_ACCOUNT, Subject
from rbacmap.permissions import SubjectPermissions
from rbacmap.store import StoreError
from rbacmap.subjects import format_subject
from rbacmap.tui.base import ObjectView, RbacScreen
from rbacmap.tui.data import SubjectRow, filter_subjects, permissions_json, permissions_of
from rbacmap.tui.features import FeatureUnavailable, PathView
from rbacmap.tui.key_bar import KeyBar
from rbacmap.tui.lazy_table import LazyTable
from rbacmap.tui.path_source import PathQuery
from rbacmap.tui.text import line, lines, plain


def _subject_cells(row: SubjectRow) -> tuple[Text, Text, str]:
    return plain(row.subject.kind), plain(row.display_name), str(row.bindings)


def subject_label(subject: Subject) -> str:
    if subject.kind == SERVICE_ACCOUNT:
        return f"{subject.kind} {subject.namespace}/{subject.name}"
    return f"{subject.kind} {subject.name}"


class SubjectsScreen(RbacScreen):
    TITLE = "Subjects"
    shown_snapshot: int | None = None
    AUTO_FOCUS = "#subjects"  # focused before the first paint (a later focus() redraws)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="/ filter subjects (kind, namespace or name)", id="filter")
        yield LazyTable(id="subjects")
        yield Static(id="status")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one("#subjects", LazyTable)
        table.add_columns("kind", "subject", "bindings")
        self.filter("")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#subjects", LazyTable).focus()

    def filter(self, text: str) -> None:
        """Filter in memory at once when the snapshot's lists are built; else build them in a worker."""
        data = self.cached_data()
        if data is None:
            self.load(text)
        else:
            self.shown_snapshot = data.snapshot.id
            self.show(filter_subjects(data, text))

    def on_screen_resume(self) -> None:
        # Built once and kept: after the dashboard switched clusters, show the new snapshot's list.
        data = self.cached_data()
        if data is None or data.snapshot.id != self.shown_snapshot:
            self.filter(self.query_one("#filter", Input).value)

    @work(thread=True, exclusive=True)
    def load(self, text: str) -> None:
        try:
            self.snapshot_data()
        except StoreError as exc:
            self.app.call_from_thread(self.set_status, str(exc), "red")
            return
        # Filter with what the filter box holds now: the user may have typed while the lists were built.
        self.app.call_from_thread(lambda: self.filter(self.query_one("#filter", Input).value))

    def show(self, rows: list[SubjectRow]) -> None:
        self.query_one("#subjects", LazyTable).show(rows, _subject_cells)
        self.set_status(f"{len(rows)} subjects; enter shows effective permissions; / filters")

    def selected(self) -> Subject | None:
        row = self.query_one("#subjects", LazyTable).selected_item()
        return row.subject if isinstance(row, SubjectRow) else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        subject = self.selected()
        if subject is not None:
            self.rbac_app.open_subject(subject)

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
    AUTO_FOCUS = "#permissions"  # focused before the first paint (a later focus() redraws)

    def __init__(self, subject: Subject | None = None) -> None:
        """Without a subject the screen stays empty until show_subject (the app builds one ahead)."""
        super().__init__()
        self.subject = subject
        self.permissions: SubjectPermissions | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="subject-title")
        yield Static(id="identity")
        yield Tree(plain("permissions"), id="permissions")
        yield Static(id="paths")
        yield Static(id="status")
        yield KeyBar()

    def on_mount(self) -> None:
        if self.subject is not None:
            self.show_subject(self.subject)

    def show_subject(self, subject: Subject) -> None:
        """Fill the screen for `subject` (the app reuses this screen for the next subject)."""
        self.subject = subject
        self.permissions = None
        self.sub_title = subject_label(subject)
        self.query_one("#subject-title", Static).update(plain(subject_label(subject), "bold"))
        data = self.cached_data()
        if data is None:
            self.load(subject)
        else:
            self.show(permissions_of(data, subject))

    @work(thread=True, exclusive=True)
    def load(self, subject: Subject) -> None:
        try:
            permissions = permissions_of(self.snapshot_data(), subject)
        except StoreError as exc:
            self.app.call_from_thread(self.set_status, str(exc), "red")
            return
        self.app.call_from_thread(self.show, permissions)

    @work(thread=True, exclusive=True, group="subject-paths")
    def load_paths(self, snapshot_id: int, subject: Subject) -> None:
        try:
            paths: list[PathView] | str = self.rbac_app.path_source.paths(
                self.rbac_app.db_path, PathQuery(snapshot_id, subject=subject))
        except (FeatureUnavailable, StoreError) as exc:
            paths = str(exc)
        self.app.call_from_thread(self.show_paths, subject, paths)

    def show(self, permissions: SubjectPermissions) -> None:
        if permissions.subject != self.subject:
            return  # an answer for the subject shown before this one
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
        tree.cursor_line = -1  # as a new tree: the kept screen may have shown another subject
        tree.scroll_home(animate=False)
        tree.root.set_label(plain(f"{len(permissions.grants)} rules from {self._binding_count()} bindings"))
        for namespace, grants in permissions.by_namespace().items():
            node = tree.root.add(line((namespace or "cluster-wide", "bold magenta")), expand=True)
            for grant in grants:
                node.add_leaf(grant_label(grant), data=grant)
        tree.root.expand()
        self.query_one("#paths", Static).update(line(("Escalation paths: solving…", "italic")))
        self.set_status("enter on a rule opens its role; y YAML, e export")
        self.load_paths(self.rbac_app.session.snapshot(self.rbac_app.cluster).id, self.subject)

    def show_paths(self, subject: Subject, paths: list[PathView] | str) -> None:
        if subject == self.subject:
            self.query_one("#paths", Static).update(self._paths(paths))

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
            self.rbac_app.open_role(grant.role.key)

    def current_object(self) -> ObjectView | None:
        if self.permissions is None:
            return None
        subject = self.permissions.subject
        return ObjectView(f"permissions of {subject_label(subject)}", permissions_json(self.permissions),
                          "permissions-" + format_subject(subject))
