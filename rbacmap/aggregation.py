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

from rbacmap.model import PolicyRule, Role, value_type


class SelectorError(ValueError):
    pass


# One parsed requirement: key, operator, values (matchLabels entries become "=" requirements).
Requirement = tuple[str, str, frozenset[str]]


def parse_selector(selector: Mapping[str, object]) -> tuple[Requirement, ...]:
    """metav1.LabelSelectorAsSelector: every requirement is built (and checked) before any label is
    matched, so an invalid selector is an error whatever the labels; no requirements = everything."""
    match_labels = selector.get("matchLabels")
    expressions = selector.get("matchExpressions")
    if match_labels is not None and not isinstance(match_labels, dict):
        raise SelectorError(f"matchLabels must be a mapping, got {value_type(match_labels)}")
    if expressions is not None and not isinstance(expressions, list):
        raise SelectorError(f"matchExpressions must be a list, got {value_type(expressions)}")
    requirements: list[Requirement] = []
    for key, value in (match_labels or {}).items():
        # A JSON null decodes to "" in Go's map[string]string; any other non-string is rejected.
        if not isinstance(key, str) or not isinstance(value, str | None):
            raise SelectorError(f"matchLabels must map strings to strings, got {value_type(key)}: {value_type(value)}")
        requirements.append((key, "=", frozenset(("" if value is None else value,))))
    for expression in expressions or []:
        if not isinstance(expression, dict):
            raise SelectorError("a matchExpressions entry must be a mapping")
        operator = expression.get("operator")
        raw_values = expression.get("values")
        if raw_values is not None and not (isinstance(raw_values, list)
                                           and all(isinstance(value, str) for value in raw_values)):
            raise SelectorError(f"matchExpressions values must be a list of strings, got {value_type(raw_values)}")
        if not isinstance(expression.get("key"), str):
            raise SelectorError(f"a matchExpressions key must be a string, got {value_type(expression.get('key'))}")
        values = frozenset(raw_values or [])
        # As the API server's ValidateLabelSelectorRequirement (meta/v1/validation).
        if operator in ("In", "NotIn"):
            if not values:
                raise SelectorError(f"operator {operator!r} needs values")
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                raise SelectorError(f"operator {operator!r} takes no values")
        else:
            raise SelectorError(f"unknown selector operator {operator!r}")
        requirements.append((expression["key"], operator, values))
    return tuple(requirements)


def requirements_match(requirements: tuple[Requirement, ...], labels: Mapping[str, str]) -> bool:
    """labels.Requirement.Matches for every requirement (ANDed)."""
    for key, operator, values in requirements:
        if operator in ("=", "In"):
            if key not in labels or labels[key] not in values:
                return False
        elif operator == "NotIn":
            if key in labels and labels[key] in values:
                return False
        elif operator == "Exists":
            if key not in labels:
                return False
        elif key in labels:  # DoesNotExist
            return False
    return True


def selector_matches(selector: Mapping[str, object], labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelectorAsSelector semantics; an empty selector matches everything."""
    return requirements_match(parse_selector(selector), labels)


CHAIN = " <- "  # between the roles an aggregated rule passed through (names have no spaces)


def aggregate_cluster_roles(cluster_roles: Sequence[Role], max_rounds: int = 50) -> list[Role]:
    """Return the ClusterRoles with every aggregated role's rules recomputed.

    Each aggregated rule keeps where it came from (`rule_sources`): the ClusterRole the selector
    matched and, when that one is aggregated too, the chain on to the role that really holds the
    rule ("edit <- system:aggregate-to-edit"), so each hop can be checked against a selector.
    """
    by_name = {role.key.name: role for role in cluster_roles}
    aggregated = sorted(name for name, role in by_name.items() if role.aggregation_selectors is not None)
    parsed = {name: [parse_selector(s) for s in by_name[name].aggregation_selectors or ()] for name in aggregated}
    for _ in range(max_rounds):
        changed = False
        for name in aggregated:
            role = by_name[name]
            rules: list[PolicyRule] = []
            sources: list[str | None] = []
            position: dict[PolicyRule, int] = {}  # rule -> its index in `rules`
            looping: list[bool] = []  # per rule: whether its source is a route back through this role
            for requirements in parsed[name]:
                for other_name in sorted(by_name):
                    other = by_name[other_name]
                    if other_name == name or not requirements_match(requirements, other.labels):
                        continue
                    for index, rule in enumerate(other.rules):
                        # Every rule of a matched role is taken, as the controller takes them. Only its
                        # source may differ: a route back through this very role (aggregations that select
                        # each other) names just the hop, and gives way to a route that does not loop.
                        held = other.source_of(index)
                        loops = held is not None and name in held.split(CHAIN)
                        source = other_name if held is None or loops else f"{other_name}{CHAIN}{held}"
                        at = position.get(rule)
                        if at is None:
                            position[rule] = len(rules)
                            rules.append(rule)
                            sources.append(source)
                            looping.append(loops)
                        elif looping[at] and not loops:
                            sources[at], looping[at] = source, False
            if tuple(rules) != role.rules or tuple(sources) != role.rule_sources:
                by_name[name] = replace(role, rules=tuple(rules), rule_sources=tuple(sources))
                changed = True
        if not changed:
            break
    return [by_name[role.key.name] for role in cluster_roles]
