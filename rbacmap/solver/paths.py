"""Escalation paths: a subject, a target and the steps that prove it, printable for review."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

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
        target = edge.target
        if isinstance(target, Pool):
            pending.append(edge)
            continue
        after = target if isinstance(target, Identity) else current
        if not pending:  # most steps are one edge: no joining
            action, detail, grants, objects, explain, condition = edge.provenance()
            text = explain or detail
            steps.append(Step(action, after, grants, objects, detail, (text,) if text else (), condition,
                              edge.primitive))
            current = after
            continue
        pending.append(edge)
        # Each part: (action, detail, grants, objects, explain, condition), read once per edge.
        parts = [e.provenance() for e in pending]
        steps.append(
            Step(
                action=parts[0][0],
                as_identity=after,
                grants=tuple(chain.from_iterable(part[2] for part in parts)),
                objects=tuple(chain.from_iterable(part[3] for part in parts)),
                detail="; ".join([part[1] for part in parts if part[1]]),
                explanations=tuple([part[4] or part[1] for part in parts if part[4] or part[1]]),
                condition="; ".join([part[5] for part in parts if part[5]]),
                primitive=pending[0].primitive,
            )
        )
        current = after
        pending = []
    return tuple(steps)
