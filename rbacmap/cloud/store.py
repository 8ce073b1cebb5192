"""Load and read cloud imports: one transaction per import, like snapshots."""

from __future__ import annotations

import json
from typing import Any

from rbacmap.cloud.model import CloudEdge, CloudFacts, CloudGrant, CloudGraph, CloudImport, CloudPower, IdentityMapping
from rbacmap.model import PolicyRule
from rbacmap.store import Store, StoreError, utc_now

CLOUD_TABLES = ("cloud_identity_mappings", "cloud_k8s_grants", "cloud_edges", "cloud_powers")


def save_cloud_import(store: Store, cluster: str, provider: str, facts: CloudFacts) -> CloudImport:
    """Write an importer's facts as one complete cloud import, all or nothing."""
    started = utc_now()
    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("INSERT OR IGNORE INTO clusters (name, created_at) VALUES (?, ?)", (cluster, started))
        cursor = conn.execute(
            "INSERT INTO cloud_imports (cluster, provider, cloud_cluster, started_at, finished_at, status, details,"
            " notes) VALUES (?, ?, ?, ?, ?, 'complete', ?, ?)",
            (cluster, provider, facts.cloud_cluster, started, utc_now(), json.dumps(facts.details),
             json.dumps(facts.notes)),
        )
        import_id = int(cursor.lastrowid or 0)
        conn.executemany(
            "INSERT INTO cloud_identity_mappings VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(import_id, m.principal_kind, m.principal, m.username, json.dumps(list(m.groups)), m.mechanism,
              int(m.live), m.provenance) for m in facts.mappings],
        )
        conn.executemany(
            "INSERT INTO cloud_k8s_grants VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(import_id, g.principal_kind, g.principal, json.dumps(list(g.namespaces)),
              json.dumps([r.to_dict() for r in g.rules]), g.mechanism, int(g.live), g.provenance)
             for g in facts.grants],
        )
        conn.executemany(
            "INSERT INTO cloud_edges (cloud_import_id, source_kind, source, target_kind, target, mechanism,"
            " provenance, condition) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(import_id, e.source_kind, e.source, e.target_kind, e.target, e.mechanism, e.provenance, e.condition)
             for e in facts.edges],
        )
        conn.executemany(
            "INSERT INTO cloud_powers VALUES (?, ?, ?, ?, ?)",
            [(import_id, p.principal_kind, p.principal, p.power, p.provenance) for p in facts.powers],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return cloud_import(store, import_id)


def record_failed_cloud_import(store: Store, cluster: str, provider: str, cloud_cluster: str, error: str) -> None:
    """Keep a trace of a failed import (status 'failed'); answers never use it."""
    now = utc_now()
    store.conn.execute("BEGIN IMMEDIATE")
    try:
        store.conn.execute("INSERT OR IGNORE INTO clusters (name, created_at) VALUES (?, ?)", (cluster, now))
        store.conn.execute(
            "INSERT INTO cloud_imports (cluster, provider, cloud_cluster, started_at, finished_at, status, message)"
            " VALUES (?, ?, ?, ?, ?, 'failed', ?)",
            (cluster, provider, cloud_cluster, now, now, error[:2000]),
        )
        store.conn.execute("COMMIT")
    except BaseException:
        store.conn.execute("ROLLBACK")
        raise


def _import_from_row(row: dict[str, Any]) -> CloudImport:
    return CloudImport(
        row["id"], row["cluster"], row["provider"], row["cloud_cluster"], row["status"], row["started_at"],
        json.loads(row["details"]), tuple(json.loads(row["notes"])),
    )


def cloud_import(store: Store, import_id: int) -> CloudImport:
    rows = store.query("SELECT * FROM cloud_imports WHERE id = ?", [import_id])
    if not rows:
        raise StoreError(f"no cloud import with id {import_id}")
    return _import_from_row(rows[0])


def latest_cloud_import(store: Store, cluster: str) -> CloudImport | None:
    """The newest complete cloud import of a cluster, or None when it has none."""
    rows = store.query(
        "SELECT * FROM cloud_imports WHERE cluster = ? AND status = 'complete' ORDER BY id DESC LIMIT 1", [cluster]
    )
    return _import_from_row(rows[0]) if rows else None


def load_cloud_graph(store: Store, imported: CloudImport) -> CloudGraph:
    """Every mapping, grant, edge and power of one cloud import."""
    params = [imported.id]
    mappings = tuple(
        IdentityMapping(r["principal_kind"], r["principal"], r["username"], tuple(json.loads(r["groups"])),
                        r["mechanism"], r["provenance"], bool(r["live"]))
        for r in store.query("SELECT * FROM cloud_identity_mappings WHERE cloud_import_id = ? ORDER BY rowid", params)
    )
    grants = tuple(
        CloudGrant(r["principal_kind"], r["principal"], tuple(json.loads(r["namespaces"])),
                   tuple(PolicyRule.from_dict(rule) for rule in json.loads(r["rules"])), r["mechanism"],
                   r["provenance"], bool(r["live"]))
        for r in store.query("SELECT * FROM cloud_k8s_grants WHERE cloud_import_id = ? ORDER BY rowid", params)
    )
    edges = tuple(
        CloudEdge(r["source_kind"], r["source"], r["target_kind"], r["target"], r["mechanism"], r["provenance"],
                  r["condition"])
        for r in store.query("SELECT * FROM cloud_edges WHERE cloud_import_id = ? ORDER BY rowid", params)
    )
    powers = tuple(
        CloudPower(r["principal_kind"], r["principal"], r["power"], r["provenance"])
        for r in store.query("SELECT * FROM cloud_powers WHERE cloud_import_id = ? ORDER BY rowid", params)
    )
    return CloudGraph(imported, mappings, grants, edges, powers)


def latest_cloud_graph(store: Store, cluster: str) -> CloudGraph | None:
    imported = latest_cloud_import(store, cluster)
    return load_cloud_graph(store, imported) if imported else None


def prune_cloud_imports(store: Store, cluster: str, keep: int) -> list[int]:
    """Delete all but the newest `keep` complete cloud imports of a cluster, and its failed ones."""
    if keep < 1:
        raise StoreError("--keep must be at least 1")
    rows = store.query("SELECT id, status FROM cloud_imports WHERE cluster = ? ORDER BY id", [cluster])
    complete = [r["id"] for r in rows if r["status"] == "complete"]
    doomed = complete[:-keep] + [r["id"] for r in rows if r["status"] == "failed"]
    if not doomed:
        return []
    marks = ",".join("?" * len(doomed))
    store.conn.execute("BEGIN IMMEDIATE")
    try:
        for table in CLOUD_TABLES:
            store.conn.execute(f"DELETE FROM {table} WHERE cloud_import_id IN ({marks})", doomed)
        store.conn.execute(f"DELETE FROM cloud_imports WHERE id IN ({marks})", doomed)
        store.conn.execute("COMMIT")
    except BaseException:
        store.conn.execute("ROLLBACK")
        raise
    return sorted(doomed)
