"""Offboarding: everything a departed person can still do in a cluster, how, and what to delete.

`offboard(store, people, clusters)` resolves each person into the identities the API
server would see (`offboard_identity`), then reports, per cluster, the bindings naming
them or their groups, what they can still do (exact authorizer matching), the mappings
and artifacts that keep working after their account is gone, and the fix steps.
Optional sources (audit usage, cloud IAM, escalation solver) plug in through
`offboard_sources`; each report says which sources it used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from rbacmap import offboard_sources
from rbacmap.authorizer import Grant, subject_applies
from rbacmap.model import GROUP, SYSTEM_MASTERS, USER, Binding, Role, RoleKey, UserInfo
from rbacmap.offboard_context import AWS_AUTH_REF, ClusterContext, Resolution
from rbacmap.offboard_identity import (
    UNIVERSAL_GROUPS,
    AwsAuthEntry,
    Identity,
    Person,
    account_of,
    alias_identities,
    canonical_arn,
    login_groups,
    person_groups,
)
from rbacmap.offboard_report import ClusterReport, Finding, FixStep, ObjectRef, Permission, PersonReport
from rbacmap.store import Store

# kube-controller-manager --cluster-signing-duration default: what a CSR without
# spec.expirationSeconds (or with a longer one) gets from the built-in signers.
DEFAULT_SIGNING_SECONDS = 365 * 24 * 3600
# Signers whose certificates the API server accepts as client certificates (its --client-ca-file is the cluster CA
# the controller manager signs them with). kube-apiserver-client-kubelet's are node credentials (system:node:NAME).
CLIENT_SIGNERS = ("kubernetes.io/kube-apiserver-client", "kubernetes.io/kube-apiserver-client-kubelet",
                  "kubernetes.io/legacy-unknown")
# Serving certificates only (usages: server auth): no client can log in with one.
SERVING_SIGNERS = ("kubernetes.io/kubelet-serving",)


# --- identities ----------------------------------------------------------------------------


def resolve_core_identities(person: Person, ctx: ClusterContext, resolution: Resolution) -> None:
    """Identities from what the person was given as, and from the snapshot: aws-auth and CSRs."""
    for username in person.usernames:
        resolution.identities.append(Identity(username, person.groups, "given username"))
    for email in person.gcp_emails():
        if email not in person.usernames:
            resolution.identities.append(
                Identity(email, person.groups, "GCP member user:" + email + " (GKE usernames are account emails)")
            )
    _resolve_aws_auth(person, ctx, resolution)
    # The person's email as bindings and CSRs spell it (an OIDC prefix, other letter case) is theirs too.
    names = {s.name for b in ctx.policy.all_bindings() for s in b.subjects if s.kind == USER}
    names |= {str(csr[column]) for csr in ctx.csrs for column in ("username", "request_cn") if csr.get(column)}
    resolution.identities += alias_identities(person, resolution.identities, names)


def _resolve_aws_auth(person: Person, ctx: ClusterContext, resolution: Resolution) -> None:
    """The person's principals through aws-auth as aws-iam-authenticator applies it (rbacmap.cloud.aws_auth).

    Each caller (IAM user, role given, assumed-role session) is known by its canonical ARN; the one live entry
    for it applies, else a listed account's mapAccounts logs it in as that ARN with no group.
    """
    live = [entry for entry in ctx.aws_auth if not entry.dead]
    for entry in live:
        rendered = entry.render_username(None)
        for group in entry.groups:
            if rendered:
                resolution.add_member(group, rendered, entry.describe())
    accounts = {entry.arn: entry for entry in live if entry.section == "mapAccounts"}
    sessions: dict[str, str | None] = {canonical_arn(a): None for a in person.aws_arns if ":role/" in a}
    sessions.update(person.assumed_roles())
    callers = [(canonical_arn(a), None) for a in person.iam_user_arns()] + list(sessions.items())
    for caller, session in callers:
        mapped = next((e for e in live if e.matches(caller)), None)
        if mapped is not None:
            _add_entry_identity(ctx, mapped, caller, session, resolution, accounts.get(account_of(caller)))
        elif account_of(caller) in accounts:
            _add_account_identity(accounts[account_of(caller)], caller, resolution)


def _add_entry_identity(ctx: ClusterContext, entry: AwsAuthEntry, caller: str, session: str | None,
                        resolution: Resolution, account: AwsAuthEntry | None) -> None:
    user = ":user/" in caller
    username = entry.render_username(session)
    via = entry.describe() + (f" (session {session!r})" if session else "")
    if not entry.username:
        via += " (no username: the authenticator sends an empty one, so only the groups count)"
    groups = login_groups(entry.groups, entry.arn, session, ctx.bound_groups)
    # Without {{SessionName}} every session of a role gets the same username.
    shared = not user and "{{SessionName" not in entry.username
    identity = Identity(username or None, groups, via, AWS_AUTH_REF.logical_name(), shared)
    resolution.identities.append(identity)
    removable = user and entry.section == "mapUsers"
    resolution.findings.append(_aws_auth_finding(entry, identity, removable=removable))
    if removable and account is not None:
        # Once the fix removes the entry, the listed account logs the IAM user in as its ARN: bindings naming it
        # are the person's too (the user's credentials are what end it).
        resolution.identities.append(Identity(
            caller, (), f"{account.describe()}, once {entry.section}[{entry.index}] is removed",
            AWS_AUTH_REF.logical_name()))


def _add_account_identity(account: AwsAuthEntry, caller: str, resolution: Resolution) -> None:
    """No entry maps the caller, its account is listed: it logs in as its canonical ARN, no group (server.go)."""
    user = ":user/" in caller
    # Every session of a role logs in as the role's ARN.
    identity = Identity(caller, (), account.describe(), AWS_AUTH_REF.logical_name(), shared=not user)
    resolution.identities.append(identity)
    provenance = {"section": account.section, "index": account.index, "entry": account.raw,
                  "identity": identity.to_json()}
    name = caller.rsplit("/", 1)[-1]
    message = f"{account.describe()}: no entry maps {caller}, so it logs in as {caller} without groups"
    if user:
        resolution.findings.append(Finding(
            "aws-auth-mapping", message, AWS_AUTH_REF, provenance,
            remediation=f"account {account.arn} admits every principal of it: disable the IAM user (removing the "
                        "account from mapAccounts locks out everyone else of it); the fix removes the bindings "
                        "naming the user's ARN",
            fix=_iam_user_steps(name)))
    else:
        resolution.findings.append(Finding(
            "aws-auth-mapping", message + f"; every session of role {name} does", AWS_AUTH_REF, provenance,
            remediation=f"account {account.arn} admits every principal of it, and the role is shared: stop the "
                        f"person from assuming {name} (role trust policy, SSO permission set or IAM policy)",
            fix=_trust_steps(name)))


def _iam_user_steps(user: str) -> tuple[FixStep, ...]:
    return (
        FixStep("command", command=f"aws iam delete-login-profile --user-name {user}",
                note="stop console sign-in of the IAM user"),
        FixStep("command", command=f"aws iam list-access-keys --user-name {user}",
                note="then `aws iam delete-access-key --user-name USER --access-key-id KEY` for each key"),
    )


def _trust_steps(role: str) -> tuple[FixStep, ...]:
    return (
        FixStep("command", command=f"aws iam get-role --role-name {role} --query Role.AssumeRolePolicyDocument",
                note=f"review who may assume {role}"),
        FixStep("command",
                command=f"aws iam update-assume-role-policy --role-name {role} "
                        f"--policy-document file://{role}-trust-without-person.json",
                note="after removing the person's principal from the trust policy"),
    )


def _aws_auth_finding(entry: AwsAuthEntry, identity: Identity, *, removable: bool) -> Finding:
    provenance = {"section": entry.section, "index": entry.index, "entry": entry.raw, "identity": identity.to_json()}
    if removable:
        user = entry.arn.rsplit("/", 1)[-1]
        return Finding(
            "aws-auth-mapping",
            f"{entry.describe()} maps the person's IAM user into the cluster"
            + ("" if entry.username else " with no username: only its groups count"),
            AWS_AUTH_REF,
            provenance,
            remediation="remove the entry from kube-system/aws-auth, and disable the IAM user",
            fix=(FixStep("aws-auth-remove", AWS_AUTH_REF, entries=((entry.section, entry.index),)),
                 *_iam_user_steps(user)),
        )
    role = entry.arn.rsplit("/", 1)[-1]
    return Finding(
        "aws-auth-mapping",
        f"{entry.describe()}: the person reaches the cluster through IAM role {role}",
        AWS_AUTH_REF,
        provenance,
        remediation=(
            f"the role mapping is shared: stop the person from assuming {role} (role trust policy, "
            "SSO permission set or IAM policy) rather than deleting the mapping"
        ),
        fix=_trust_steps(role),
    )


def resolve_certificates(ctx: ClusterContext, resolution: Resolution) -> None:
    """An issued client certificate authenticates whoever holds its key until it expires.

    That is the person for a certificate in their name, and for one they requested (spec.username,
    or the audit log) whatever name it carries: the requester made the key. A certificate for
    another name is shared with whoever else uses that name.
    """
    own = resolution.own_usernames()
    for csr in ctx.csrs:
        common_name = csr.get("request_cn")
        for_person = common_name in own
        by_person = csr.get("username") in own or csr["name"] in resolution.requested_csrs
        if not (csr["issued"] and common_name and (for_person or by_person)):
            continue
        if csr["signer_name"] in SERVING_SIGNERS:
            continue
        orgs = tuple(json.loads(csr.get("request_organizations") or "[]"))
        ref = ObjectRef("CertificateSigningRequest", csr["name"])
        via = (f"client certificate issued for CSR {csr['name']}" if for_person else
               f"client certificate for {common_name!r} the person requested (CSR {csr['name']}): they hold its key")
        if csr["signer_name"] not in CLIENT_SIGNERS:
            # As its finding says: a login only if the API server trusts the custom signer's CA.
            via += f", if the API server trusts signer {csr['signer_name']}'s CA for client certificates"
        identity = Identity(common_name, orgs, via, ref.logical_name(), shared=not for_person)
        resolution.identities.append(identity)
        for group in orgs:
            resolution.add_member(group, common_name, f"certificate from CSR {csr['name']}")


# --- findings ------------------------------------------------------------------------------


def certificate_lifetime(csr: dict[str, Any]) -> tuple[int, str, str | None]:
    """(seconds, why, expiry estimate) of the certificate a CSR produced."""
    requested = csr.get("expiration_seconds")
    if requested:
        seconds = min(int(requested), DEFAULT_SIGNING_SECONDS)
        why = f"spec.expirationSeconds={requested}"
        if int(requested) > DEFAULT_SIGNING_SECONDS:
            why += " capped by the signer's default --cluster-signing-duration (8760h)"
    else:
        seconds = DEFAULT_SIGNING_SECONDS
        why = "no spec.expirationSeconds: signer default --cluster-signing-duration 8760h"
    expiry = None
    if csr.get("created_at"):
        try:
            created = datetime.fromisoformat(str(csr["created_at"]).replace("Z", "+00:00"))
            expiry = (created + timedelta(seconds=seconds)).isoformat()
        except ValueError:
            expiry = None
    return seconds, why, expiry


def _human_duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds}s"


def csr_findings(ctx: ClusterContext, resolution: Resolution) -> list[Finding]:
    """Certificates issued for the person's identity, and CSRs the person requested."""
    usernames = resolution.usernames()
    findings = []
    for csr in ctx.csrs:
        common_name = csr.get("request_cn")
        for_person = bool(common_name and common_name in usernames)
        by_person = csr.get("username") in usernames or csr["name"] in resolution.requested_csrs
        if not (for_person or by_person):
            continue
        ref = ObjectRef("CertificateSigningRequest", csr["name"])
        seconds, why, expiry = certificate_lifetime(csr)
        states = [c.get("type") for c in json.loads(csr["conditions"] or "[]")]
        provenance = {
            "csr": csr["name"], "signer": csr["signer_name"], "requested_by": csr.get("username"),
            "certificate_subject": {"common_name": common_name,
                                    "organizations": json.loads(csr.get("request_organizations") or "[]")},
            "conditions": states, "issued": bool(csr["issued"]), "created_at": csr.get("created_at"),
            "lifetime_seconds": seconds, "lifetime_source": why, "expires_at_estimate": expiry,
        }
        if csr["issued"] and csr["signer_name"] in SERVING_SIGNERS:
            findings.append(Finding(
                "csr-requested", f"CSR {csr['name']} issued a serving certificate (signer {csr['signer_name']}): "
                "the API server does not accept it as a client certificate", ref, provenance, remains=False))
        elif csr["issued"]:
            whose = f"for {common_name!r}" if common_name else "(subject unknown: spec.request not imported)"
            if csr["signer_name"] not in CLIENT_SIGNERS:
                # A custom signer's CA is trusted for client logins only if the API server's client CA bundle
                # holds it: unknown from the cluster's objects, so reported, with the condition said.
                whose += (f", if the API server trusts signer {csr['signer_name']}'s CA for client certificates "
                          "(--client-ca-file)")
            if common_name in resolution.own_usernames():
                cut = "remove every binding naming the certificate's user and groups (the fix does so for the user)"
            else:
                cut = (f"the certificate's user {common_name or '(unknown)'} is not the person's own name: the fix "
                       "leaves its bindings (others may use the name); re-issue the name's credentials and remove "
                       "the bindings naming it and its groups, or rotate the CA")
            findings.append(Finding(
                "client-certificate",
                f"CSR {csr['name']} issued a client certificate {whose} "
                f"(requested by {csr.get('username')}); a client certificate cannot be revoked: it stays valid "
                f"for {_human_duration(seconds)} ({why})" + (f", until about {expiry}" if expiry else ""),
                ref, provenance,
                remediation=f"{cut}; deleting the CSR does not revoke the certificate, only rotating the CA does",
            ))
        elif "Denied" in states or "Failed" in states:
            findings.append(Finding("csr-requested", f"CSR {csr['name']} requested by the person was denied",
                                    ref, provenance, remains=False))
        elif _requested_under_shared_name(csr, resolution):
            # Only the requester's username ties the CSR to the person, and others log in as that name too:
            # deleting it could throw away a colleague's request.
            findings.append(Finding(
                "csr-requested",
                f"CSR {csr['name']} requested as {csr.get('username')}, which the person authenticates as, is "
                "still pending: anyone who approves it hands out a certificate; others use that username too, so "
                "it may not be the person's request: the fix leaves it", ref, {**provenance, "shared": True},
                remediation=f"ask who else uses {csr.get('username')} whether the request is theirs; deny or delete "
                            "it if not",
            ))
        else:
            findings.append(Finding(
                "csr-requested", f"CSR {csr['name']} requested by the person is still pending: anyone who approves "
                                 "it hands out a certificate", ref, provenance,
                remediation="deny or delete the pending CSR", fix=(FixStep("delete", ref),),
            ))
    return findings


