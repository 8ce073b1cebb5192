"""A DataTable that builds its rows a page at a time, as the cursor gets near the last one.

A list of thousands (subjects, a ClusterRole's bindings) costs one page to show; the rest of
the rows stay plain values in memory until the user scrolls to them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.console import RenderableType
from textual.coordinate import Coordinate

from rbacmap.tui.fast_table import FastTable

PAGE_SIZE = 60


class LazyTable(FastTable):
    """Call `show(items, render)`: `render(item)` makes a row's cells, only for rows being added."""

    def __init__(self, *, id: str | None = None, page_size: int = PAGE_SIZE) -> None:  # noqa: A002 - textual's name
        super().__init__(id=id, cursor_type="row")
        self.page_size = page_size
        self.items: Sequence[Any] = ()
        self._adding = False
        self._row_cells: Callable[[Any], Sequence[RenderableType]] = lambda item: ()

    def show(self, items: Sequence[Any], render: Callable[[Any], Sequence[RenderableType]]) -> None:
        self.items = ()
        self.clear()  # moves the cursor: with no items yet, the watcher adds nothing
        self.items = items
        self._row_cells = render
        # The first page only needs what a screen can show (the terminal's height at most);
        # the cursor moving down adds the next pages.
        self.add_page(min(self.page_size, max(self.app.size.height, 1)))

    def add_page(self, size: int | None = None) -> None:
        if self._adding:
            return
        self._adding = True
        try:
            start = self.row_count
            for index in range(start, min(start + (size or self.page_size), len(self.items))):
                self.add_row(*self._row_cells(self.items[index]), key=str(index))
            self.settle_dimensions()
        finally:
            self._adding = False

    @property
    def fully_loaded(self) -> bool:
        return bool(self.row_count >= len(self.items))

    def selected_item(self) -> Any | None:
        if self.row_count == 0 or self.cursor_row >= self.row_count:
            return None
        return self.items[self.cursor_row]

    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        super().watch_cursor_coordinate(old, new)
        if not self.fully_loaded and new.row >= self.row_count - 5:
            self.add_page()
