"""Import fixtures/solver files into a fresh store and solve them."""

from __future__ import annotations

from pathlib import Path

from rbacmap.importers.manifests import import_files
from rbacmap.solver import EscalationPath, SolverResult, solve
from rbacmap.store import Store

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "solver"


def solve_fixture(tmp_path: Path, *names: str, shared: bool = True) -> tuple[Store, SolverResult]:
    """`shared`: with the cluster-admin ClusterRole every fixture relies on (leave it out when the files bring
    their own, as the upstream bootstrap roles do: the same role twice, differently labelled, is an error)."""
    store = Store(tmp_path / "solver.db")
    paths = [*([str(FIXTURES / "cluster-admin.yaml")] if shared else []), *(str(FIXTURES / name) for name in names)]
    result = import_files(store, paths, "test")
    assert result.errors == [], [e.describe() for e in result.errors]
    return store, solve(store, result.snapshot)


def path_of(result: SolverResult, subject: str, target: str, namespace: str | None = None) -> EscalationPath | None:
    """The finding of `subject` that covers (target, namespace), if any."""
    found = result.paths(subject=subject, target=target, namespace=namespace)
    return found[0] if found else None


def actions(path: EscalationPath | None) -> list[str]:
    assert path is not None
    return [step.action for step in path.steps]


def beyond_mounted_secrets(result: SolverResult, subject: str) -> list[EscalationPath]:
    """The subject's findings but the one-step reads of its namespaces' Secrets that starting pods gives
    (`mount_secrets`): what a pod creator reaches besides them."""
    return [path for path in result.paths(subject=subject)
            if [step.primitive for step in path.steps] != ["mount_secrets"]]
