"""Paths: pick a target (cluster-admin, secrets, exec) and a namespace; every subject reaching it."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Header, Input, Select, Static, Tree

from rbacmap.store import StoreError
from rbacmap.tui.base import ObjectView, RbacScreen
from rbacmap.tui.features import TARGETS, FeatureUnavailable, PathView
from rbacmap.tui.key_bar import KeyBar
from rbacmap.tui.path_source import PathQuery
from rbacmap.tui.text import line, plain


class PathsScreen(RbacScreen):
    TITLE = "Paths"
    # The results, not the form, so `:` and `?` keep working; `/` goes to the namespace. Focused
    # before the first paint (a focus() in on_mount would redraw).
    AUTO_FOCUS = "#path-tree"

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[PathView] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="paths-form"):
            yield Select([(target, target) for target in TARGETS], value=TARGETS[0], allow_blank=False,
                         id="target")
            yield Input(placeholder="namespace (empty: any); enter searches", id="namespace")
        yield Tree(plain("paths"), id="path-tree")
        yield Static(id="status")
        yield KeyBar()

    def on_mount(self) -> None:
        self.set_status("solving…", "italic")
        self.search()

    def action_filter(self) -> None:
        self.query_one("#namespace", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.search()

    def on_select_changed(self, event: Select.Changed) -> None:
        self.search()

    def search(self) -> None:
        target = str(self.query_one("#target", Select).value)
        self.load(target, self.query_one("#namespace", Input).value.strip())

    @work(thread=True, exclusive=True)
    def load(self, target: str, namespace: str) -> None:
        try:
            snapshot = self.rbac_app.session.snapshot(self.rbac_app.cluster)
            paths: list[PathView] | str = self.rbac_app.path_source.paths(
                self.rbac_app.db_path, PathQuery(snapshot.id, target, namespace))
        except FeatureUnavailable as exc:
            paths = str(exc)
        except StoreError as exc:
            self.app.call_from_thread(self.set_status, str(exc), "red")
            return
        self.app.call_from_thread(self.show, target, paths)

    def show(self, target: str, paths: list[PathView] | str) -> None:
        tree = self.query_one("#path-tree", Tree)
        tree.clear()
        if isinstance(paths, str):
            self.paths = []
            tree.root.set_label(plain("no paths shown"))
            self.set_status(paths, "yellow")
            return
        self.paths = paths
        tree.root.set_label(plain(f"{len(paths)} path(s) to {target}"))
        for path in paths:
            node = tree.root.add(line((path.subject, "bold"), " → ", (path.target, "red")), data=path)
            for number, step in enumerate(path.steps, 1):
                node.add_leaf(line(f"{number}. ", step))
        tree.root.expand()
        self.set_status("enter expands a path step by step; y YAML, e export")

    def current_object(self) -> ObjectView | None:
        if not self.paths:
            return None
        node = self.query_one("#path-tree", Tree).cursor_node
        if node is not None and isinstance(node.data, PathView):
            return ObjectView(f"path of {node.data.subject}", node.data.data, f"path-{node.data.subject}")
        return ObjectView("escalation paths", [path.data for path in self.paths], "paths")
