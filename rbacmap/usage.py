"""Observed API usage from audit logs: the in-memory aggregate, its SQLite upsert, and queries.

Usage rows are keyed by cluster (not by snapshot): an audit log is a record of requests over
a time window. Each import aggregates requests in memory and merges them into the stored
rows (count added, first/last seen widened), so importing more logs only refines the picture.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NamedTuple

from rbacmap.model import NonResourceRequest, Request, ResourceRequest
from rbacmap.store import Store, utc_now
from rbacmap.usage_key import WIDEN_SEEN, rehome_displaced_rows, upsert_usage, usage_rows

# (acting user, verb, apiGroup, resource, subresource, namespace, name, nonResourceURL, decision)
UsageKey = tuple[str, str, str, str, str, str, str, str, str]

DEFAULT_FLUSH_KEYS = 50_000  # bounds the aggregate at roughly 50 MB
IMPORT_PAGE_CACHE_KIB = 64 * 1024


class Observation(NamedTuple):
    """One audit record of one request (a request may be logged at several stages)."""

    audit_id: str
    final: bool  # ResponseComplete/Panic: the stage to prefer when a request has several
    key: UsageKey
    timestamp: str
    groups: tuple[str, ...]
    impersonator: str
    # The checks the impersonator passed for this request (`impersonate users/groups/...`), each a UsageKey of
    # the impersonator's own, and its groups: its role granted them, so they are its usage (see audit_formats).
    impersonation: tuple[UsageKey, ...] = ()
    impersonator_groups: tuple[str, ...] = ()

GROUPS_UPSERT = f"""
INSERT INTO audit_user_groups (cluster, username, group_name, count, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (cluster, username, group_name) DO UPDATE SET {WIDEN_SEEN}
"""
IMPERSONATION_UPSERT = f"""
INSERT INTO audit_impersonations (cluster, impersonator, username, count, first_seen, last_seen)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (cluster, impersonator, username) DO UPDATE SET {WIDEN_SEEN}
"""


@dataclass(frozen=True)
class AuditImportError:
    source: str
    line: int | None
    message: str

    def describe(self) -> str:
        return f"{self.source}" + (f" line {self.line}" if self.line is not None else "") + f": {self.message}"


# A UsageKey plus the groups the user was seen with: groups ride along with the request so that
# one dict update per request counts both (`flush` splits them into the two tables).
AggregateKey = tuple[str, str, str, str, str, str, str, str, str, tuple[str, ...]]


@dataclass
class UsageAggregator:
    """Counts requests per UsageKey (and groups) in memory; `flush` merges them into the store and empties it.

    Entries are [count, first_seen, last_seen]; timestamps are RFC 3339 strings, compared as
    text (all sources write UTC with a `Z`), which keeps the hot path free of date parsing.
    """

    conn: sqlite3.Connection
    cluster: str
    flush_keys: int = DEFAULT_FLUSH_KEYS
    usage: dict[AggregateKey, list[Any]] = field(default_factory=dict)
    impersonations: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    # Requests and time window of the entries already flushed; the live entries are added on reading,
    # so counting a request costs one dict update and nothing else (see audit_lines' hot loop).
    _flushed_requests: int = 0
    # Entries of `usage` that are impersonation checks, not requests of their own (left out of `requests`).
    _checks: int = 0
    _flushed_window: tuple[str | None, str | None] = (None, None)

    def add(self, observation: Observation) -> None:
        """Count one request (call once per request, not per stage)."""
        _, _, key, timestamp, groups, impersonator, checks, impersonator_groups = observation
        seen = [1, timestamp, timestamp]  # one request; '' (undated) never becomes first_seen: see merge_entry
        merge_entry(self.usage, (*key, groups), seen)
        if impersonator:
            merge_entry(self.impersonations, (impersonator, key[0]), seen)
            for check in checks:
                merge_entry(self.usage, (*check, impersonator_groups), seen)
            self._checks += len(checks)
        if len(self.usage) >= self.flush_keys:
            self.flush()

    def add_flushed(self, requests: int, start: str | None, end: str | None) -> None:
        """Count requests (and their time window) that were stored by someone else, e.g. a worker's spool."""
        self._flushed_requests += requests
        self._flushed_window = (_earliest([self._flushed_window[0], start]), _latest([self._flushed_window[1], end]))

    @property
    def requests(self) -> int:
        return self._flushed_requests + int(sum(entry[0] for entry in self.usage.values())) - self._checks

    @property
    def window_start(self) -> str | None:
        return _earliest([self._flushed_window[0], *(entry[1] for entry in self.usage.values())])

    @property
    def window_end(self) -> str | None:
        return _latest([self._flushed_window[1], *(entry[2] for entry in self.usage.values())])

    def flush(self) -> None:
        self._flushed_requests = self.requests
        self._flushed_window = (self.window_start, self.window_end)
        self._checks = 0
        conn = self.conn
        cluster = self.cluster
        upsert_usage(conn, usage_rows(conn, cluster, self.usage))  # keyed by key_hash: see usage_key.py
        # Per (user, group set) first: few of those, against one entry per usage key.
        per_group_set: dict[tuple[str, tuple[str, ...]], list[Any]] = {}
        for key, entry in self.usage.items():
            merge_entry(per_group_set, (key[0], key[9]), entry)
        per_group: dict[tuple[str, str], list[Any]] = {}
        for (username, groups), entry in per_group_set.items():
            for group in groups:
                merge_entry(per_group, (username, group), entry)
        conn.executemany(GROUPS_UPSERT, ((cluster, *k, *v) for k, v in per_group.items()))
        conn.executemany(IMPERSONATION_UPSERT, ((cluster, *k, *v) for k, v in self.impersonations.items()))
        self.usage.clear()
        self.impersonations.clear()


def merge_entry(table: dict[Any, list[Any]], key: Any, entry: list[Any]) -> None:
    """Add [count, first, last] into the table's entry for key ('' is no timestamp: never the earliest)."""
    found = table.get(key)
    if found is None:
        table[key] = list(entry)
        return
    found[0] += entry[0]
    if entry[1] and (not found[1] or entry[1] < found[1]):
        found[1] = entry[1]
    found[2] = max(found[2], entry[2])


def _earliest(timestamps: list[str | None]) -> str | None:
    """The earliest of the timestamps that are not missing (None or "")."""
    return min(filter(None, timestamps), default=None)


def _latest(timestamps: list[str | None]) -> str | None:
    return max(filter(None, timestamps), default=None)


@dataclass
class UsageImport:
    """One audit import: its row in audit_imports, its aggregator and its errors, in one transaction."""

    aggregator: UsageAggregator
    import_id: int
    lines: int = 0
    events: int = 0
    already_imported: int = 0  # requests not counted: an earlier import of the cluster counted them (auditID)
    without_audit_id: int = 0  # requests counted with no auditID to tell whether an earlier import did
    errors: list[AuditImportError] = field(default_factory=list)
    # Run once the transaction has ended (committed or rolled back), e.g. to detach a spool database,
    # which SQLite refuses while the transaction still holds a lock on it.
    after_transaction: list[Callable[[], None]] = field(default_factory=list)

    def error(self, source: str, line: int | None, message: str) -> None:
        self.errors.append(AuditImportError(source, line, message))


@contextmanager
def write_usage(
    store: Store, cluster: str, source: str, fmt: str, flush_keys: int = DEFAULT_FLUSH_KEYS
) -> Iterator[UsageImport]:
    """Import usage in one transaction: on any exception nothing of this import is stored."""
    conn = store.conn
    started = utc_now()
    # A bigger page cache while the upserts run (bounded, so memory stays flat): inserts land
    # at random places of the key_hash B-tree, so a small cache sends most back to the OS for pages.
    page_cache = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size = {-IMPORT_PAGE_CACHE_KIB}")
    after_transaction: list[Callable[[], None]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("INSERT OR IGNORE INTO clusters (name, created_at) VALUES (?, ?)", (cluster, started))
        rehome_displaced_rows(conn)  # rows migrated from a DB before schema 8 get their key_hash
        cursor = conn.execute(
            "INSERT INTO audit_imports (cluster, source, format, started_at) VALUES (?, ?, ?, ?)",
            (cluster, source[:500], fmt, started),
        )
        job = UsageImport(UsageAggregator(conn, cluster, flush_keys), int(cursor.lastrowid or 0),
                          after_transaction=after_transaction)
        yield job
        job.aggregator.flush()
        conn.executemany(
            "INSERT INTO audit_import_errors (import_id, source, line, message) VALUES (?, ?, ?, ?)",
            ((job.import_id, e.source, e.line, e.message) for e in job.errors),
        )
        agg = job.aggregator
        conn.execute(
            """UPDATE audit_imports SET finished_at = ?, lines = ?, events = ?, requests = ?, error_count = ?,
                   window_start = ?, window_end = ?, already_imported = ?, without_audit_id = ? WHERE id = ?""",
            (utc_now(), job.lines, job.events, agg.requests, len(job.errors), agg.window_start, agg.window_end,
             job.already_imported, job.without_audit_id, job.import_id),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute(f"PRAGMA cache_size = {int(page_cache)}")
        for cleanup in after_transaction:
            cleanup()


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageRecord:
    """One aggregated usage row: who made which request, how often, when, and the decision."""

    username: str
    request: Request
    decision: str
    count: int
    first_seen: str
    last_seen: str


@dataclass(frozen=True)
class UsageWindow:
    """The time span the imported audit logs cover (optionally cut to --since)."""

    start: str | None
    end: str | None

    @property
    def days(self) -> float:
        start, end = readable_time(self.start), readable_time(self.end)
        if start is None or end is None:
            return 0.0
        return (end - start).total_seconds() / 86400

    def describe(self) -> str:
        if not self.start or not self.end:
            return "no audit data"
        return f"{self.start} .. {self.end} ({self.days:.1f} days)"


# RFC 3339 as audit logs write it: a fraction of 1-9 digits (Kubernetes writes nanoseconds),
# then Z, an offset with or without its colon, or no zone at all. Lowercase t/z are RFC 3339 too.
_RFC3339 = re.compile(
    r"(?P<seconds>\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d)(?:\.(?P<fraction>\d{1,9}))?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<hours>\d\d):?(?P<minutes>\d\d))?"
)


def parse_time(text: str) -> datetime:
    """An RFC 3339 timestamp as an aware datetime in UTC (nanoseconds cut to microseconds).

    A timestamp without a zone is taken to be UTC, as the API server writes them: every value
    returned is aware, so any two can be compared or subtracted.
    """
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    parsed = datetime.fromisoformat(match["seconds"].replace("t", "T").replace(" ", "T"))
    fraction = match["fraction"]
    if fraction:
        parsed = parsed.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    zone = UTC
    if match["sign"]:
        offset = timedelta(hours=int(match["hours"]), minutes=int(match["minutes"]))
        zone = timezone(-offset if match["sign"] == "-" else offset)
    return parsed.replace(tzinfo=zone).astimezone(UTC)


def utc_text(text: str) -> str:
    """An RFC 3339 timestamp as UTC text ending in `Z` (its fraction kept as written), which compares as
    text the way the times compare; ValueError when `parse_time` cannot read it.

    The usage tables compare timestamps as text: a record written with an offset (`+02:00`) is stored
    in UTC, so it sorts, widens windows and matches earlier imports by its real time.
    """
    if not isinstance(text, str):
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    parsed = parse_time(text)
    match = _RFC3339.fullmatch(text.strip())
    fraction = match["fraction"] if match is not None else None
    return parsed.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


# Whole seconds (`YYYY-MM-DDTHH:MM:SS`) already checked by `is_utc_text`; bounded, as it is only a shortcut.
_UTC_SECONDS_LIMIT = 1 << 16


def is_utc_text(text: str, seconds_seen: set[str]) -> bool:
    """Whether `text` is a timestamp as `utc_text` writes it (so it needs no conversion).

    `seconds_seen` holds the whole-second prefixes found valid so far (the audit hot loop checks
    them itself, then calls this only for a second it has not seen).
    """
    if not (text[-1:] == "Z" and (len(text) == 20 or (text[19:20] == "." and 22 <= len(text) <= 30
                                                     and text[20:-1].isdecimal()))):
        return False
    seconds = text[:19]
    if seconds in seconds_seen:
        return True
    try:
        valid = utc_text(text) == text
    except ValueError:
        return False
    if valid:
        if len(seconds_seen) >= _UTC_SECONDS_LIMIT:
            seconds_seen.clear()
        seconds_seen.add(seconds)
    return valid


def readable_time(text: str | None) -> datetime | None:
    """A stored timestamp, or None when it is missing or unreadable (a DB written before imports checked them)."""
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        return None


def stored_window(conn: sqlite3.Connection, cluster: str) -> tuple[str | None, str | None, bool]:
    """Earliest start and latest end of the cluster's audit imports (as `utc_text`), and whether every stored
    value was readable.

    Read one import at a time (few rows) and compared as times, not text: a DB written before imports
    converted timestamps to UTC may hold offsets, or values no timestamp parser reads (those are skipped).
    """
    starts: list[tuple[datetime, str]] = []
    ends: list[tuple[datetime, str]] = []
    readable = True
    for texts in conn.execute("SELECT window_start, window_end FROM audit_imports WHERE cluster = ?", (cluster,)):
        for text, found in zip(texts, (starts, ends), strict=True):
            parsed = readable_time(text)
            if parsed is not None:
                found.append((parsed, utc_text(text)))
            elif text:
                readable = False
    first, last = min(starts, default=None), max(ends, default=None)
    return None if first is None else first[1], None if last is None else last[1], readable


def parse_duration(text: str) -> timedelta:
    """`30d`, `12h`, `90m`, `2w` -> timedelta."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"duration must look like 30d, 12h, 90m or 2w, got {text!r}")
    return timedelta(seconds=int(text[:-1]) * units[text[-1]])


_TEXT_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


def usage_window(store: Store, cluster: str, since: timedelta | None = None) -> UsageWindow:
    """The window the cluster's imports cover; with `since`, only the last part, ending at the newest event."""
    start, end, _ = stored_window(store.conn, cluster)
    if since is not None and end:
        # Compared as text with stored timestamps, so written as they are: UTC with a Z. Always with
        # its fraction: a whole-second timestamp of the cutoff's own second then counts as inside.
        cutoff = (parse_time(end) - since).strftime(_TEXT_TIME)
        if start is None or cutoff > start:
            start = cutoff
    return UsageWindow(start, end)


def usage_records(
    store: Store, cluster: str, window: UsageWindow | None = None, username: str | None = None
) -> list[UsageRecord]:
    """Aggregated usage of a cluster, seen within the window (by last_seen), optionally one user's."""
    sql = "SELECT * FROM audit_usage WHERE cluster = ?"
    params: list[Any] = [cluster]
    if window is not None and window.start:
        sql += " AND last_seen >= ?"
        params.append(window.start)
    if username is not None:
        sql += " AND username = ?"
        params.append(username)
    sql += " ORDER BY username, api_group, resource, subresource, namespace, name, non_resource_url, verb"
    return [_record(row) for row in store.query(sql, params)]


def _record(row: dict[str, Any]) -> UsageRecord:
    request: Request
    if row["non_resource_url"]:
        request = NonResourceRequest(row["verb"], row["non_resource_url"])
    else:
        request = ResourceRequest(
            row["verb"], row["resource"], row["namespace"], row["api_group"], row["subresource"], row["name"]
        )
    return UsageRecord(row["username"], request, row["decision"], row["count"], row["first_seen"], row["last_seen"])


GROUPS_NOT_LOGGED = ""
"""Stored as a group of a user seen in logs that name no groups (GKE Cloud Logging keeps no `user.groups`): a
group name no binding can hold (the API refuses an empty subject name)."""


def user_groups(store: Store, cluster: str) -> dict[str, tuple[str, ...]]:
    """Every group each user was seen with in the audit logs (never `GROUPS_NOT_LOGGED`)."""
    out: dict[str, list[str]] = {}
    for row in store.query(
        "SELECT username, group_name FROM audit_user_groups WHERE cluster = ? AND group_name != ?"
        " ORDER BY username, group_name", [cluster, GROUPS_NOT_LOGGED]
    ):
        out.setdefault(row["username"], []).append(row["group_name"])
    return {user: tuple(groups) for user, groups in out.items()}


def users_with_groups_not_logged(store: Store, cluster: str, window: UsageWindow | None = None) -> list[str]:
    """Users with requests in the window from logs that name no groups: their groups are unknown there."""
    sql = "SELECT username FROM audit_user_groups WHERE cluster = ? AND group_name = ?"
    params: list[Any] = [cluster, GROUPS_NOT_LOGGED]
    if window is not None and window.start:
        sql += " AND last_seen >= ?"
        params.append(window.start)
    return [row["username"] for row in store.query(sql + " ORDER BY username", params)]


def impersonations(store: Store, cluster: str) -> list[dict[str, Any]]:
    return store.query(
        "SELECT impersonator, username, count, first_seen, last_seen FROM audit_impersonations WHERE cluster = ?"
        " ORDER BY impersonator, username",
        [cluster],
    )


def audit_imports(store: Store, cluster: str | None = None) -> list[dict[str, Any]]:
    sql = "SELECT * FROM audit_imports"
    params: list[Any] = []
    if cluster:
        sql += " WHERE cluster = ?"
        params.append(cluster)
    return store.query(sql + " ORDER BY id", params)


def audit_import_errors(store: Store, import_id: int) -> list[AuditImportError]:
    return [
        AuditImportError(r["source"], r["line"], r["message"])
        for r in store.query("SELECT * FROM audit_import_errors WHERE import_id = ? ORDER BY rowid", [import_id])
    ]
