"""Who can: verb, resource and namespace in; every allowed subject with binding -> role -> rule out."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Header, Input, Static

from rbacmap.model import Subject
from rbacmap.store import StoreError
from rbacmap.tui.base import ObjectView, RbacScreen
from rbacmap.tui.data import WhoCanAnswer, who_can
from rbacmap.tui.fast_table import FastTable
from rbacmap.tui.key_bar import KeyBar
from rbacmap.tui.text import line, lines, plain


class WhoCanScreen(RbacScreen):
    TITLE = "Who can"
    AUTO_FOCUS = "#verb"  # focused before the first paint (a later focus() redraws)

    def __init__(self) -> None:
        super().__init__()
        self.answer: WhoCanAnswer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="who-can-form"):
            yield Input(placeholder="verb (get)", id="verb")
            yield Input(placeholder="resource (secrets, pods/exec, /healthz)", id="resource")
            yield Input(placeholder="namespace (empty: cluster, *: all)", id="namespace")
        yield FastTable(id="answers", cursor_type="row")
        yield Static(id="status")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#answers", DataTable).add_columns("kind", "subject", "where", "binding", "role", "rule")
        self.set_status("type a verb and a resource, then enter")

    def action_filter(self) -> None:
        self.query_one("#verb", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        verb = self.query_one("#verb", Input).value
        resource = self.query_one("#resource", Input).value
        if not verb.strip() or not resource.strip():
            self.set_status("give both a verb and a resource", "yellow")
            self.query_one("#resource" if verb.strip() else "#verb", Input).focus()
            return
        self.ask(verb, resource, self.query_one("#namespace", Input).value)

    @work(thread=True, exclusive=True)
    def ask(self, verb: str, resource: str, namespace: str) -> None:
        try:
            data = self.snapshot_data()
            answer = who_can(data, verb, resource, namespace)
            warning = data.snapshot.incompleteness_warning()
        except StoreError as exc:
            self.app.call_from_thread(self.set_status, str(exc), "red")
            return
        self.app.call_from_thread(self.show, answer, warning)

    def show(self, answer: WhoCanAnswer, warning: str | None) -> None:
        self.answer = answer
        table = self.query_one("#answers", FastTable)
        table.clear()
        for index, item in enumerate(answer.answers):
            subject = item.subject
            name = f"{subject.namespace}/{subject.name}" if subject.namespace else subject.name
            grant = item.grant
            table.add_row(
                plain(subject.kind), plain(name), plain(item.namespace or "cluster-wide"),
                plain(str(grant.binding.key) if grant else "-"), plain(str(grant.role.key) if grant else "-"),
                plain(f"#{grant.rule_index} {grant.rule.describe()}" if grant else item.note),
                key=str(index),
            )
        table.settle_dimensions()
        status = [line(f"{len(answer.answers)} answers: who can {answer.question()}")]
        if warning:
            status.append(line((f"⚠ {warning}", "yellow")))
        self.set_status(lines(status))
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if self.answer is None or event.cursor_row >= len(self.answer.answers):
            return
        subject = self.answer.answers[event.cursor_row].subject
        self.rbac_app.open_subject(Subject(subject.kind, subject.name, subject.namespace))

    def current_object(self) -> ObjectView | None:
        if self.answer is None:
            return None
        return ObjectView(f"who can {self.answer.question()}", self.answer.to_json(),
                          "who-can-" + self.answer.question())
