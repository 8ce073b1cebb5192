"""Turn Kubernetes API objects into store rows: pure functions shared by every importer.

Nothing here reads Secret data: `normalize_secret` looks only at metadata and `type`, and
`last-applied-configuration` annotations (which embed the whole object, data included)
are dropped from every object before anything is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rbacmap.aggregation import SelectorError, selector_matches
from rbacmap.csr_request import requested_subject
from rbacmap.model import (
    CLUSTER_ROLE,
    CLUSTER_ROLE_BINDING,
    ROLE,
    ROLE_BINDING,
    SUBJECT_KINDS,
    Binding,
    BindingKey,
    PolicyRule,
    Role,
    RoleKey,
    Subject,
    value_type,
)
from rbacmap.pod_security_config import (
    ADMISSION_CONFIGURATION,
    PLUGIN_NAME,
    POD_SECURITY_CONFIGURATION,
    POD_SECURITY_TABLE,
    parse_admission_configuration,
    parse_pod_security_configuration,
)

RBAC_GROUP = "rbac.authorization.k8s.io"
PSS_PREFIX = "pod-security.kubernetes.io/"
DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
POD_TEMPLATE_KINDS = {
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "ReplicationController",
}
WORKLOAD_KINDS = {"Pod", "CronJob", *POD_TEMPLATE_KINDS}
AWS_AUTH = ("kube-system", "aws-auth")


class InvalidObject(ValueError):
    """The object cannot be imported; the message says why (kind/name added by the caller)."""


Row = dict[str, Any]


@dataclass
class NormalizedObject:
    """What one API object becomes: rows for the store, plus policy objects to resolve later."""

    kind: str
    name: str
    namespace: str
    rows: list[tuple[str, Row]]
    role: Role | None = None
    binding: Binding | None = None
    skipped: bool = False


def object_identity(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    """Kind, name and namespace, each "" unless it is a string (a malformed one is reported, not shown)."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    return _text(obj.get("kind")), _text(metadata.get("name")), _text(metadata.get("namespace"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


# Where an object sits in its document: the index in `items` at each level of nested lists; () for
# a document that is the object itself.
ItemPath = tuple[int, ...]


def iter_objects(document: Any) -> Iterator[Any]:
    """Flatten `kind: List` and typed lists (RoleList, …) into their items, filling in item kinds."""
    for _, obj in iter_list_items(document):
        yield obj


def iter_list_items(document: Any, path: ItemPath = ()) -> Iterator[tuple[ItemPath, Any]]:
    """Each object of a document with its item path: list items (kinds filled in) or the document itself.

    Items are yielded as they are, even when they are not mappings: `normalize` rejects a
    bad item on its own, so one bad item does not cost the rest of the list.
    """
    if not isinstance(document, dict):
        yield path, document
        return
    kind = str(document.get("kind") or "")
    if kind.endswith("List") and isinstance(document.get("items"), list):
        item_kind = kind[: -len("List")] if kind != "List" else ""
        for index, item in enumerate(document["items"]):
            # The usual item (a plain object with its kind) needs no nested generator.
            if type(item) is dict:
                own_kind = item.get("kind")
                if type(own_kind) is str and own_kind and not own_kind.endswith("List"):
                    yield (*path, index), item
                    continue
            if isinstance(item, dict) and item_kind and not item.get("kind"):
                item = {**item, "kind": item_kind}
            yield from iter_list_items(item, (*path, index))
        return
    yield path, document


def describe_item(path: ItemPath) -> str | None:
    """An item path as a reader writes it (`items[2]`, `items[0].items[1]`); None for the document itself."""
    return ".".join(f"items[{index}]" for index in path) or None


