"""Validating admission that sees a pod being created: a webhook or a ValidatingAdmissionPolicy may reject it.

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

A ValidatingAdmissionPolicy judges the pod through each binding that names it, denies
(`validationActions` has `Deny`; absent, as v1alpha1 had it, counts as denying) and whose
`matchResources` match too; the policy's `matchConstraints` and the binding's `matchResources`
are matched alike (upstream `admission/plugin/policy/matching`): namespaceSelector and
objectSelector as for webhooks, `excludeResourceRules` first, then `resourceRules` (none: every
resource, allowed for a binding only). A rule limited by `resourceNames` is dodged by a pod the
attacker names, and an exclude rule with names is one the attacker can name its pod after. The
CEL of `validations` and `matchConditions` is not evaluated: the condition says the policy may
reject the pod, and the reviewer reads its validations.
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
    resource = "pods" + (f"/{subresource}" if subresource else "")
    return webhooks_judging(objects, namespace, operation, resource, "", labels_chosen=labels_chosen)


def webhooks_judging(objects: ClusterObjects, namespace: str, operation: str, resource: str, group: str, *,
                     labels_chosen: bool) -> list[str]:
    """`pod_webhooks` for a write of any namespaced v1 resource (`resource/subresource`) of an API group."""
    memo: dict[tuple[str, str, str, str, bool], list[str]] = objects.memo.setdefault("webhooks_judging", {})
    key = (namespace, operation, resource, group, labels_chosen)
    known = memo.get(key)
    if known is None:
        known = memo[key] = _webhooks_judging(objects, namespace, operation, resource, group, labels_chosen)
    return known


def _webhooks_judging(objects: ClusterObjects, namespace: str, operation: str, resource: str, group: str,
                      labels_chosen: bool) -> list[str]:
    labels, known = _namespace_labels(objects, namespace)
    found = []
    for configuration in objects.webhooks:
        if configuration["kind"] != VALIDATING_KIND:
            continue
        for hook in configuration["webhooks"]:
            if (isinstance(hook, dict) and covers(hook.get("rules") or [], operation, resource, group)
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


def admission_condition(objects: ClusterObjects, namespace: str, operation: str = "CREATE", subresource: str = "",
                        *, labels_chosen: bool = True, name_chosen: bool = True,
                        written: tuple[str, str, str] | None = None) -> str:
    """The condition a pod step carries for every validating webhook and admission policy that judges it ('' for
    none): the pod, and `written` (operation, resource, API group) when the attacker writes a workload whose
    controller makes the pod (judged too, with its own labels and name chosen on a create only)."""
    webhooks = pod_webhooks(objects, namespace, operation, subresource, labels_chosen=labels_chosen)
    policies = pod_policies(objects, namespace, operation, subresource, labels_chosen=labels_chosen,
                            name_chosen=name_chosen)
    if written is not None:
        write, resource, group = written
        created = write == "CREATE"
        webhooks = [*webhooks, *(name for name in webhooks_judging(objects, namespace, write, resource, group,
                                                                   labels_chosen=created) if name not in webhooks)]
        policies = [*policies, *(name for name in policies_judging(objects, namespace, write, resource, group,
                                                                   labels_chosen=created, name_chosen=created)
                                 if name not in policies)]
    text = webhook_condition(webhooks)
    if policies:
        text += ("; " if text else "") + (
            f"ValidatingAdmissionPolicy {', '.join(policies)} judges this pod (its CEL validations may reject a "
            "privileged pod: check them)")
    return text


def in_pod_condition(objects: ClusterObjects, namespace: str | None, subresource: str) -> str:
    """The condition of running code in existing pods (exec or attach: CONNECT; a debug container: UPDATE of
    pods/ephemeralcontainers) in a namespace (None: every namespace, judged wherever something judges it): a
    webhook or policy may refuse it. The pod exists, so the attacker picks neither its labels nor its name."""
    operation = "UPDATE" if subresource == "ephemeralcontainers" else "CONNECT"
    resource = f"pods/{subresource}"
    if not _may_judge(objects, operation, resource):
        return ""
    memo: dict[tuple[str | None, str], str] = objects.memo.setdefault("in_pod_condition", {})
    key = (namespace, subresource)
    known = memo.get(key)
    if known is None:
        judged: dict[str, list[str]] = {}  # judge -> the namespaces where it judges
        # A CONNECT's object is its options (PodExecOptions), which have no labels: a non-empty objectSelector
        # never matches it (upstream object matcher), as if the attacker had chosen the labels. A debug
        # container's object is the pod, whose labels the attacker does not choose.
        connect = operation == "CONNECT"
        for name in [namespace] if namespace is not None else objects.all_namespaces():
            judges = [*(f"validating admission webhook {hook}" for hook in webhooks_judging(
                objects, name, operation, resource, "", labels_chosen=connect)),
                *(f"ValidatingAdmissionPolicy {policy}" for policy in policies_judging(
                    objects, name, operation, resource, "", labels_chosen=connect, name_chosen=False))]
            for judge in judges:
                judged.setdefault(judge, []).append(name)
        texts = []
        for judge, where in judged.items():
            place = "" if namespace is not None else f" in {_some(where)}"
            texts.append(f"{judge} judges {operation} {resource}{place} (it may refuse it: check its rules)")
        known = memo[key] = "; ".join(texts)
    return known


def _may_judge(objects: ClusterObjects, operation: str, resource: str) -> bool:
    """Whether any validating webhook or admission policy has a rule covering this operation, wherever (most
    clusters: none covers exec; asked for every exec step shown)."""
    memo: dict[tuple[str, str], bool] = objects.memo.setdefault("may_judge", {})
    known = memo.get((operation, resource))
    if known is None:
        rules: list[Any] = [rule for configuration in objects.webhooks if configuration["kind"] == VALIDATING_KIND
                            for hook in configuration["webhooks"] if isinstance(hook, dict)
                            for rule in hook.get("rules") or []]
        for row in objects.admission_policies:
            spec = row["spec"] if isinstance(row["spec"], dict) else {}
            match = spec.get("matchConstraints") if row["kind"] == "Policy" else spec.get("matchResources")
            if isinstance(match, dict):
                rules += match.get("resourceRules") or []
        unlisted = objects.admission_policies_unlisted and any(row["kind"] == "Binding"
                                                               for row in objects.admission_policies)
        known = memo[(operation, resource)] = unlisted or covers(rules, operation, resource)
    return known


def _some(namespaces: list[str]) -> str:
    shown = ", ".join(namespaces[:3])
    return f"namespaces {shown}" + (f" and {len(namespaces) - 3} more" if len(namespaces) > 3 else "")


def judges_pods(objects: ClusterObjects, namespace: str) -> bool:
    """Whether a validating webhook or a bound admission policy judges a new pod in the namespace."""
    return bool(pod_webhooks(objects, namespace) or pod_policies(objects, namespace))


def any_pod_judge(objects: ClusterObjects) -> bool:
    """Whether some validating webhook or admission policy might judge pods at all (most clusters: few, or none)."""
    return bool(objects.admission_policies) or any(
        configuration["kind"] == VALIDATING_KIND for configuration in objects.webhooks)


def pod_policies(objects: ClusterObjects, namespace: str, operation: str = "CREATE", subresource: str = "",
                 *, labels_chosen: bool = True, name_chosen: bool = True) -> list[str]:
    """`policy (binding B)` names of the bound, denying ValidatingAdmissionPolicies that judge this pod operation
    (kept per question; do not modify). `labels_chosen` as for `pod_webhooks`; `name_chosen`: the attacker names
    the pod (a pod it creates; a controller names a workload's pods, and an existing pod has its name)."""
    resource = "pods" + (f"/{subresource}" if subresource else "")
    return policies_judging(objects, namespace, operation, resource, "", labels_chosen=labels_chosen,
                            name_chosen=name_chosen)


def policies_judging(objects: ClusterObjects, namespace: str, operation: str, resource: str, group: str, *,
                     labels_chosen: bool, name_chosen: bool) -> list[str]:
    """`pod_policies` for a write of any namespaced v1 resource (`resource/subresource`) of an API group."""
    if not objects.admission_policies:
        return []
    memo: dict[tuple[str, str, str, str, bool, bool], list[str]] = objects.memo.setdefault("policies_judging", {})
    key = (namespace, operation, resource, group, labels_chosen, name_chosen)
    known = memo.get(key)
    if known is None:
        known = memo[key] = _policies_judging(objects, namespace, operation, resource, group, labels_chosen,
                                              name_chosen)
    return known


def _policies_judging(objects: ClusterObjects, namespace: str, operation: str, resource: str, group: str,
                      labels_chosen: bool, name_chosen: bool) -> list[str]:
    labels, known = _namespace_labels(objects, namespace)
    policies = {row["name"]: row["spec"] for row in objects.admission_policies if row["kind"] == "Policy"}
    found = []
    for row in objects.admission_policies:
        spec = row["spec"]
        if row["kind"] != "Binding" or not isinstance(spec, dict):
            continue
        name = spec.get("policyName")
        actions = spec.get("validationActions")
        if actions is not None and "Deny" not in (actions if isinstance(actions, list) else [actions]):
            continue  # Warn / Audit only: reported, never rejected
        if name not in policies:
            # A binding to a policy that does not exist is ignored upstream; when the import could not list the
            # policies, one may exist unseen: then only the binding's own matchResources can rule it out.
            if (objects.admission_policies_unlisted and isinstance(name, str)
                    and _policy_matches(spec.get("matchResources"), operation, resource, group, labels, known,
                                        labels_chosen, name_chosen, required=False)):
                found.append(f"{name} (binding {row['name']}; the policy itself could not be listed)")
            continue
        policy = policies[name]
        criteria = [policy.get("matchConstraints") if isinstance(policy, dict) else None, spec.get("matchResources")]
        if all(_policy_matches(match, operation, resource, group, labels, known, labels_chosen, name_chosen,
                               required=index == 0) for index, match in enumerate(criteria)):
            found.append(f"{name} (binding {row['name']})")
    return found


def _policy_matches(match: Any, operation: str, resource: str, group: str, labels: Mapping[str, str], known: bool,
                    labels_chosen: bool, name_chosen: bool, *, required: bool) -> bool:
    """Whether a policy's matchConstraints (`required`) or a binding's matchResources (absent: no limit) may
    match the pod operation."""
    if not isinstance(match, dict):
        return not required
    if labels_chosen and not _empty(match.get("objectSelector")):
        return False
    if not _selects(match.get("namespaceSelector"), labels, known):
        return False
    excluded = [rule for rule in match.get("excludeResourceRules") or []
                if isinstance(rule, dict) and (name_chosen or not rule.get("resourceNames"))]
    if covers(excluded, operation, resource, group):
        return False  # unnamed: excluded for every pod; named: the attacker gives its pod that name
    rules = match.get("resourceRules") or []
    if not rules:
        return not required  # a policy without resourceRules is invalid (the API refuses it)
    # A rule limited by resourceNames does not see a pod the attacker names.
    return covers([rule for rule in rules if isinstance(rule, dict)
                   and not (name_chosen and rule.get("resourceNames"))], operation, resource, group)


def covers(rules: list[Any], operation: str, resource: str, group: str = "") -> bool:
    """Whether a rule covers an operation on a v1 namespaced resource of an API group (upstream `Matcher`; the
    pods and workloads rbacmap asks about are all served as v1)."""
    name, _, sub = resource.partition("/")
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        if not all(value in (rule.get(key) or []) or "*" in (rule.get(key) or [])
                   for key, value in (("apiGroups", group), ("apiVersions", "v1"), ("operations", operation))):
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
