"""Where each item of a `kind: List` document starts, found only as far as an error needs it.

Parsing keeps no positions, so the line of a bad list item means reading the document's text
again. That must cost little next to the import itself, even for a 40 MB `kubectl get -o json`
dump: JSON is walked with the C JSON decoder, item by item (no tree of the whole document is
kept), YAML with parser events (no node tree); and both stop at the item asked for. Errors come in
document order, so one scan serves every bad item of a document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Iterator, Mapping
from typing import Any

import yaml

from rbacmap.normalize import ItemPath

try:  # libyaml is several times faster; fall back to the pure-Python parser.
    from yaml import CSafeLoader as YamlLoader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as YamlLoader  # type: ignore[assignment]

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")
# What a scan stops at: the text is not the JSON or YAML it was taken for (it parsed, so rarely).
_SCAN_ERRORS = (ValueError, IndexError, yaml.YAMLError)


class ItemStartLines(Mapping[ItemPath, int]):
    """Item path -> the line where that list item starts, scanning on only as far as a lookup needs."""

    def __init__(self, starts: Iterator[tuple[ItemPath, int]]) -> None:
        self._found: dict[ItemPath, int] = {}
        self._rest = starts

    def __getitem__(self, path: ItemPath) -> int:
        while path not in self._found and self._scan_one():
            pass
        return self._found[path]

    def __iter__(self) -> Iterator[ItemPath]:
        while self._scan_one():
            pass
        return iter(self._found)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def _scan_one(self) -> bool:
        try:
            path, line = next(self._rest)
        except (StopIteration, *_SCAN_ERRORS):
            self._rest = iter(())
            return False
        self._found.setdefault(path, line)
        return True


def list_item_lines(text: str | bytes, is_json: bool, first_line: int = 1) -> ItemStartLines:
    """The line (counting from `first_line`) where each list item of one document starts, found lazily."""
    if is_json:
        return ItemStartLines(_json_item_lines(text.decode() if isinstance(text, bytes) else text, first_line))
    return ItemStartLines(_yaml_item_lines(text, first_line))


def _json_item_lines(text: str, first_line: int) -> Iterator[tuple[ItemPath, int]]:
    line, counted_to = first_line, 0
    for path, offset in _json_object_items(text, _skip(text, 0), ()):
        line += text.count("\n", counted_to, offset)
        counted_to = offset
        yield path, line


def _json_object_items(text: str, pos: int, path: ItemPath) -> Iterator[tuple[ItemPath, int]]:
    """The items of the object at `pos` (its `items` array) and of lists among them, as (path, offset).

    Keys and other values are skipped by decoding them; each item is decoded on its own and
    dropped, so at most one item is held at a time."""
    if text[pos] != "{":
        return
    pos = _skip(text, pos + 1)
    while text[pos] != "}":
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos] != ":":
            raise ValueError(f"expected ':' at offset {pos}")
        pos = _skip(text, pos + 1)
        if key == "items" and text[pos] == "[":
            pos = yield from _json_array_items(text, pos, path)
        else:
            _, pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)


def _json_array_items(text: str, pos: int, path: ItemPath) -> Generator[tuple[ItemPath, int], None, int]:
    """Each element of the `items` array at `pos`; returns the offset after the array."""
    pos = _skip(text, pos + 1)
    index = 0
    while text[pos] != "]":
        item_path = (*path, index)
        yield item_path, pos
        item: Any
        item, end = _DECODER.raw_decode(text, pos)
        if isinstance(item, dict) and isinstance(item.get("items"), list):  # a list inside the list
            del item
            yield from _json_object_items(text, pos, item_path)
        pos = _skip(text, end)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
        index += 1
    return pos + 1


def _skip(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    return match.end() if match is not None else pos


class _Mapping:
    """An open mapping while reading events: the object it is (None if not a list's), its current key."""

    __slots__ = ("key", "key_next", "path")

    def __init__(self, path: ItemPath | None) -> None:
        self.path = path
        self.key: str | None = None
        self.key_next = True


class _Sequence:
    """An open sequence: the object whose `items` it is (None if it is not), the next item's index."""

    __slots__ = ("index", "items_of")

    def __init__(self, items_of: ItemPath | None) -> None:
        self.items_of, self.index = items_of, 0


def _yaml_item_lines(text: str | bytes, first_line: int) -> Iterator[tuple[ItemPath, int]]:
    """The same from the parser's events, keeping a stack of the open collections."""
    stack: list[_Mapping | _Sequence] = []
    for event in yaml.parse(text, Loader=YamlLoader):
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            stack.pop()
            if not stack:
                return
            continue
        if not isinstance(event, yaml.NodeEvent):
            continue
        # Which object this node is (if a list's), and whose `items` it is (if it is).
        object_path: ItemPath | None = () if not stack else None
        items_of: ItemPath | None = None
        parent = stack[-1] if stack else None
        if isinstance(parent, _Sequence) and parent.items_of is not None:
            object_path = (*parent.items_of, parent.index)
            parent.index += 1
            if event.start_mark is not None:  # the parser always sets it
                yield object_path, first_line + event.start_mark.line
        elif isinstance(parent, _Mapping) and parent.key_next:
            parent.key = event.value if isinstance(event, yaml.ScalarEvent) else None
            parent.key_next = False
        elif isinstance(parent, _Mapping):
            if parent.path is not None and parent.key == "items":
                items_of = parent.path
            parent.key_next = True
        if isinstance(event, yaml.MappingStartEvent):
            stack.append(_Mapping(object_path))
        elif isinstance(event, yaml.SequenceStartEvent):
            stack.append(_Sequence(items_of))
