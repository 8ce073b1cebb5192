"""Shape checks on what an API server answered, before the fetcher reads into it.

A server, or a proxy in front of it, may answer with any JSON: a list where a List object
belongs, a number among the items, a string for a Table row. Reading into such a value would
raise deep inside the fetcher (and end the import with a traceback); these checks raise
MalformedAnswer naming the field instead, which fails that kind like any failed request.
Only what the fetcher itself reads is checked: an item's own fields go to the normalizer,
which records a bad one as an import error, as `import files` does.
"""

from __future__ import annotations

from typing import Any


class MalformedAnswer(ValueError):
    """A JSON value of the wrong type where the fetcher reads one; the message names the field."""


def json_type(value: Any) -> str:
    """How a JSON value reads in a message: "a JSON array", "null"."""
    if value is None:
        return "null"
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return f"a JSON {names.get(type(value), type(value).__name__)}"


def as_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedAnswer(f"{where} is {json_type(value)}, not an object")
    return value


def optional_object(value: Any, where: str) -> dict[str, Any]:
    """An object, or {} for a field left out (absent or null)."""
    return {} if value is None else as_object(value, where)


def optional_list(value: Any, where: str) -> list[Any]:
    """A list, or [] for a field left out (absent or null)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedAnswer(f"{where} is {json_type(value)}, not an array")
    return value


def objects(value: Any, where: str) -> list[dict[str, Any]]:
    """A list of objects (absent or null: none), e.g. a List's `items`."""
    return [as_object(item, f"{where}[{index}]") for index, item in enumerate(optional_list(value, where))]
