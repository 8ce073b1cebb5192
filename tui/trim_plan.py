"""A trim report (rbacmap.trim) as changes a user accepts or rejects one by one, and the YAML to export.

No analysis here: the proposals are the library's. A rejected rule change keeps that original
rule as it was; a trimmed rule is kept while any original rule it narrows is accepted. The
result is therefore never wider than the original role, and keeps everything that was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rbacmap.model import Binding, PolicyRule
from rbacmap.rbac_export import original_manifest, role_manifest, to_yaml
from rbacmap.trim import TrimProposal, TrimReport


@dataclass(frozen=True)
class TrimChange:
    """One proposed change: an original rule removed or narrowed, or a binding removed."""

    proposal: int  # index in the report's proposals
    role: str
    original: str
    proposed: str  # '' = removed
    reason: str
    rule_index: int | None = None
    binding: Binding | None = None


def changes_of(report: TrimReport) -> list[TrimChange]:
    """Every change the report proposes, role by role, rules first, unchanged rules left out."""
    out: list[TrimChange] = []
    days = report.window.days
    for number, proposal in enumerate(report.proposals):
        role = str(proposal.role.key)
        for index, rule in enumerate(proposal.role.rules):
            if index not in proposal.used_rule_indexes:
                out.append(TrimChange(number, role, f"#{index} {rule.describe()}", "",
                                      f"unused in {days:.1f} days", rule_index=index))
                continue
            narrowed = [t.rule for t in proposal.rules if index in t.from_rules]
            if narrowed == [rule]:
                continue
            out.append(TrimChange(number, role, f"#{index} {rule.describe()}",
                                  "; ".join(r.describe() for r in narrowed), "narrowed to what was used",
                                  rule_index=index))
        for binding in proposal.unused_bindings:
            out.append(TrimChange(number, role, str(binding.key), "", f"no request through it in {days:.1f} days",
                                  binding=binding))
    return out


def decided_rules(proposal: TrimProposal, rejected_rules: set[int]) -> list[PolicyRule]:
    """The role's rules with the accepted changes applied (rejected = original rule indexes kept)."""
    kept = [t.rule for t in proposal.rules if any(i not in rejected_rules for i in t.from_rules)]
    return kept + [proposal.role.rules[i] for i in sorted(rejected_rules)]


def original_yaml(proposal: TrimProposal) -> str:
    return to_yaml([original_manifest(proposal)])


def decided_manifest(report: TrimReport, number: int, rejected_rules: set[int]) -> dict[str, Any] | None:
    """The trimmed role as rbacmap trim writes it; None when no rule is left (delete the role)."""
    proposal = report.proposals[number]
    rules = decided_rules(proposal, rejected_rules)
    if not rules:
        return None
    return role_manifest(proposal.role.key, rules, report.window, dict(proposal.role.labels), str(proposal.role.key))


def decided_yaml(report: TrimReport, number: int, rejected_rules: set[int]) -> str:
    manifest = decided_manifest(report, number, rejected_rules)
    if manifest is None:
        key = report.proposals[number].role.key
        return f"# no rule left: delete {key}\n{_delete_command(key.kind, key.name, key.namespace)}\n"
    return to_yaml([manifest])


def export_yaml(report: TrimReport, changes: list[TrimChange], accepted: list[bool]) -> str:
    """Accepted changes only: trimmed roles as YAML documents, deletions as commented kubectl commands."""
    rejected: dict[int, set[int]] = {}
    touched: set[int] = set()
    deletions: list[str] = []
    for change, ok in zip(changes, accepted, strict=True):
        if change.rule_index is not None:
            if ok:
                touched.add(change.proposal)
            else:
                rejected.setdefault(change.proposal, set()).add(change.rule_index)
        elif change.binding is not None and ok:
            binding = change.binding.key
            deletions.append(f"{_delete_command(binding.kind, binding.name, binding.namespace)}   # {change.reason}")
    docs = []
    for number in sorted(touched):
        manifest = decided_manifest(report, number, rejected.get(number, set()))
        if manifest is None:
            key = report.proposals[number].role.key
            deletions.append(f"{_delete_command(key.kind, key.name, key.namespace)}   # every rule unused")
        else:
            docs.append(manifest)
    header = [f"# rbacmap trim (reviewed in the TUI): audit window {report.window.describe()}"]
    header += [f"# warning: {warning}" for warning in report.warnings]
    if deletions:
        header.append("# delete (YAML cannot express deletion):")
        header += deletions
    text = "\n".join(header) + "\n"
    return text + (to_yaml(docs) if docs else "")


def _delete_command(kind: str, name: str, namespace: str) -> str:
    return f"# kubectl delete {kind.lower()} {name}" + (f" -n {namespace}" if namespace else "")
