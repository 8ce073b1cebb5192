"""Upstream details found in a review of the primitives: Pod Security label parsing, named list/watch reads."""

from __future__ import annotations

from pathlib import Path

from rbacmap.pod_security_config import blocks_privileged_pods
from rbacmap.solver import CLUSTER_ADMIN, EXEC
from tests.solver.helpers import actions, path_of, solve_fixture


def test_enforce_label_values_parse_like_pod_security_admission() -> None:
    assert not blocks_privileged_pods(None)  # no label: default privileged (assumed)
    assert not blocks_privileged_pods("privileged")
    assert blocks_privileged_pods("baseline")
    assert blocks_privileged_pods("restricted")
    # ParseLevel is exact and fails closed: anything else is enforced as restricted.
    assert blocks_privileged_pods("Restricted")
    assert blocks_privileged_pods("Privileged")
    assert blocks_privileged_pods("")


def test_node_escape_open_unlabelled_and_invalid_label(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "pod-security-labels.yaml")
    otto = path_of(result, "user:otto", EXEC)
    assert actions(otto) == ["escape to the node"]
    pia = path_of(result, "user:pia", EXEC)
    assert actions(pia) == ["escape to the node"]
    assert pia is not None
    note = pia.steps[0].objects[0].note
    assert "assumed privileged" in note and "AdmissionConfiguration" in note
    # `Restricted` is no level: PodSecurity enforces restricted, so no escape.
    assert path_of(result, "user:tyra", EXEC) is None


def test_named_watch_reads_the_named_token_secret(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "secrets-named-list.yaml")
    wade = path_of(result, "user:wade", CLUSTER_ADMIN)
    assert actions(wade) == ["read a token Secret", "holds cluster-admin"]
    assert wade is not None and wade.steps[0].objects[0].name == "robot-token"
    assert "field-selector metadata.name=robot-token" in wade.steps[0].detail
    # resourceNames name another Secret: nothing.
    assert result.paths(subject="user:lena") == []
