"""The solver's stricter checks (tokens, updates, read-back, impersonated groups) keep every real path."""

from __future__ import annotations

from pathlib import Path

import pytest

from rbacmap.solver import CLUSTER_ADMIN
from tests.solver.helpers import actions, path_of, solve_fixture


@pytest.mark.parametrize(("fixture", "first_action"), [
    ("imp-sagroup", "impersonate a group"),
    ("upd-mixed", "patch deployments"),
    ("mint-named-cluster", "mint a token Secret"),
    ("mint-named-rb", "mint a token Secret"),
    ("default-no-ns", "read a token Secret"),
])
def test_a_real_path_survives(tmp_path: Path, fixture: str, first_action: str) -> None:
    _, result = solve_fixture(tmp_path, f"review/strict/{fixture}.yaml")
    alice = path_of(result, "user:alice", CLUSTER_ADMIN)
    assert actions(alice)[0] == first_action


def test_impersonating_a_service_account_group_alone_carries_only_that_group(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "review/strict/imp-sagroup.yaml")
    alice = path_of(result, "user:alice", CLUSTER_ADMIN)
    assert alice is not None
    assert alice.steps[0].as_identity.groups == ("system:serviceaccounts:ci", "system:authenticated")


def test_impersonating_system_authenticated_alone(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "review/strict/imp-authenticated.yaml")
    assert result.paths(subject="user:alice") == []
