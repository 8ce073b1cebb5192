"""Untrusted names from clusters, made safe to show: no markup parsing, no control characters."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.text import Text

# C0/C1 controls (newline included: one name is one line) and the invisible/bidi overrides.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def printable(value: object) -> str:
    """The value as one line of text, control and bidi characters shown as visible escapes."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", str(value))


def plain(value: object, style: str = "") -> Text:
    """A Text that renders the value literally (Rich markup in it is never interpreted)."""
    return Text(printable(value), style=style)


def multiline(value: object, style: str = "") -> Text:
    """Like plain, but keeps the value's line breaks (for reports and YAML)."""
    return Text("\n".join(printable(part) for part in str(value).split("\n")), style=style)


def line(*parts: object) -> Text:
    """One line from parts: a str is untrusted text, (value, style) styles it, a Text is kept as is."""
    out = Text()
    for part in parts:
        if isinstance(part, Text):
            out.append_text(part)
        elif isinstance(part, tuple) and len(part) == 2:
            out.append(printable(part[0]), style=str(part[1]))
        else:
            out.append(printable(part))
    return out


def lines(texts: Iterable[Text]) -> Text:
    """Texts joined by line breaks."""
    return Text("\n").join(texts)
