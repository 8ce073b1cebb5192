"""Snapshot tests of the main screens on the TUI fixture (fixed size, pinned times and sources).

The solver is stubbed (conftest.StubPaths): screenshots show the TUI, not the solver's current
wording. Update after an intended change with: pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from rbacmap.tui.app import RbacmapApp

SIZE = (120, 32)


async def _settle(pilot: Pilot[None]) -> None:
    for _ in range(2):  # workers start workers (summary, then lists, then paths)
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_dashboard(snap_compare: Any, tui_db: str, stub_paths: Any) -> None:
    assert snap_compare(RbacmapApp(tui_db, paths=stub_paths), terminal_size=SIZE, run_before=_settle)


def test_subject_detail(snap_compare: Any, tui_db: str, stub_paths: Any) -> None:
    async def open_alice(pilot: Pilot[None]) -> None:
        await _settle(pilot)
        await pilot.press("colon", *"subjects", "enter")
        await _settle(pilot)
        await pilot.press("slash", *"alice", "enter", "enter")
        await _settle(pilot)

    assert snap_compare(RbacmapApp(tui_db, paths=stub_paths), terminal_size=SIZE, run_before=open_alice)


def test_who_can(snap_compare: Any, tui_db: str, stub_paths: Any) -> None:
    async def ask(pilot: Pilot[None]) -> None:
        await _settle(pilot)
        await pilot.press("colon", *"who-can", "enter")
        await _settle(pilot)
        await pilot.press(*"create", "tab", *"pods/exec", "tab", *"payments", "enter")
        await _settle(pilot)

    assert snap_compare(RbacmapApp(tui_db, paths=stub_paths), terminal_size=SIZE, run_before=ask)


def test_role_detail(snap_compare: Any, tui_db: str, stub_paths: Any) -> None:
    async def open_role(pilot: Pilot[None]) -> None:
        await _settle(pilot)
        await pilot.press("colon", *"roles", "enter")
        await _settle(pilot)
        await pilot.press("slash", *"deployer", "enter", "enter")
        await _settle(pilot)

    assert snap_compare(RbacmapApp(tui_db, paths=stub_paths), terminal_size=SIZE, run_before=open_role)
