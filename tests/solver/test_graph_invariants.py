"""Invariants of the built graph over every solver fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.solver.helpers import FIXTURES, solve_fixture

# realistic/ is one cluster in several files, over the bootstrap roles: test_realistic_cluster checks it whole.
ALL_FIXTURES = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.yaml")
                      if p.name != "cluster-admin.yaml" and p.relative_to(FIXTURES).parts[0] != "realistic")


@pytest.mark.parametrize("fixture", ALL_FIXTURES)
def test_no_two_edges_link_the_same_pair(tmp_path: Path, fixture: str) -> None:
    """`add_all` drops parallel identity edges and trusts pools to yield each member once."""
    _, result = solve_fixture(tmp_path, fixture)
    graph = result.graph
    pairs = list(zip(graph.sources, graph.edge_targets, strict=True))
    assert len(set(pairs)) == len(pairs)


def test_a_service_account_with_two_token_secrets_is_one_pool_member(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "review/two-token-secrets.yaml")
    [lee] = result.paths(subject="user:lee", target="cluster-admin")
    assert [(o.kind, o.name) for o in lee.steps[0].objects] == [("Secret", "robot-token-a")]


@pytest.mark.parametrize("fixture", ALL_FIXTURES)
def test_every_step_names_its_grant_or_object(tmp_path: Path, fixture: str) -> None:
    """Provenance: a step a reviewer cannot trace to a binding rule or a cluster object is worthless."""
    _, result = solve_fixture(tmp_path, fixture)
    for path in result.paths():
        for step in path.steps:
            assert step.grants or step.objects, (fixture, str(path.subject), step.action, step.detail)
