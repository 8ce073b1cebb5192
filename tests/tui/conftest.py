"""A small imported cluster for the TUI tests, with no timestamps or paths that would vary."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable, Static, Tree
from textual.widgets.tree import TreeNode

from rbacmap.importers.manifests import import_files
from rbacmap.store import Store


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests with asyncio.run (Pilot tests need no plugin beyond pytest)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**arguments))
    return True


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _fixture_files() -> list[str]:
    return [str(FIXTURES / "tui")]


def build_db(path: Path, files: list[str], cluster: str = "demo") -> str:
    """Import files into a fresh DB and pin the snapshot's time and source (snapshot tests show them)."""
    with Store(path) as store:
        import_files(store, files, cluster)
        store.conn.execute("UPDATE snapshots SET started_at = '2026-01-01T00:00:00+00:00', source = 'files: fixtures'")
    return str(path)


@pytest.fixture
def db_from() -> Any:
    return build_db


@pytest.fixture
def tui_db(tmp_path: Path) -> str:
    return build_db(tmp_path / "tui.db", _fixture_files())


class UI:
    """Drive the app with keys and read its widgets as plain text."""

    @staticmethod
    async def settle(app: App[None], pilot: Pilot[None]) -> None:
        """Let workers finish and their results reach the widgets."""
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
