"""The fast workload path gives exactly normalize_workload's row, or declines (None)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from rbacmap.normalize import WORKLOAD_KINDS, InvalidObject, iter_objects, normalize
from rbacmap.store import sqlite_values
from rbacmap.workload_rows import WORKLOAD_COLUMNS, workload_values


def reference_values(obj: dict[str, Any]) -> tuple[Any, ...] | None:
    """normalize_workload's row as SQLite values; None when it rejects the object."""
    try:
        normalized = normalize(obj)
    except InvalidObject:
        return None
    [(table, row)] = normalized.rows
    assert table == "workloads"
    assert tuple(row) == WORKLOAD_COLUMNS, "normalize_workload's columns changed: update workload_rows.py"
    return tuple(sqlite_values(row, WORKLOAD_COLUMNS))


def fixture_workloads(fixtures_dir: Path) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in [fixtures_dir / "demo" / "30-workloads.yaml", fixtures_dir / "core" / "workload-shapes.yaml"]:
        for document in yaml.safe_load_all(path.read_text()):
            objects += [o for o in iter_objects(document) if isinstance(o, dict) and o.get("kind") in WORKLOAD_KINDS]
    return objects


def test_fixture_workloads_give_the_reference_row(fixtures_dir: Path) -> None:
    objects = fixture_workloads(fixtures_dir)
    assert len(objects) >= 15
    declined = 0
    for obj in objects:
        fast = workload_values(obj, "default")
        reference = reference_values(obj)
        if fast is None:
            declined += 1
        else:
            assert fast == reference, obj["metadata"]
    # The usual shapes take the fast path; only the odd and the broken ones do not.
    assert declined <= 6


def test_fast_row_of_a_privileged_cronjob(fixtures_dir: Path) -> None:
    [backup] = [o for o in fixture_workloads(fixtures_dir) if o["metadata"]["name"] == "backup"]
    row = dict(zip(WORKLOAD_COLUMNS, workload_values(backup, "default") or (), strict=True))
    assert row["service_account"] == "legacy-backup"
    assert row["added_capabilities"] == '["NET_ADMIN","SYS_TIME","SYS_ADMIN"]'
    assert row["host_path_volumes"] == '["/var/lib/etcd",""]'
    assert row["labels"] == '{"team":"ops","tier":"3","empty":""}'
    assert row["automount_token"] == 0 and row["privileged"] == 0


# Every field workload_values reads, and values of every JSON/YAML type to put there.
READ_KEYS = [
    "metadata", "name", "namespace", "labels", "creationTimestamp", "ownerReferences", "controller", "kind",
    "spec", "jobTemplate", "template", "containers", "initContainers", "ephemeralContainers", "image",
    "securityContext", "privileged", "capabilities", "add", "volumes", "hostPath", "path", "serviceAccountName",
    "serviceAccount", "nodeName", "hostPID", "hostNetwork", "hostIPC", "automountServiceAccountToken", "status",
    "phase",
]  # fmt: skip
ODD_VALUES: list[Any] = [None, True, False, 0, 7, 1.5, "", "x", [], ["x"], [None, 3], {}, {"a": 1}, {"path": 2}]


def mutations(node: Any) -> Iterator[Callable[[Any], None]]:
    """Setters that put a value at one place of the object (every existing or read key of every mapping)."""
    if isinstance(node, dict):
        for key in {*node, *READ_KEYS}:
            yield lambda value, node=node, key=key: node.__setitem__(key, value)
        for child in node.values():
            yield from mutations(child)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield lambda value, node=node, index=index: node.__setitem__(index, value)
            yield from mutations(child)


