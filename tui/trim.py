"""Trim: each role's proposed cut next to the original; accept or reject each change, export YAML."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from rbacmap.store import StoreError
from rbacmap.tui.base import ObjectView, RbacScreen
from rbacmap.tui.data import open_snapshot
from rbacmap.tui.features import FeatureUnavailable, TrimProposalView, trim_proposals, trimmed_yaml
from rbacmap.tui.text import multiline, plain


class TrimScreen(RbacScreen):
    TITLE = "Trim"
    BINDINGS = [
        Binding("a", "decide(True)", "Accept", id="trim.accept"),
        Binding("r", "decide(False)", "Reject", id="trim.reject"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.proposals: list[TrimProposalView] = []
        # (proposal index, change index) per table row, and the user's decision per change.
        self.rows: list[tuple[int, int]] = []
        self.accepted: dict[int, list[bool]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="changes", cursor_type="row")
        with Horizontal(id="side-by-side"):
            with VerticalScroll():
                yield Static(id="original")
            with VerticalScroll():
                yield Static(id="trimmed")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#changes", DataTable).add_columns("role", "original rule", "proposed", "why", "decision")
        self.query_one("#changes", DataTable).focus()
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        try:
            with open_snapshot(self.rbac_app.db_path, self.rbac_app.cluster) as (store, snapshot):
                proposals: list[TrimProposalView] | str = trim_proposals(store, snapshot)
        except FeatureUnavailable as exc:
            proposals = str(exc)
        except StoreError as exc:
            self.app.call_from_thread(self.set_status, str(exc), "red")
            return
        self.app.call_from_thread(self.show, proposals)

    def show(self, proposals: list[TrimProposalView] | str) -> None:
        if isinstance(proposals, str):
            self.set_status(proposals, "yellow")
            return
        self.proposals = proposals
        self.accepted = {i: [True] * len(p.changes) for i, p in enumerate(proposals)}
        self.rows = [(i, j) for i, p in enumerate(proposals) for j in range(len(p.changes))]
        self.refresh_table()
        self.set_status("a accepts, r rejects the change under the cursor; e exports the accepted roles")

    def refresh_table(self) -> None:
        table = self.query_one("#changes", DataTable)
        cursor = table.cursor_row
        table.clear()
        for i, j in self.rows:
            change = self.proposals[i].changes[j]
            decision = "accept" if self.accepted[i][j] else "reject"
            table.add_row(plain(change.role), plain(change.original), plain(change.proposed or "(removed)"),
                          plain(change.reason), plain(decision, "green" if decision == "accept" else "red"))
        if self.rows:
            table.move_cursor(row=min(cursor, len(self.rows) - 1))
            self.show_side_by_side()

    def show_side_by_side(self) -> None:
        row = self.query_one("#changes", DataTable).cursor_row
        if row >= len(self.rows):
            return
        index = self.rows[row][0]
        proposal = self.proposals[index]
        self.query_one("#original", Static).update(multiline(proposal.original_yaml))
        self.query_one("#trimmed", Static).update(multiline(trimmed_yaml(proposal, self.accepted[index])))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.rows:
            self.show_side_by_side()

    def action_decide(self, accept: bool) -> None:
        row = self.query_one("#changes", DataTable).cursor_row
        if row < len(self.rows):
            i, j = self.rows[row]
            self.accepted[i][j] = accept
            self.refresh_table()

    def current_object(self) -> ObjectView | None:
        if not self.proposals:
            return None
        documents = [trimmed_yaml(p, self.accepted[i]) for i, p in enumerate(self.proposals) if any(self.accepted[i])]
        return ObjectView("trimmed roles", "---\n".join(documents), "trimmed-roles")
