"""Offboarding from cloud IAM imports: roles the person can assume, access entries, cloud grants.

Reads the cluster's latest cloud import (`rbacmap.cloud.store.latest_cloud_graph`). The
aws-auth entries of the snapshot itself are handled by the core resolution; here they count
only when reached through an IAM role the person can assume.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable

from rbacmap.cloud.model import (
    ASSUME_ROLE,
    CREATE_ACCESS_ENTRY,
    IMPERSONATE,
    CloudGrant,
    CloudGraph,
    IdentityMapping,
    is_namespace_pattern,
)
from rbacmap.cloud.store import latest_cloud_graph
from rbacmap.offboard_context import AWS_AUTH_REF, ClusterContext, Resolution
from rbacmap.offboard_identity import (
    GCP_MEMBER_PREFIXES,
    Identity,
    Person,
    canonical_arn,
    login_groups,
    render_aws_username,
)
from rbacmap.offboard_report import Finding, FixStep, ObjectRef, Permission

GCP_ROLE = re.compile(r"((?:projects|organizations)/[^/\s]+/roles/\S+|roles/\S+) for ")
AWS_AUTH = "aws-auth"
ASSUME_MECHANISMS = (ASSUME_ROLE, IMPERSONATE)


def person_principals(person: Person) -> set[str]:
    """Cloud principals the person is: IAM users, roles given or sessions' roles, GCP members."""
    out = {canonical_arn(a) for a in person.aws_arns if ":user/" in a or ":role/" in a}
    out |= {role for role, _ in person.assumed_roles()}
    out |= set(person.gcp_members) | set(person.gcp_emails())
    return out


def _reachable(graph: CloudGraph, start: set[str]) -> dict[str, list[str]]:
    """Principals reachable by assuming roles / impersonating, each with the chain of provenance."""
    chains: dict[str, list[str]] = {}
    queue = deque((p, list[str]()) for p in start)
    seen = set(start)
    while queue:
        principal, chain = queue.popleft()
        for edge in graph.edges:
            if edge.mechanism not in ASSUME_MECHANISMS or canonical_arn(edge.source) != principal:
                continue
            target = canonical_arn(edge.target)
            if target in seen:
                continue
            seen.add(target)
            step = f"{edge.source} -[{edge.mechanism}]-> {edge.target}: {edge.provenance}"
            chains[target] = [*chain, step]
            queue.append((target, chains[target]))
    return chains


