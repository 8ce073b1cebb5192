"""Fixtures for the audit-log tests: fixtures/audit/ imported as cluster `prod`."""

from __future__ import annotations

from pathlib import Path

import pytest

from rbacmap.importers.audit import import_audit
from rbacmap.importers.manifests import import_files
from rbacmap.store import Store

AUDIT_FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures" / "audit"


@pytest.fixture
def audit_dir() -> Path:
    return AUDIT_FIXTURES


@pytest.fixture
def prod_store(store: Store) -> Store:
    """cluster.yaml as snapshot of `prod`, plus the k8s audit log as its usage."""
    assert import_files(store, [str(AUDIT_FIXTURES / "cluster.yaml")], "prod").errors == []
    import_audit(store, [str(AUDIT_FIXTURES / "k8s-audit.jsonl")], "prod")
    return store
