"""TUI latency on the synthetic 1000-namespace cluster, headless (App.run_test), against the goals.

    python bench/bench_tui.py                 # 1000 namespaces
    python bench/bench_tui.py --quick         # 50 namespaces, for a smoke run
    python bench/bench_tui.py --repeat 5

Measures time to first screen (app start until the dashboard shows the snapshot summary) and
per-navigation latency (key press until the new screen shows its data): goals are < 1 s and
< 100 ms. Navigations run twice: while the solver works in its helper process (it competes
for the CPU), and after it finished. Each navigation prints wall-clock and the UI process's
CPU time (steadier on a shared machine). The escalation-path panels fill in later from their
own worker and are timed apart. Prints numbers and ratios; asserts nothing. The DB is cached
under bench/out/ (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Static, Tree

from rbacmap.importers.manifests import import_files
from rbacmap.store import Store
from rbacmap.tui.app import RbacmapApp
from rbacmap.tui.roles import RoleDetailScreen, RolesScreen
from rbacmap.tui.subjects import SubjectDetailScreen, SubjectsScreen
from rbacmap.tui.who_can import WhoCanScreen

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_cluster import cached_cluster  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
FIRST_SCREEN_GOAL = 1.0
NAVIGATION_GOAL = 0.100


def bench_db(namespaces: int) -> Path:
    path = OUT / f"tui-{namespaces}.db"
    if not path.exists():
        files = cached_cluster(namespaces)
        started = time.perf_counter()
        with Store(path) as store:
            import_files(store, [str(f) for f in files], "bench")
        print(f"imported {namespaces} namespaces in {time.perf_counter() - started:.1f} s -> {path}")
    Store(path).close()  # the TUI opens it read-only: apply any migration this rbacmap added since
    return path


async def until(pilot: Pilot[None], ready: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout
    while not ready():
        if time.perf_counter() > deadline:
            raise TimeoutError("screen never showed its data")
        await pilot.pause(0.001)


def filled(app: RbacmapApp, selector: str) -> Callable[[], bool]:
    def check() -> bool:
        widgets = list(app.screen.query(selector))
        if not widgets:
            return False
        widget = widgets[0]
        if isinstance(widget, DataTable):
            return widget.row_count > 0
        if isinstance(widget, Tree):
            return bool(widget.root.children)
        return isinstance(widget, Static) and bool(str(widget.render()).strip())

    return check


Timings = dict[str, list[float]]


async def one_run(db: Path, wall: Timings, cpu: Timings, *, solver_finished: bool) -> None:
    """Start the app and navigate; with `solver_finished`, only once the dashboard's solve is done."""
    app = RbacmapApp(str(db))
    started = time.perf_counter()
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, filled(app, "#summary"))
        wall["first screen (dashboard)"].append(time.perf_counter() - started)
        await until(pilot, lambda: "subjects" in str(app.screen.query_one("#subject-count", Static).render())
                    and "counting" not in str(app.screen.query_one("#subject-count", Static).render()))
        wall["snapshot lists built (async, after first screen)"].append(time.perf_counter() - started)
        # A person takes longer than this to read the dashboard and type `:subjects`.
        await until(pilot, lambda: app.screens_prepared)
        wall["main screens built (async, after lists)"].append(time.perf_counter() - started)

        def solver_done() -> bool:
            text = str(app.get_screen_stack("dashboard")[0].query_one("#dangerous", Static).render())
            return "solving" not in text and bool(text.strip())

        if solver_finished:
            await until(pilot, solver_done, timeout=600)
            wall["dashboard escalation panel (solver, async)"].append(time.perf_counter() - started)

        async def step(name: str, keys: list[str], ready: Callable[[], bool]) -> None:
            # Type all but the last key first: the latency that matters runs from the key that
            # triggers the navigation until the data shows (Pilot's own per-key waits excluded).
            # CPU time is this process's (UI thread and its workers), not the solver process's.
            if keys[:-1]:
                await pilot.press(*keys[:-1])
            begin, begin_cpu = time.perf_counter(), time.process_time()
            app.simulate_key(keys[-1])
            await until(pilot, ready)
            wall[name].append(time.perf_counter() - begin)
            cpu[name].append(time.process_time() - begin_cpu)

        await step(
            "jump to subjects list",
            ["colon", *"subjects", "enter"],
            lambda: isinstance(app.screen, SubjectsScreen) and filled(app, "#subjects")(),
        )
        await step(
            "open subject detail",
            ["enter"],
            lambda: isinstance(app.screen, SubjectDetailScreen) and filled(app, "#permissions")(),
        )
        await step("back to list", ["escape"], lambda: isinstance(app.screen, SubjectsScreen))
        await step(
            "jump to roles list",
            ["colon", *"roles", "enter"],
            lambda: isinstance(app.screen, RolesScreen) and filled(app, "#roles")(),
        )
        await step(
            "open role detail", ["enter"], lambda: isinstance(app.screen, RoleDetailScreen) and filled(app, "#rules")()
        )
        await step("jump to who-can", ["colon", *"who-can", "enter"], lambda: isinstance(app.screen, WhoCanScreen))
        await step(
            "who-can get secrets -n <ns>",
            [*"get", "tab", *"secrets", "tab", *"team-0500", "enter"],
            filled(app, "#answers"),
        )
        await step(
            "jump back to subjects (built)",
            ["colon", *"subjects", "enter"],
            lambda: isinstance(app.screen, SubjectsScreen) and filled(app, "#subjects")(),
        )


def report(title: str, wall: Timings, cpu: Timings) -> None:
    print(title)
    for name, values in wall.items():
        median = statistics.median(values)
        if name.startswith("first screen"):
            goal = f"goal < {FIRST_SCREEN_GOAL:.0f} s: {median / FIRST_SCREEN_GOAL:.2f}x of budget"
        elif "async" in name:
            goal = "(fills in after the first screen; no goal)"
        else:
            cpu_median = statistics.median(cpu[name])
            goal = (f"goal < {NAVIGATION_GOAL * 1000:.0f} ms: {median / NAVIGATION_GOAL:.2f}x of budget;"
                    f" cpu {cpu_median * 1000:6.1f} ms ({cpu_median / NAVIGATION_GOAL:.2f}x)")
        print(f"  {name:<50} {median * 1000:8.1f} ms   {goal}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="50 namespaces")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    namespaces = 50 if args.quick else args.namespaces
    db = bench_db(namespaces)
    for solver_finished in (False, True):
        wall: Timings = defaultdict(list)
        cpu: Timings = defaultdict(list)
        for _ in range(args.repeat):
            asyncio.run(one_run(db, wall, cpu, solver_finished=solver_finished))
        when = "after the solver finished" if solver_finished else "while the solver runs (helper process)"
        report(f"TUI on {namespaces} namespaces, {when}, median of {args.repeat} runs (headless run_test):",
               wall, cpu)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
