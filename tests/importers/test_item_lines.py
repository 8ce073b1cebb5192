"""Where list items start: JSON and YAML agree, the scan stops where asked, and holds one item at a time."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
import yaml

from rbacmap.importers.item_lines import list_item_lines

# `kind: List` holding a typed list, a List of Lists and two items that are no objects.
NESTED_LIST = {
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {"kind": "Namespace", "metadata": {"name": "a"}},
        {"kind": "ServiceAccountList", "items": [{"metadata": {"name": "s1"}}, {"metadata": {"name": "s2"}}]},
        {"kind": "List", "items": [{"kind": "List", "items": [{"kind": "Namespace", "metadata": {"name": "b"}}]}]},
        "not an object",
        [1, 2],
        {"kind": "Namespace", "metadata": {"name": "c"}, "items": "not a list"},
    ],
}
PATHS = [(0,), (1,), (1, 0), (1, 1), (2,), (2, 0), (2, 0, 0), (3,), (4,), (5,)]


@pytest.mark.parametrize("indent", [None, 2, 4])
def test_json_items_at_any_depth_are_placed(indent: int | None) -> None:
    text = json.dumps(NESTED_LIST, indent=indent)
    lines = list_item_lines(text.encode(), True, first_line=10)
    assert dict(lines) == {path: _item_line(text, path) + 9 for path in PATHS}


def _item_line(text: str, path: tuple[int, ...]) -> int:
    """Where yaml.compose (which keeps positions, at a cost) says the item starts: the reference."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    for index in path:
        items = next(value for key, value in node.value if key.value == "items")
        node = items.value[index]
    return int(node.start_mark.line) + 1


@pytest.mark.parametrize("flow", [False, True])
def test_yaml_items_at_any_depth_are_placed_as_composing_would(flow: bool) -> None:
    text = yaml.safe_dump(NESTED_LIST, default_flow_style=flow, width=60)
    lines = list_item_lines(text, False, first_line=3)
    assert dict(lines) == {path: _item_line(text, path) + 2 for path in PATHS}


def test_the_fixture_lists_bad_items_are_placed(fixtures_dir: Path) -> None:
    text = (fixtures_dir / "core" / "list-bad-items.yaml").read_text()
    lines = list_item_lines(text, False)
    assert [lines[path] for path in [(1,), (2,), (3,), (3, 1)]] == [8, 13, 16, 20]


def test_the_scan_stops_at_the_item_asked_for() -> None:
    # The text breaks inside the third item: the items up to it are placed, the ones after it are not.
    text = '{"kind": "List", "items": [\n{"kind": "A"},\n{"kind": "B"},\n{"kind": "C",,},\n{"kind": "D"}]}'
    for is_json in (True, False):
        lines = list_item_lines(text, is_json)
        assert (lines[(0,)], lines[(1,)], lines[(2,)]) == (2, 3, 4)
        assert lines.get((3,)) is None


def test_placing_an_item_of_a_big_json_list_holds_one_item_at_a_time() -> None:
    items = [{"kind": "Role", "metadata": {"name": f"r{index}", "namespace": "ns", "labels": {"a": "b"}},
              "rules": [{"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get", "list"]}]}
             for index in range(3000)]
    raw = json.dumps({"kind": "List", "items": items}, indent=4).encode()
    del items
    tracemalloc.start()
    try:
        line = list_item_lines(raw, True)[(2999,)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert raw.decode().splitlines()[line - 1].strip() == "{"
    assert raw.decode().splitlines()[line + 1].strip() == '"metadata": {'
    # The decoded text and one item; a tree of the whole document would be many times the text.
    assert peak < 3 * len(raw)
