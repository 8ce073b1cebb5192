"""A filterable list of one kind of row (subjects, roles): `/` filters, enter drills in.

The list is built once per snapshot (in a worker the first time), then filtered in memory.
Subclasses say which table, columns and rows; this class does the filtering, loading and
refreshing after the dashboard switched clusters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from rich.console import RenderableType
from textual import work
from textual.app import ComposeResult
from textual.widgets import DataTable, Header, Input, Static

from rbacmap.store import StoreError
from rbacmap.tui.base import RbacScreen
from rbacmap.tui.key_bar import KeyBar
from rbacmap.tui.lazy_table import LazyTable
from rbacmap.tui.session import SnapshotData

RowT = TypeVar("RowT")


class FilteredListScreen(RbacScreen, Generic[RowT]):
    """Subclasses set TABLE_ID, COLUMNS, FILTER_PLACEHOLDER, ROW_TYPE (and AUTO_FOCUS) and the hooks below."""

    TABLE_ID: str
    COLUMNS: tuple[str, ...]
    FILTER_PLACEHOLDER: str
    ROW_TYPE: type[RowT]
    shown_snapshot: int | None = None

    def filtered_rows(self, data: SnapshotData, text: str) -> list[RowT]:
        """The rows matching the filter text."""
        raise NotImplementedError

    def row_cells(self, row: RowT) -> Sequence[RenderableType]:
        """One row's cells, in COLUMNS order."""
        raise NotImplementedError

    def list_status(self, count: int) -> str:
        """The status line under a list of `count` rows."""
        raise NotImplementedError

    def open_row(self, row: RowT) -> None:
        """Drill in to the row under the cursor (enter)."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder=self.FILTER_PLACEHOLDER, id="filter")
        yield LazyTable(id=self.TABLE_ID)
        yield Static(id="status")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one(f"#{self.TABLE_ID}", LazyTable)
        table.add_columns(*self.COLUMNS)
        self.filter("")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(f"#{self.TABLE_ID}", LazyTable).focus()

    def filter(self, text: str) -> None:
        """Filter in memory at once when the snapshot's lists are built; else build them in a worker."""
        data = self.cached_data()
        if data is None:
            self.load(text)
        else:
            self.shown_snapshot = data.snapshot.id
            self.show(self.filtered_rows(data, text))

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

    def show(self, rows: list[RowT]) -> None:
        self.query_one(f"#{self.TABLE_ID}", LazyTable).show(rows, self.row_cells)
        self.set_status(self.list_status(len(rows)))

    def selected_row(self) -> RowT | None:
        row = self.query_one(f"#{self.TABLE_ID}", LazyTable).selected_item()
        return row if isinstance(row, self.ROW_TYPE) else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        row = self.selected_row()
        if row is not None:
            self.open_row(row)
