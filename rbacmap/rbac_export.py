"""Trim proposals and generated roles as applyable RBAC v1 YAML, JSON, diffs and rbac-manager objects."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

import yaml

from rbacmap.authorizer import effective_subject
from rbacmap.model import CLUSTER_ROLE, CLUSTER_ROLE_BINDING, Binding, PolicyRule, RoleKey, Subject
from rbacmap.trim import TRIM, GeneratedRole, TrimProposal, TrimReport
from rbacmap.usage import UsageWindow

RBAC_API = "rbac.authorization.k8s.io"
RBAC_VERSION = f"{RBAC_API}/v1"
RBAC_MANAGER_VERSION = "rbacmanager.reactiveops.io/v1beta1"
GENERATED_LABEL = "rbacmap.io/generated"
WINDOW_ANNOTATION = "rbacmap.io/generated-from-window"
WINDOW_DAYS_ANNOTATION = "rbacmap.io/window-days"
SOURCE_ANNOTATION = "rbacmap.io/trimmed-from"


def _metadata(key: RoleKey | Binding, window: UsageWindow, labels: dict[str, str] | None = None,
              source: str | None = None) -> dict[str, Any]:
    name, namespace = (key.name, key.namespace) if isinstance(key, RoleKey) else (key.key.name, key.key.namespace)
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = {**(labels or {}), GENERATED_LABEL: "true"}
    annotations = {WINDOW_ANNOTATION: f"{window.start or ''}/{window.end or ''}",
                   WINDOW_DAYS_ANNOTATION: f"{window.days:.1f}"}
    if source:
        annotations[SOURCE_ANNOTATION] = source
    meta["annotations"] = annotations
    return meta


def role_manifest(key: RoleKey, rules: Sequence[PolicyRule], window: UsageWindow,
                  labels: dict[str, str] | None = None, source: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_VERSION,
        "kind": key.kind,
        "metadata": _metadata(key, window, labels, source),
        "rules": [rule.to_dict() for rule in rules],
    }


def subject_manifest(subject: Subject) -> dict[str, str]:
    out = {"kind": subject.kind, "name": subject.name}
    if subject.kind == "ServiceAccount":
        out["namespace"] = subject.namespace
    else:
        out["apiGroup"] = RBAC_API
    return out


def binding_manifest(binding: Binding, window: UsageWindow) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_VERSION,
        "kind": binding.key.kind,
        "metadata": _metadata(binding, window),
        "roleRef": {"apiGroup": RBAC_API, "kind": binding.role_ref.kind, "name": binding.role_ref.name},
        "subjects": [subject_manifest(s) for s in binding.subjects],
    }


def original_manifest(proposal: TrimProposal) -> dict[str, Any]:
    role = proposal.role
    meta: dict[str, Any] = {"name": role.key.name}
    if role.key.namespace:
        meta["namespace"] = role.key.namespace
    if role.labels:
        meta["labels"] = dict(role.labels)
    return {"apiVersion": RBAC_VERSION, "kind": role.key.kind, "metadata": meta,
            "rules": [rule.to_dict() for rule in role.rules]}


def trim_manifests(report: TrimReport) -> list[dict[str, Any]]:
    """Roles replacing the originals in place (action `trim`); new roles plus bindings (`replace`, --split).

    New roles carry none of the original's labels: a copied `aggregate-to-*` or bootstrapping
    label would feed the trimmed role into an aggregated role or mark it for reconciliation.
    Roles nobody used are left out: `deletions` lists their bindings for removal.
    """
    docs: list[dict[str, Any]] = []
    for proposal in report.proposals:
        if proposal.unused:
            continue
        source = str(proposal.role.key)
        if proposal.splits:
            for split in proposal.splits:
                docs.append(role_manifest(split.key, [t.rule for t in split.rules], report.window, None, source))
                docs.extend(binding_manifest(b, report.window) for b in split.rebind)
        elif proposal.replacements:
            for replacement in proposal.replacements:
                docs.append(role_manifest(replacement.key, [t.rule for t in replacement.rules], report.window,
                                          None, source))
                docs.extend(binding_manifest(swap.new, report.window) for swap in replacement.swaps)
        else:
            docs.append(role_manifest(proposal.role.key, proposal.trimmed_rules, report.window,
                                      dict(proposal.role.labels), source))
    return docs


def delete_command(binding: Binding) -> str:
    if binding.key.kind == CLUSTER_ROLE_BINDING:
        return f"kubectl delete clusterrolebinding {binding.key.name}"
    return f"kubectl delete rolebinding -n {binding.key.namespace} {binding.key.name}"


def deletions(report: TrimReport) -> list[tuple[Binding, str]]:
    """Bindings to delete, each with why: replaced by a new binding, or no observed use."""
    out: list[tuple[Binding, str]] = []
    for proposal in report.proposals:
        out.extend((b, f"replaced by a binding to a trimmed role (from {proposal.role.key})")
                   for b in proposal.replaced_bindings)
        out.extend((b, f"no request through it in the {report.window.days:.1f}-day window ({proposal.role.key})")
                   for b in proposal.unused_bindings)
    return out


def trim_yaml(report: TrimReport) -> str:
    """Applyable YAML, then the deletions as commented kubectl lines (run them after applying)."""
    text = to_yaml(trim_manifests(report)) if any(not p.unused for p in report.proposals) else ""
    planned = deletions(report)
    if planned:
        lines = ["# rbacmap: after applying the objects above (and checking nothing breaks), delete:"]
        if report.window.days < 7:
            lines.append(f"# (the audit window is only {report.window.days:.1f} days: weak evidence for removals)")
        lines += [f"# {delete_command(b)}  # {why}" for b, why in planned]
        text += "\n".join(lines) + "\n"
    return text


def generated_manifests(roles: Iterable[GeneratedRole], window: UsageWindow) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for generated in roles:
        docs.append(role_manifest(generated.key, generated.rules, window))
        docs.append(binding_manifest(generated.binding, window))
    return docs


def to_yaml(docs: Iterable[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(list(docs), sort_keys=False, default_flow_style=False)


def trim_diff(report: TrimReport) -> str:
    """Unified diff, original vs trimmed YAML, one file per role."""
    chunks: list[str] = []
    for proposal in report.proposals:
        if proposal.unused:
            continue  # nothing to rewrite: its bindings are listed for removal in the report
        if proposal.action != TRIM:
            chunks.extend(_new_role_diffs(report, proposal))
            continue
        before = to_yaml([original_manifest(proposal)]).splitlines(keepends=True)
        after = to_yaml([role_manifest(proposal.role.key, proposal.trimmed_rules, report.window,
                                       dict(proposal.role.labels), str(proposal.role.key))]).splitlines(keepends=True)
        name = f"{proposal.role.key.namespace + '/' if proposal.role.key.namespace else ''}{proposal.role.key.name}"
        chunks.extend(difflib.unified_diff(before, after, f"a/{proposal.role.key.kind}/{name}",
                                           f"b/{proposal.role.key.kind}/{name}"))
    return "".join(chunks)


def _new_role_diffs(report: TrimReport, proposal: TrimProposal) -> list[str]:
    new_roles = [(r.key, [t.rule for t in r.rules]) for r in proposal.replacements]
    new_roles += [(s.key, [t.rule for t in s.rules]) for s in proposal.splits]
    chunks: list[str] = []
    for key, rules in new_roles:
        after = to_yaml([role_manifest(key, rules, report.window, None, str(proposal.role.key))])
        name = f"{key.namespace + '/' if key.namespace else ''}{key.name}"
        chunks.extend(difflib.unified_diff([], after.splitlines(keepends=True), "/dev/null", f"b/{key.kind}/{name}"))
    return chunks


def rbac_manager_definitions(report: TrimReport, name: str = "rbacmap-trimmed") -> list[dict[str, Any]]:
    """Trimmed roles plus one Fairwinds rbac-manager RBACDefinition binding each used subject.

    rbac-manager manages bindings, not roles: the roles come first, then the RBACDefinition
    (bindings with no use in the window are left out, which is how rbac-manager removes them).
    """
    docs = [d for d in trim_manifests(report) if d["kind"] in ("Role", CLUSTER_ROLE)]
    per_subject: dict[Subject, dict[str, list[dict[str, str]]]] = {}
    for proposal in report.proposals:
        if proposal.unused:
            continue
        used = [b for b in proposal.bindings if b not in proposal.unused_bindings + proposal.bypass_bindings]
        if proposal.splits:
            bindings = [b for split in proposal.splits for b in split.rebind]
        elif proposal.replacements:
            bindings = [swap.new for r in proposal.replacements for swap in r.swaps]
        else:
            bindings = used
        for binding in bindings:
            for raw_subject in binding.subjects:
                subject = effective_subject(raw_subject, binding.key.namespace) or raw_subject
                entry = per_subject.setdefault(subject, {"clusterRoleBindings": [], "roleBindings": []})
                if binding.key.kind == CLUSTER_ROLE_BINDING:
                    entry["clusterRoleBindings"].append({"clusterRole": binding.role_ref.name})
                else:
                    ref_key = "clusterRole" if binding.role_ref.kind == CLUSTER_ROLE else "role"
                    entry["roleBindings"].append({ref_key: binding.role_ref.name, "namespace": binding.key.namespace})
    rbac_bindings = []
    for subject in sorted(per_subject, key=lambda s: (s.kind, s.namespace, s.name)):
        entry = {k: v for k, v in per_subject[subject].items() if v}
        subject_doc = {"kind": subject.kind, "name": subject.name}
        if subject.namespace:
            subject_doc["namespace"] = subject.namespace
        slug = "".join(ch if ch.isalnum() else "-" for ch in f"{subject.kind}-{subject.namespace}-{subject.name}")
        rbac_bindings.append({"name": slug.lower().strip("-").replace("--", "-"), "subjects": [subject_doc],
                              **entry})
    docs.append({
        "apiVersion": RBAC_MANAGER_VERSION,
        "kind": "RBACDefinition",
        "metadata": {"name": name, "labels": {GENERATED_LABEL: "true"},
                     "annotations": {WINDOW_ANNOTATION: f"{report.window.start or ''}/{report.window.end or ''}"}},
        "rbacBindings": rbac_bindings,
    })
    return docs


def report_json(report: TrimReport) -> dict[str, Any]:
    """The whole report with provenance: per role, rules kept (from which original rule), unused grants."""
    return {
        "window": {"start": report.window.start, "end": report.window.end, "days": round(report.window.days, 2)},
        "warnings": list(report.warnings),
        "reduction_percent": _rounded(report.reduction_percent),
        "reduction_basis": "grant size of the roles that keep rules (trim/replace): per rule verbs x "
                           "(apiGroups x resources x resourceNames + nonResourceURLs), a wildcard counting 10",
        "roles": [proposal_json(p) for p in report.proposals],
        "delete_bindings": [{"binding": str(b.key), "command": delete_command(b), "why": why}
                            for b, why in deletions(report)],
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def proposal_json(proposal: TrimProposal) -> dict[str, Any]:
    role = proposal.role
    return {
        "role": {"kind": role.key.kind, "namespace": role.key.namespace or None, "name": role.key.name},
        "granted_rules": [{"index": i, "rule": r.to_dict(), "used": i in proposal.used_rule_indexes}
                          for i, r in enumerate(role.rules)],
        "unused_rules": [{"index": i, "rule": role.rules[i].describe()} for i in proposal.unused_rule_indexes],
        "action": proposal.action,
        "reasons": list(proposal.reasons),
        "trimmed_rules": [{"rule": t.rule.to_dict(), "from_rules": list(t.from_rules)} for t in proposal.rules],
        "requests": proposal.request_count,
        "reduction_percent": _rounded(proposal.reduction_percent),
        "bindings": [str(b.key) for b in proposal.bindings],
        "remove_bindings": [str(b.key) for b in proposal.unused_bindings],
        "bypass_bindings": [str(b.key) for b in proposal.bypass_bindings],
        "new_roles": [{"role": str(r.key),
                       "rules": [{"rule": t.rule.to_dict(), "from_rules": list(t.from_rules)} for t in r.rules],
                       "rebind": [{"new": str(s.new.key), "replaces": str(s.old.key)} for s in r.swaps]}
                      for r in proposal.replacements],
        "split": [{"role": str(s.key), "subject": str(s.subject), "rules": [t.rule.to_dict() for t in s.rules],
                   "replaces": [str(b.key) for b in s.replaces]} for s in proposal.splits],
        "notes": list(proposal.notes),
    }
