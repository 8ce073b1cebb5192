"""The `dump-info.txt` of an `import kube --save-dump`: what the dump lacks, for `import files` to read back.

A kind the live import could not read (403, or failed after retries) has no List file in the dump.
Its absence alone would make a re-import look complete, so the info file's `Kind: status` lines
are read back and such kinds are marked incomplete, as the live snapshot was. No kubernetes
client here: `import files` imports this module.
"""

from __future__ import annotations

import re
from pathlib import Path

INFO_FILE = "dump-info.txt"
# kube_fetch's FORBIDDEN and FAILED statuses; "not served" is no gap (the server has no such objects).
UNREAD_STATUSES = ("forbidden", "failed")
_UNREAD_LINE = re.compile(rf"^([A-Za-z0-9]+): (?:{'|'.join(UNREAD_STATUSES)})(?: \(.*)?$")


def unread_kinds(path: str | Path) -> list[str]:
    """The kinds a dump's info file says were not read, in its order."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    return [match.group(1) for match in map(_UNREAD_LINE.match, text.splitlines()) if match]


def info_files(given: str) -> list[Path]:
    """The dump info files among what `import files` was given: the file itself, or any inside a directory."""
    path = Path(given)
    if given == "-":
        return []
    if path.is_dir():
        return sorted(path.rglob(INFO_FILE))
    return [path] if path.name == INFO_FILE and path.is_file() else []
