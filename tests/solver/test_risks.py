"""`rbacmap risks`: each finding once, under the subject its binding names, and what each risk claims."""

from __future__ import annotations

from pathlib import Path

from rbacmap.solver import find_risks
from tests.solver.helpers import solve_fixture

FIXTURE = "review/risks.yaml"


def test_a_dangling_binding_is_reported_under_the_subjects_it_names(tmp_path: Path) -> None:
    store, _ = solve_fixture(tmp_path, FIXTURE)
    dangling = [(r.subject.spec() if r.subject else None, r.detail) for r in find_risks(store)
                if r.risk == "dangling-binding"]
    # Not once more for every ServiceAccount, user and group that is in system:authenticated, each saying
    # the binding "names" it.
    assert dangling == [
        ("group:system:authenticated", "ClusterRoleBinding everyone-legacy names Group system:authenticated but "
         "its ClusterRole 'legacy-reader' does not exist: whoever creates that role grants it"),
        ("sa:apps/worker", "RoleBinding apps/worker-legacy names ServiceAccount apps/worker but its Role 'legacy' "
         "does not exist: whoever creates that role grants it"),
    ]
