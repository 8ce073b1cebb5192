"""Pod Security's exempt RuntimeClasses: a privileged pod naming one gets in anywhere, sandbox or not."""

from __future__ import annotations

from pathlib import Path

from rbacmap.importers.manifests import import_files
from rbacmap.pod_security_config import sandbox_handler
from rbacmap.solver import CLUSTER_ADMIN, find_risks, solve
from rbacmap.store import Store
from tests.solver.helpers import FIXTURES, actions, path_of, solve_fixture

FIXTURE = "review/exempt-runtime-class.yaml"


def test_an_exempt_runtime_class_admits_a_privileged_pod_in_a_restricted_namespace(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FIXTURE)
    for user in ("rae", "wes"):  # a pod, or a Deployment whose template names the class
        path = path_of(result, f"user:{user}", CLUSTER_ADMIN)
        assert path is not None, user
        assert actions(path) == ["escape to the node", "holds cluster-admin"]
        escape = path.steps[0]
        assert escape.condition == ""  # nvidia is no sandbox, and creating a Deployment needs none to exist
        [security] = [o for o in escape.objects if o.kind == "PodSecurityConfiguration"]
        assert "exemptions.runtimeClasses lists nvidia (handler nvidia)" in security.note


def _solve_with(tmp_path: Path, runtime_classes: str, name: str) -> Store:
    text = (FIXTURES / FIXTURE).read_text().replace("runtimeClasses: [legacy, gvisor, nvidia]",
                                                    f"runtimeClasses: [{runtime_classes}]")
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    store = Store(tmp_path / f"{name}.db")
    imported = import_files(store, [str(FIXTURES / "cluster-admin.yaml"), str(path)], "test")
    assert imported.errors == []
    return store


def test_a_sandbox_class_is_a_path_with_a_condition_and_a_missing_class_is_none(tmp_path: Path) -> None:
    sandboxed = solve(_solve_with(tmp_path, "gvisor", "sandboxed"))
    rae = path_of(sandboxed, "user:rae", CLUSTER_ADMIN)
    assert rae is not None and "runs pods in the runsc sandbox" in rae.steps[0].condition
    missing = solve(_solve_with(tmp_path, "legacy", "missing"))  # RuntimeClass admission refuses the pod
    assert path_of(missing, "user:rae", CLUSTER_ADMIN) is None


def test_risks_rank_the_exempt_classes_by_what_they_let_through(tmp_path: Path) -> None:
    store, _ = solve_fixture(tmp_path, FIXTURE)
    found = {r.detail.split()[2].rstrip(","): r.severity for r in find_risks(store)
             if r.risk == "pod-security-exempt-runtime-class"}
    assert found == {"nvidia": "high", "gvisor": "medium", "legacy": "low"}


def test_sandbox_handlers() -> None:
    assert all(map(sandbox_handler, ["runsc", "gvisor", "kata", "kata-qemu", "kata-clh", "kata-fc", "firecracker"]))
    assert not any(map(sandbox_handler, ["runc", "crun", "nvidia", "youki", "runsc2", ""]))
