"""Validating admission webhooks that see a pod being created: a policy engine may reject the pod.

Pod Security is modelled exactly; policy engines (Kyverno, Gatekeeper, …) run as validating
webhooks whose policies the snapshot does not hold. So a privileged pod's step is still reported,
with a condition naming each webhook that will judge it, so the reviewer checks that policy. A
webhook judges the pod when one of its rules covers the operation on that resource
(upstream `admission/plugin/webhook/predicates/rules`), its namespaceSelector matches the
namespace's labels (or may: a namespace without a Namespace object in the snapshot has only its
name label known), and its objectSelector cannot be dodged: an empty one selects every pod, and
a non-empty one is dodged only when the attacker writes every label of the pod (a new pod, a new
workload's template), not for a debug container joining an existing pod or an updated workload
whose template keeps the labels its selector requires.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rbacmap.aggregation import SelectorError, selector_matches
from rbacmap.solver.context import ClusterObjects

VALIDATING_KIND = "Validating"  # as stored (webhooks.kind)
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def pod_webhooks(objects: ClusterObjects, namespace: str, operation: str = "CREATE", subresource: str = "",
                 *, labels_chosen: bool = True) -> list[str]:
    """`configuration/webhook` names of the validating webhooks that judge this pod operation in the namespace
    (asked per step shown and per namespace: kept per question; do not modify).

    `labels_chosen`: the attacker writes every label of the pod (a new pod, a new workload's template),
    so a webhook with a non-empty objectSelector is dodged. Not for a debug container (it joins an
    existing pod) or an updated workload (its template keeps the labels its selector requires)."""
    memo: dict[tuple[str, str, str, bool], list[str]] = objects.memo.setdefault("pod_webhooks", {})
    key = (namespace, operation, subresource, labels_chosen)
    known = memo.get(key)
    if known is None:
        known = memo[key] = _pod_webhooks(objects, namespace, operation, subresource, labels_chosen)
    return known


def _pod_webhooks(objects: ClusterObjects, namespace: str, operation: str, subresource: str,
                  labels_chosen: bool) -> list[str]:
    resource = "pods" + (f"/{subresource}" if subresource else "")
    labels, known = _namespace_labels(objects, namespace)
    found = []
    for configuration in objects.webhooks:
        if configuration["kind"] != VALIDATING_KIND:
            continue
        for hook in configuration["webhooks"]:
            if (isinstance(hook, dict) and covers(hook.get("rules") or [], operation, resource)
                    and not (labels_chosen and not _empty(hook.get("objectSelector")))
                    and _selects(hook.get("namespaceSelector"), labels, known)):
                found.append(f"{configuration['name']}/{hook.get('name')}")
    return found


def _empty(selector: Any) -> bool:
    """An absent or empty label selector: upstream, it selects every object."""
    return not selector or (isinstance(selector, dict) and not selector.get("matchLabels")
                            and not selector.get("matchExpressions"))


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


def _selects(selector: Any, labels: Mapping[str, str], known: bool) -> bool:
    """Whether a namespaceSelector selects a namespace; `known` False: only its name label is known (no
    Namespace object in the snapshot), so a selector on other labels may select it."""
    if _empty(selector):
        return True
    if not known and any(key != NAMESPACE_NAME_LABEL for key in _selector_keys(selector)):
        return True
    try:
        return selector_matches(selector, labels)
    except (SelectorError, TypeError, AttributeError):
        return True  # a selector rbacmap cannot read: the webhook may judge the pod


def _selector_keys(selector: Any) -> set[str]:
    if not isinstance(selector, dict):
        return {""}
    keys = set(selector.get("matchLabels") or {})
    keys |= {str(e.get("key")) if isinstance(e, dict) else "" for e in selector.get("matchExpressions") or []}
    return keys


def _namespace_labels(objects: ClusterObjects, namespace: str) -> tuple[dict[str, str], bool]:
    """The namespace's labels, and whether they are known (False: no Namespace object, only its name label)."""
    row = objects.namespaces.get(namespace)
    labels: dict[str, str] = {}
    if row is not None:
        try:
            parsed = json.loads(row["labels"]) if isinstance(row["labels"], str) else row["labels"]
            labels = {str(k): str(v) for k, v in (parsed or {}).items()}
        except (ValueError, AttributeError):
            labels = {}
    labels.setdefault(NAMESPACE_NAME_LABEL, namespace)  # set by the API server on every namespace
    return labels, row is not None
