"""The fast path from a pod or workload object straight to its `workloads` row values.

Pods and workload templates are three quarters of a big cluster's objects, so `import files`
spends most of its Python time here. `normalize.normalize_workload` stays the reference:
this module gives the very same row (as SQLite-ready values in `WORKLOAD_COLUMNS` order)
for objects of the usual shape, and returns None for anything unusual (a field of an
unexpected type, a missing name, …), so the caller takes the reference path, which also
words any error. tests/unit/test_workload_rows.py checks both paths agree.

Written for speed: direct dict access, exact type checks, no intermediate row dict.
"""

from __future__ import annotations

from typing import Any, cast

from rbacmap.normalize import pod_phase
from rbacmap.store import json_cell, sqlite_cell

# The reference row's keys, in its order (the test asserts they match).
WORKLOAD_COLUMNS = (
    "kind",
    "namespace",
    "name",
    "service_account",
    "node",
    "privileged",
    "host_pid",
    "host_network",
    "host_ipc",
    "host_path_volumes",
    "added_capabilities",
    "automount_token",
    "images",
    "owner_kind",
    "owner_name",
    "labels",
    "created_at",
    "phase",
    "runtime_class",
)

_CONTAINER_KEYS = ("initContainers", "containers", "ephemeralContainers")


def workload_values(obj: dict[str, Any], default_namespace: str) -> tuple[Any, ...] | None:
    """The workloads row of a Pod/Deployment/…/CronJob, or None to take the reference path."""
    try:
        return _values(obj, default_namespace)
    except Exception:  # noqa: BLE001 - any surprise: the reference path decides (and words the error)
        return None


def _values(obj: dict[str, Any], default_namespace: str) -> tuple[Any, ...] | None:
    kind = obj["kind"]
    metadata = obj.get("metadata")
    if type(metadata) is not dict:
        return None
    name = metadata.get("name")
    if type(name) is not str or not name:
        return None
    namespace = metadata.get("namespace")
    if namespace is None:
        namespace = default_namespace
    elif type(namespace) is not str:  # even a falsy one ([], false): the reference path reports it
        return None
    namespace = namespace or default_namespace

    owner_kind = owner_name = None
    refs = metadata.get("ownerReferences")
    if refs:
        if type(refs) is not list:
            return None
        for ref in refs:
            if type(ref) is dict:
                if ref.get("controller") or owner_kind is None:
                    owner_kind, owner_name = ref.get("kind"), ref.get("name")
            elif isinstance(ref, dict):
                return None

    pod_spec = _pod_spec(kind, obj.get("spec"))
    if pod_spec is None:
        return None

    privileged = 0
    capabilities: list[str] = []
    images: list[str] = []
    for key in _CONTAINER_KEYS:
        containers = pod_spec.get(key)
        if not containers:
            continue
        if type(containers) is not list:
            return None
        for container in containers:
            if type(container) is not dict:
                if isinstance(container, dict):
                    return None
                continue
            context = container.get("securityContext")
            if context:
                if type(context) is not dict:
                    return None
                if context.get("privileged") is True:
                    privileged = 1
                added = context.get("capabilities")
                if added:
                    if type(added) is not dict:
                        return None
                    added = added.get("add")
                    if added:
                        if type(added) is not list:
                            return None
                        for cap in added:
                            cap = cap if type(cap) is str else str(cap)
                            if cap not in capabilities:
                                capabilities.append(cap)
            image = container.get("image")
            if image:
                images.append(image if type(image) is str else str(image))

    host_paths: list[str] = []
    volumes = pod_spec.get("volumes")
    if volumes:
        if type(volumes) is not list:
            return None
        for volume in volumes:
            if type(volume) is not dict:
                if isinstance(volume, dict):
                    return None
                continue
            host_path = volume.get("hostPath")
            if host_path is None:
                continue
            if host_path and type(host_path) is not dict:
                return None
            path = host_path.get("path") if host_path else None
            host_paths.append("" if not path else path if type(path) is str else str(path))

    labels = metadata.get("labels")
    if labels is None:
        labels_cell = "{}"
    elif type(labels) is dict:
        labels_cell = json_cell({str(k): "" if v is None else str(v) for k, v in labels.items()}) if labels else "{}"
    else:
        return None

    service_account = pod_spec.get("serviceAccountName") or pod_spec.get("serviceAccount") or "default"
    automount = pod_spec.get("automountServiceAccountToken")
    node = pod_spec.get("nodeName")
    runtime_class = pod_spec.get("runtimeClassName")
    if runtime_class is not None and type(runtime_class) is not str:
        return None
    created_at = metadata.get("creationTimestamp")
    return (
        kind,
        namespace,
        name,
        service_account if type(service_account) is str else str(service_account),
        node if node is None or type(node) is str else sqlite_cell(node),
        privileged,
        1 if pod_spec.get("hostPID") else 0,
        1 if pod_spec.get("hostNetwork") else 0,
        1 if pod_spec.get("hostIPC") else 0,
        json_cell(host_paths) if host_paths else "[]",
        json_cell(capabilities) if capabilities else "[]",
        None if automount is None else 1 if automount else 0,
        json_cell(images) if images else "[]",
        owner_kind if owner_kind is None or type(owner_kind) is str else sqlite_cell(owner_kind),
        owner_name if owner_name is None or type(owner_name) is str else sqlite_cell(owner_name),
        labels_cell,
        created_at if created_at is None or type(created_at) is str else sqlite_cell(created_at),
        pod_phase(kind, obj.get("status")),
        runtime_class or None,
    )


def _pod_spec(kind: str, spec: Any) -> dict[str, Any] | None:
    """The pod spec of a Pod, of a workload's template, of a CronJob's job template; None if odd."""
    if not spec:
        spec = {}
    elif type(spec) is not dict:
        return None
    if kind == "Pod":
        return cast("dict[str, Any]", spec)
    if kind == "CronJob":
        job_template = spec.get("jobTemplate")
        if not job_template:
            spec = {}
        elif type(job_template) is not dict:
            return None
        else:
            spec = job_template.get("spec") or {}
            if type(spec) is not dict:
                return None
    template = spec.get("template")
    if type(template) is not dict:
        return None
    pod_spec = template.get("spec")
    return cast("dict[str, Any]", pod_spec) if type(pod_spec) is dict else None