def _requested_under_shared_name(csr: dict[str, Any], resolution: Resolution) -> bool:
    """Is the CSR the person's only through a username others share (not their own name, not the audit log)?"""
    if csr["name"] in resolution.requested_csrs or csr.get("request_cn") in resolution.own_usernames():
        return False
    return csr.get("username") in resolution.shared_usernames()


def _binding_ref(binding: Binding) -> ObjectRef:
    return ObjectRef(binding.key.kind, binding.key.name, binding.key.namespace)


def binding_findings(ctx: ClusterContext, resolution: Resolution) -> list[Finding]:
    """Bindings naming the person as a User, or one of their groups."""
    usernames = resolution.usernames()
    own = resolution.own_usernames()
    shared = resolution.shared_usernames()
    groups = person_groups(resolution.identities)
    findings = []
    for binding in ctx.policy.all_bindings():
        ref = _binding_ref(binding)
        role = f"{binding.role_ref.kind} {binding.role_ref.name}"
        findings += _shared_user_findings(binding, ref, role, shared, resolution.identities)
        direct = [i for i, s in enumerate(binding.subjects) if s.kind == USER and s.name in own]
        if direct:
            dangling = ctx.policy.role(binding.role_key()) is None
            names = sorted({binding.subjects[i].name for i in direct})
            only = len(direct) == len(binding.subjects)
            findings.append(Finding(
                "direct-binding",
                f"{binding.key} grants {role} to User {', '.join(names)}"
                + (" (the only subject: delete the binding)" if only else " (remove the subject)")
                + (f"; {role} does not exist yet: whoever creates it grants it to the person" if dangling else ""),
                ref,
                {"binding": ref.to_json(), "role_ref": {"kind": binding.role_ref.kind, "name": binding.role_ref.name},
                 "subjects": [{"index": i, "kind": USER, "name": binding.subjects[i].name} for i in direct],
                 "other_subjects": len(binding.subjects) - len(direct), "dangling": dangling},
                remediation="delete the binding" if only else "rewrite the binding without the subject",
                fix=(FixStep("remove-subjects", ref, subject_indexes=tuple(direct)),),
            ))
        for index, subject in enumerate(binding.subjects):
            if subject.kind != GROUP or subject.name not in groups:
                continue
            carriers = groups[subject.name]
            others = {u: why for u, why in resolution.group_members.get(subject.name, {}).items()
                      if u not in usernames}
            findings.append(Finding(
                "group-binding",
                f"{binding.key} grants {role} to Group {subject.name}, which the person is in "
                f"(via {'; '.join(c.via for c in carriers)}); revoke the membership in the identity provider"
                + (f"; other known members: {', '.join(sorted(others))}" if others else ""),
                ref,
                {"binding": ref.to_json(), "role_ref": {"kind": binding.role_ref.kind, "name": binding.role_ref.name},
                 "subject": {"index": index, "kind": GROUP, "name": subject.name},
                 "membership": [c.to_json() for c in carriers],
                 "other_members": [{"username": u, "source": why} for u, why in sorted(others.items())]},
                remediation=_group_remediation(subject.name, carriers),
            ))
    return findings


