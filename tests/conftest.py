"""Shared pytest fixtures: a fresh store, the fixture folders, the upstream bootstrap policy.

Keep this small and generic; area-specific fixtures belong next to their tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rbacmap.authorizer import Authorizer
from rbacmap.importers.manifests import import_files
from rbacmap.policy import InMemoryPolicy, load_policy
from rbacmap.store import Store

REPO_ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP_RBAC = Path("/work/shared/data/k8s-bootstrap-rbac")


@pytest.fixture
def fixtures_dir() -> Path:
    """The repository's `fixtures/` folder (fixtures/<area>/ holds each area's data)."""
    return REPO_ROOT / "fixtures"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An empty store in a fresh file under tmp_path."""
    with Store(tmp_path / "rbacmap.db") as opened:
        yield opened


@pytest.fixture
def demo_store(store: Store, fixtures_dir: Path) -> Store:
    """The store with fixtures/demo/ imported as cluster `demo`."""
    result = import_files(store, [str(fixtures_dir / "demo")], "demo")
    assert result.errors == [], [e.describe() for e in result.errors]
    return store


@pytest.fixture
def bootstrap_policy(store: Store) -> Callable[..., InMemoryPolicy]:
    """Loader: import the upstream bootstrap RBAC (plus extra paths) and return its policy."""

    def load(*extra_paths: str | Path, cluster: str = "bootstrap") -> InMemoryPolicy:
        if not BOOTSTRAP_RBAC.is_dir():
            pytest.skip(f"{BOOTSTRAP_RBAC} is not available")
        paths = [str(BOOTSTRAP_RBAC), *map(str, extra_paths)]
        result = import_files(store, paths, cluster)
        assert result.errors == [], [e.describe() for e in result.errors]
        return load_policy(store, result.snapshot.id)

    return load


@pytest.fixture
def demo_authorizer(demo_store: Store) -> Authorizer:
    """An authorizer over the demo cluster's latest snapshot."""
    return Authorizer(load_policy(demo_store, demo_store.latest_snapshot("demo").id))
