"""Adapters to the library features behind the screens (solver, audit usage, trim, offboarding).

Each screen asks this module, never the feature package directly, so wiring a feature in is
a change in one place, and each adapter calls exactly what the matching CLI command calls.
A question the library cannot answer (no audit data, a missing module, a bad identifier)
raises FeatureUnavailable with a sentence the screen shows as is; the TUI never invents an
answer in its place. No textual imports: the solver helper process imports this module.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from rbacmap.model import RoleKey, Subject
from rbacmap.offboard import offboard
from rbacmap.offboard_fix import build_fix, render_fix
from rbacmap.offboard_identity import PersonSpecError, parse_person
from rbacmap.offboard_report import PersonReport
from rbacmap.policy import InMemoryPolicy
from rbacmap.store import Snapshot, Store
from rbacmap.trim import TrimReport, select_roles, trim
from rbacmap.usage import (
    UsageRecord,
    UsageWindow,
    usage_records,
    usage_window,
    user_groups,
    users_with_groups_not_logged,
)


class FeatureUnavailable(Exception):
    """The library piece behind a screen is not installed in this build."""


def _module(name: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            raise FeatureUnavailable(f"{what} not available: this build has no {name} module") from exc
        raise


def _function(name: str, attribute: str, what: str) -> Any:
    """A public function of a feature module; a module still without it counts as unavailable."""
    function = getattr(_module(name, what), attribute, None)
    if function is None:
        raise FeatureUnavailable(f"{what} not available in the TUI yet: {name}.{attribute}() not found")
    return function


def available(name: str) -> bool:
    """Whether a feature module can be imported (for the help screen and dashboard)."""
    try:
        _module(name, name)
    except FeatureUnavailable:
        return False
    return True


# --- escalation paths (rbacmap.solver) -------------------------------------------------------

TARGETS = ("cluster-admin", "secrets", "exec")


@dataclass(frozen=True)
class PathView:
    """One escalation path as the Paths screen shows it: who, where to, and each step's proof."""

    subject: str
    target: str
    steps: tuple[str, ...]
    data: dict[str, Any]


def escalation_paths(store: Store, snapshot: Snapshot, target: str, namespace: str) -> list[PathView]:
    """Every subject that reaches `target` (in `namespace`, '' for any), each path step by step."""
    solve = _function("rbacmap.solver", "solve", "escalation solver (rbacmap.solver)")
    result = solve(store, snapshot)
    return [_path_view(path) for path in result.paths(target=target, namespace=namespace or None)]


def paths_of_subject(store: Store, snapshot: Snapshot, subject: Subject) -> list[PathView]:
    solve = _function("rbacmap.solver", "solve", "escalation solver (rbacmap.solver)")
    return [_path_view(path) for path in solve(store, snapshot).paths(subject=subject)]


def _path_view(path: Any) -> PathView:
    # The path screen numbers the steps itself.
    return PathView(str(path.subject), str(path.target), tuple(path.explain(numbered=False)),
                    path.to_json())


# --- audit usage (rbacmap.usage) and trimming (rbacmap.trim) --------------------------------
# Exactly what `rbacmap trim` calls: usage_window, usage_records, user_groups, select_roles, trim.


@dataclass(frozen=True)
class RuleUsage:
    """Which of a role's rules the audit window saw used (rule indexes), and the window."""

    used: frozenset[int]
    window: str


# The window, its requests, each user's groups, and the users seen in logs that name no groups.
UsageInputs = tuple[UsageWindow, list[UsageRecord], dict[str, tuple[str, ...]], list[str]]


def usage_inputs(store: Store, snapshot: Snapshot) -> UsageInputs:
    """The audit window, observed requests and users' groups of the snapshot's cluster."""
    window = usage_window(store, snapshot.cluster)
    if not window.start:
        raise FeatureUnavailable(f"no audit logs imported for cluster {snapshot.cluster}: "
                                 "run `rbacmap import audit` to see used/unused rules and trims")
    return (window, usage_records(store, snapshot.cluster, window), user_groups(store, snapshot.cluster),
            users_with_groups_not_logged(store, snapshot.cluster, window))


def rule_usage(policy: InMemoryPolicy, key: RoleKey, inputs: UsageInputs) -> RuleUsage:
    """Rule indexes of one role that observed requests went through (the trim report's used rules)."""
    role = policy.role(key)
    if role is None:
        raise FeatureUnavailable(f"{key} is not in this snapshot")
    window, records, groups, not_logged = inputs
    report = trim(policy, records, groups, window, [role], groups_not_logged=not_logged)
    return RuleUsage(frozenset(report.proposals[0].used_rule_indexes), window.describe())


def trim_report(store: Store, snapshot: Snapshot, policy: InMemoryPolicy) -> TrimReport:
    """`rbacmap trim --all`: a proposal for every bound role (system: ClusterRoles left out)."""
    window, records, groups, not_logged = usage_inputs(store, snapshot)
    roles = select_roles(policy)
    if not roles:
        raise FeatureUnavailable("no bound role to trim in this snapshot")
    return trim(policy, records, groups, window, roles, groups_not_logged=not_logged)


# --- offboarding (rbacmap.offboard) ------------------------------------------------------------
# Exactly what `rbacmap offboard --export-fix` calls: parse_person, offboard, build_fix, render_fix.


@dataclass(frozen=True)
class OffboardResult:
    people: tuple[PersonReport, ...]
    fix_yaml: str

    @property
    def remains(self) -> bool:
        return any(report.remains for report in self.people)


def offboard_person(store: Store, cluster: str, identifiers: str, groups: tuple[str, ...] = ()) -> OffboardResult:
    """One person (identifiers separated by commas or spaces) in one cluster: the report and the fix."""
    try:
        person = parse_person(identifiers, groups)
    except PersonSpecError as exc:
        raise FeatureUnavailable(str(exc)) from exc
    reports = offboard(store, [person], [cluster])
    fix = render_fix(build_fix(store, reports), [person.label])
    return OffboardResult(tuple(reports), fix)