def _shared_user_findings(
    binding: Binding, ref: ObjectRef, role: str, shared: set[str], identities: list[Identity]
) -> list[Finding]:
    """A binding naming a username the person reaches but shares with others: reported, left to a human."""
    findings = []
    for index, subject in enumerate(binding.subjects):
        if subject.kind != USER or subject.name not in shared:
            continue
        carriers = [i for i in identities if i.username == subject.name]
        findings.append(Finding(
            "direct-binding",
            f"{binding.key} grants {role} to User {subject.name}, which the person authenticates as "
            f"(via {'; '.join(c.via for c in carriers)}); others use that username too: the fix leaves the binding",
            ref,
            {"binding": ref.to_json(), "role_ref": {"kind": binding.role_ref.kind, "name": binding.role_ref.name},
             "subjects": [{"index": index, "kind": USER, "name": subject.name}], "shared": True,
             "other_subjects": len(binding.subjects) - 1, "membership": [c.to_json() for c in carriers],
             "dangling": False},
            remediation=f"cut the person's way to {subject.name} (stop them assuming the role; for a certificate, "
                        "re-issue the name's credentials and unbind the old name, or rotate the CA)",
        ))
    return findings


def _group_remediation(group: str, carriers: list[Identity]) -> str:
    sources = {c.source.split("/", 1)[0] for c in carriers if c.source}
    text = f"remove the person from group {group} in the identity provider"
    if any("aws-auth mapUsers" in c.via for c in carriers):
        text += "; the aws-auth mapUsers entry that adds the group is removed by the fix"
    if any("aws-auth mapRoles" in c.via for c in carriers):
        text += "; the group comes with a shared IAM role: stop the person from assuming the role"
    if "CertificateSigningRequest" in sources:
        text += ("; a client certificate carries the group until it expires: only removing the group's binding "
                 "(which affects every member) or rotating the CA cuts it")
    return text


