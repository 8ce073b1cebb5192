"""Minting a token Secret read back by a named get: the name must be free (or the minter may delete its holder)."""

from __future__ import annotations

from pathlib import Path

from tests.solver.helpers import actions, path_of, solve_fixture

FIXTURE = "review/mint-named-taken.yaml"


def test_a_name_an_existing_secret_holds_mints_nothing(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FIXTURE)
    # create webhook-ca fails with AlreadyExists, and update cannot turn the Opaque Secret into a token Secret.
    assert path_of(result, "user:webhook", "cluster-admin") is None


def test_a_free_name_mints_a_token_secret(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FIXTURE)
    fresh = path_of(result, "user:fresh", "cluster-admin")
    assert actions(fresh) == ["mint a token Secret", "holds cluster-admin"]
    assert fresh is not None and "get secret not-yet-written" in fresh.steps[0].detail


def test_deleting_the_holder_frees_the_name(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FIXTURE)
    rotator = path_of(result, "user:rotator", "cluster-admin")
    assert actions(rotator) == ["mint a token Secret", "holds cluster-admin"]
    assert rotator is not None
    step = rotator.steps[0]
    assert "after deleting the existing Secret certs/webhook-ca" in step.detail
    assert {grant.rule.verbs for grant in step.grants} >= {("get", "delete")}