def test_one_odd_value_anywhere_gives_the_reference_row_or_declines(fixtures_dir: Path) -> None:
    checked = fast_rows = 0
    for original in fixture_workloads(fixtures_dir)[::2]:
        setters = len(list(mutations(copy.deepcopy(original))))
        for position in range(setters):
            for value in ODD_VALUES:
                obj = copy.deepcopy(original)
                list(mutations(obj))[position](copy.deepcopy(value))
                if not (isinstance(obj["kind"], str) and obj["kind"] in WORKLOAD_KINDS):
                    continue  # the builder takes the fast path only for these kinds
                fast = workload_values(obj, "default")
                checked += 1
                if fast is not None:
                    fast_rows += 1
                    assert fast == reference_values(obj), (obj, value)
    assert checked > 5000 and fast_rows > checked // 3


@pytest.mark.parametrize("kind", sorted(WORKLOAD_KINDS))
def test_malformed_workloads_are_declined(kind: str) -> None:
    # The reference path then words the error ("malformed object (...)", "has no metadata", …).
    for obj in [
        {"kind": kind},
        {"kind": kind, "metadata": {"name": ""}},
        {"kind": kind, "metadata": {"name": "x"}, "spec": "nope"},
        {"kind": kind, "metadata": {"name": "x", "labels": ["a"]}, "spec": {}},
    ]:
        assert workload_values(obj, "default") is None


ODD = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "x", "Pod", "/"]), st.just([]), st.just({})
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the value (4 in 5), sometimes something of another type."""
    return st.integers(0, 4).flatmap(lambda choice: strategy if choice else ODD)


def fields(required: dict[str, st.SearchStrategy[Any]] | None = None, **values: st.SearchStrategy[Any]) -> Any:
    """Dicts with the required keys and any subset of the others."""
    return st.fixed_dictionaries(required or {}, optional=values)


CONTAINER = fields(
    image=maybe(st.sampled_from(["nginx", "busybox:1"])),
    securityContext=maybe(
        fields(
            privileged=maybe(st.booleans()),
            capabilities=maybe(fields(add=maybe(st.lists(maybe(st.sampled_from(["NET_ADMIN", "SYS_ADMIN"])))))),
        )
    ),
)
POD_SPEC = fields(
    containers=maybe(st.lists(maybe(CONTAINER), max_size=3)),
    initContainers=maybe(st.lists(maybe(CONTAINER), max_size=2)),
    ephemeralContainers=maybe(st.lists(CONTAINER, max_size=1)),
    volumes=maybe(st.lists(maybe(fields(hostPath=maybe(fields(path=maybe(st.just("/etc")))))), max_size=3)),
    serviceAccountName=maybe(st.just("app")),
    serviceAccount=maybe(st.just("legacy")),
    nodeName=maybe(st.just("node-1")),
    hostPID=ODD,
    hostNetwork=ODD,
    hostIPC=ODD,
    automountServiceAccountToken=ODD,
)
METADATA = fields(
    {"name": maybe(st.just("web"))},
    namespace=maybe(st.just("team-a")),
    labels=maybe(st.dictionaries(st.sampled_from(["app", "tier"]), maybe(st.just("v")), max_size=2)),
    creationTimestamp=maybe(st.just("2024-01-01T00:00:00Z")),
    ownerReferences=maybe(
        st.lists(
            maybe(fields(kind=maybe(st.just("ReplicaSet")), name=maybe(st.just("rs")), controller=ODD)), max_size=3
        )
    ),
)


@st.composite
def workload_objects(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(WORKLOAD_KINDS)))
    pod_spec = draw(maybe(POD_SPEC))
    template = draw(maybe(fields({"spec": st.just(pod_spec)})))
    if kind == "Pod":
        spec = pod_spec
    elif kind == "CronJob":
        job_spec = maybe(fields({"template": st.just(template)}))
        spec = draw(maybe(fields({"jobTemplate": maybe(fields({"spec": job_spec}))})))
    else:
        spec = draw(maybe(fields({"template": st.just(template)})))
    return {"kind": kind, "metadata": draw(maybe(METADATA)), "spec": spec}


@settings(max_examples=400, deadline=None)
@given(workload_objects())
def test_fast_path_agrees_with_the_reference_or_declines(obj: dict[str, Any]) -> None:
    fast = workload_values(obj, "default")
    if fast is not None:
        assert fast == reference_values(obj)