def system_masters_findings(resolution: Resolution) -> list[Finding]:
    findings = []
    for identity in resolution.identities:
        if SYSTEM_MASTERS in identity.groups:
            findings.append(Finding(
                "system-masters",
                f"{identity.via} puts the person in system:masters: every request is allowed before RBAC",
                _source_ref(identity.source),
                {"identity": identity.to_json()},
                remediation="remove the mapping; a certificate in system:masters is valid until it expires",
            ))
    return findings


def _source_ref(source: str) -> ObjectRef | None:
    """The object behind an identity's source: aws-auth or a CSR; None for the audit log or a cloud mapping.

    Only those two are Kubernetes objects (`Kind/namespace/name`, `Kind/name`); `audit` is no object,
    and a cloud source (`eks-access-entry/arn:aws:iam::1:role/x`) holds slashes of its own.
    """
    kind, _, rest = source.partition("/")
    if kind == AWS_AUTH_REF.kind and source == AWS_AUTH_REF.logical_name():
        return AWS_AUTH_REF
    if kind == "CertificateSigningRequest" and rest:
        return ObjectRef(kind, rest)
    return None


# --- effective permissions -----------------------------------------------------------------


def effective_permissions(ctx: ClusterContext, identities: Sequence[Identity]) -> list[Permission]:
    """Every rule any identity of the person holds through a subject specific to them.

    Matching is the authorizer's `subject_applies`; grants through system:authenticated
    (shared with every user) are left out, since they say nothing about this person.
    """
    roles: dict[RoleKey, Role | None] = {}
    seen: set[tuple[str, str, str, int]] = set()
    out: list[Permission] = []
    for identity in identities:
        groups = tuple(g for g in identity.groups if g not in UNIVERSAL_GROUPS)
        user = UserInfo(identity.username or "\x00unknown-session", groups)
        for binding in ctx.policy.all_bindings():
            index = _matching_subject(binding, user)
            if index is None:
                continue
            key = binding.role_key()
            if key not in roles:
                roles[key] = ctx.policy.role(key)
            role = roles[key]
            if role is None:
                continue
            for rule_index, rule in enumerate(role.rules):
                mark = (binding.key.kind, binding.key.namespace, binding.key.name, rule_index)
                if mark in seen:
                    continue
                seen.add(mark)
                grant = Grant(binding, index, role, rule_index)
                out.append(Permission(binding.key.namespace, rule.describe(), grant.to_json(), identity.via))
    out.sort(key=lambda p: (p.scope, p.grant["binding"]["name"], p.grant["rule_index"]))
    return out


