"""Escalation paths: a subject, a target and the steps that prove it, printable for review."""

from __future__ import annotations

from dataclasses import dataclass

from rbacmap.authorizer import Grant
from rbacmap.solver.edges import Edge, ObjectRef, Pool
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

    def explain(self) -> list[str]:
        """One sentence per step, each checkable with kubectl."""
        lines = []
        for number, step in enumerate(self.steps, start=1):
            text = f"{number}. {step.explanation or step.detail}"
            if step.condition:
                text += f" (condition: {step.condition})"
            lines.append(text)
        return lines

    def summary(self) -> str:
        """`action -> action -> …` in one line, for tables."""
        return " -> ".join(f"{step.action} [{step.as_identity}]" for step in self.steps)


def steps_from_edges(subject: Identity, edges: list[Edge]) -> tuple[Step, ...]:
    """Fold each hop through a pool into the step that entered it (one step per real action)."""
    steps: list[Step] = []
    current = subject
    pending: list[Edge] = []
    for edge in edges:
        if isinstance(edge.target, Pool):
            pending.append(edge)
            continue
        if not pending:  # most steps are one edge: no joining
            after = edge.target if isinstance(edge.target, Identity) else current
            text = edge.explain or edge.detail
            steps.append(Step(edge.action, after, edge.grants, edge.objects, edge.detail, (text,) if text else (),
                              edge.condition, edge.primitive))
            current = after
            continue
        pending.append(edge)
        first = pending[0]
        after = edge.target if isinstance(edge.target, Identity) else current
        details = [e.detail for e in pending if e.detail]
        explanations = tuple(e.explain or e.detail for e in pending if (e.explain or e.detail))
        steps.append(
            Step(
                action=first.action,
                as_identity=after,
                grants=tuple(g for e in pending for g in e.grants),
                objects=tuple(o for e in pending for o in e.objects),
                detail="; ".join(details),
                explanations=explanations,
                condition="; ".join(e.condition for e in pending if e.condition),
                primitive=first.primitive,
            )
        )
        current = after
        pending = []
    return tuple(steps)
