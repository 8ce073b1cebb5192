"""Trim proposals and generated roles as applyable RBAC v1 YAML, JSON, diffs and rbac-manager objects."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

import yaml

from rbacmap.authorizer import effective_subject
from rbacmap.model import CLUSTER_ROLE, CLUSTER_ROLE_BINDING, Binding, PolicyRule, RoleKey, Subject
from rbacmap.trim import GeneratedRole, TrimProposal, TrimReport
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
    """Roles replacing the originals in place (same names); with --split, new roles and bindings.

    Roles nobody used are left out (their bindings are listed for removal in the report).
    """
    docs: list[dict[str, Any]] = []
    for proposal in report.proposals:
        if proposal.unused:
            continue
        source = str(proposal.role.key)
        if proposal.splits:
            for split in proposal.splits:
                docs.append(role_manifest(split.key, [t.rule for t in split.rules], report.window,
                                          dict(proposal.role.labels), source))
                docs.extend(binding_manifest(b, report.window) for b in split.rebind)
        else:
            docs.append(role_manifest(proposal.role.key, proposal.trimmed_rules, report.window,
                                      dict(proposal.role.labels), source))
    return docs


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
        before = to_yaml([original_manifest(proposal)]).splitlines(keepends=True)
        if proposal.unused:
            after: list[str] = []
        else:
            after = to_yaml([role_manifest(proposal.role.key, proposal.trimmed_rules, report.window,
                                           dict(proposal.role.labels), str(proposal.role.key))]
                            ).splitlines(keepends=True)
        name = f"{proposal.role.key.namespace + '/' if proposal.role.key.namespace else ''}{proposal.role.key.name}"
        chunks.extend(difflib.unified_diff(before, after, f"a/{proposal.role.key.kind}/{name}",
                                           f"b/{proposal.role.key.kind}/{name}"))
    return "".join(chunks)


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
        used = [b for b in proposal.bindings if b not in proposal.unused_bindings]
        bindings = [b for split in proposal.splits for b in split.rebind] if proposal.splits else used
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
        "reduction_percent": round(report.reduction_percent, 1),
        "roles": [proposal_json(p) for p in report.proposals],
    }


def proposal_json(proposal: TrimProposal) -> dict[str, Any]:
    role = proposal.role
    return {
        "role": {"kind": role.key.kind, "namespace": role.key.namespace or None, "name": role.key.name},
        "granted_rules": [{"index": i, "rule": r.to_dict(), "used": i in proposal.used_rule_indexes}
                          for i, r in enumerate(role.rules)],
        "unused_rules": [{"index": i, "rule": role.rules[i].describe()} for i in proposal.unused_rule_indexes],
        "trimmed_rules": [{"rule": t.rule.to_dict(), "from_rules": list(t.from_rules)} for t in proposal.rules],
        "requests": proposal.request_count,
        "reduction_percent": round(proposal.reduction_percent, 1),
        "bindings": [str(b.key) for b in proposal.bindings],
        "remove_bindings": [str(b.key) for b in proposal.unused_bindings],
        "split": [{"role": str(s.key), "subject": str(s.subject), "rules": [t.rule.to_dict() for t in s.rules],
                   "replaces": [str(b.key) for b in s.replaces]} for s in proposal.splits],
        "notes": list(proposal.notes),
    }
