"""Offboarding: type a person's identifiers, read the report, export the fix (as `rbacmap offboard`)."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Header, Input, Static

from rbacmap.offboard_identity import parse_groups
from rbacmap.offboard_report import ClusterReport, PersonReport
from rbacmap.store import StoreError
from rbacmap.tui.base import ObjectView, RbacScreen
from rbacmap.tui.features import FeatureUnavailable, OffboardResult, offboard_person
from rbacmap.tui.key_bar import KeyBar
from rbacmap.tui.text import line, lines


class OffboardScreen(RbacScreen):
    TITLE = "Offboarding"
    AUTO_FOCUS = "#identifiers"  # focused before the first paint (a later focus() redraws)

    def __init__(self) -> None:
        super().__init__()
        self.result: OffboardResult | None = None
        # The check being run (identifiers), or None; a newer check makes an older one's answer stale.
        self.checking: str | None = None
        self.generation = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="a person's identifiers, comma separated (alice@example.com, arn:aws:iam::…)",
                    id="identifiers")
        yield Input(placeholder="groups the identity provider puts them in, comma separated (as --group)",
                    id="groups")
        with VerticalScroll():
            yield Static(id="report")
        yield Static(id="status")
        yield KeyBar()

    def on_mount(self) -> None:
        self.set_status("enter runs the report; e exports the fix")

    def action_filter(self) -> None:
        self.query_one("#identifiers", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        identifiers = self.query_one("#identifiers", Input).value
        if not identifiers.strip():
            self.query_one("#identifiers", Input).focus()
            return
        groups = parse_groups(self.query_one("#groups", Input).value)
        # The shown report is the previous person's: nothing is exported until the new one replaces it.
        self.checking = identifiers.strip()
        self.generation += 1
        self.set_status(f"checking {self.checking}…", "italic")
        self.load(identifiers, groups, self.generation)

    @work(thread=True, exclusive=True)
    def load(self, identifiers: str, groups: tuple[str, ...], generation: int) -> None:
        try:
            cluster = self.rbac_app.session.snapshot(self.rbac_app.cluster).cluster
            with self.rbac_app.session.store() as store:
                result: OffboardResult | str = offboard_person(store, cluster, identifiers, groups)
        except (FeatureUnavailable, StoreError) as exc:
            result = str(exc)
        self.app.call_from_thread(self.show, result, generation)

    def show(self, result: OffboardResult | str, generation: int | None = None) -> None:
        if generation is not None and generation != self.generation:
            return  # an older check finishing after a newer one was started
        self.checking = None
        if isinstance(result, str):
            self.result = None
            self.query_one("#report", Static).update("")
            self.set_status(result, "yellow")
            return
        self.result = result
        self.query_one("#report", Static).update(lines([report_text(report) for report in result.people]))
        verdict = "ACCESS REMAINS" if result.remains else "nothing remains"
        self.set_status(f"{verdict}; e exports the fix (YAML and commands to review)",
                        "bold red" if result.remains else "green")
        self.query_one(VerticalScroll).focus()

    def action_export(self) -> None:
        if self.checking is not None:
            self.set_status(f"the check of {self.checking} is still running: nothing exported; press e once its "
                            "report is shown", "yellow")
            return
        super().action_export()

    def current_object(self) -> ObjectView | None:
        # While a check runs, the report on screen is no longer the one asked for: no copy, view or export of it.
        if self.result is None or self.checking is not None:
            return None
        label = self.result.people[0].person.label if self.result.people else "person"
        return ObjectView("offboarding fix", self.result.fix_yaml, f"offboard-fix-{label}")


def report_text(report: PersonReport) -> Text:
    """The report as `rbacmap offboard` prints it: identities, findings with fixes, what still works."""
    person = report.person
    out = [line((f"== {person.label} ({', '.join(person.identifiers)}): ", "bold"),
                ("ACCESS REMAINS", "bold red") if report.remains else ("nothing remains", "green"))]
    for cluster in report.clusters:
        out += _cluster_lines(cluster)
    return lines(out)


def _cluster_lines(cluster: ClusterReport) -> list[Text]:
    out = [line((f"-- cluster {cluster.cluster} (snapshot {cluster.snapshot_id})", "bold"))]
    out += [line((f"⚠ {warning}", "yellow")) for warning in cluster.warnings]
    out.append(line(("identities:", "bold")))
    for identity in cluster.identities:
        groups = f" groups {', '.join(identity.groups)}" if identity.groups else ""
        shared = (" (shared with others: the fix leaves its bindings)", "yellow") if identity.shared else ""
        out.append(line("  ", identity.username or "<any session>", groups, shared, (f"  <- {identity.via}", "dim")))
    if cluster.findings:
        out.append(line(("findings:", "bold")))
    for finding in cluster.findings:
        where = finding.location.logical_name() if finding.location else "-"
        out.append(line("  ", (finding.type + ("" if finding.remains else " (info)"), "red" if finding.remains else ""),
                        f"  {where}: {finding.message}"))
        if finding.remediation:
            out.append(line(("    -> " + finding.remediation, "cyan")))
    if cluster.permissions:
        out.append(line(("can still do:", "bold")))
        current = None
        for permission in cluster.permissions:
            scope = permission.scope or "cluster-wide"
            if scope != current:
                out.append(line(("  " + scope + ":", "magenta")))
                current = scope
            out.append(line(f"    {permission.rule}", (f"  via {permission.granted_by}", "dim")))
    skipped = [name for name, used in cluster.sources.items() if not used]
    if skipped:
        out.append(line((f"sources not available: {', '.join(skipped)}", "italic")))
    return out
