"""A DataTable that draws less: cells survive unchanged style refreshes; one-line text cells skip Rich layout.

Two costs dominated a screen switch on the 1000-namespace DB:
- textual re-applies the stylesheet to every widget each time a screen is shown again
  (`switch_mode`, resuming after a pop), and DataTable answers by dropping every rendered cell.
  The cells depend on the table's styles, its component classes' styles (cursor, header,
  hover, ...) and the theme; whether those changed is checked when the table next draws (by
  then the component styles are updated too), and only then are the cells dropped.
- DataTable renders each cell through Rich's Padding/Styled/render_lines pipeline (~1 ms a
  cell on a busy machine), and measures each new cell with Rich to size its column. A
  one-line Text needs none of it: its width is its cell length, its segments are built
  directly (snapshot tests pin that the output is identical).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeGuard

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.render import measure
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

StyleFingerprint = tuple[object, ...]
SegmentLines = list[list[Segment]]


class FastTable(DataTable[Any]):
    """DataTable with cheaper redraws; behaves and looks the same."""

    _rendered_with: StyleFingerprint | None = None
    _styles_touched = False

    # --- keep rendered cells across style refreshes that changed nothing ----------------------

    def _style_fingerprint(self) -> StyleFingerprint:
        components = tuple(sorted((name, styles.get_rules()) for name, styles in self._component_styles.items()))
        return self.styles.get_rules(), components, self.app.theme, self.app.ansi_color

    def notify_style_update(self) -> None:
        # The widget's own style caches go at once; the cells wait for the check in render_lines.
        Widget.notify_style_update(self)
        self._styles_touched = True
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        if self._styles_touched:
            self._styles_touched = False
            fingerprint = self._style_fingerprint()
            if fingerprint != self._rendered_with:
                self._rendered_with = fingerprint
                self._drop_rendered_cells()
        return super().render_lines(crop)

    def _drop_rendered_cells(self) -> None:
        """What DataTable.notify_style_update drops (without its refresh: we are drawing now)."""
        self._row_render_cache.clear()
        self._cell_render_cache.clear()
        self._row_renderable_cache.clear()
        self._line_cache.clear()
        self._styles_cache.clear()
        self._get_styles_to_render_cell.cache_clear()

    # --- one-line text cells without Rich's layout --------------------------------------------

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False) -> SegmentLines:
        if row_index < self.fixed_rows or column_index < self.fixed_columns:  # header, labels, fixed
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        if row_key is None or column_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        # DataTable's own cache key: both paths share one cache.
        key = (row_key, column_key, base_style, cursor, hover, self._show_hover_cursor, self._update_count,
               self._pseudo_class_state)
        cached = self._cell_render_cache.get(key)
        if cached is not None:
            return cached
        cell = self._get_row_renderables(row_index).cells[column_index]
        padding = self.cell_padding
        if self.rows[row_key].height != 1 or not _fits_one_line(cell, width - 2 * padding):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        assert isinstance(cell, Text)
        component_style, post_style = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
            self.cursor_foreground_priority == "css", self.cursor_background_priority == "css",
        )
        pre_style = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component_style
        segments = [Segment(" " * padding), *cell.render(self.app.console, end=""),
                    Segment(" " * (width - padding - cell.cell_len))]
        lines = [list(Segment.apply_style(segments, style=pre_style, post_style=post_style))]
        self._cell_render_cache[key] = lines
        return lines


    def settle_dimensions(self) -> None:
        """Size the columns for the rows just added now, not when the table next goes idle.

        DataTable waits for idle, so a screen filled on mount was drawn once with empty columns
        (every cell too wide, drawn the slow way) and once more after sizing them.
        """
        if self._require_update_dimensions:
            self._require_update_dimensions = False
            new_rows = self._new_rows.copy()
            self._new_rows.clear()
            self._update_dimensions(new_rows)

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Column widths and scroll size after rows were added (DataTable's, minus Rich measuring)."""
        new_rows = list(new_rows)
        rows = [self.rows[row_key] for row_key in new_rows if row_key in self.rows]
        if any(row.auto_height or row.label is not None for row in rows):
            super()._update_dimensions(new_rows)
            return
        console = self.app.console
        columns = self.ordered_columns
        for row_key in new_rows:
            row_index = self._row_locations.get(row_key)
            if row_index is None:  # removed before the table went idle
                continue
            for column, cell in zip(columns, self._get_row_renderables(row_index).cells, strict=False):
                width = cell.cell_len if _is_one_line(cell) else measure(console, cell, 1)
                column.content_width = max(column.content_width, width)
        header_height = self.header_height if self.show_header else 0
        data_width = sum(column.get_render_width(self) for column in self.columns.values())
        self.virtual_size = Size(data_width + self._row_label_column_width, self._total_row_height + header_height)


def _is_one_line(cell: object) -> TypeGuard[Text]:
    return isinstance(cell, Text) and "\n" not in cell.plain and "\t" not in cell.plain


def _fits_one_line(cell: object, width: int) -> bool:
    """A Text Rich would lay out as itself: one line, no tabs, no justification, not cropped."""
    return _is_one_line(cell) and cell.justify in (None, "default") and cell.cell_len <= width
