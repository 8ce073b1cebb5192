"""Pod Security's exempt RuntimeClasses: a privileged pod naming one gets in anywhere, sandbox or not."""

from __future__ import annotations

from pathlib import Path

from rbacmap.importers.manifests import import_files
from rbacmap.pod_security_config import sandbox_handler
from rbacmap.solver import CLUSTER_ADMIN, find_risks, solve
from rbacmap.store import Store
from tests.solver.helpers import FIXTURES, actions, beyond_mounted_secrets, path_of, solve_fixture

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


MORE = "review/exempt-runtime-class-pods.yaml"


def _variant(tmp_path: Path, name: str, *, exempt: str = "legacy, gvisor, nvidia", nvidia_extra: str = "",
             keep_classes: bool = True) -> Store:
    text = (FIXTURES / FIXTURE).read_text().replace("runtimeClasses: [legacy, gvisor, nvidia]",
                                                    f"runtimeClasses: [{exempt}]")
    text = text.replace("metadata: {name: nvidia}\nhandler: nvidia", f"metadata: {{name: nvidia}}\nhandler: nvidia"
                        f"{nvidia_extra}")
    if not keep_classes:
        text = "\n---\n".join(doc for doc in text.split("\n---\n") if "kind: RuntimeClass" not in doc)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    store = Store(tmp_path / f"{name}.db")
    imported = import_files(store, [str(FIXTURES / "cluster-admin.yaml"), str(path), str(FIXTURES / MORE)], "test")
    assert imported.errors == [], [e.describe() for e in imported.errors]
    return store


def test_a_debug_container_in_a_pod_of_an_exempt_class_is_root_on_its_node(tmp_path: Path) -> None:
    result = solve(_variant(tmp_path, "debug"))
    dee = path_of(result, "user:dee", CLUSTER_ADMIN)
    assert dee is not None and actions(dee) == ["escape to the node", "holds cluster-admin"]
    escape = dee.steps[0]
    # trainer (no sandbox) is shown for n1, not a-sandboxed, whose gVisor step would carry a caveat.
    assert "pod gpu/trainer (runtimeClassName: nvidia) is root on its node n1" in escape.detail
    assert escape.condition == ""
    assert ("Pod", "gpu", "trainer") in [(o.kind, o.namespace, o.name) for o in escape.objects]


def test_a_runtime_class_node_selector_keeps_its_pods_on_matching_nodes(tmp_path: Path) -> None:
    selector = "\nscheduling: {nodeSelector: {gpu: \"true\"}}"
    result = solve(_variant(tmp_path, "selector", exempt="nvidia", nvidia_extra=selector))
    # rae's pod lands on gpu-1, where no cluster-admin pod runs: keeper's token on n1 is out of reach.
    assert path_of(result, "user:rae", CLUSTER_ADMIN) is None
    assert beyond_mounted_secrets(result, "user:rae") == []
    graph = result.graph
    escapes = {str(graph.nodes[graph.edge_targets[e]]) for e in range(len(graph.edges))
               if getattr(graph.nodes[graph.sources[e]], "name", "") == "rae"
               and graph.edges[e].primitive in ("node_escape", "exempt_runtime_class")}
    assert escapes == {"the ServiceAccount of any pod running on node gpu-1"}


def test_runtime_classes_the_import_could_not_list_are_taken_to_exist(tmp_path: Path) -> None:
    store = _variant(tmp_path, "unlisted", exempt="nvidia", keep_classes=False)
    store.conn.execute("UPDATE snapshots SET incomplete_kinds = '[\"RuntimeClass\"]'")
    result = solve(store, use_cache=False)
    rae = path_of(result, "user:rae", CLUSTER_ADMIN)
    assert rae is not None and rae.steps[0].condition.startswith("the snapshot holds no RuntimeClasses (not listed)")
    [risk] = [r for r in find_risks(store) if r.risk == "pod-security-exempt-runtime-class"]
    assert risk.severity == "high" and "holds no RuntimeClasses (not listed)" in risk.detail


def test_whoever_may_create_runtime_classes_makes_the_missing_exempt_one(tmp_path: Path) -> None:
    result = solve(_variant(tmp_path, "create", exempt="legacy"))
    rook = path_of(result, "user:rook", CLUSTER_ADMIN)
    assert rook is not None and actions(rook) == ["escape to the node", "holds cluster-admin"]
    [security] = [o for o in rook.steps[0].objects if o.kind == "PodSecurityConfiguration"]
    assert "create RuntimeClass legacy (handler runc" in security.note
    # Both writes are the step's grants: the pod, and the RuntimeClass it names.
    assert [grant.binding.key.name for grant in rook.steps[0].grants] == ["rook-pods", "rook-makes-runtime-classes"]
    assert path_of(result, "user:rae", CLUSTER_ADMIN) is None  # rae may not create RuntimeClasses


