"""Requests counted by earlier imports of a cluster, by auditID: importing a log again counts nothing twice.

Every import records the auditIDs it counted in `audit_request_ids` (cluster, audit_id): only
the IDs, so the store grows by one short row per request. Before counting a request, an import
asks whether an earlier import of the cluster counted its auditID; the stages of one request
share that ID, so a request counted from one stage is found by any other.

Asking costs an index probe, so it is asked only for requests dated within the time span of
the cluster's earlier imports, widened by `MARGIN`: logs that do not overlap the ones already
imported (the usual case, the next day's logs) are read at full speed. The margin covers a
request whose stages straddle the cut between two rotated files, counted from its first stage
in one import and seen at its final stage in the next.
"""

from __future__ import annotations

import json
import os
import sqlite3
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from rbacmap.usage import parse_time, stored_window

# Longer than the stages of one request are apart: a watch ends within twice the API server's
# --min-request-timeout (30 minutes by default).
MARGIN = timedelta(hours=2)

# Rows are inserted in json_each's order, which is the order of the (sorted) batch.
_RECORD = "INSERT OR IGNORE INTO audit_request_ids (cluster, audit_id) SELECT ?1, value FROM json_each(?2)"
_LOOKUP = "SELECT 1 FROM audit_request_ids WHERE cluster = ? AND audit_id = ?"
_TEXT_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
_EVER = ("0", "9")  # a span that holds every timestamp text


@dataclass
class EarlierImports:
    """The auditIDs earlier imports of `cluster` counted, looked up within their widened time span.

    `start`..`end` is that span as RFC 3339 text, compared as text with request timestamps as
    the usage tables do; both '' when no earlier import has a dated request. `recorded`: whether
    any earlier import recorded an ID (none did before migration 18).
    """

    conn: sqlite3.Connection
    cluster: str
    recorded: bool
    start: str = ""
    end: str = ""

    @classmethod
    def load(cls, conn: sqlite3.Connection, cluster: str) -> EarlierImports:
        """Read at the start of an import, before it records anything."""
        recorded = conn.execute("SELECT 1 FROM audit_request_ids WHERE cluster = ? LIMIT 1", (cluster,)).fetchone()
        if recorded is None:
            return cls(conn, cluster, False)
        first, last, readable = stored_window(conn, cluster)
        if not first or not last or not readable:
            # An import whose window cannot be read (stored before imports checked timestamps) may have
            # counted a request of any time: every dated request is looked up.
            return cls(conn, cluster, True, "" if readable else _EVER[0], "" if readable else _EVER[1])
        return cls(conn, cluster, True, (parse_time(first) - MARGIN).strftime(_TEXT_TIME),
                   (parse_time(last) + MARGIN).strftime(_TEXT_TIME))

    def reopened(self, store_path: str) -> EarlierImports:
        """The same, through a read-only connection of its own (a forked worker must not share its parent's)."""
        uri = "file:" + urllib.parse.quote(os.path.abspath(store_path)) + "?mode=ro"
        return EarlierImports(sqlite3.connect(uri, uri=True), self.cluster, self.recorded, self.start, self.end)

    def counted(self, audit_id: str, timestamp: str) -> bool:
        """Whether an earlier import counted the request (an undated one is always looked up)."""
        if not self.recorded or (timestamp and not self.start <= timestamp <= self.end):
            return False
        return self.holds(audit_id)

    def holds(self, audit_id: str) -> bool:
        """Whether an earlier import (or this one, in an earlier generation) recorded the auditID."""
        return self.conn.execute(_LOOKUP, (self.cluster, audit_id)).fetchone() is not None


def record_counted(conn: sqlite3.Connection, cluster: str, audit_ids: Iterable[str]) -> None:
    """Remember auditIDs this import counted.

    One statement per batch, the IDs bound as one JSON array: a bound row per ID through
    `executemany` costs twice as much. Sorted, so neighbouring inserts touch neighbouring pages.
    """
    batch = sorted(audit_ids)
    if batch:
        conn.execute(_RECORD, (cluster, json.dumps(batch)))
