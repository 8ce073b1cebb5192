"""A small imported cluster for the TUI tests, with no timestamps or paths that would vary."""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
from pathlib import Path
from typing import Any, cast

import pytest
from rich.text import Text
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable, Static, Tree
from textual.widgets.tree import TreeNode

from rbacmap.importers.audit import import_audit
from rbacmap.importers.manifests import import_files
from rbacmap.store import Store
from rbacmap.tui.app import RbacmapApp
from rbacmap.tui.features import PathView
from rbacmap.tui.path_source import InProcessPaths, PathQuery


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests with asyncio.run (Pilot tests need no plugin beyond pytest)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**arguments))
    return True


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def build_db(path: Path, files: list[str], cluster: str = "demo", audit: tuple[str, ...] = ()) -> str:
    """Import files (and audit logs) into a fresh DB; pin the snapshot's time and source (snapshots show them)."""
    with Store(path) as store:
        import_files(store, files, cluster)
        if audit:
            import_audit(store, list(audit), cluster)
        store.conn.execute("UPDATE snapshots SET started_at = '2026-01-01T00:00:00+00:00', source = 'files: fixtures'")
    return str(path)


@pytest.fixture
def db_from() -> Any:
    return build_db


@pytest.fixture(scope="session")
def db_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each fixture cluster imported once per session; tests get a copy (a test may change its DB)."""
    folder = tmp_path_factory.mktemp("tui-templates")
    return {
        "demo": Path(build_db(folder / "demo.db", [str(FIXTURES / "tui")])),
        # The offboarding fixture (with its audit log): trims and offboarding have data to show.
        "acme": Path(build_db(folder / "acme.db", [str(FIXTURES / "offboard" / "cluster")], "prod-eks",
                              (str(FIXTURES / "offboard" / "audit.jsonl"),))),
    }


def _copy(template: Path, target: Path) -> str:
    shutil.copyfile(template, target)  # Store.close checkpoints the WAL: the .db file is complete
    os.chmod(target, 0o600)
    return str(target)


@pytest.fixture
def tui_db(tmp_path: Path, db_templates: dict[str, Path]) -> str:
    return _copy(db_templates["demo"], tmp_path / "tui.db")


@pytest.fixture
def acme_db(tmp_path: Path, db_templates: dict[str, Path]) -> str:
    return _copy(db_templates["acme"], tmp_path / "acme.db")


class StubPaths:
    """Escalation paths for snapshot tests: fixed, so screenshots do not depend on solver internals."""

    def paths(self, db_path: str, query: PathQuery) -> list[PathView]:
        step = "User alice@example.com can create pods/exec in payments (stub)"
        return [PathView("User alice@example.com", "cluster-admin", (step,), {"stub": True})]

    def close(self) -> None:
        return None


@pytest.fixture
def stub_paths() -> StubPaths:
    return StubPaths()


class UI:
    """Drive the app with keys and read its widgets as plain text."""

    @staticmethod
    def app(db_path: str, *, solver: bool = False) -> RbacmapApp:
        """The app on a test DB; the solver runs in-thread when a test reads paths, else it is stubbed."""
        return RbacmapApp(db_path, paths=InProcessPaths() if solver else StubPaths())

    @staticmethod
    async def jump(app: App[None], pilot: Pilot[None], screen: str) -> None:
        """Switch screens as `:` does (typing `:` is tested once; typing every name is slow)."""
        cast(RbacmapApp, app).jump(screen)
        await UI.settle(app, pilot)

    @staticmethod
    async def settle(app: App[None], pilot: Pilot[None]) -> None:
        """Let workers finish (and the workers they start) and their results reach the widgets."""
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()

    @staticmethod
    async def press(app: App[None], pilot: Pilot[None], *keys: str) -> None:
        await pilot.press(*keys)
        await UI.settle(app, pilot)

    @staticmethod
    def static_text(app: App[None], selector: str) -> str:
        return str(app.screen.query_one(selector, Static).render())

    @staticmethod
    def table_rows(app: App[None], selector: str) -> list[list[str]]:
        table = app.screen.query_one(selector, DataTable)
        return [
            [cell.plain if isinstance(cell, Text) else str(cell) for cell in table.get_row_at(index)]
            for index in range(table.row_count)
        ]

    @staticmethod
    def tree_lines(app: App[None], selector: str) -> list[str]:
        tree: Tree[object] = app.screen.query_one(selector, Tree)
        out: list[str] = []

        def walk(node: TreeNode[object], depth: int) -> None:
            label = node.label
            out.append("  " * depth + (label.plain if isinstance(label, Text) else str(label)))
            for child in node.children:
                walk(child, depth + 1)

        walk(tree.root, 0)
        return out


@pytest.fixture
def ui() -> type[UI]:
    return UI