def test_every_exempt_class_is_tried_not_just_the_first(tmp_path: Path) -> None:
    selector = "\nscheduling: {nodeSelector: {gpu: \"true\"}}"
    # nvidia (no sandbox) runs on gpu-1 only; gvisor (a sandbox) anywhere, n1 included, where keeper runs.
    result = solve(_variant(tmp_path, "both", exempt="gvisor, nvidia", nvidia_extra=selector))
    rae = path_of(result, "user:rae", CLUSTER_ADMIN)
    assert rae is not None and "runs pods in the runsc sandbox" in rae.steps[0].condition
    # An exempt class that exists does not hide creating a missing one, which needs no sandbox caveat.
    created = solve(_variant(tmp_path, "created", exempt="gvisor, legacy"))
    rook = path_of(created, "user:rook", CLUSTER_ADMIN)
    assert rook is not None and rook.steps[0].condition == ""


def test_debug_containers_by_the_pod_s_class_whatever_its_node_selector(tmp_path: Path) -> None:
    selector = "\nscheduling: {nodeSelector: {gpu: \"true\"}}"
    # trainer already runs on n1, which its class's nodeSelector would not pick now: the debug container
    # joins it there all the same.
    result = solve(_variant(tmp_path, "running", exempt="nvidia", nvidia_extra=selector))
    dee = path_of(result, "user:dee", CLUSTER_ADMIN)
    assert dee is not None and "is root on its node n1" in dee.steps[0].detail


def test_a_debug_container_in_a_sandboxed_pod_needs_a_host_path_the_pod_mounts(tmp_path: Path) -> None:
    store = _variant(tmp_path, "sandboxed-debug", exempt="gvisor")
    store.conn.execute("UPDATE workloads SET runtime_class = 'gvisor' WHERE name = 'trainer'")
    store.conn.execute("UPDATE workloads SET host_path_volumes = '[]' WHERE name = 'a-sandboxed'")
    assert path_of(solve(store, use_cache=False), "user:dee", CLUSTER_ADMIN) is None
    store.conn.execute("UPDATE workloads SET host_path_volumes = '[\"/var/log\"]' WHERE name = 'trainer'")
    dee = path_of(solve(store, use_cache=False), "user:dee", CLUSTER_ADMIN)
    assert dee is not None and "hostPath volume(s) /var/log" in dee.steps[0].condition


def test_a_snapshot_older_than_runtime_class_recording_takes_exempt_classes_to_exist(tmp_path: Path) -> None:
    store = _variant(tmp_path, "older", exempt="nvidia", keep_classes=False)
    assert path_of(solve(store, use_cache=False), "user:rae", CLUSTER_ADMIN) is None  # recorded, and absent
    store.conn.execute("UPDATE schema_version SET applied_at = '2999-01-01T00:00:00+00:00' WHERE version = 16")
    # Migration 16 added nodeSelectors and pods' runtimeClassName: RuntimeClasses themselves were recorded
    # (migration 15), and legacy is absent.
    assert path_of(solve(store, use_cache=False), "user:rae", CLUSTER_ADMIN) is None
    store.conn.execute("UPDATE schema_version SET applied_at = '2999-01-01T00:00:00+00:00' WHERE version = 15")
    rae = path_of(solve(store, use_cache=False), "user:rae", CLUSTER_ADMIN)
    assert rae is not None and "taken to exist" in rae.steps[0].condition


def test_a_debug_container_named_by_resource_names_in_a_pod_of_an_exempt_class(tmp_path: Path) -> None:
    result = solve(_variant(tmp_path, "named"))
    nan = path_of(result, "user:nan", CLUSTER_ADMIN)
    assert nan is not None and actions(nan) == ["escape to the node", "holds cluster-admin"]
    step = nan.steps[0]
    assert step.detail.startswith("patch pods/ephemeralcontainers on Pod gpu/trainer (named in resourceNames)")
    assert [grant.binding.key.name for grant in step.grants] == ["nan"]
    # Its check asks about that pod, which the rule names (a check on the namespace would answer no).
    assert "can-i patch pods/trainer --subresource=ephemeralcontainers -n gpu" in str(step.explanations)


def test_a_snapshot_without_recorded_node_selectors_says_so(tmp_path: Path) -> None:
    store = _variant(tmp_path, "no-selectors", exempt="nvidia")
    store.conn.execute("UPDATE schema_version SET applied_at = '2999-01-01T00:00:00+00:00' WHERE version = 16")
    rae = path_of(solve(store, use_cache=False), "user:rae", CLUSTER_ADMIN)
    assert rae is not None and "predates rbacmap's recording of RuntimeClass nodeSelectors" in rae.steps[0].condition
