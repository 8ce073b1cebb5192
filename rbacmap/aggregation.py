"""Recompute aggregated ClusterRoles from their label selectors, as the aggregation controller does.

Upstream (pkg/controller/clusterroleaggregation) replaces an aggregated role's rules with
the de-duplicated rules of every other ClusterRole its selectors match, walking selectors
in order and matched roles sorted by name. The controller re-runs whenever a ClusterRole
changes, so aggregated roles that feed other aggregated roles (edit -> admin) converge;
we iterate to that fixed point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from rbacmap.model import PolicyRule, Role


class SelectorError(ValueError):
    pass


def selector_matches(selector: Mapping[str, object], labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelectorAsSelector semantics; an empty selector matches everything."""
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, dict) or not isinstance(expressions, list):
        raise SelectorError("matchLabels must be a mapping and matchExpressions a list")
    for key, value in match_labels.items():
        if labels.get(str(key)) != str(value):
            return False
    for expression in expressions:
        if not isinstance(expression, dict):
            raise SelectorError("a matchExpressions entry must be a mapping")
        key = str(expression.get("key", ""))
        operator = expression.get("operator")
        values = [str(v) for v in expression.get("values") or []]
        if operator == "In":
            if key not in labels or labels[key] not in values:
                return False
        elif operator == "NotIn":
            if key in labels and labels[key] in values:
                return False
        elif operator == "Exists":
            if key not in labels:
                return False
        elif operator == "DoesNotExist":
            if key in labels:
                return False
        else:
            raise SelectorError(f"unknown selector operator {operator!r}")
    return True


def aggregate_cluster_roles(cluster_roles: Sequence[Role], max_rounds: int = 50) -> list[Role]:
    """Return the ClusterRoles with every aggregated role's rules recomputed.

    Each aggregated rule keeps the name of the ClusterRole it came from (`rule_sources`),
    following chains back to the role that really holds it.
    """
    by_name = {role.key.name: role for role in cluster_roles}
    aggregated = sorted(name for name, role in by_name.items() if role.aggregation_selectors is not None)
    for _ in range(max_rounds):
        changed = False
        for name in aggregated:
            role = by_name[name]
            rules: list[PolicyRule] = []
            sources: list[str | None] = []
            for selector in role.aggregation_selectors or ():
                for other_name in sorted(by_name):
                    other = by_name[other_name]
                    if other_name == name or not selector_matches(selector, other.labels):
                        continue
                    for index, rule in enumerate(other.rules):
                        if rule not in rules:
                            rules.append(rule)
                            sources.append(other.source_of(index) or other_name)
            if tuple(rules) != role.rules or tuple(sources) != role.rule_sources:
                by_name[name] = replace(role, rules=tuple(rules), rule_sources=tuple(sources))
                changed = True
        if not changed:
            break
    return [by_name[role.key.name] for role in cluster_roles]
