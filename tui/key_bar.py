"""The bottom line of keys, k9s style: drawn once per screen.

textual's Footer rebuilds a widget per key on every screen switch and focus change; on this
app that was ~80% of a navigation's CPU time. The keys a screen offers do not change while
it is shown, so a single line of text built at mount says the same for a fraction of it.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class KeyBar(Static):
    """The current screen's and the app's keys with their descriptions (remapped keys included)."""

    DEFAULT_CSS = "KeyBar { dock: bottom; height: 1; background: $footer-background; color: $footer-foreground; }"

    def on_mount(self) -> None:
        self.update(self.hints())

    def hints(self) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or not binding.description or binding.description in seen:
                continue
            seen.add(binding.description)
            out.append(f" {self.app.get_key_display(binding)} ", style="bold")
            out.append(f"{binding.description} ")
        palette = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        if self.app.ENABLE_COMMAND_PALETTE and palette is not None:
            # textual hides the palette binding (show=False) and Footer adds it on its own: so do we.
            out.append(f" {self.app.get_key_display(palette.binding)} ", style="bold")
            out.append(f"{palette.binding.description} ")
        return out
