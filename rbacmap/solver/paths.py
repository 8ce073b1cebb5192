"""Escalation paths: a subject, a target and the steps that prove it, printable for review."""

from __future__ import annotations

from dataclasses import dataclass

from rbacmap.authorizer import Grant
from rbacmap.solver.edges import ChainedEdge, Edge, ObjectRef, Pool
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import Sentence
from rbacmap.solver.targets import Target


@dataclass(frozen=True)
class Step:
    """One action; `as_identity` is who the attacker is after it (unchanged for a final target step)."""

    action: str
    as_identity: Identity
    grants: tuple[Grant, ...]
    objects: tuple[ObjectRef, ...]
    detail: str
    explanations: tuple[str | Sentence, ...]
    condition: str = ""
    primitive: str = ""

    @property
    def explanation(self) -> str:
        """The step's proof sentences, written out now (they are kept as data until asked)."""
        return "; then ".join(str(part) for part in self.explanations)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "action": self.action,
            "as": self.as_identity.to_json(),
            "granted_by": {
                "grants": [{**g.to_json(), "rule_text": g.rule.describe()} for g in self.grants],
                "objects": [o.to_json() for o in self.objects],
            },
            "detail": self.detail,
        }
        if self.condition:
            out["condition"] = self.condition
        return out


@dataclass(frozen=True)
class EscalationPath:
    """The shortest proof found that `subject` reaches `target`."""

    subject: Identity
    target: Target
    steps: tuple[Step, ...]

    @property
    def conditions(self) -> list[str]:
        return [step.condition for step in self.steps if step.condition]

    def to_json(self) -> dict[str, object]:
        return {
            "subject": self.subject.to_json(),
            "target": self.target.to_json(),
            "steps": [step.to_json() for step in self.steps],
        }

    def explain(self, *, numbered: bool = True) -> list[str]:
        """One sentence per step, each checkable with kubectl ("1. ", "2. "… in front unless not `numbered`)."""
        lines = []
        for number, step in enumerate(self.steps, start=1):
            text = f"{number}. " if numbered else ""
            text += step.explanation or step.detail
            if step.condition:
                text += f" (condition: {step.condition})"
            lines.append(text)
        return lines

    def summary(self) -> str:
        """`action -> action -> …` in one line, for tables."""
        return " -> ".join(f"{step.action} [{step.as_identity}]" for step in self.steps)


def step_of(edges: list[Edge], current: Identity) -> Step:
    """The step of one action: a lone edge, or the edges into pools and the one out of the last pool.

    A path shows each hop through a pool as part of the step that entered it (one step per real
    action). `current` is who performs it; the step depends on nothing else.
    """
    last = edges[-1]
    target = last.target
    after = target if isinstance(target, Identity) else current
    if len(edges) == 1:  # most steps are one edge: no joining
        action, detail, grants, objects, explain, condition = last.provenance()
        text = explain or detail
        return Step(action, after, grants, objects, detail, (text,) if text else (), condition, last.primitive)
    # Joined in one pass (a pool step is 2-3 edges; the pool's own edges carry only a detail or an object).
    all_grants: tuple[Grant, ...] = ()
    all_objects: tuple[ObjectRef, ...] = ()
    details: list[str] = []
    explanations: list[str | Sentence] = []
    conditions: list[str] = []
    for edge in edges:
        _, detail, grants, objects, explain, condition = edge.provenance()
        if grants:
            all_grants += grants
        if objects:
            all_objects += objects
        if detail:
            details.append(detail)
        if explain or detail:
            explanations.append(explain or detail)
        if condition:
            conditions.append(condition)
    return Step(edges[0].action, after, all_grants, all_objects, "; ".join(details), tuple(explanations),
                "; ".join(conditions), edges[0].primitive)


def chained_steps(edge: ChainedEdge, current: Identity) -> tuple[Step, ...]:
    """The steps a ChainedEdge stands for: its own action (by `current`), the path it follows, its final step."""
    action, detail, grants, objects, explain, condition = edge.provenance()
    text = explain or detail
    steps = [Step(action, current, grants, objects, detail, (text,) if text else (), condition, edge.primitive)]
    pending: list[Edge] = []
    for hop in edge.via:  # one step per action, as in a path: hops into pools join the next one
        if isinstance(hop, ChainedEdge):  # a chain found by an earlier pass: its own steps
            steps.extend(chained_steps(hop, current))
            current = steps[-1].as_identity
            continue
        pending.append(hop)
        if not isinstance(hop.target, Pool):
            steps.append(step_of(pending, current))
            current = steps[-1].as_identity
            pending = []
    steps.append(step_of([edge.final], current))
    return tuple(steps)