def cloud_findings(ctx: ClusterContext, person: Person, resolution: Resolution) -> bool:
    """Add cloud identities and findings to the resolution; False when the cluster has no cloud import."""
    graph = latest_cloud_graph(ctx.store, ctx.cluster)
    if graph is None:
        return False
    own = person_principals(person)
    reached = _reachable(graph, own)
    cloud_cluster = graph.cloud_import.cloud_cluster
    project = str(graph.cloud_import.details.get("project") or "PROJECT")
    for role, chain in reached.items():
        resolution.findings.append(Finding(
            "iam-role-trust",
            f"the person can assume {role}: {chain[-1]}",
            ObjectRef("IAMRole", role),
            {"principal": role, "chain": chain, "cloud_import": graph.cloud_import.id},
            remediation=f"remove the person's principal from the trust policy of {role} (or disable their IAM user)",
            fix=_trust_steps(role, chain[-1]),
        ))
    sessions = dict(person.assumed_roles())
    given_roles = {role for role, _ in person.assumed_roles()} | {canonical_arn(a) for a in person.aws_arns
                                                                   if ":role/" in a}
    for mapping in graph.mappings:
        principal = canonical_arn(mapping.principal)
        if principal not in own and principal not in reached:
            continue
        if mapping.mechanism == AWS_AUTH and (principal in given_roles or ":user/" in principal):
            continue  # the snapshot's own aws-auth entry is reported by the core resolution
        _mapping_finding(mapping, principal, reached.get(principal), cloud_cluster, project, resolution,
                         sessions.get(principal), ctx.bound_groups)
    for grant in graph.grants:
        principal = canonical_arn(grant.principal)
        if principal not in own and principal not in reached:
            continue
        covered = [ns for ns in ctx.namespaces if grant.covers(ns)] if grant.namespaces else []
        scope = _scope_text(grant.namespaces, covered)
        if grant.live:
            _add_grant_permissions(grant, principal, covered, resolution)
        resolution.findings.append(Finding(
            "cloud-grant",
            f"{grant.provenance} grants {principal} Kubernetes permissions ({scope})"
            + ("" if grant.live else "; not live in this cluster's authentication mode"),
            ObjectRef("AccessEntry" if grant.mechanism.startswith("eks") else "IAMBinding", principal),
            {"principal": principal, "namespaces": list(grant.namespaces), "covered_namespaces": covered,
             "rules": [r.to_dict() for r in grant.rules],
             "mechanism": grant.mechanism, "provenance": grant.provenance, "via": reached.get(principal, [])},
            remains=grant.live,
            remediation="remove the access entry or IAM binding, or the person's way to the principal",
            fix=_mapping_steps(grant.mechanism, principal, cloud_cluster, principal in own, project,
                               _gcp_role(grant.provenance)),
        ))
    for edge in graph.edges:
        if edge.mechanism == CREATE_ACCESS_ENTRY and canonical_arn(edge.source) in own | set(reached):
            resolution.findings.append(Finding(
                "escalation-path",
                f"{edge.source} can map itself into {edge.target} through the EKS API: {edge.provenance}",
                ObjectRef("IAMPrincipal", edge.source),
                {"edge": {"source": edge.source, "target": edge.target, "mechanism": edge.mechanism,
                          "provenance": edge.provenance}},
                remediation="remove eks:CreateAccessEntry/eks:AssociateAccessPolicy from the principal's policies",
            ))
    return True


def _scope_text(scope: tuple[str, ...], covered: list[str]) -> str:
    """`cluster-wide`, or the namespaces; a wildcard (`dev-*`, rbacmap.cloud.model.in_scope) with those it covers."""
    if not scope:
        return "cluster-wide"
    text = ", ".join(scope)
    if any(is_namespace_pattern(ns) for ns in scope):
        text += (f"; today {', '.join(covered)}" if covered else "; no namespace today") + \
            ", and every namespace created later that matches"
    return text


def _add_grant_permissions(grant: CloudGrant, principal: str, covered: list[str], resolution: Resolution) -> None:
    """The grant's rules in each namespace it covers today (cluster-wide: scope "")."""
    source = {"mechanism": grant.mechanism, "provenance": grant.provenance, "principal": principal,
              "namespaces": list(grant.namespaces)}
    for namespace in covered if grant.namespaces else [""]:
        for index, rule in enumerate(grant.rules):
            resolution.permissions.append(Permission(namespace, rule.describe(), {**source, "rule_index": index},
                                                     grant.provenance))


