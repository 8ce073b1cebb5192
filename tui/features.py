"""Adapters to library features that may not be in this build yet (solver, usage, trim, offboarding).

Each screen asks this module, never the feature package directly, so wiring a feature
in is a change in one place. A missing feature raises FeatureUnavailable with a sentence
the screen shows as is; the TUI never invents an answer in its place.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from rbacmap.model import Subject
from rbacmap.store import Snapshot, Store


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
    return PathView(str(path.subject), str(path.target), tuple(str(step) for step in path.explain()),
                    path.to_json())


# --- audit usage (rbacmap.usage) and trimming (rbacmap.trim) --------------------------------


def rule_usage(store: Store, snapshot: Snapshot, role_kind: str, namespace: str, name: str) -> dict[int, bool]:
    """rule index -> used in the audit window, for one role."""
    usage = _function("rbacmap.usage", "rule_usage", "audit usage (rbacmap.usage)")
    return dict(usage(store, snapshot.id, role_kind, namespace, name))


@dataclass(frozen=True)
class TrimChange:
    """One proposed change to a role: the original rule text, its replacement ('' = removed), why."""

    role: str
    original: str
    proposed: str
    reason: str


@dataclass(frozen=True)
class TrimProposalView:
    role: str
    original_yaml: str
    changes: tuple[TrimChange, ...]
    data: Any


def trim_proposals(store: Store, snapshot: Snapshot) -> list[TrimProposalView]:
    propose = _function("rbacmap.trim", "propose", "role trimming (rbacmap.trim)")
    return [_proposal_view(p) for p in propose(store, snapshot.id)]


def _proposal_view(proposal: Any) -> TrimProposalView:
    changes = tuple(
        TrimChange(str(proposal.role), str(c.original), str(c.proposed or ""), str(c.reason))
        for c in proposal.changes
    )
    return TrimProposalView(str(proposal.role), str(proposal.original_yaml()), changes, proposal)


def trimmed_yaml(proposal: TrimProposalView, accepted: list[bool]) -> str:
    """The role's YAML with only the accepted changes applied (the library renders it)."""
    return str(proposal.data.to_yaml(accepted=accepted))


# --- offboarding (rbacmap.offboard) ------------------------------------------------------------


@dataclass(frozen=True)
class OffboardReport:
    text: str
    fix_yaml: str


def offboard(store: Store, snapshot: Snapshot, identifiers: list[str]) -> OffboardReport:
    """Not wired yet: rbacmap.offboard.offboard(store, people, clusters) takes Person values and
    returns PersonReports; connect it here (report text + offboard_fix.render_fix) to light the screen."""
    _module("rbacmap.offboard", "offboarding (rbacmap.offboard)")
    raise FeatureUnavailable("offboarding not available in the TUI yet: rbacmap.offboard is not wired into "
                             "tui/features.py; use `rbacmap offboard` meanwhile")
