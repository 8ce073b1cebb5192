"""Validating admission webhooks that see a pod being created: a policy engine may reject the pod.

Pod Security is modelled exactly; policy engines (Kyverno, Gatekeeper, …) run as validating
webhooks whose policies the snapshot does not hold. So a privileged pod's step is still reported,
with a condition naming each webhook that will judge it, so the reviewer checks that policy. A
webhook judges the pod when one of its rules covers the operation on that resource
(upstream `admission/plugin/webhook/predicates/rules`), its namespaceSelector matches the
namespace's labels, and it has no objectSelector: the attacker writes the pod's labels, and
every label selector can be dodged by some set of labels.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rbacmap.aggregation import SelectorError, selector_matches
from rbacmap.solver.context import ClusterObjects

VALIDATING_KIND = "Validating"  # as stored (webhooks.kind)
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def pod_webhooks(objects: ClusterObjects, namespace: str, operation: str = "CREATE",
                 subresource: str = "") -> list[str]:
    """`configuration/webhook` names of the validating webhooks that judge this pod operation in the namespace
    (asked per step shown and per namespace: kept per question; do not modify)."""
    memo: dict[tuple[str, str, str], list[str]] = objects.memo.setdefault("pod_webhooks", {})
    known = memo.get((namespace, operation, subresource))
    if known is None:
        known = memo[(namespace, operation, subresource)] = _pod_webhooks(objects, namespace, operation, subresource)
    return known


def _pod_webhooks(objects: ClusterObjects, namespace: str, operation: str, subresource: str) -> list[str]:
    resource = "pods" + (f"/{subresource}" if subresource else "")
    labels = _namespace_labels(objects, namespace)
    found = []
    for configuration in objects.webhooks:
        if configuration["kind"] != VALIDATING_KIND:
            continue
        for hook in configuration["webhooks"]:
            if (isinstance(hook, dict) and covers(hook.get("rules") or [], operation, resource)
                    and not hook.get("objectSelector") and _selects(hook.get("namespaceSelector"), labels)):
                found.append(f"{configuration['name']}/{hook.get('name')}")
    return found


def webhook_condition(names: list[str]) -> str:
    if not names:
        return ""
    return (f"validating admission webhook {', '.join(names)} judges this pod (a policy engine such as Kyverno "
            "or Gatekeeper may reject a privileged pod: check its policies)")


def covers(rules: list[Any], operation: str, resource: str) -> bool:
    """Whether a rule covers an operation on a core v1 namespaced resource (upstream `Matcher`)."""
    name, _, sub = resource.partition("/")
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        if not all(value in (rule.get(key) or []) or "*" in (rule.get(key) or [])
                   for key, value in (("apiGroups", ""), ("apiVersions", "v1"), ("operations", operation))):
            continue
        if rule.get("scope") not in (None, "*", "Namespaced"):
            continue
        if any(_resource_matches(str(pattern), name, sub) for pattern in rule.get("resources") or []):
            return True
    return False


def _resource_matches(pattern: str, resource: str, subresource: str) -> bool:
    # As upstream: "pods" is the resource alone, "pods/*" it and every subresource, "*" every resource alone.
    name, _, sub = pattern.partition("/")
    return name in ("*", resource) and sub in ("*", subresource)


def _selects(selector: Any, labels: Mapping[str, str]) -> bool:
    if not selector:
        return True
    try:
        return selector_matches(selector, labels)
    except (SelectorError, TypeError, AttributeError):
        return True  # a selector rbacmap cannot read: the webhook may judge the pod


def _namespace_labels(objects: ClusterObjects, namespace: str) -> dict[str, str]:
    row = objects.namespaces.get(namespace)
    labels: dict[str, str] = {}
    if row is not None:
        try:
            parsed = json.loads(row["labels"]) if isinstance(row["labels"], str) else row["labels"]
            labels = {str(k): str(v) for k, v in (parsed or {}).items()}
        except (ValueError, AttributeError):
            labels = {}
    labels.setdefault(NAMESPACE_NAME_LABEL, namespace)  # set by the API server on every namespace
    return labels
