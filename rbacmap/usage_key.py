"""The compact key of the audit_usage table: a stable 63-bit hash of its 10 key columns.

A usage row is identified by (cluster, username, verb, api_group, resource, subresource,
namespace, name, non_resource_url, decision). Rather than a 10-column primary key (12-30 us
per upsert on large imports), each row carries `key_hash`, its INTEGER PRIMARY KEY:
blake2b with an 8-byte digest (top bit cleared) over an injective encoding of the 10 texts,
so it is the same in every process and on every machine (unlike Python's `hash()`).

Equal keys always hash equal. Distinct keys hash equal with probability 2**-63 per pair;
that case is handled, not assumed away:

- the upsert changes a row only when its 10 stored columns equal the incoming ones, so a
  colliding key never touches another key's counts, and the row counts as unchanged;
- when fewer rows changed than were upserted, `store_collided` finds the rows that did not
  land and stores each in a *displaced* row: a negative key_hash (natural ones are >= 0);
- while displaced rows exist (one index probe tells), every key is first looked up among them
  by its 10 columns, so a key that was displaced once keeps being counted there.

Invariant: each key is stored in at most one row, and a row with key_hash >= 0 sits at the
hash of its own columns. Rows carried over from a DB before schema 8 start displaced
(key_hash = -rowid); `rehome_displaced_rows` moves them to their hash at the next import.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from hashlib import blake2b
from typing import Any

# (key_hash, cluster, username, verb, api_group, resource, subresource, namespace, name,
#  non_resource_url, decision, count, first_seen, last_seen)
UsageRow = tuple[Any, ...]

KEY_COLUMNS = ("cluster", "username", "verb", "api_group", "resource", "subresource", "namespace", "name",
               "non_resource_url", "decision")
_COLUMNS = ", ".join(KEY_COLUMNS)
_SAME_AS_EXCLUDED = " AND ".join(f"{column} = excluded.{column}" for column in KEY_COLUMNS)
_SAME_AS_PARAMS = " AND ".join(f"{column} = ?{number}" for number, column in enumerate(KEY_COLUMNS, start=4))


def earliest_seen(stored: str, incoming: str) -> str:
    """SQL for the earlier of two first_seen texts, where '' (no timestamp in the log) means unknown."""
    return (f"CASE WHEN {stored} = '' THEN {incoming} WHEN {incoming} = '' THEN {stored}"
            f" ELSE min({stored}, {incoming}) END")


WIDEN_SEEN = (f"count = count + excluded.count, first_seen = {earliest_seen('first_seen', 'excluded.first_seen')}, "
              "last_seen = max(last_seen, excluded.last_seen)")
"""The SET clause merging an incoming row's counts into a stored one ('' sorts first, so max needs no care)."""

