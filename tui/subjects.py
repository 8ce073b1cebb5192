"""Subjects: every user, group and service account; the detail shows what each may do and why."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import Header, Static, Tree

from rbacmap.authorizer import Grant
from rbacmap.model import SERVICE_ACCOUNT, Subject
from rbacmap.permissions import SubjectPermissions
from rbacmap.store import StoreError
from rbacmap.subjects import format_subject
from rbacmap.tui.base import ObjectView, RbacScreen
from rbacmap.tui.data import SubjectRow, filter_subjects, permissions_json, permissions_of
from rbacmap.tui.features import FeatureUnavailable, PathView
from rbacmap.tui.key_bar import KeyBar
from rbacmap.tui.list_screen import FilteredListScreen
from rbacmap.tui.path_source import PathQuery
from rbacmap.tui.session import SnapshotData
from rbacmap.tui.text import line, lines, plain


def subject_label(subject: Subject) -> str:
    if subject.kind == SERVICE_ACCOUNT:
        return f"{subject.kind} {subject.namespace}/{subject.name}"
    return f"{subject.kind} {subject.name}"


class SubjectsScreen(FilteredListScreen[SubjectRow]):
    TITLE = "Subjects"
    AUTO_FOCUS = "#subjects"  # focused before the first paint (a later focus() redraws)
    TABLE_ID = "subjects"
    COLUMNS = ("kind", "subject", "bindings")
    FILTER_PLACEHOLDER = "/ filter subjects (kind, namespace or name)"
    ROW_TYPE = SubjectRow

    def filtered_rows(self, data: SnapshotData, text: str) -> list[SubjectRow]:
        return filter_subjects(data, text)

    def row_cells(self, row: SubjectRow) -> tuple[Text, Text, str]:
        return plain(row.subject.kind), plain(row.display_name), str(row.bindings)

    def list_status(self, count: int) -> str:
        return f"{count} subjects; enter shows effective permissions; / filters"

    def open_row(self, row: SubjectRow) -> None:
        self.rbac_app.open_subject(row.subject)

    def selected(self) -> Subject | None:
        row = self.selected_row()
        return None if row is None else row.subject

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