def _matching_subject(binding: Binding, user: UserInfo) -> int | None:
    for index, subject in enumerate(binding.subjects):
        if subject.kind == GROUP and subject.name in UNIVERSAL_GROUPS:
            continue
        if subject_applies(user, subject, binding.key.namespace):
            return index
    return None


# --- orchestration -------------------------------------------------------------------------


def offboard_cluster(ctx: ClusterContext, person: Person) -> ClusterReport:
    """The full report for one person in one cluster."""
    resolution = Resolution()
    resolve_core_identities(person, ctx, resolution)
    used = offboard_sources.extend_identities(ctx, person, resolution)
    # After the other sources: a certificate may name a username only they revealed.
    resolve_certificates(ctx, resolution)
    resolution.findings += system_masters_findings(resolution)
    resolution.findings += binding_findings(ctx, resolution)
    resolution.findings += csr_findings(ctx, resolution)
    extra, more_used, warnings = offboard_sources.extra_findings(ctx, person, resolution)
    findings = [*resolution.findings, *extra]
    used.update(more_used)
    return ClusterReport(
        ctx.cluster,
        ctx.snapshot.id,
        tuple(_unique_identities(resolution.identities)),
        tuple(findings),
        # Cloud grants among the RBAC ones, by scope: the report groups them under one heading per namespace.
        tuple(sorted([*effective_permissions(ctx, resolution.identities), *resolution.permissions],
                     key=lambda p: p.scope)),
        tuple([*ctx.warnings, *warnings]),
        used,
    )


def _unique_identities(identities: Iterable[Identity]) -> list[Identity]:
    return list(dict.fromkeys(identities))


def cluster_names(store: Store, cluster: str | None, all_clusters: bool) -> list[str]:
    if all_clusters:
        return [row["name"] for row in store.clusters() if row["latest"] is not None]
    return [store.resolve_cluster(cluster)]


def offboard(store: Store, people: Sequence[Person], clusters: Sequence[str]) -> list[PersonReport]:
    """Reports for every person in every cluster (latest complete snapshot of each)."""
    contexts = [ClusterContext.load(store, store.latest_snapshot(name)) for name in clusters]
    return [PersonReport(person, tuple(offboard_cluster(ctx, person) for ctx in contexts)) for person in people]
