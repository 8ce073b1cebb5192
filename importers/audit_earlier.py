"""Requests counted by earlier imports of a cluster, by auditID: importing a log again counts nothing twice.

Every import records the auditIDs it counted in `audit_request_ids` (cluster, audit_id, import_id):
only the IDs, one short row per request, kept a few days (below). Before counting a request, an import
asks whether an earlier import of the cluster counted its auditID; the stages of one request
share that ID, so a request counted from one stage is found by any other.

Asking costs an index probe, so it is asked only for requests dated within the time span of
the cluster's earlier imports, widened by `MARGIN`: logs that do not overlap the ones already
imported (the usual case, the next day's logs) are read at full speed. The margin covers a
request whose stages straddle the cut between two rotated files, counted from its first stage
in one import and seen at its final stage in the next.

The IDs are kept for `KEEP_IDS` only: each row names the import that counted it, and at the end of
every import (`prune_counted`) the IDs of the cluster's imports whose window ended more than
`KEEP_IDS` before the cluster's newest window end are deleted, those imports marked `ids_pruned`.
So the store holds a few days of IDs, not every request ever imported. A pruned import still
protects its own window: a dated request inside the window of a pruned import is taken as already
imported, without asking for its ID. Each pruned import's window counts on its own, so
re-importing an old log counts nothing, while a log that fills a gap between windows counts.

Limits: a log that covers the same time as a pruned import but holds other requests (a second
API server's log, imported more than `KEEP_IDS` after the first) is skipped, as a re-import is;
an undated request is protected only while its import's IDs are kept; a request whose stages
straddle the cut between two rotated files may be counted again if a pruned file is re-imported
(its final stage can fall just outside either window).
"""

from __future__ import annotations

import bisect
import json
import os
import sqlite3
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from rbacmap.usage import parse_time, readable_time, stored_window, utc_text

# Longer than the stages of one request are apart: a watch ends within twice the API server's
# --min-request-timeout (30 minutes by default).
MARGIN = timedelta(hours=2)
# How long, behind the newest log imported, the auditIDs of a cluster's imports are kept. Longer than
# rotated files or exports of one log overlap, or arrive late, in the usual course of things.
KEEP_IDS = timedelta(days=2)

# Rows are inserted in json_each's order, which is the order of the (sorted) batch.
_RECORD = ("INSERT OR IGNORE INTO audit_request_ids (cluster, audit_id, import_id)"
           " SELECT ?1, value, ?3 FROM json_each(?2)")
_LOOKUP = "SELECT 1 FROM audit_request_ids WHERE cluster = ? AND audit_id = ?"
_TEXT_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
_EVER = ("0", "9")  # a span that holds every timestamp text


@dataclass
class EarlierImports:
    """What earlier imports of `cluster` counted: auditIDs looked up within their widened time span, and the
    windows of the imports whose IDs were pruned.

    `start`..`end` is that span as RFC 3339 text, compared as text with request timestamps as
    the usage tables do; both '' when no earlier import has a dated request. `recorded`: whether
    any earlier import's IDs are kept (none were before migration 18). `pruned_starts` and
    `pruned_ends`: the pruned imports' windows, merged where they overlap, in order.
    """

    conn: sqlite3.Connection
    cluster: str
    recorded: bool
    start: str = ""
    end: str = ""
    pruned_starts: tuple[str, ...] = ()
    pruned_ends: tuple[str, ...] = ()

    @classmethod
    def load(cls, conn: sqlite3.Connection, cluster: str) -> EarlierImports:
        """Read at the start of an import, before it records anything."""
        starts, ends = _pruned_windows(conn, cluster)
        recorded = conn.execute("SELECT 1 FROM audit_request_ids WHERE cluster = ? LIMIT 1", (cluster,)).fetchone()
        if recorded is None:
            return cls(conn, cluster, False, pruned_starts=starts, pruned_ends=ends)
        first, last, readable = stored_window(conn, cluster)
        if not first or not last or not readable:
            # An import whose window cannot be read (stored before imports checked timestamps) may have
            # counted a request of any time: every dated request is looked up.
            return cls(conn, cluster, True, "" if readable else _EVER[0], "" if readable else _EVER[1], starts, ends)
        return cls(conn, cluster, True, (parse_time(first) - MARGIN).strftime(_TEXT_TIME),
                   (parse_time(last) + MARGIN).strftime(_TEXT_TIME), starts, ends)

    def reopened(self, store_path: str) -> EarlierImports:
        """The same, through a read-only connection of its own (a forked worker must not share its parent's)."""
        uri = "file:" + urllib.parse.quote(os.path.abspath(store_path)) + "?mode=ro"
        return replace(self, conn=sqlite3.connect(uri, uri=True))

    @property
    def pruned_end(self) -> str:
        """The end of the last pruned window ('' when none): later requests need no `in_pruned_window`."""
        return self.pruned_ends[-1] if self.pruned_ends else ""

    def in_pruned_window(self, timestamp: str) -> bool:
        """Whether a dated request falls inside the window of an import whose IDs were pruned."""
        index = bisect.bisect_right(self.pruned_starts, timestamp) - 1
        return index >= 0 and timestamp <= self.pruned_ends[index]

    def counted(self, audit_id: str, timestamp: str) -> bool:
        """Whether an earlier import counted the request (an undated one is always looked up)."""
        if timestamp and timestamp <= self.pruned_end and self.in_pruned_window(timestamp):
            return True
        if not self.recorded or (timestamp and not self.start <= timestamp <= self.end):
            return False
        return self.holds(audit_id)

    def holds(self, audit_id: str) -> bool:
        """Whether an earlier import (or this one, in an earlier generation) recorded the auditID."""
        return self.conn.execute(_LOOKUP, (self.cluster, audit_id)).fetchone() is not None