UPSERT = f"""
INSERT INTO audit_usage (key_hash, {_COLUMNS}, count, first_seen, last_seen)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key_hash)
DO UPDATE SET {WIDEN_SEEN}
WHERE {_SAME_AS_EXCLUDED}
"""
_UPDATE_DISPLACED = f"""
UPDATE audit_usage SET count = count + ?1, first_seen = {earliest_seen('first_seen', '?2')},
                       last_seen = max(last_seen, ?3)
WHERE key_hash < 0 AND {_SAME_AS_PARAMS}
"""
_INSERT_DISPLACED = f"""
INSERT INTO audit_usage (key_hash, {_COLUMNS}, count, first_seen, last_seen)
VALUES ((SELECT min(0, coalesce(min(key_hash), 0)) - 1 FROM audit_usage), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_TEN_NULS = "\0" * 10


def key_hash(key: Sequence[str]) -> int:
    """The stable 63-bit hash of a key's 10 texts (TypeError when one is not a str).

    Encoding: the texts joined with NUL; a key whose texts contain NUL themselves is written
    as 10 NULs then each text's length and text, which never has exactly 9 NULs. Both are
    injective and their images are disjoint, so equal encodings mean equal keys.
    """
    return _hash_text("\0".join(key), key)


def _hash_text(text: str, key: Sequence[str]) -> int:
    """key_hash of `key`, given its texts joined with NUL."""
    if text.count("\0") != 9:
        text = _TEN_NULS + "".join(f"{len(part)}:{part}" for part in key)
    try:
        data = text.encode()
    except UnicodeEncodeError:  # lone surrogates (JSON allows them): kept, as their own bytes
        data = text.encode("utf-8", "surrogatepass")
    return int.from_bytes(blake2b(data, digest_size=8).digest()) >> 1


def as_stored(conn: sqlite3.Connection, key: Sequence[Any]) -> tuple[Any, ...]:
    """The key as SQLite stores it in TEXT columns (a number 7 as '7'), so it hashes like the stored row.

    Odd audit records can carry numbers where text belongs. Values SQLite cannot store
    (lists, objects) raise here, as the insert itself would; None stays None (NOT NULL fails).
    """
    cursor = conn.execute("SELECT " + ", ".join("CAST(? AS TEXT)" for _ in key), tuple(key))
    return tuple(cursor.fetchone())


def usage_rows(
    conn: sqlite3.Connection, cluster: str, usage: Mapping[tuple[Any, ...], Sequence[Any]]
) -> list[UsageRow]:
    """Rows for UPSERT from aggregated entries: key (its first 9 values after the cluster) -> [count, first, last]."""
    rows: list[UsageRow] = []
    append = rows.append
    prefix = cluster + "\0"
    join = "\0".join
    count_nuls = str.count
    digest = blake2b
    for key, entry in usage.items():
        values = key[:9]
        try:
            text = prefix + join(values)
        except TypeError:  # a value that is not text
            stored = as_stored(conn, (cluster, *values))
            append((key_hash(["" if value is None else value for value in stored]), *stored, *entry))
            continue
        if count_nuls(text, "\0") == 9 and text.isascii():  # key_hash, inlined for the usual key
            append((int.from_bytes(digest(text.encode(), digest_size=8).digest()) >> 1, cluster, *values, *entry))
        else:
            append((_hash_text(text, (cluster, *values)), cluster, *values, *entry))
    return rows


def has_displaced_rows(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM audit_usage WHERE key_hash < 0 LIMIT 1").fetchone() is not None


def update_displaced(conn: sqlite3.Connection, row: UsageRow) -> bool:
    """Add the row's counts to its key's displaced row; False when the key has none."""
    return conn.execute(_UPDATE_DISPLACED, (*row[11:14], *row[1:11])).rowcount > 0


def upsert_usage(conn: sqlite3.Connection, rows: list[UsageRow]) -> None:
    """Merge rows (key_hash first) into audit_usage: counts added, first/last seen widened."""
    rows.sort(key=_hash_of)  # key order: the B-tree inserts stay on cached pages
    if has_displaced_rows(conn):
        rows = [row for row in rows if not update_displaced(conn, row)]
    before = conn.total_changes
    conn.executemany(UPSERT, rows)
    if conn.total_changes - before != len(rows):
        store_collided(conn, rows)


def store_collided(conn: sqlite3.Connection, rows: Iterable[UsageRow]) -> None:
    """Store the rows the upsert left out (another key holds their hash) in displaced rows.

    A row landed exactly when the row at its hash has its 10 columns: an upsert inserts only
    into a free hash and updates only a row with the same columns, and no key columns change.
    """
    select = f"SELECT {_COLUMNS} FROM audit_usage WHERE key_hash = ?"
    for row in rows:
        stored = conn.execute(select, (row[0],)).fetchone()
        if stored is not None and tuple(stored) == tuple(row[1:11]):
            continue
        if not update_displaced(conn, row):
            conn.execute(_INSERT_DISPLACED, row[1:])


def rehome_displaced_rows(conn: sqlite3.Connection, batch: int = 10_000) -> None:
    """Move displaced rows to their own hash where it is free (after migration 8 that is all of them)."""
    after = -(2**63)
    while True:
        page = conn.execute(
            f"SELECT key_hash, {_COLUMNS} FROM audit_usage WHERE key_hash < 0 AND key_hash > ?"
            " ORDER BY key_hash LIMIT ?",
            (after, batch),
        ).fetchall()
        if not page:
            return
        after = page[-1][0]
        moves = []
        for old, *key in page:
            try:
                moves.append((key_hash(key), old))
            except TypeError:  # not text (cannot happen in TEXT columns): the row stays displaced
                continue
        conn.executemany("UPDATE OR IGNORE audit_usage SET key_hash = ? WHERE key_hash = ?", moves)


def _hash_of(row: UsageRow) -> int:
    return int(row[0])
