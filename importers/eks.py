"""`rbacmap import eks`: access entries, aws-auth, IRSA, Pod Identity and IAM into one cloud import.

fetch (boto3, session injected) -> normalize (pure: raw API dicts + the cluster's latest
Kubernetes snapshot -> CloudFacts) -> load (one transaction). Which login mechanism is live
follows `accessConfig.authenticationMode`: API (access entries only), CONFIG_MAP (aws-auth
only) or API_AND_CONFIG_MAP (both); mappings of the dead mechanism are kept, marked not live.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rbacmap.cloud.access_entry_logins import default_username
from rbacmap.cloud.aws_auth import SESSION_TEMPLATES, caller_key, canonical_role_arn, dead_entries, parse_aws_auth
from rbacmap.cloud.eks_access_policies import RESEMBLES, access_policy_rules, policy_name
from rbacmap.cloud.k8s_context import K8sContext, load_k8s_context
from rbacmap.cloud.model import (
    ASSUME_ROLE,
    AWS_PRINCIPAL,
    EKS,
    IRSA,
    K8S_SERVICE_ACCOUNT,
    POD_IDENTITY,
    CloudEdge,
    CloudFacts,
    CloudGrant,
    CloudImport,
    CloudPower,
    IdentityMapping,
)
from rbacmap.cloud.store import record_failed_cloud_import, save_cloud_import
from rbacmap.cloud.username_templates import ACCOUNT_ID
from rbacmap.importers.aws_iam import (
    IamPrincipal,
    NamedPolicy,
    account_of,
    allowed_actions,
    can_assume,
    oidc_provider_host,
    parse_document,
    partition_of,
    web_identity_allows,
)
from rbacmap.importers.eks_access_entry_writers import (
    ExistingEntry,
    access_entries_supported,
    access_entry_writer_edges,
    policy_edges,
)
from rbacmap.store import Store

ACCESS_ENTRY = "eks-access-entry"
ACCESS_POLICY = "eks-access-policy"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
API_MODES = ("API", "API_AND_CONFIG_MAP")
CONFIG_MAP_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP")


@dataclass
class EksRawData:
    """What the AWS APIs said, as plain dicts (botocore's parsed responses)."""

    cluster: dict[str, Any]
    access_entries: list[dict[str, Any]] = field(default_factory=list)  # + "associatedAccessPolicies"
    pod_identity_associations: list[dict[str, Any]] = field(default_factory=list)
    node_groups: list[dict[str, Any]] = field(default_factory=list)  # describe_nodegroup's, managed groups only
    authorization_details: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    managed_policies: dict[str, Any] = field(default_factory=dict)  # policy ARN -> document
    problems: list[str] = field(default_factory=list)


# --- fetch ----------------------------------------------------------------------------------


def fetch_eks(
    session: Any, cluster_name: str, *, region: str | None = None, endpoint_urls: Mapping[str, str] | None = None
) -> EksRawData:
    """Read the cluster, its access entries and pod identities (EKS) and the account's IAM."""
    urls = endpoint_urls or {}
    eks = session.client("eks", region_name=region, endpoint_url=urls.get("eks"))
    iam = session.client("iam", region_name=region, endpoint_url=urls.get("iam"))
    raw = EksRawData(eks.describe_cluster(name=cluster_name)["cluster"])
    try:
        for arn in _pages(eks.list_access_entries, "accessEntries", clusterName=cluster_name):
            entry = eks.describe_access_entry(clusterName=cluster_name, principalArn=arn)["accessEntry"]
            entry["associatedAccessPolicies"] = list(_pages(
                eks.list_associated_access_policies, "associatedAccessPolicies",
                clusterName=cluster_name, principalArn=arn,
            ))
            raw.access_entries.append(entry)
    except eks.exceptions.ClientError as exc:
        raw.problems.append(f"access entries not read: {exc}")
    try:
        for summary in _pages(eks.list_pod_identity_associations, "associations", clusterName=cluster_name):
            raw.pod_identity_associations.append(eks.describe_pod_identity_association(
                clusterName=cluster_name, associationId=summary["associationId"])["association"])
    except eks.exceptions.ClientError as exc:
        raw.problems.append(f"pod identity associations not read: {exc}")
    try:
        for name in _pages(eks.list_nodegroups, "nodegroups", clusterName=cluster_name):
            raw.node_groups.append(eks.describe_nodegroup(clusterName=cluster_name, nodegroupName=name)["nodegroup"])
    except eks.exceptions.ClientError as exc:
        raw.problems.append(f"managed node groups not read (which node runs with which role is then guessed): {exc}")
    details: dict[str, list[dict[str, Any]]] = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [],
                                                "Policies": []}
    paginator = iam.get_paginator("get_account_authorization_details")
    # AWS managed policies are many: fetch only those attached, below.
    for page in paginator.paginate(Filter=["User", "Role", "Group", "LocalManagedPolicy"]):
        for key in details:
            details[key].extend(page.get(key, []))
    raw.authorization_details = details
    known = {p["Arn"] for p in details["Policies"]}
    for arn in sorted(_attached_policy_arns(details) - known):
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        raw.managed_policies[arn] = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"][
            "Document"]
    return raw


