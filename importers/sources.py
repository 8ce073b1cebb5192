"""Input paths as users give them: files, directories (walked recursively, sorted) and '-'."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path


def expand_paths(paths: Sequence[str], keep: Callable[[Path], bool] | None = None) -> Iterator[Path | str]:
    """Files in the given order; files inside directories in sorted order, filtered by `keep`.

    A file named explicitly is always yielded (so a typo still gets a clear read error);
    '-' stands for stdin.
    """
    for raw in paths:
        if raw == "-":
            yield "-"
            continue
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and (keep is None or keep(p)))
        else:
            yield path
