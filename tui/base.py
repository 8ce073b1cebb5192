"""What every rbacmap screen shares: k9s keys for YAML, copy, export, filter and back."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from rbacmap.tui.data import to_yaml
from rbacmap.tui.modals import ExportScreen, YamlScreen
from rbacmap.tui.session import SnapshotData
from rbacmap.tui.text import plain

if TYPE_CHECKING:
    from rbacmap.tui.app import RbacmapApp


@dataclass(frozen=True)
class ObjectView:
    """The object a screen currently shows, as `y`, `c` and `e` act on it."""

    title: str
    data: Any
    file_stem: str

    def yaml(self) -> str:
        return self.data if isinstance(self.data, str) else to_yaml(self.data)

    def default_path(self) -> str:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.file_stem).strip("-.") or "export"
        return f"./{stem[:80]}.yaml"


class RbacScreen(Screen[None]):
    """Base screen: subclasses say what object is current and how to filter."""

    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/", id="screen.filter"),
        Binding("y", "show_yaml", "YAML", id="screen.yaml"),
        Binding("c", "copy", "Copy", id="screen.copy"),
        Binding("e", "export", "Export", id="screen.export"),
        Binding("escape", "back", "Back", id="screen.back"),
    ]

    @property
    def rbac_app(self) -> RbacmapApp:
        return cast("RbacmapApp", self.app)

    def snapshot_data(self) -> SnapshotData:
        """The current snapshot's lists and indexes (call in a worker: the first call builds them)."""
        return self.rbac_app.session.data(self.rbac_app.cluster)

    def cached_data(self) -> SnapshotData | None:
        """The same, when already built; None otherwise (safe on the UI thread)."""
        return self.rbac_app.session.cached(self.rbac_app.cluster)

    def current_object(self) -> ObjectView | None:
        """The object under the cursor (or the screen's own), None when there is none."""
        return None

    def set_status(self, message: str | Text, style: str = "") -> None:
        for status in self.query("#status").results(Static):
            status.update(message if isinstance(message, Text) else plain(message, style))

    def action_filter(self) -> None:
        inputs = list(self.query("#filter").results(Input))
        if inputs:
            inputs[0].focus()

    def action_back(self) -> None:
        focused = self.focused
        if isinstance(focused, Input) and focused.id == "filter":
            if focused.value:
                focused.value = ""
            self.focus_next()
            return
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        elif self.app.current_mode != "dashboard":
            self.app.switch_mode("dashboard")

    def action_show_yaml(self) -> None:
        view = self.current_object()
        if view is None:
            self.notify("nothing selected", severity="warning")
            return
        self.app.push_screen(YamlScreen(view.title, view.yaml()))

    def action_copy(self) -> None:
        view = self.current_object()
        if view is None:
            self.notify("nothing selected", severity="warning")
            return
        self.app.copy_to_clipboard(view.yaml())
        self.notify(plain(f"copied {view.title} as YAML").plain, markup=False)

    def action_export(self) -> None:
        view = self.current_object()
        if view is None:
            self.notify("nothing selected", severity="warning")
            return

        def done(path: Path | None) -> None:
            if path is not None:
                self.notify(f"wrote {plain(path).plain}", markup=False)

        self.app.push_screen(ExportScreen(view.title, view.yaml(), view.default_path()), done)
