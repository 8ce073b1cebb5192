"""Trim: each proposed change next to the original and trimmed role; accept or reject each, export YAML."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Header, Static

from rbacmap.store import StoreError
from rbacmap.trim import TrimReport
from rbacmap.tui.base import ObjectView, RbacScreen
from rbacmap.tui.fast_table import FastTable
from rbacmap.tui.features import FeatureUnavailable, trim_report
from rbacmap.tui.key_bar import KeyBar
from rbacmap.tui.text import line, lines, multiline, plain
from rbacmap.tui.trim_plan import TrimChange, changes_of, decided_yaml, export_yaml, original_yaml


class TrimScreen(RbacScreen):
    TITLE = "Trim"
    AUTO_FOCUS = "#changes"  # focused before the first paint (a later focus() redraws)
    BINDINGS = [
        Binding("a", "decide(True)", "Accept", id="trim.accept"),
        Binding("r", "decide(False)", "Reject", id="trim.reject"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.report: TrimReport | None = None
        self.changes: list[TrimChange] = []
        self.accepted: list[bool] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield FastTable(id="changes", cursor_type="row")
        with Horizontal(id="side-by-side"):
            with VerticalScroll():
                yield Static(id="original")
            with VerticalScroll():
                yield Static(id="trimmed")
        yield Static(id="status")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#changes", DataTable).add_columns("role", "action", "change", "proposed", "why", "decision")
        self.set_status("reading audit usage and trimming…", "italic")
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        try:
            data = self.snapshot_data()
            with self.rbac_app.session.store() as store:
                report: TrimReport | str = trim_report(store, data.snapshot, data.policy)
        except (FeatureUnavailable, StoreError) as exc:
            report = str(exc)
        self.app.call_from_thread(self.show, report)

    def show(self, report: TrimReport | str) -> None:
        if isinstance(report, str):
            self.set_status(report, "yellow")
            return
        self.report = report
        self.changes = changes_of(report)
        self.accepted = [True] * len(self.changes)
        self.refresh_table()
        decidable = sum(1 for change in self.changes if change.decidable)
        status = [line(f"{decidable} proposed change(s) in {len(report.proposals)} role(s), audit window "
                       f"{report.window.describe()}; a accepts, r rejects, e exports the accepted changes")]
        status += [line((f"⚠ {warning}", "yellow")) for warning in report.warnings]
        self.set_status(lines(status))

    def refresh_table(self) -> None:
        table = self.query_one("#changes", FastTable)
        cursor = table.cursor_row
        table.clear()
        for change, ok in zip(self.changes, self.accepted, strict=True):
            decision = ("accept" if ok else "reject") if change.decidable else "-"
            table.add_row(plain(change.role), plain(change.action), plain(change.original),
                          plain(change.proposed or "(removed)"), plain(change.reason),
                          plain(decision, ("green" if ok else "red") if change.decidable else "dim"))
        table.settle_dimensions()
        if self.changes:
            table.move_cursor(row=min(cursor, len(self.changes) - 1))
            self.show_side_by_side()

    def show_side_by_side(self) -> None:
        row = self.query_one("#changes", DataTable).cursor_row
        if self.report is None or row >= len(self.changes):
            return
        number = self.changes[row].proposal
        proposal = self.report.proposals[number]
        self.query_one("#original", Static).update(multiline("# original\n" + original_yaml(proposal)))
        self.query_one("#trimmed", Static).update(
            multiline("# with your decisions\n" + decided_yaml(self.report, number, self.changes, self.accepted)))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.changes:
            self.show_side_by_side()

    def action_decide(self, accept: bool) -> None:
        row = self.query_one("#changes", DataTable).cursor_row
        if row < len(self.changes) and self.changes[row].decidable:
            self.accepted[row] = accept
            self.refresh_table()

    def current_object(self) -> ObjectView | None:
        if self.report is None or not self.changes:
            return None
        return ObjectView("trimmed roles", export_yaml(self.report, self.changes, self.accepted), "trimmed-roles")

