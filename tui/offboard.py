"""Offboarding: type a person's identifiers, read the report, export the fix."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Input, Static

from rbacmap.store import StoreError
from rbacmap.tui.base import ObjectView, RbacScreen
from rbacmap.tui.data import open_snapshot
from rbacmap.tui.features import FeatureUnavailable, OffboardReport, offboard
from rbacmap.tui.text import multiline


class OffboardScreen(RbacScreen):
    TITLE = "Offboarding"

    def __init__(self) -> None:
        super().__init__()
        self.report: OffboardReport | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="identifiers, comma separated (alice@example.com, arn:aws:iam::…)", id="identifiers")
        with VerticalScroll():
            yield Static(id="report")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#identifiers", Input).focus()
        self.set_status("enter runs the report; e exports the fix")

    def action_filter(self) -> None:
        self.query_one("#identifiers", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        identifiers = [part.strip() for part in event.value.split(",") if part.strip()]
        if identifiers:
            self.load(identifiers)

    @work(thread=True, exclusive=True)
    def load(self, identifiers: list[str]) -> None:
        try:
            with open_snapshot(self.rbac_app.db_path, self.rbac_app.cluster) as (store, snapshot):
                report: OffboardReport | str = offboard(store, snapshot, identifiers)
        except FeatureUnavailable as exc:
            report = str(exc)
        except StoreError as exc:
            self.app.call_from_thread(self.set_status, str(exc), "red")
            return
        self.app.call_from_thread(self.show, report)

    def show(self, report: OffboardReport | str) -> None:
        if isinstance(report, str):
            self.report = None
            self.set_status(report, "yellow")
            return
        self.report = report
        self.query_one("#report", Static).update(multiline(report.text))
        self.set_status("e exports the fix YAML")

    def current_object(self) -> ObjectView | None:
        if self.report is None:
            return None
        return ObjectView("offboarding fix", self.report.fix_yaml, "offboarding-fix")
