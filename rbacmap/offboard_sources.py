"""Optional sources for offboarding: audit usage, cloud IAM and the escalation solver.

Each source is used when its module and data are present; the report's `sources` map says
which ones answered, so a missing source is never mistaken for "nothing left".
"""

from __future__ import annotations

from rbacmap.offboard_audit import add_audit_identities, audit_findings, load_audit, requested_csrs
from rbacmap.offboard_cloud import cloud_findings
from rbacmap.offboard_context import ClusterContext, Resolution
from rbacmap.offboard_escalation import EscalationSource
from rbacmap.offboard_identity import Person, alias_identities
from rbacmap.offboard_report import Finding

SOURCE_NAMES = ("audit", "cloud", "solver")


def extend_identities(ctx: ClusterContext, person: Person, resolution: Resolution) -> dict[str, bool]:
    """Add identities, groups and mapping findings from audit logs and cloud IAM; which sources answered."""
    audit = ctx.cached("audit", lambda: load_audit(ctx))
    if audit.imported:
        # The person's email as the audit log saw it (another prefix or letter case) is theirs too.
        resolution.identities += alias_identities(person, resolution.identities, audit.groups_by_user)
        add_audit_identities(audit, resolution)
    used_cloud = cloud_findings(ctx, person, resolution)
    # Audit groups of usernames only the cloud mappings revealed.
    if audit.imported:
        add_audit_identities(audit, resolution)
        resolution.requested_csrs |= requested_csrs(ctx, resolution.usernames())
    return {"audit": audit.imported, "cloud": used_cloud}


def bound_subjects(resolution: Resolution) -> set[str]:
    """`user:NAME` / `group:NAME` specs of the person that a binding names (from the binding findings)."""
    out = set()
    for finding in resolution.findings:
        if finding.type == "direct-binding":
            out |= {f"user:{s['name']}" for s in finding.provenance["subjects"]}
        elif finding.type == "group-binding":
            out.add(f"group:{finding.provenance['subject']['name']}")
    return out


def extra_findings(
    ctx: ClusterContext, person: Person, resolution: Resolution
) -> tuple[list[Finding], dict[str, bool], list[str]]:
    """Escalation paths and audit artifacts: (findings, sources used, warnings)."""
    solver = ctx.cached("solver", lambda: EscalationSource(ctx))
    findings = solver.findings(resolution, bound_subjects(resolution))
    findings += audit_findings(ctx, resolution, solver.service_account_power)
    warnings = [] if solver.available else ["escalation solver not available: no escalation paths reported"]
    return findings, {"solver": solver.available}, warnings
