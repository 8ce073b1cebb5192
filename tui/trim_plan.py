"""A trim report (rbacmap.trim) as changes a user accepts or rejects one by one, and the YAML to export.

No analysis and no YAML of its own: the proposals are the library's, and the export is
`rbacmap.rbac_export.trim_yaml` (what `rbacmap trim -o yaml` prints) run on the report with the
user's decisions applied. Per action:

- trim: one change per original rule removed or narrowed. A rejected change keeps that original
  rule; a trimmed rule is kept while any original rule it narrows is accepted. Rejecting every
  rule change leaves the role out of the export (the original stays).
- replace (aggregated, bootstrap-autoupdate, or aggregated-into roles): one change per binding
  swap (new role + new binding, old binding deleted). The original role is never rewritten; a
  rejected swap keeps the old binding, and a new role no accepted swap uses is not written.
- remove-bindings (no observed use) and unused bindings of other roles: one change per binding;
  a rejected removal keeps the binding.
- skip (bound only to groups that bypass RBAC): shown with its reason, nothing to decide.

The decided report is therefore never wider than the original policy and keeps everything used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from rbacmap.commands.trim import action_label
from rbacmap.model import Binding
from rbacmap.rbac_export import original_manifest, to_yaml, trim_yaml
from rbacmap.trim import REPLACE, SKIP, TRIM, BindingSwap, RoleReplacement, TrimmedRule, TrimProposal, TrimReport


@dataclass(frozen=True)
class TrimChange:
    """One row of the Trim screen: a proposed change (rule, binding removal or rebinding) or a note."""

    proposal: int  # index in the report's proposals
    role: str
    action: str  # the CLI's label for the proposal's action
    original: str
    proposed: str  # '' = removed
    reason: str
    rule_index: int | None = None  # trim: the original rule removed or narrowed
    binding: Binding | None = None  # a binding proposed for removal
    swap: BindingSwap | None = None  # replace: a new role + binding instead of the old binding

    @property
    def decidable(self) -> bool:
        """False for rows that only inform (a skipped role, a role with nothing to change)."""
        return self.rule_index is not None or self.binding is not None or self.swap is not None


def _rules_text(rules: Sequence[TrimmedRule]) -> str:
    return "; ".join(t.rule.describe() for t in rules)


def changed_rule_indexes(proposal: TrimProposal) -> tuple[int, ...]:
    """trim: original rules the proposal removes or narrows (a rule kept exactly is no change)."""
    if proposal.action != TRIM:
        return ()
    out = []
    for index, rule in enumerate(proposal.role.rules):
        narrowed = [t.rule for t in proposal.rules if index in t.from_rules]
        if narrowed != [rule]:
            out.append(index)
    return tuple(out)


def changes_of(report: TrimReport) -> list[TrimChange]:
    """Every change the report proposes, role by role; a role with nothing to decide gets one note row."""
    out: list[TrimChange] = []
    days = report.window.days
    for number, proposal in enumerate(report.proposals):
        role = str(proposal.role.key)
        label = action_label(proposal)
        before = len(out)
        if proposal.action == SKIP:
            out.append(TrimChange(number, role, label, role, "(unchanged)", "; ".join(proposal.reasons)))
            continue
        for index in changed_rule_indexes(proposal):
            rule = proposal.role.rules[index]
            if index not in proposal.used_rule_indexes:
                out.append(TrimChange(number, role, label, f"#{index} {rule.describe()}", "",
                                      f"unused in {days:.1f} days", rule_index=index))
            else:
                narrowed = [t for t in proposal.rules if index in t.from_rules]
                out.append(TrimChange(number, role, label, f"#{index} {rule.describe()}", _rules_text(narrowed),
                                      "narrowed to what was used", rule_index=index))
        not_in_place = "not in place: " + "; ".join(proposal.reasons)
        for replacement in proposal.replacements:
            for swap in replacement.swaps:
                out.append(TrimChange(
                    number, role, label, f"{swap.old.key} -> {swap.old.role_ref}",
                    f"{swap.new.key} -> {replacement.key}: {_rules_text(replacement.rules)}",
                    not_in_place, swap=swap))
        for split in proposal.splits:  # the TUI does not ask for --split; shown if a report has it
            out.append(TrimChange(number, role, label, ", ".join(str(b.key) for b in split.replaces),
                                  f"{split.key} for {split.subject}", "one role per subject"))
        for binding in proposal.unused_bindings:
            out.append(TrimChange(number, role, label, str(binding.key), "",
                                  f"no request through it in {days:.1f} days", binding=binding))
        if len(out) == before:
            out.append(TrimChange(number, role, label, role, "(unchanged)", "every rule used as granted"))
    return out


def rejected_by_proposal(changes: Sequence[TrimChange], accepted: Sequence[bool]) -> dict[int, list[TrimChange]]:
    out: dict[int, list[TrimChange]] = {}
    for change, ok in zip(changes, accepted, strict=True):
        if change.decidable and not ok:
            out.setdefault(change.proposal, []).append(change)
    return out


def decided_proposal(proposal: TrimProposal, rejected: Sequence[TrimChange]) -> TrimProposal:
    """The proposal with the rejected changes undone. No rules left = nothing to write (the original stays)."""
    kept_rules = {c.rule_index for c in rejected if c.rule_index is not None}
    kept_bindings = {c.binding for c in rejected if c.binding is not None}
    kept_swaps = {c.swap for c in rejected if c.swap is not None}
    unused_bindings = tuple(b for b in proposal.unused_bindings if b not in kept_bindings)
    decided = replace(proposal, unused_bindings=unused_bindings)
    if proposal.action == TRIM and kept_rules:
        if kept_rules >= set(changed_rule_indexes(proposal)):
            return replace(decided, rules=())  # every change rejected: the role is left as it is
        rules = [t for t in proposal.rules if any(i not in kept_rules for i in t.from_rules)]
        rules += [TrimmedRule(proposal.role.rules[i], (i,)) for i in sorted(kept_rules)]
        return replace(decided, rules=tuple(rules))
    if proposal.action == REPLACE and proposal.replacements:
        replacements: list[RoleReplacement] = []
        for replacement in proposal.replacements:
            swaps = tuple(s for s in replacement.swaps if s not in kept_swaps)
            if swaps:
                replacements.append(replace(replacement, swaps=swaps))
        if not replacements:
            # Never fall through to an in-place rewrite of a role that must not be edited in place.
            return replace(decided, replacements=(), rules=())
        return replace(decided, replacements=tuple(replacements))
    return decided


def decided_report(report: TrimReport, changes: Sequence[TrimChange], accepted: Sequence[bool]) -> TrimReport:
    rejected = rejected_by_proposal(changes, accepted)
    proposals = tuple(decided_proposal(p, rejected.get(n, [])) for n, p in enumerate(report.proposals))
    return TrimReport(proposals, report.window, report.warnings)


def original_yaml(proposal: TrimProposal) -> str:
    bound = [f"# bound by {b.key}" for b in proposal.bindings]
    return to_yaml([original_manifest(proposal)]) + "".join(f"{line}\n" for line in bound)


def _role_header(proposal: TrimProposal) -> list[str]:
    lines = [f"# action: {action_label(proposal)}"]
    why = "why skipped" if proposal.action == SKIP else "why not in place"
    lines += [f"# {why}: {reason}" for reason in proposal.reasons if proposal.action in (REPLACE, SKIP)]
    lines += [f"# note: {note}" for note in proposal.notes]
    return lines


def decided_yaml(report: TrimReport, number: int, changes: Sequence[TrimChange], accepted: Sequence[bool]) -> str:
    """One role with the decisions so far, exactly as the export writes it (`rbacmap trim -o yaml`)."""
    proposal = report.proposals[number]
    decided = decided_proposal(proposal, rejected_by_proposal(changes, accepted).get(number, []))
    body = trim_yaml(TrimReport((decided,), report.window, ()))
    if not body:
        body = "# nothing to apply: the original stays as it is\n"
    return "\n".join(_role_header(proposal)) + "\n" + body


def export_yaml(report: TrimReport, changes: Sequence[TrimChange], accepted: Sequence[bool]) -> str:
    """`rbacmap trim -o yaml` on the decided report, after comment lines on the window, warnings and skips."""
    header = [f"# rbacmap trim (reviewed in the TUI): audit window {report.window.describe()}"]
    header += [f"# warning: {warning}" for warning in report.warnings]
    header += [f"# {action_label(p)}: {p.role.key}: {reason}"
               for p in report.proposals if p.action == SKIP for reason in p.reasons]
    rejected = sum(1 for c, ok in zip(changes, accepted, strict=True) if c.decidable and not ok)
    if rejected:
        header.append(f"# {rejected} proposed change(s) rejected: those originals are kept")
    body = trim_yaml(decided_report(report, changes, accepted)) or "# nothing to apply\n"
    return "\n".join(header) + "\n" + body