def _mapping_finding(
    mapping: IdentityMapping, principal: str, chain: list[str] | None, cloud_cluster: str, project: str,
    resolution: Resolution, session: str | None = None, bound_groups: Iterable[str] = (),
) -> None:
    # A role's username template names the session; the person's own session (given as its
    # assumed-role ARN) is known, so bindings naming that username are theirs.
    username: str | None = mapping.username
    if "{{" in mapping.username:
        username = render_aws_username(mapping.username, principal, session) if principal.startswith("arn:") else None
    via = f"{mapping.provenance}" + (f" (reached: {chain[-1]})" if chain else "") + \
        (f" (session {session!r})" if session and username else "")
    source = AWS_AUTH_REF.logical_name() if mapping.mechanism == AWS_AUTH else f"{mapping.mechanism}/{principal}"
    if mapping.live:
        # A role or service account is whoever assumes it: unless the username names the person's own
        # session, it is everyone's who reaches the principal.
        shared = (bool(chain) or ":role/" in principal or principal.startswith(("serviceAccount:", "group:"))) \
            and "{{SessionName" not in mapping.username
        # Group templates render with the session too; unknown, they are every bound group they can become.
        groups = login_groups(mapping.groups, principal, session, bound_groups)
        resolution.identities.append(Identity(username, groups, via, source, shared))
    ref = AWS_AUTH_REF if mapping.mechanism == AWS_AUTH else ObjectRef("AccessEntry", principal)
    kind = "aws-auth-mapping" if mapping.mechanism == AWS_AUTH else "cloud-mapping"
    resolution.findings.append(Finding(
        kind,
        f"{mapping.provenance} maps {principal} to username {mapping.username!r} groups {list(mapping.groups)}"
        + (f"; the person reaches {principal} by assuming it" if chain else "")
        # Not live: the cluster's authentication mode ignores it, or the provenance says what wins over it.
        + ("" if mapping.live else "; not live in this cluster"),
        ref,
        {"principal": principal, "username": mapping.username, "groups": list(mapping.groups),
         "mechanism": mapping.mechanism, "provenance": mapping.provenance, "live": mapping.live,
         "via": chain or []},
        remains=mapping.live,
        remediation="stop the person from assuming the role" if chain
        else f"{principal} is an IAM role others may assume too: stop the person from assuming it (trust "
             "policy, SSO permission set) rather than deleting its access entry" if _is_role(principal)
        else "delete the mapping (access entry) for the person's principal",
        fix=() if chain else _mapping_steps(mapping.mechanism, principal, cloud_cluster, True, project, None),
    ))


def _mapping_steps(
    mechanism: str, principal: str, cloud_cluster: str, own: bool, project: str, role: str | None
) -> tuple[FixStep, ...]:
    if not own:
        return ()
    if _is_role(principal):
        # A role is whoever assumes it: deleting its access entry would lock every other user out.
        return _trust_steps(principal, f"the person -[{ASSUME_ROLE}]-> {principal}")
    if mechanism.startswith("eks"):
        return (FixStep("command", command=f"aws eks delete-access-entry --cluster-name {cloud_cluster} "
                                           f"--principal-arn {principal}",
                        note="also removes its associated access policies"),)
    if principal.startswith(GCP_MEMBER_PREFIXES):
        if role:
            return (FixStep("command", command=f"gcloud projects remove-iam-policy-binding {project} "
                                               f"--member={principal} --role={role}"),)
        return (FixStep("command", command=f"gcloud projects get-iam-policy {project} "
                                           f"--flatten=bindings[].members --filter=bindings.members:{principal} "
                                           "--format=value(bindings.role)",
                        note=f"then for each role: gcloud projects remove-iam-policy-binding {project} "
                             f"--member={principal} --role=ROLE; disable the Google account itself"),)
    return ()


def _is_role(principal: str) -> bool:
    """An IAM role (given directly or as the role of an assumed-role session): shared by whoever assumes it."""
    return ":role/" in principal


def _gcp_role(provenance: str) -> str | None:
    """The role of a GCP IAM binding, from the importer's provenance text (`...: roles/x for user:y`)."""
    match = GCP_ROLE.search(provenance)
    return match.group(1) if match else None


def _trust_steps(target: str, last_step: str) -> tuple[FixStep, ...]:
    if target.startswith("serviceAccount:"):
        email = target.partition(":")[2]
        role = _gcp_role(last_step) or "ROLE"
        member = last_step.split(" -[", 1)[0]
        return (FixStep("command", command=f"gcloud iam service-accounts remove-iam-policy-binding {email} "
                                           f"--member={member} --role={role}"),)
    name = target.rsplit("/", 1)[-1]
    return (
        FixStep("command", command=f"aws iam get-role --role-name {name} --query Role.AssumeRolePolicyDocument",
                note=f"review who may assume {name}"),
        FixStep("command", command=f"aws iam update-assume-role-policy --role-name {name} "
                                   f"--policy-document file://{name}-trust-without-person.json",
                note="after removing the person's principal from the trust policy"),
    )
