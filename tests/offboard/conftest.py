"""The Acme offboarding fixture: manifests, an audit log and (optionally) an EKS cloud import."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rbacmap.cloud.model import AWS_PRINCIPAL, CloudEdge, CloudFacts, CloudGrant, IdentityMapping
from rbacmap.cloud.store import save_cloud_import
from rbacmap.importers.audit import import_audit
from rbacmap.importers.manifests import import_files
from rbacmap.model import PolicyRule
from rbacmap.store import Store

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures" / "offboard"
CLUSTER = "prod-eks"
ALICE = "alice@acme.example"
ALICE_LINE = (
    "alice@acme.example, arn:aws:iam::111122223333:user/alice "
    "arn:aws:sts::111122223333:assumed-role/platform-admin/alice"
)


def build_store(path: Path, *, audit: bool = True, cloud: bool = False, cluster: str = CLUSTER) -> Store:
    """The Acme cluster as `cluster`; with cloud, the EKS (or, for gke-prod, the GKE) cloud import."""
    store = Store(path)
    result = import_files(store, [str(FIXTURES / "cluster")], cluster)
    assert result.errors == [], [e.describe() for e in result.errors]
    if audit:
        imported = import_audit(store, [str(FIXTURES / "audit.jsonl")], cluster)
        assert imported.errors == []
    if cloud:
        name = "cloud-gke.json" if cluster == "gke-prod" else "cloud-eks.json"
        provider, facts = load_cloud_facts(FIXTURES / name)
        save_cloud_import(store, cluster, provider, facts)
    return store


def load_cloud_facts(path: Path) -> tuple[str, CloudFacts]:
    """A cloud fixture file as the importers' CloudFacts (the stored form of `rbacmap import eks|gke`)."""
    raw = json.loads(path.read_text())
    facts = CloudFacts(raw["cloud_cluster"], details=raw.get("details", {}))
    for m in raw["mappings"]:
        facts.mappings.append(IdentityMapping(m.get("principal_kind", AWS_PRINCIPAL), m["principal"], m["username"],
                                              tuple(m["groups"]), m["mechanism"], m["provenance"], m["live"]))
    for g in raw["grants"]:
        facts.grants.append(CloudGrant(g.get("principal_kind", AWS_PRINCIPAL), g["principal"], tuple(g["namespaces"]),
                                       tuple(PolicyRule.from_dict(r) for r in g["rules"]), g["mechanism"],
                                       g["provenance"], g["live"]))
    for e in raw["edges"]:
        facts.edges.append(CloudEdge(e.get("source_kind", AWS_PRINCIPAL), e["source"],
                                     e.get("target_kind", AWS_PRINCIPAL), e["target"], e["mechanism"],
                                     e["provenance"]))
    return raw.get("provider", "eks"), facts


@pytest.fixture
def build_acme() -> Callable[..., Store]:
    """build_store(path, audit=True, cloud=False): a fresh Acme store (caller closes it)."""
    return build_store


@pytest.fixture(scope="module")
def acme_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Manifests + audit log, no cloud import (the DB file path, for the CLI)."""
    path = tmp_path_factory.mktemp("acme") / "acme.db"
    build_store(path).close()
    yield path


@pytest.fixture(scope="module")
def acme(acme_db: Path) -> Iterator[Store]:
    with Store(acme_db) as store:
        yield store


SHARED = FIXTURES / "shared"
SHARED_CLUSTER = "shared-dev"


def build_shared_store(path: Path) -> Store:
    """The shared-dev cluster: objects alice created that others use, aliases of her username, a bot certificate."""
    store = Store(path)
    result = import_files(store, [str(SHARED / "cluster")], SHARED_CLUSTER)
    assert result.errors == [], [e.describe() for e in result.errors]
    assert import_audit(store, [str(SHARED / "audit.jsonl")], SHARED_CLUSTER).errors == []
    return store


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("shared") / "shared.db"
    build_shared_store(path).close()
    yield path


@pytest.fixture(scope="module")
def shared(shared_db: Path) -> Iterator[Store]:
    with Store(shared_db) as store:
        yield store
