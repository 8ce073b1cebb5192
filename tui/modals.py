"""Modal screens: help, YAML view, export to a file, and `:` jump to a screen."""

from __future__ import annotations

import os
from pathlib import Path

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, Static

from rbacmap.tui.text import multiline, plain

HELP = """\
Keys (k9s style; every binding has an id, remap them in a keymap):
  :        jump to a screen (dashboard, subjects, roles, who-can, paths, trim, offboard)
  /        filter the list            enter   drill in
  esc      back                       ?       this help
  y        show the object as YAML    c       copy it to the clipboard
  e        export it to a file        q       quit
  ctrl+p   command palette: "go to subject/role", screens
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(HELP), id="help-text")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


class YamlScreen(ModalScreen[None]):
    """Shows an object as YAML. The YAML text is escaped data, never markup."""

    BINDINGS = [Binding("escape,q,y", "dismiss", "Close", id="yaml.close")]

    def __init__(self, title: str, yaml_text: str) -> None:
        super().__init__()
        self.title_text = title
        self.yaml_text = yaml_text

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(plain(self.title_text, "bold"))
            with VerticalScroll():
                yield Static(Syntax(multiline(self.yaml_text).plain, "yaml", theme="ansi_dark", word_wrap=True),
                             id="yaml-text")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


class ExportScreen(ModalScreen[Path | None]):
    """Asks where to write; writes only on enter, never overwrites an existing file."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="export.cancel")]

    def __init__(self, what: str, content: str, default_path: str) -> None:
        super().__init__()
        self.what = what
        self.content = content
        self.default_path = default_path

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(plain(f"Export {self.what} to (enter writes, esc cancels):"))
            yield Input(value=self.default_path, id="export-path")
            yield Static(id="export-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        path = Path(os.path.expanduser(event.value.strip()))
        error = self.query_one("#export-error", Static)
        if not event.value.strip():
            error.update(Text("give a file name", style="red"))
            return
        if path.exists():
            error.update(plain(f"{path} exists; choose another name", "red"))
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8") as handle:
                handle.write(self.content)
        except OSError as exc:
            error.update(plain(f"cannot write {path}: {exc}", "red"))
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)


SCREEN_NAMES = ("dashboard", "subjects", "roles", "who-can", "paths", "trim", "offboard")


class JumpScreen(ModalScreen[str | None]):
    """The `:` prompt: type a screen name (tab completes) and press enter."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="jump.cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="jump"):
            yield Input(placeholder=":" + " | ".join(SCREEN_NAMES), id="jump-input",
                        suggester=SuggestFromList(SCREEN_NAMES, case_sensitive=False))
            yield Static(id="jump-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        typed = event.value.strip().lstrip(":").lower()
        matches = [name for name in SCREEN_NAMES if name.startswith(typed)] if typed else []
        if len(matches) == 1 or typed in SCREEN_NAMES:
            self.dismiss(typed if typed in SCREEN_NAMES else matches[0])
            return
        self.query_one("#jump-error", Static).update(plain(f"no screen {typed!r}", "red"))

    def action_cancel(self) -> None:
        self.dismiss(None)