def _pages(method: Any, key: str, **kwargs: Any) -> Iterator[Any]:
    token = None
    while True:
        response = method(**kwargs, **({"nextToken": token} if token else {}))
        yield from response.get(key, [])
        token = response.get("nextToken")
        if not token:
            return


def _attached_policy_arns(details: Mapping[str, list[dict[str, Any]]]) -> set[str]:
    arns: set[str] = set()
    for key in ("UserDetailList", "GroupDetailList", "RoleDetailList"):
        for item in details.get(key, []):
            arns.update(p["PolicyArn"] for p in item.get("AttachedManagedPolicies", []))
    return arns


# --- normalize ------------------------------------------------------------------------------


def iam_principals(raw: EksRawData) -> dict[str, IamPrincipal]:
    """Users (with their groups' policies) and roles (with trust policies), by ARN."""
    details = raw.authorization_details
    managed = dict(raw.managed_policies)
    for policy in details.get("Policies", []):
        for version in policy.get("PolicyVersionList", []):
            if version.get("IsDefaultVersion"):
                managed[policy["Arn"]] = version["Document"]

    def policies(item: Mapping[str, Any], inline_key: str, owner: str) -> list[NamedPolicy]:
        out = [NamedPolicy(f"inline policy {p['PolicyName']} of {owner}", parse_document(p["PolicyDocument"]))
               for p in item.get(inline_key, [])]
        for attached in item.get("AttachedManagedPolicies", []):
            document = managed.get(attached["PolicyArn"])
            if document is not None:
                out.append(NamedPolicy(f"managed policy {attached['PolicyArn']}", parse_document(document)))
            else:
                raw.problems.append(f"{owner}: managed policy {attached['PolicyArn']} not readable, ignored")
        return out

    groups = {g["GroupName"]: policies(g, "GroupPolicyList", f"group {g['GroupName']}")
              for g in details.get("GroupDetailList", [])}
    out: dict[str, IamPrincipal] = {}
    for user in details.get("UserDetailList", []):
        own = policies(user, "UserPolicyList", user["Arn"])
        for group in user.get("GroupList", []):
            own += groups.get(group, [])
        out[user["Arn"]] = IamPrincipal(user["Arn"], "user", tuple(own))
    for role in details.get("RoleDetailList", []):
        trust = role.get("AssumeRolePolicyDocument")
        out[role["Arn"]] = IamPrincipal(role["Arn"], "role", tuple(policies(role, "RolePolicyList", role["Arn"])),
                                        parse_document(trust) if trust else None)
    return out


def normalize_eks(raw: EksRawData, context: K8sContext) -> CloudFacts:
    """Turn the raw API data and the cluster's snapshot into mappings, grants, edges and powers."""
    cluster = raw.cluster
    arn = str(cluster["arn"])
    account = account_of(arn)
    mode = (cluster.get("accessConfig") or {}).get("authenticationMode")
    facts = CloudFacts(arn)
    if not mode:
        mode = "CONFIG_MAP"
        facts.notes.append("describe_cluster reports no accessConfig.authenticationMode: assuming CONFIG_MAP")
    issuer = ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer") or ""
    facts.details = {"name": cluster.get("name"), "version": cluster.get("version"), "oidc_issuer": issuer,
                     "authentication_mode": mode, "account": account, "k8s_snapshot": context.snapshot_id}
    facts.details["node_groups"] = _node_groups(raw)
    principals = iam_principals(raw)
    facts.notes.extend(raw.problems)
    _access_entries(raw, facts, live=mode in API_MODES)
    _aws_auth(context, principals, facts, account, live=mode in CONFIG_MAP_MODES)
    _workload_identities(raw, context, principals, facts, issuer)
    _assume_role_edges(principals, facts)
    if mode in API_MODES:
        for principal in principals.values():
            facts.edges += policy_edges(principal, arn, (AWS_PRINCIPAL, principal.arn))
    existing = {str(e["principalArn"]): ExistingEntry(str(e.get("accessEntryArn") or ""), e.get("type") or "STANDARD")
                for e in raw.access_entries}
    support = access_entries_supported(str(cluster.get("version") or ""), str(cluster.get("platformVersion") or ""))
    facts.edges += access_entry_writer_edges(principals, existing, arn, mode, support)
    _powers(principals, facts)
    return facts