def _pruned_windows(conn: sqlite3.Connection, cluster: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The windows of the cluster's imports whose IDs were pruned, merged where they overlap (starts, ends)."""
    windows = sorted(
        (utc_text(start), utc_text(end)) for start, end in conn.execute(
            "SELECT window_start, window_end FROM audit_imports WHERE cluster = ? AND ids_pruned", (cluster,))
        if readable_time(start) is not None and readable_time(end) is not None  # pruned only when readable
    )
    merged: list[list[str]] = []
    for start, end in windows:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple(start for start, _ in merged), tuple(end for _, end in merged)


def record_counted(conn: sqlite3.Connection, cluster: str, import_id: int, audit_ids: Iterable[str]) -> None:
    """Remember auditIDs import `import_id` counted.

    One statement per batch, the IDs bound as one JSON array: a bound row per ID through
    `executemany` costs twice as much. Sorted, so neighbouring inserts touch neighbouring pages.
    """
    batch = sorted(audit_ids)
    if batch:
        conn.execute(_RECORD, (cluster, json.dumps(batch), import_id))


def prune_counted(conn: sqlite3.Connection, cluster: str, import_id: int, window: tuple[str | None, str | None]
                  ) -> list[int]:
    """Delete the IDs of the cluster's imports whose window ended `KEEP_IDS` before its newest window end, and
    mark those imports `ids_pruned`; returns their ids.

    Run at the end of import `import_id`, whose row does not hold its `window` yet (so an import of an old log
    is pruned at once). The newest window end counts up to the present only. An import whose window cannot be
    read keeps its IDs: its window could not stand in.
    """
    imports = {row[0]: (row[1], row[2]) for row in conn.execute(
        "SELECT id, window_start, window_end FROM audit_imports WHERE cluster = ? AND NOT ids_pruned", (cluster,))}
    imports[import_id] = window
    newest = max(filter(None, (readable_time(end) for (end,) in conn.execute(
        "SELECT window_end FROM audit_imports WHERE cluster = ? AND id != ?", (cluster, import_id)))),
        default=None)
    current_end = readable_time(window[1])
    if current_end is not None and (newest is None or current_end > newest):
        newest = current_end
    if newest is None:
        return []
    # A log dated in the future (a node's clock, a bad line) must not prune the IDs of today's imports.
    newest = min(newest, datetime.now(UTC))
    stale = sorted(
        number for number, (start, end) in imports.items()
        if readable_time(start) is not None and (ended := readable_time(end)) is not None
        and ended < newest - KEEP_IDS
    )
    if stale:
        numbers = json.dumps(stale)
        # No index on import_id: the table holds a few days of IDs, and one scan per import is cheaper than
        # keeping an index of every ID.
        conn.execute("DELETE FROM audit_request_ids WHERE cluster = ? AND import_id IN"
                     " (SELECT value FROM json_each(?))", (cluster, numbers))
        conn.execute("UPDATE audit_imports SET ids_pruned = 1 WHERE id IN (SELECT value FROM json_each(?))",
                     (numbers,))
    return stale
