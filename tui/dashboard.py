"""Dashboard: clusters and snapshots, object counts, incomplete-data warnings, top escalations."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import DataTable, Header, Static

from rbacmap.store import StoreError
from rbacmap.tui.base import ObjectView, RbacScreen
from rbacmap.tui.data import Dashboard, dashboard
from rbacmap.tui.fast_table import FastTable
from rbacmap.tui.features import FeatureUnavailable, PathView
from rbacmap.tui.key_bar import KeyBar
from rbacmap.tui.path_source import PathQuery
from rbacmap.tui.text import line, lines, plain


class DashboardScreen(RbacScreen):
    TITLE = "Dashboard"

    def __init__(self) -> None:
        super().__init__()
        self.summary: Dashboard | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="summary")
        yield Static(id="subject-count")
        yield Static(id="warnings")
        yield FastTable(id="clusters", cursor_type="row")
        yield Static(id="dangerous")
        yield Static(id="status")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one("#clusters", DataTable)
        table.add_columns("cluster", "snapshots", "latest")
        self.load()

    def on_screen_resume(self) -> None:
        if self.summary is not None and self.summary.snapshot.cluster != self.rbac_app.cluster:
            self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        session = self.rbac_app.session
        try:
            snapshot = session.snapshot(self.rbac_app.cluster_or_first())
            with session.store() as store:
                summary = dashboard(store, snapshot)
        except StoreError as exc:
            self.app.call_from_thread(self.set_status, str(exc), "red")
            return
        self.app.call_from_thread(self.show, summary)
        # Then build the lists every other screen filters, so jumping there is instant.
        data = session.data(snapshot.cluster)
        self.app.call_from_thread(self.show_subject_count, len(data.subjects))
        self.app.call_from_thread(self.rbac_app.prepare_screens)
        self.load_paths(snapshot.cluster, snapshot.id)

    @work(thread=True, exclusive=True, group="dashboard-paths")
    def load_paths(self, cluster: str, snapshot_id: int) -> None:
        """The solver can take seconds on a big snapshot: its answer arrives after everything else."""
        try:
            paths: list[PathView] | str = self.rbac_app.path_source.paths(
                self.rbac_app.db_path, PathQuery(snapshot_id, "cluster-admin", ""))
        except (FeatureUnavailable, StoreError) as exc:
            paths = str(exc)
        if self.summary is not None and self.summary.snapshot.cluster == cluster:
            self.app.call_from_thread(self.query_one("#dangerous", Static).update, self._dangerous(paths))

    def show(self, summary: Dashboard) -> None:
        self.summary = summary
        snapshot = summary.snapshot
        self.rbac_app.cluster = snapshot.cluster
        counts = ", ".join(f"{count} {kind}" for kind, count in snapshot.object_counts.items()) or "no objects"
        self.query_one("#summary", Static).update(lines([
            line(("Cluster ", "bold"), (snapshot.cluster, "bold cyan"),
                 f"  snapshot {snapshot.id} ({snapshot.status}) from {snapshot.source}"),
            line(f"taken {snapshot.started_at}"),
            line(counts),
        ]))
        self.query_one("#subject-count", Static).update(line(("counting subjects…", "italic")))
        warnings: list[Text] = []
        message = snapshot.incompleteness_warning()
        if message:
            warnings.append(line((f"⚠ {message}; answers may miss permissions", "bold yellow")))
        if snapshot.error_count:
            warnings.append(line((f"⚠ {snapshot.error_count} document(s) were rejected at import:", "yellow")))
            warnings += [line(("  " + error, "yellow")) for error in summary.import_errors]
        self.query_one("#warnings", Static).update(lines(warnings))
        table = self.query_one("#clusters", FastTable)
        table.clear()
        for cluster in summary.clusters:
            marker = "▶ " if cluster.name == snapshot.cluster else "  "
            table.add_row(plain(marker + cluster.name), str(cluster.snapshots), str(cluster.latest or "-"),
                          key=cluster.name)
        table.settle_dimensions()
        self.query_one("#dangerous", Static).update(line(("Subjects reaching cluster-admin: solving…", "italic")))
        self.set_status("enter on a cluster switches to it; : jumps to a screen; ? help")

    def show_subject_count(self, count: int) -> None:
        self.query_one("#subject-count", Static).update(line(f"{count} subjects"))

    @staticmethod
    def _dangerous(paths: list[PathView] | str) -> Text:
        title = line(("Subjects reaching cluster-admin", "bold"))
        if isinstance(paths, str):
            return lines([title, plain(paths, "italic")])
        counts: dict[str, int] = {}
        for path in paths:
            counts[path.subject] = counts.get(path.subject, 0) + 1
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:10]
        if not ranked:
            return lines([title, plain("none")])
        return lines([title, *(line(f"  {count:>3} path(s)  ", (name, "red")) for name, count in ranked)])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        name = event.row_key.value
        if name and name != self.rbac_app.cluster:
            self.rbac_app.cluster = name
            self.load()

    def current_object(self) -> ObjectView | None:
        if self.summary is None:
            return None
        snapshot = self.summary.snapshot
        return ObjectView(f"snapshot {snapshot.id} of {snapshot.cluster}", {
            "cluster": snapshot.cluster, "snapshot": snapshot.id, "source": snapshot.source,
            "object_counts": snapshot.object_counts, "incomplete_kinds": snapshot.incomplete_kinds,
            "import_errors": list(self.summary.import_errors),
        }, f"snapshot-{snapshot.id}")