def _node_groups(raw: EksRawData) -> list[dict[str, Any]]:
    """Managed node groups and the IAM role their nodes run with (the nodes carry the group's name in the
    label `eks.amazonaws.com/nodegroup`), by name."""
    found = [{"name": str(group["nodegroupName"]), "node_role": str(group["nodeRole"])}
             for group in raw.node_groups if group.get("nodegroupName") and group.get("nodeRole")]
    return sorted(found, key=lambda group: group["name"])


def _access_entries(raw: EksRawData, facts: CloudFacts, live: bool) -> None:
    for entry in raw.access_entries:
        principal = str(entry["principalArn"])
        kind = entry.get("type") or "STANDARD"
        username = (entry.get("username") or default_username(principal)).replace(ACCOUNT_ID, account_of(principal))
        groups = tuple(entry.get("kubernetesGroups") or ())
        # Usernames of the node types, per AWS "Create access entries" (the table of generated usernames).
        if kind.startswith("EC2"):
            username, groups = "system:node:{{EC2PrivateDNSName}}", ("system:nodes",) + groups
        elif kind in ("FARGATE_LINUX", "HYBRID_LINUX"):  # their session name (Fargate; SSM / IAM Roles Anywhere)
            username, groups = "system:node:{{SessionName}}", ("system:nodes",) + groups
        where = f"access entry {principal} (type {kind})"
        facts.mappings.append(IdentityMapping(AWS_PRINCIPAL, principal, username, groups, ACCESS_ENTRY, where, live))
        for association in entry.get("associatedAccessPolicies", []):
            policy_arn = str(association["policyArn"])
            scope = association.get("accessScope") or {}
            namespaces = tuple(scope.get("namespaces") or ()) if scope.get("type") == "namespace" else ()
            rules = access_policy_rules(policy_arn)
            if rules is None:
                facts.notes.append(f"{where}: access policy {policy_arn} unknown to rbacmap, not mapped")
                continue
            scope_text = f"namespaces {','.join(namespaces)}" if namespaces else "cluster"
            name = policy_name(policy_arn)
            provenance = (f"access policy {name} (~ {RESEMBLES[name]}, {scope_text} scope)"
                          f" on access entry {principal}")
            facts.grants.append(CloudGrant(AWS_PRINCIPAL, principal, namespaces, rules, ACCESS_POLICY, provenance,
                                           live))


def _aws_auth(
    context: K8sContext, principals: Mapping[str, IamPrincipal], facts: CloudFacts, account: str, live: bool
) -> None:
    """aws-auth's mappings as aws-iam-authenticator applies them (rbacmap.cloud.aws_auth): an entry that never
    matches, or that another mapping of the same principal wins over, is kept but not live."""
    if context.aws_auth is None:
        if context.snapshot_id is None:
            facts.notes.append("no Kubernetes snapshot of this cluster: aws-auth and IRSA annotations not considered")
        return
    parsed = parse_aws_auth(context.aws_auth, account)
    facts.notes.extend(parsed.problems)
    dead = dead_entries(parsed.entries)
    by_arn = {arn.lower(): arn for arn in principals}
    by_caller = {caller_key(arn): arn for arn in principals}
    # API_AND_CONFIG_MAP: "Access entries take precedence over ConfigMap entries for the same IAM principal"
    # (AWS, "Migrating existing aws-auth ConfigMap entries to access entries").
    entries = {caller_key(m.principal): m.principal for m in facts.mappings if m.mechanism == ACCESS_ENTRY and m.live}
    mapped: set[str] = set()
    for entry in parsed.entries:
        if entry.key == "mapAccounts":
            continue
        why = dead.get((entry.key, entry.index))
        key = entry.arn.lower()
        principal = by_arn.get(key, entry.arn) if why else by_caller.get(key, entry.arn)
        provenance = entry.describe()
        if any(t in entry.username for t in SESSION_TEMPLATES):
            provenance += f" (username template {entry.username})"
        if why is None:
            mapped.add(key)
            if key in entries:
                why = f"shadowed by the access entry of {entries[key]}, which takes precedence"
        if why is not None:
            provenance += f" ({why})"
            facts.notes.append(f"{entry.describe()} does not apply: {why}")
        facts.mappings.append(IdentityMapping(AWS_PRINCIPAL, principal, entry.username, entry.groups, "aws-auth",
                                              provenance, live and why is None))
    for entry in parsed.entries:
        if entry.key != "mapAccounts":
            continue
        for candidate in principals.values():
            key = caller_key(candidate.arn)
            if candidate.account != entry.arn or key in mapped:
                continue  # a mapRoles/mapUsers entry of the principal wins over its account's
            # The caller's canonical ARN is the username, with no group (server.go `doMapping`).
            username = canonical_role_arn(candidate.arn)
            provenance = f"{entry.describe()} (every principal of account {entry.arn}, as its canonical ARN)"
            shadowed = entries.get(key)
            if shadowed is not None:
                provenance += f" (shadowed by the access entry of {shadowed}, which takes precedence)"
            facts.mappings.append(IdentityMapping(AWS_PRINCIPAL, candidate.arn, username, (), "aws-auth",
                                                  provenance, live and shadowed is None))