def _metadata(obj: Mapping[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata")
    if metadata is None:
        raise InvalidObject("has no metadata")
    if not isinstance(metadata, dict):
        raise InvalidObject("metadata must be a mapping")
    if not metadata.get("name"):
        raise InvalidObject("has no metadata.name")
    _string(metadata["name"], "metadata.name")
    _optional_string(metadata.get("namespace"), "metadata.namespace")
    return metadata


# Fields the API server types as strings: anything else is reported, never converted with str().
def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidObject(f"{what} must be a string, got {value_type(value)}")
    return value


def _optional_string(value: Any, what: str) -> str:
    """A string field that may be left out (None and "" both mean unset)."""
    return "" if value is None else _string(value, what)


def _string_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidObject(f"{what} must be a mapping")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _annotations(metadata: Mapping[str, Any]) -> dict[str, str]:
    annotations = _string_map(metadata.get("annotations"), "metadata.annotations")
    for key in DROPPED_ANNOTATIONS:
        annotations.pop(key, None)
    return annotations


def _labels(metadata: Mapping[str, Any]) -> dict[str, str]:
    return _string_map(metadata.get("labels"), "metadata.labels")


def _spec(obj: Mapping[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        raise InvalidObject("spec must be a mapping")
    return spec


# --- RBAC ----------------------------------------------------------------------------------


def _rules(obj: Mapping[str, Any]) -> tuple[PolicyRule, ...]:
    raw_rules = obj.get("rules")
    if raw_rules is None:
        return ()
    if not isinstance(raw_rules, list):
        raise InvalidObject(f"rules must be a list, got {value_type(raw_rules)}")
    rules = []
    for index, raw in enumerate(raw_rules):
        if not isinstance(raw, dict):
            raise InvalidObject(f"rule #{index} must be a mapping")
        try:
            rules.append(PolicyRule.from_dict(raw))
        except ValueError as exc:
            raise InvalidObject(f"rule #{index}: {exc}") from None
    return tuple(rules)


def normalize_role(obj: Mapping[str, Any], default_namespace: str) -> NormalizedObject:
    kind = obj["kind"]
    metadata = _metadata(obj)
    namespace = "" if kind == CLUSTER_ROLE else str(metadata.get("namespace") or default_namespace)
    selectors = None
    aggregation = obj.get("aggregationRule")
    if kind == CLUSTER_ROLE and aggregation is not None:
        if not isinstance(aggregation, dict):
            raise InvalidObject(f"aggregationRule must be a mapping, got {value_type(aggregation)}")
        raw_selectors = aggregation.get("clusterRoleSelectors")
        if raw_selectors is not None and not isinstance(raw_selectors, list):
            raise InvalidObject(f"aggregationRule.clusterRoleSelectors must be a list, got {value_type(raw_selectors)}")
        selectors = tuple(raw_selectors or [])
        for index, selector in enumerate(selectors):
            # The API server rejects invalid selectors; one here must not spoil every other role's aggregation.
            try:
                if not isinstance(selector, dict):
                    raise SelectorError("a selector must be a mapping")
                selector_matches(selector, {})
            except SelectorError as exc:
                raise InvalidObject(f"aggregationRule.clusterRoleSelectors[{index}]: {exc}") from None
    labels = _labels(metadata)
    annotations = _annotations(metadata)
    role = Role(RoleKey(kind, str(metadata["name"]), namespace), _rules(obj), (), labels, selectors, annotations)
    row: Row = {
        "kind": kind,
        "namespace": namespace,
        "name": role.key.name,
        "labels": labels,
        "annotations": annotations,
        "aggregation_selectors": list(selectors) if selectors is not None else None,
        "created_at": metadata.get("creationTimestamp"),
    }
    return NormalizedObject(kind, role.key.name, namespace, [("roles", row)], role=role)


def role_rule_rows(role: Role) -> Iterator[Row]:
    for index, rule in enumerate(role.rules):
        yield {
            "role_kind": role.key.kind,
            "role_namespace": role.key.namespace,
            "role_name": role.key.name,
            "rule_index": index,
            "verbs": list(rule.verbs),
            "api_groups": list(rule.api_groups),
            "resources": list(rule.resources),
            "resource_names": list(rule.resource_names),
            "non_resource_urls": list(rule.non_resource_urls),
            "aggregated_from": role.source_of(index),
        }


def normalize_binding(obj: Mapping[str, Any], default_namespace: str) -> NormalizedObject:
    kind = obj["kind"]
    metadata = _metadata(obj)
    name = str(metadata["name"])
    namespace = "" if kind == CLUSTER_ROLE_BINDING else str(metadata.get("namespace") or default_namespace)
    role_ref = obj.get("roleRef")
    if not isinstance(role_ref, dict) or not role_ref.get("name") or not role_ref.get("kind"):
        raise InvalidObject("has no roleRef (kind and name are required)")
    ref_kind = _string(role_ref["kind"], "roleRef.kind")
    ref_name = _string(role_ref["name"], "roleRef.name")
    ref_api_group = _optional_string(role_ref.get("apiGroup"), "roleRef.apiGroup")
    allowed_ref_kinds = (CLUSTER_ROLE,) if kind == CLUSTER_ROLE_BINDING else (ROLE, CLUSTER_ROLE)
    if ref_kind not in allowed_ref_kinds:
        raise InvalidObject(f"roleRef.kind {ref_kind!r} is not allowed in a {kind}")
    raw_subjects = obj.get("subjects")
    if raw_subjects is not None and not isinstance(raw_subjects, list):
        raise InvalidObject(f"subjects must be a list, got {value_type(raw_subjects)}")
    subjects = []
    for index, raw in enumerate(raw_subjects or []):
        if not isinstance(raw, dict) or not raw.get("name"):
            raise InvalidObject(f"subject #{index} must be a mapping with a name")
        subject_kind = _optional_string(raw.get("kind"), f"subject #{index} kind")
        if subject_kind not in SUBJECT_KINDS:
            raise InvalidObject(f"subject #{index} has unknown kind {subject_kind!r} (User, Group or ServiceAccount)")
        subjects.append(Subject(subject_kind, _string(raw["name"], f"subject #{index} name"),
                                _optional_string(raw.get("namespace"), f"subject #{index} namespace"),
                                _optional_string(raw.get("apiGroup"), f"subject #{index} apiGroup")))
    binding = Binding(BindingKey(kind, name, namespace), RoleKey(ref_kind, ref_name, ""), tuple(subjects))
    row: Row = {
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "role_kind": ref_kind,
        "role_name": binding.role_ref.name,
        "role_api_group": ref_api_group or RBAC_GROUP,
        "labels": _labels(metadata),
        "annotations": _annotations(metadata),
        "created_at": metadata.get("creationTimestamp"),
    }
    rows: list[tuple[str, Row]] = [("bindings", row)]
    for index, subject in enumerate(subjects):
        rows.append(
            (
                "binding_subjects",
                {
                    "binding_kind": kind,
                    "binding_namespace": namespace,
                    "binding_name": name,
                    "subject_index": index,
                    "kind": subject.kind,
                    "api_group": subject.api_group,
                    "name": subject.name,
                    "namespace": subject.namespace,
                },
            )
        )
    return NormalizedObject(kind, name, namespace, rows, binding=binding)


# --- workloads -----------------------------------------------------------------------------


def pod_spec_of(kind: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The pod spec inside a Pod or a workload's template (CronJob: jobTemplate's template)."""
    if kind == "Pod":
        return dict(spec)
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template") or {}
    pod_spec = template.get("spec") if isinstance(template, dict) else None
    if not isinstance(pod_spec, dict):
        raise InvalidObject("has no pod template spec")
    return pod_spec


def pod_security_facts(pod_spec: Mapping[str, Any]) -> Row:
    containers = [
        c
        for key in ("initContainers", "containers", "ephemeralContainers")
        for c in (pod_spec.get(key) or [])
        if isinstance(c, dict)
    ]
    privileged = False
    capabilities: list[str] = []
    images: list[str] = []
    for container in containers:
        context = container.get("securityContext") or {}
        if context.get("privileged") is True:
            privileged = True
        for cap in (context.get("capabilities") or {}).get("add") or []:
            if str(cap) not in capabilities:
                capabilities.append(str(cap))
        if container.get("image"):
            images.append(str(container["image"]))
    host_paths = [
        str((volume.get("hostPath") or {}).get("path") or "")
        for volume in pod_spec.get("volumes") or []
        if isinstance(volume, dict) and volume.get("hostPath") is not None
    ]
    automount = pod_spec.get("automountServiceAccountToken")
    return {
        "service_account": str(pod_spec.get("serviceAccountName") or pod_spec.get("serviceAccount") or "default"),
        "node": pod_spec.get("nodeName"),
        "privileged": privileged,
        "host_pid": bool(pod_spec.get("hostPID")),
        "host_network": bool(pod_spec.get("hostNetwork")),
        "host_ipc": bool(pod_spec.get("hostIPC")),
        "host_path_volumes": host_paths,
        "added_capabilities": capabilities,
        "automount_token": None if automount is None else bool(automount),
        "images": images,
    }


def normalize_workload(obj: Mapping[str, Any], default_namespace: str) -> NormalizedObject:
    kind = obj["kind"]
    metadata = _metadata(obj)
    name = str(metadata["name"])
    namespace = str(metadata.get("namespace") or default_namespace)
    owner_kind = owner_name = None
    for ref in metadata.get("ownerReferences") or []:
        if isinstance(ref, dict) and (ref.get("controller") or owner_kind is None):
            owner_kind, owner_name = ref.get("kind"), ref.get("name")
    pod_spec = pod_spec_of(kind, _spec(obj))
    runtime_class = pod_spec.get("runtimeClassName")
    if runtime_class is not None and not isinstance(runtime_class, str):
        raise InvalidObject("runtimeClassName must be a string")
    row: Row = {
        "kind": kind,
        "namespace": namespace,
        "name": name,
        **pod_security_facts(pod_spec),
        "owner_kind": owner_kind,
        "owner_name": owner_name,
        "labels": _labels(metadata),
        "created_at": metadata.get("creationTimestamp"),
        "phase": pod_phase(kind, obj.get("status")),
        "runtime_class": runtime_class or None,
    }
    return NormalizedObject(kind, name, namespace, [("workloads", row)])


def pod_phase(kind: str, status: Any) -> str | None:
    """A Pod's `status.phase` (None for templates, or when the source left status out)."""
    if kind != "Pod" or not isinstance(status, dict):
        return None
    phase = status.get("phase")
    return phase if isinstance(phase, str) and phase else None


# --- everything else -----------------------------------------------------------------------


def normalize_namespace(obj: Mapping[str, Any], default_namespace: str) -> NormalizedObject:
    metadata = _metadata(obj)
    labels = _labels(metadata)
    row: Row = {
        "name": str(metadata["name"]),
        "labels": labels,
        "annotations": _annotations(metadata),
        "pss_enforce": labels.get(PSS_PREFIX + "enforce"),
        "pss_audit": labels.get(PSS_PREFIX + "audit"),
        "pss_warn": labels.get(PSS_PREFIX + "warn"),
    }
    return NormalizedObject("Namespace", row["name"], "", [("namespaces", row)])


def normalize_service_account(obj: Mapping[str, Any], default_namespace: str) -> NormalizedObject:
    metadata = _metadata(obj)
    automount = obj.get("automountServiceAccountToken")
    row: Row = {
        "namespace": str(metadata.get("namespace") or default_namespace),
        "name": str(metadata["name"]),
        "annotations": _annotations(metadata),
        "labels": _labels(metadata),
        "automount_token": None if automount is None else bool(automount),
        "secrets": [str(s.get("name")) for s in obj.get("secrets") or [] if isinstance(s, dict)],
        "created_at": metadata.get("creationTimestamp"),
        "uid": str(metadata["uid"]) if metadata.get("uid") else None,
    }
    return NormalizedObject("ServiceAccount", row["name"], row["namespace"], [("service_accounts", row)])


def normalize_secret(obj: Mapping[str, Any], default_namespace: str) -> NormalizedObject:
    # Only metadata and type: `data` and `stringData` are never looked at.
    metadata = _metadata(obj)
    annotations = _string_map(metadata.get("annotations"), "metadata.annotations")
    row: Row = {
        "namespace": str(metadata.get("namespace") or default_namespace),
        "name": str(metadata["name"]),
        "type": str(obj.get("type") or "Opaque"),
        "service_account": annotations.get("kubernetes.io/service-account.name"),
        "labels": _labels(metadata),
        "created_at": metadata.get("creationTimestamp"),
        "service_account_uid": annotations.get("kubernetes.io/service-account.uid") or None,
    }
    return NormalizedObject("Secret", row["name"], row["namespace"], [("secrets", row)])


def normalize_node(obj: Mapping[str, Any], default_namespace: str) -> NormalizedObject:
    metadata = _metadata(obj)
    spec = _spec(obj)
    status = obj.get("status") or {}
    node_info = status.get("nodeInfo") or {} if isinstance(status, dict) else {}
    row: Row = {
        "name": str(metadata["name"]),
        "labels": _labels(metadata),
        "provider_id": spec.get("providerID"),
        "kubelet_version": node_info.get("kubeletVersion"),
    }
    return NormalizedObject("Node", row["name"], "", [("nodes", row)])


def normalize_webhook_configuration(obj: Mapping[str, Any], default_namespace: str) -> NormalizedObject:
    metadata = _metadata(obj)
    hooks = []
    for hook in obj.get("webhooks") or []:
        if not isinstance(hook, dict):
            continue
        client = hook.get("clientConfig") or {}
        hooks.append(
            {
                "name": hook.get("name"),
                "rules": hook.get("rules") or [],
                "failurePolicy": hook.get("failurePolicy"),
                "service": client.get("service"),
                "url": client.get("url"),
                "namespaceSelector": hook.get("namespaceSelector"),
                "objectSelector": hook.get("objectSelector"),
            }
        )
    kind = "Mutating" if obj["kind"] == "MutatingWebhookConfiguration" else "Validating"
    row: Row = {"kind": kind, "name": str(metadata["name"]), "webhooks": hooks}
    return NormalizedObject(obj["kind"], row["name"], "", [("webhooks", row)])


def normalize_runtime_class(obj: Mapping[str, Any], default_namespace: str) -> NormalizedObject:
    """A RuntimeClass: its name and the CRI handler its pods run with (node.k8s.io/v1, cluster-scoped)."""
    metadata = _metadata(obj)
    handler = obj.get("handler")
    if not isinstance(handler, str) or not handler:
        raise InvalidObject("handler is required")
    scheduling = obj.get("scheduling") or {}
    node_selector = scheduling.get("nodeSelector") if isinstance(scheduling, dict) else None
    if node_selector is not None and not isinstance(node_selector, dict):
        raise InvalidObject("scheduling.nodeSelector must be a mapping")
    # The RuntimeClass admission plugin adds its nodeSelector to every pod of the class.
    row: Row = {"name": str(metadata["name"]), "handler": handler,
                "node_selector": {str(k): str(v) for k, v in node_selector.items()} if node_selector else None}
    return NormalizedObject("RuntimeClass", row["name"], "", [("runtime_classes", row)])


VALIDATING_ADMISSION_POLICY = "ValidatingAdmissionPolicy"
VALIDATING_ADMISSION_POLICY_BINDING = "ValidatingAdmissionPolicyBinding"


def normalize_admission_policy(obj: Mapping[str, Any], default_namespace: str) -> NormalizedObject:
    """A ValidatingAdmissionPolicy (what it matches, its CEL checks) or its binding (which policy, where, and
    whether it denies); v1, v1beta1 and v1alpha1 have the same shape for these fields."""
    metadata = _metadata(obj)
    spec = _spec(obj)
    if obj["kind"] == VALIDATING_ADMISSION_POLICY:
        kept = {key: spec.get(key) for key in ("matchConstraints", "matchConditions", "validations", "failurePolicy",
                                               "paramKind")}
        row: Row = {"kind": "Policy", "name": str(metadata["name"]), "spec": kept}
    else:
        if not isinstance(spec.get("policyName"), str) or not spec["policyName"]:
            raise InvalidObject("spec.policyName is required")
        kept = {key: spec.get(key) for key in ("policyName", "matchResources", "validationActions", "paramRef")}
        row = {"kind": "Binding", "name": str(metadata["name"]), "spec": kept}
    return NormalizedObject(obj["kind"], row["name"], "", [("admission_policies", row)])


def normalize_csr(obj: Mapping[str, Any], default_namespace: str) -> NormalizedObject:
    metadata = _metadata(obj)
    spec = _spec(obj)
    status = obj.get("status") or {}
    subject = requested_subject(spec.get("request"))
    conditions = [
        {"type": c.get("type"), "status": c.get("status"), "reason": c.get("reason")}
        for c in (status.get("conditions") or [])
        if isinstance(c, dict)
    ]
    row: Row = {
        "name": str(metadata["name"]),
        "signer_name": str(spec.get("signerName") or ""),
        "username": spec.get("username"),
        "groups": [str(g) for g in spec.get("groups") or []],
        "usages": [str(u) for u in spec.get("usages") or []],
        "conditions": conditions,
        "expiration_seconds": spec.get("expirationSeconds"),
        "created_at": metadata.get("creationTimestamp"),
        "issued": bool(status.get("certificate")),
        "request_cn": subject.common_name if subject else None,
        "request_organizations": list(subject.organizations) if subject else [],
    }
    return NormalizedObject("CertificateSigningRequest", row["name"], "", [("csrs", row)])


def normalize_config_map(obj: Mapping[str, Any], default_namespace: str) -> NormalizedObject:
    metadata = _metadata(obj)
    namespace = str(metadata.get("namespace") or default_namespace)
    name = str(metadata["name"])
    if (namespace, name) != AWS_AUTH:
        return NormalizedObject("ConfigMap", name, namespace, [], skipped=True)
    row = {"namespace": namespace, "name": name, "data": _string_map(obj.get("data"), "data")}
    return NormalizedObject("ConfigMap", name, namespace, [("config_maps", row)])


def normalize_admission_configuration(obj: Mapping[str, Any], default_namespace: str) -> NormalizedObject:
    """The API server's admission configuration file: its PodSecurity plugin's defaults and exemptions."""
    try:
        config = parse_admission_configuration(obj)
    except ValueError as exc:
        raise InvalidObject(str(exc)) from None
    if config is None:
        return NormalizedObject(ADMISSION_CONFIGURATION, PLUGIN_NAME, "", [], skipped=True)
    return NormalizedObject(ADMISSION_CONFIGURATION, PLUGIN_NAME, "", [(POD_SECURITY_TABLE, config.to_row())])


def normalize_pod_security_configuration(obj: Mapping[str, Any], default_namespace: str) -> NormalizedObject:
    try:
        config = parse_pod_security_configuration(obj)
    except ValueError as exc:
        raise InvalidObject(str(exc)) from None
    return NormalizedObject(POD_SECURITY_CONFIGURATION, PLUGIN_NAME, "", [(POD_SECURITY_TABLE, config.to_row())])


Normalizer = Callable[[Mapping[str, Any], str], NormalizedObject]

NORMALIZERS: dict[str, Normalizer] = {
    ROLE: normalize_role,
    CLUSTER_ROLE: normalize_role,
    ROLE_BINDING: normalize_binding,
    CLUSTER_ROLE_BINDING: normalize_binding,
    "Namespace": normalize_namespace,
    "ServiceAccount": normalize_service_account,
    "Secret": normalize_secret,
    "Node": normalize_node,
    "ValidatingWebhookConfiguration": normalize_webhook_configuration,
    "MutatingWebhookConfiguration": normalize_webhook_configuration,
    VALIDATING_ADMISSION_POLICY: normalize_admission_policy,
    "RuntimeClass": normalize_runtime_class,
    VALIDATING_ADMISSION_POLICY_BINDING: normalize_admission_policy,
    "CertificateSigningRequest": normalize_csr,
    "ConfigMap": normalize_config_map,
    ADMISSION_CONFIGURATION: normalize_admission_configuration,
    POD_SECURITY_CONFIGURATION: normalize_pod_security_configuration,
    **{kind: normalize_workload for kind in WORKLOAD_KINDS},
}

def normalize(obj: Mapping[str, Any], default_namespace: str = "default") -> NormalizedObject:
    """Normalize one API object; unknown kinds come back with `skipped=True`."""
    if not isinstance(obj, Mapping):
        raise InvalidObject(f"expected a mapping (a Kubernetes object), got {type(obj).__name__}")
    kind, name, namespace = object_identity(obj)
    if not kind:
        raise InvalidObject("has no kind" if obj.get("kind") in (None, "") else
                            f"kind must be a string, got {value_type(obj.get('kind'))}")
    normalizer = NORMALIZERS.get(kind)
    if normalizer is None:
        return NormalizedObject(kind, name, namespace, [], skipped=True)
    try:
        return normalizer(obj, default_namespace)
    except InvalidObject:
        raise
    except (AttributeError, TypeError, KeyError) as exc:
        # Wrong-shaped fields (a string where a mapping belongs, …) are bad input, not a crash.
        raise InvalidObject(f"malformed object ({type(exc).__name__}: {exc})") from None