def _workload_identities(
    raw: EksRawData, context: K8sContext, principals: Mapping[str, IamPrincipal], facts: CloudFacts, issuer: str,
) -> None:
    host = oidc_provider_host(issuer)
    annotated = {sa.key: sa.annotations.get(IRSA_ANNOTATION) for sa in context.service_accounts}
    for role in principals.values():
        if role.kind != "role" or not host:
            continue
        # A trust policy can only name an OIDC provider of the role's own account (the cluster's, or
        # another account that registered the cluster's issuer), in the role's partition (aws-cn, …).
        provider_arn = f"arn:{partition_of(role.arn)}:iam::{role.account}:oidc-provider/{host}"
        for sa in context.service_accounts:
            verdict = web_identity_allows(role, provider_arn, host, sa.username)
            if not verdict.allowed:
                if annotated.get(sa.key) == role.arn:
                    facts.notes.append(f"ServiceAccount {sa.key} is annotated with {role.arn} but the role's trust"
                                       f" policy does not let it assume the role")
                continue
            note = "annotated" if annotated.get(sa.key) == role.arn else "not annotated, but the trust policy allows"
            facts.edges.append(CloudEdge(K8S_SERVICE_ACCOUNT, sa.key, AWS_PRINCIPAL, role.arn, IRSA,
                                         f"IRSA ({note}): {verdict.describe()}"))
    for association in raw.pod_identity_associations:
        sa_key = f"{association['namespace']}/{association['serviceAccount']}"
        where = f"pod identity association {association.get('associationId')}"
        facts.edges.append(CloudEdge(K8S_SERVICE_ACCOUNT, sa_key, AWS_PRINCIPAL, str(association["roleArn"]),
                                     POD_IDENTITY, where))
        if association.get("targetRoleArn"):
            facts.edges.append(CloudEdge(AWS_PRINCIPAL, str(association["roleArn"]), AWS_PRINCIPAL,
                                         str(association["targetRoleArn"]), POD_IDENTITY,
                                         f"{where}: role chaining to targetRoleArn"))


def _assume_role_edges(principals: Mapping[str, IamPrincipal], facts: CloudFacts) -> None:
    """Who can assume which role, walking back from the roles that matter to the cluster."""
    targets = [m.principal for m in facts.mappings] + [g.principal for g in facts.grants]
    targets += [e.target for e in facts.edges if e.target_kind == AWS_PRINCIPAL]
    seen: set[str] = set()
    while targets:
        target = targets.pop()
        role = principals.get(target)
        if target in seen or role is None or role.kind != "role":
            continue
        seen.add(target)
        for source in principals.values():
            if source.arn == role.arn:
                continue
            verdict = can_assume(source, role)
            if verdict.allowed:
                facts.edges.append(CloudEdge(AWS_PRINCIPAL, source.arn, AWS_PRINCIPAL, role.arn, ASSUME_ROLE,
                                             verdict.describe()))
                targets.append(source.arn)


def _powers(principals: Mapping[str, IamPrincipal], facts: CloudFacts) -> None:
    """Cloud permissions of every role a Kubernetes service account can become (directly or chained)."""
    reached = {e.target for e in facts.edges if e.source_kind == K8S_SERVICE_ACCOUNT}
    frontier = list(reached)
    while frontier:
        arn = frontier.pop()
        for edge in facts.edges:
            if edge.source == arn and edge.target_kind == AWS_PRINCIPAL and edge.target not in reached:
                reached.add(edge.target)
                frontier.append(edge.target)
    for arn in sorted(reached):
        principal = principals.get(arn)
        if principal is None:
            facts.notes.append(f"role {arn} is not in the account's IAM data: its permissions are unknown")
            continue
        for power, provenance in allowed_actions(principal):
            facts.powers.append(CloudPower(AWS_PRINCIPAL, arn, power, provenance))


# --- load -----------------------------------------------------------------------------------


def import_eks(
    store: Store, session: Any, cluster_name: str, cluster: str, *, region: str | None = None,
    endpoint_urls: Mapping[str, str] | None = None,
) -> CloudImport:
    """Fetch, normalize and store one EKS cloud import for `cluster` (failed imports are recorded)."""
    try:
        raw = fetch_eks(session, cluster_name, region=region, endpoint_urls=endpoint_urls)
        facts = normalize_eks(raw, load_k8s_context(store, cluster))
    except Exception as exc:
        record_failed_cloud_import(store, cluster, EKS, cluster_name, f"{type(exc).__name__}: {exc}")
        raise
    return save_cloud_import(store, cluster, EKS, facts)
