"""`rbacmap import gke`: project IAM, custom roles, Workload Identity and impersonation.

fetch (a google-auth AuthorizedSession, injected) -> normalize (pure) -> load (one
transaction). GKE consults IAM and RBAC and allows a request when either does, so a
member's project roles become cloud grants next to the RBAC bindings; Google identities
also log in as their email (and, with Google Groups for RBAC, their groups).
Roles are mapped from their documented permissions (rbacmap.cloud.gcp_roles and
gcp_predefined_roles, sources listed there). roles/container.clusterAdmin is cluster
management only: it grants no Kubernetes rule, and each member holding it gets a
`gke:cluster-management` cloud power and a note saying what it can and cannot do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from rbacmap.cloud.gcp_roles import (
    PREDEFINED_ROLES,
    cluster_management_risk,
    is_custom_role,
    permissions_rules,
    role_permissions,
)
from rbacmap.cloud.k8s_context import K8sContext, load_k8s_context
from rbacmap.cloud.model import (
    CLOUD_STEP,
    GCP_PRINCIPAL,
    GCP_SET_SA_POLICY,
    GKE,
    IMPERSONATE,
    K8S_SERVICE_ACCOUNT,
    WORKLOAD_IDENTITY,
    CloudEdge,
    CloudFacts,
    CloudGrant,
    CloudImport,
    CloudPower,
    IdentityMapping,
)
from rbacmap.cloud.store import record_failed_cloud_import, save_cloud_import
from rbacmap.importers.gcp_service_account_roles import (
    DELEGATION_CONDITION,
    SET_POLICY_ROLES,
    TOKEN_CREATOR,
    can_be_delegate,
    custom_impersonation,
    only_delegation,
    sets_policy,
)
from rbacmap.store import Store

GKE_IAM = "gke-iam"
CLUSTER_MANAGEMENT = "gke:cluster-management"
GOOGLE_LOGIN = "google-identity"
WI_ANNOTATION = "iam.gke.io/gcp-service-account"
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
# Roles that let a member act as a service account, and how.
# roles/editor holds iam.serviceAccountKeys.create and iam.serviceAccounts.actAs (its permission list as
# IAM's roles.get publishes it, mirrored in github.com/iann0036/iam-dataset gcp/roles/editor.json); a key
# of a service account is a credential of it, good for every Google API and GKE.
IMPERSONATION_ROLES = {
    "roles/iam.serviceAccountTokenCreator": "mints access tokens for it",
    WORKLOAD_IDENTITY_USER: "mints access tokens for it",
    "roles/iam.serviceAccountUser": "attaches it to workloads it runs (actAs)",
    "roles/iam.serviceAccountKeyAdmin": "creates keys for it (iam.serviceAccountKeys.create)",
    "roles/editor": "creates keys for it (iam.serviceAccountKeys.create) and attaches it to workloads (actAs)",
    "roles/owner": "owns the project (token creation and actAs)",
}
_KSA_MEMBER = re.compile(r"^serviceAccount:(?P<pool>[^\[]+\.svc\.id\.goog)\[(?P<ns>[^/\]]+)/(?P<sa>[^\]]+)\]$")
_PRINCIPAL_SA = re.compile(r"^principal://iam\.googleapis\.com/.*/workloadIdentityPools/(?P<pool>[^/]+)"
                           r"/subject/ns/(?P<ns>[^/]+)/sa/(?P<sa>[^/]+)$")
_PRINCIPAL_NS = re.compile(r"^principalSet://iam\.googleapis\.com/.*/workloadIdentityPools/(?P<pool>[^/]+)"
                           r"/namespace/(?P<ns>[^/]+)$")


COMPUTE_DEFAULT_SUFFIX = "-compute@developer.gserviceaccount.com"
# IAM keeps a binding of a deleted user, group or service account as `deleted:KIND:EMAIL?uid=ID`; it grants
# nothing (a principal recreated with the same email is another one) until removed (Google Cloud IAM,
# "Principal identifiers": deleted principals).
DELETED_MEMBER = "deleted:"


class GkeApiError(Exception):
    """A Google API call failed; the message names the URL and the status."""


@dataclass(frozen=True)
class GcpEndpoints:
    container: str = "https://container.googleapis.com"
    resource_manager: str = "https://cloudresourcemanager.googleapis.com"
    iam: str = "https://iam.googleapis.com"

    @classmethod
    def rooted_at(cls, root: str) -> GcpEndpoints:
        root = root.rstrip("/")
        return cls(root, root, root)


@dataclass
class GkeRawData:
    project: str
    cluster: dict[str, Any]
    project_policy: dict[str, Any]
    service_accounts: list[dict[str, Any]] = field(default_factory=list)
    service_account_policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # email -> policy
    custom_roles: dict[str, dict[str, Any]] = field(default_factory=dict)  # role name -> role
    problems: list[str] = field(default_factory=list)


# --- fetch ----------------------------------------------------------------------------------


def _call(session: Any, method: str, url: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
    response = session.request(method, url, json=body, timeout=30)
    if response.status_code != 200:
        raise GkeApiError(f"{method} {url}: HTTP {response.status_code} {response.text[:300]}")
    data = response.json()
    if not isinstance(data, dict):
        raise GkeApiError(f"{method} {url}: expected a JSON object")
    return data


def _pages(session: Any, url: str, key: str) -> Iterator[dict[str, Any]]:
    token = ""
    while True:
        data = _call(session, "GET", url + (f"?pageToken={quote(token)}" if token else ""))
        yield from data.get(key, [])
        token = data.get("nextPageToken", "")
        if not token:
            return


def fetch_gke(
    session: Any, project: str, location: str, cluster_name: str, endpoints: GcpEndpoints = GcpEndpoints()
) -> GkeRawData:
    """Read the cluster, the project IAM policy, service accounts with their policies, custom roles."""
    cluster = _call(session, "GET",
                    f"{endpoints.container}/v1/projects/{project}/locations/{location}/clusters/{cluster_name}")
    policy = _call(session, "POST", f"{endpoints.resource_manager}/v1/projects/{project}:getIamPolicy",
                   {"options": {"requestedPolicyVersion": 3}})
    raw = GkeRawData(project, cluster, policy)
    raw.service_accounts = list(_pages(session, f"{endpoints.iam}/v1/projects/{project}/serviceAccounts",
                                       "accounts"))
    for account in raw.service_accounts:
        email = account["email"]
        raw.service_account_policies[email] = _call(
            session, "POST", f"{endpoints.iam}/v1/projects/{project}/serviceAccounts/{email}:getIamPolicy",
            {"options": {"requestedPolicyVersion": 3}})
    roles = {b["role"] for p in [policy, *raw.service_account_policies.values()] for b in p.get("bindings", [])}
    for role in sorted(r for r in roles if is_custom_role(r)):
        try:
            raw.custom_roles[role] = _call(session, "GET", f"{endpoints.iam}/v1/{role}")
        except GkeApiError as exc:
            raw.problems.append(f"custom role {role} not read, its permissions are unknown: {exc}")
    return raw


# --- normalize ------------------------------------------------------------------------------


def _bindings(policy: Mapping[str, Any], where: str) -> Iterator[tuple[str, str, str]]:
    """(role, member, provenance) for every binding member of a policy."""
    for role, member, provenance, _ in _conditional_bindings(policy, where):
        yield role, member, provenance


def _conditional_bindings(policy: Mapping[str, Any], where: str) -> Iterator[tuple[str, str, str, str]]:
    """(role, member, provenance, the binding's IAM condition as a step's condition, or '') for every member."""
    for binding in policy.get("bindings", []):
        condition = binding.get("condition")
        suffix = f" (conditional: {condition.get('title') or condition.get('expression')})" if condition else ""
        # Not evaluated (CEL on request time, resource names, …): the step holds only when it does.
        caveat = (f"the IAM condition {condition.get('title') or ''!r} of this binding holds "
                  f"({condition.get('expression') or 'expression not read'})") if condition else ""
        for member in binding.get("members", []):
            yield binding["role"], member, f"{where}: {binding['role']} for {member}{suffix}", caveat


def ksa_of_member(member: str, pool: str, context: K8sContext) -> list[str]:
    """Kubernetes SAs ("NS/NAME") a member string denotes in this cluster's workload pool."""
    match = _KSA_MEMBER.match(member) or _PRINCIPAL_SA.match(member)
    if match:
        return [f"{match['ns']}/{match['sa']}"] if match["pool"] == pool else []
    match = _PRINCIPAL_NS.match(member)
    if match and match["pool"] == pool:
        return [sa.key for sa in context.service_accounts if sa.namespace == match["ns"]]
    return []


def normalize_gke(raw: GkeRawData, context: K8sContext) -> CloudFacts:
    cluster = raw.cluster
    pool = (cluster.get("workloadIdentityConfig") or {}).get("workloadPool") or ""
    groups_config = cluster.get("authenticatorGroupsConfig") or {}
    facts = CloudFacts(str(cluster.get("selfLink") or f"projects/{raw.project}/clusters/{cluster.get('name')}"))
    facts.details = {"name": cluster.get("name"), "version": cluster.get("currentMasterVersion"),
                     "workload_pool": pool, "google_groups_for_rbac": bool(groups_config.get("enabled")),
                     "security_group": groups_config.get("securityGroup"), "project": raw.project,
                     "k8s_snapshot": context.snapshot_id}
    facts.notes.extend(raw.problems)
    if not pool:
        facts.notes.append("Workload Identity is not enabled on this cluster: KSA -> GSA paths do not apply")
    members: dict[str, str] = {}
    project_where = f"project {raw.project} IAM policy"
    for role, member, provenance in _bindings(raw.project_policy, project_where):
        members.setdefault(member, provenance)
        _project_grant(raw, facts, role, member, provenance)
        for ksa in ksa_of_member(member, pool, context):
            facts.powers.append(CloudPower(K8S_SERVICE_ACCOUNT, ksa, role, provenance))
    emails = [a["email"] for a in raw.service_accounts]
    for email, policy in raw.service_account_policies.items():
        check = f"gcloud iam service-accounts get-iam-policy {email}"
        for role, member, provenance, caveat in _conditional_bindings(policy, f"IAM policy of service account {email}"):
            _service_account_edge(facts, email, role, member, provenance, pool, context, raw.custom_roles, check,
                                  caveat)
    check = f"gcloud projects get-iam-policy {raw.project}"
    for role, member, provenance, caveat in _conditional_bindings(raw.project_policy, project_where):
        if (role in IMPERSONATION_ROLES or custom_impersonation(role, raw.custom_roles) is not None
                or sets_policy(role, raw.custom_roles)):
            for email in emails:
                _service_account_edge(facts, email, role, member, provenance + " (project-wide)", pool, context,
                                      raw.custom_roles, check, caveat)
    for email in emails:
        members.setdefault(f"serviceAccount:{email}", f"service account {email} of project {raw.project}")
    _logins(facts, members, bool(groups_config.get("enabled")))
    _annotation_notes(facts, context)
    facts.details["node_pools"] = _node_pools(cluster, emails, facts)
    facts.details["autopilot"] = bool((cluster.get("autopilot") or {}).get("enabled"))
    return facts


def _node_pools(cluster: Mapping[str, Any], emails: list[str], facts: CloudFacts) -> list[dict[str, Any]]:
    """Each node pool's service account and OAuth scopes: root on a node reads that account's token, with
    those scopes, from the metadata server. `default` is the project's Compute Engine default account."""
    default = next((email for email in emails if email.endswith(COMPUTE_DEFAULT_SUFFIX)), None)
    pools = []
    for pool in cluster.get("nodePools") or []:
        config = pool.get("config") or {}
        account = config.get("serviceAccount") or "default"
        if account == "default":
            if default is None:
                facts.notes.append(f"node pool {pool.get('name')} runs as the Compute Engine default service "
                                   "account, which the project's service account list does not show")
                continue
            account = default
        pools.append({"name": str(pool.get("name")), "service_account": account,
                      "scopes": [str(scope) for scope in config.get("oauthScopes") or []]})
    return pools


def _project_grant(raw: GkeRawData, facts: CloudFacts, role: str, member: str, provenance: str) -> None:
    if member.startswith("serviceAccount:") and not _KSA_MEMBER.match(member):
        facts.powers.append(CloudPower(GCP_PRINCIPAL, member, role, provenance))
    if role in PREDEFINED_ROLES:
        rules, permissions = PREDEFINED_ROLES[role], role_permissions(role)
    elif is_custom_role(role) and role in raw.custom_roles:
        permissions = tuple(raw.custom_roles[role].get("includedPermissions", []))
        rules, unmapped = permissions_rules(permissions)
        if unmapped:
            facts.notes.append(f"custom role {role}: permissions not mapped to Kubernetes: {', '.join(unmapped)}")
        provenance += f" (custom role permissions: {', '.join(permissions)})"
    else:
        return
    live = not member.startswith(DELETED_MEMBER)
    if not live:
        provenance += " (deleted principal: the binding grants nothing, not even to a recreated one)"
    if rules:
        facts.grants.append(CloudGrant(GCP_PRINCIPAL, member, (), rules, GKE_IAM, provenance, live))
    risk = cluster_management_risk(permissions) if live else None
    if risk is not None:
        # e.g. roles/container.clusterAdmin: no Kubernetes rule, but a finding of its own.
        facts.powers.append(CloudPower(GCP_PRINCIPAL, member, f"{CLUSTER_MANAGEMENT} via {role}",
                                       f"{provenance}: {risk}"))
        facts.notes.append(f"{member} holds {role}: {risk}")


def _service_account_edge(
    facts: CloudFacts, email: str, role: str, member: str, provenance: str, pool: str, context: K8sContext,
    custom_roles: Mapping[str, Mapping[str, Any]], check: str, caveat: str = "",
) -> None:
    """The edges a binding of `role` to `member` makes towards service account `email`: acting as it (predefined
    impersonation roles, or custom roles by permission), or granting oneself token creation on it first.
    `caveat`: the binding's IAM condition, which each edge keeps as its condition."""
    added = len(facts.edges)
    _service_account_edges(facts, email, role, member, provenance, pool, context, custom_roles, check)
    if caveat:
        facts.edges[added:] = [replace(edge, condition="; ".join(c for c in (caveat, edge.condition) if c))
                               for edge in facts.edges[added:]]


def _service_account_edges(
    facts: CloudFacts, email: str, role: str, member: str, provenance: str, pool: str, context: K8sContext,
    custom_roles: Mapping[str, Mapping[str, Any]], check: str,
) -> None:
    target = f"serviceAccount:{email}"
    if member.startswith(DELETED_MEMBER):
        return  # a deleted principal acts as no one
    ksas = ksa_of_member(member, pool, context)
    # A KSA's federated token is the member itself: it may call IAM as it (mint a token with
    # roles/iam.serviceAccountTokenCreator, set a policy, …), not only through a workloadIdentityUser binding.
    sources = [(K8S_SERVICE_ACCOUNT, ksa) for ksa in ksas] or [(GCP_PRINCIPAL, member)]
    custom = None if role in IMPERSONATION_ROLES else custom_impersonation(role, custom_roles)
    if role in IMPERSONATION_ROLES and ksas:
        mechanism, how = ((WORKLOAD_IDENTITY, "") if role == WORKLOAD_IDENTITY_USER
                          else (IMPERSONATE, f": {IMPERSONATION_ROLES[role]}"))
        for ksa in ksas:
            facts.edges.append(CloudEdge(K8S_SERVICE_ACCOUNT, ksa, GCP_PRINCIPAL, target, mechanism, provenance + how))
    elif role in IMPERSONATION_ROLES and member != target:
        facts.edges.append(CloudEdge(GCP_PRINCIPAL, member, GCP_PRINCIPAL, target, IMPERSONATE,
                                     f"{provenance}: {IMPERSONATION_ROLES[role]}"))
    elif custom is not None and member != target and not (
            only_delegation(role, custom_roles) and (ksas or not can_be_delegate(member))):
        # implicitDelegation alone is used only by a delegate of a chain, a Google service account: a user (or a
        # Kubernetes ServiceAccount's federated identity) holding it can act as no one with it.
        how, permissions = custom
        condition = DELEGATION_CONDITION.format(member=member) if only_delegation(role, custom_roles) else ""
        for kind, name in sources:
            facts.edges.append(CloudEdge(kind, name, GCP_PRINCIPAL, target, IMPERSONATE,
                                         f"{provenance}: {how} (custom role permissions: {permissions}; check: "
                                         f"{_role_check(role)}; {check})", condition))
    if sets_policy(role, custom_roles) and member != target:
        held = "" if role in SET_POLICY_ROLES else " (custom role with iam.serviceAccounts.setIamPolicy)"
        for kind, name in sources:
            step = f"{name} holding {TOKEN_CREATOR} on {email}"
            facts.edges.append(CloudEdge(
                kind, name, CLOUD_STEP, step, GCP_SET_SA_POLICY,
                f"{provenance}{held}: rewrites the allow policy of {email}, adding {TOKEN_CREATOR} for itself"
                f" (gcloud iam service-accounts add-iam-policy-binding {email} --member=MEMBER --role={TOKEN_CREATOR};"
                f" check: {check})"))
            facts.edges.append(CloudEdge(CLOUD_STEP, step, GCP_PRINCIPAL, target, IMPERSONATE,
                                         f"the {TOKEN_CREATOR} binding it added on {email}: "
                                         f"{IMPERSONATION_ROLES[TOKEN_CREATOR]}"))


def _role_check(role: str) -> str:
    """The gcloud command that shows a custom role's permissions."""
    parts = role.split("/")
    if len(parts) == 4 and parts[0] in ("projects", "organizations"):
        scope = "project" if parts[0] == "projects" else "organization"
        return f"gcloud iam roles describe {parts[3]} --{scope}={parts[1]}"
    return f"gcloud iam roles describe {role}"


def _logins(facts: CloudFacts, members: Mapping[str, str], groups_enabled: bool) -> None:
    """Google identities log in to GKE as their email; groups count only with Google Groups for RBAC."""
    for member, provenance in members.items():
        kind, _, email = member.partition(":")
        if kind in ("user", "serviceAccount") and not _KSA_MEMBER.match(member):
            facts.mappings.append(IdentityMapping(GCP_PRINCIPAL, member, email, (), GOOGLE_LOGIN,
                                                  f"Google identity {member} logs in as {email} ({provenance})"))
        elif kind == "group":
            facts.mappings.append(IdentityMapping(
                GCP_PRINCIPAL, member, "", (email,), GOOGLE_LOGIN,
                f"members of {member} carry group {email} (Google Groups for RBAC)", groups_enabled))


def _annotation_notes(facts: CloudFacts, context: K8sContext) -> None:
    linked = {(e.source, e.target) for e in facts.edges if e.mechanism == WORKLOAD_IDENTITY}
    for sa in context.service_accounts:
        gsa = sa.annotations.get(WI_ANNOTATION)
        if gsa and (sa.key, f"serviceAccount:{gsa}") not in linked:
            facts.notes.append(f"ServiceAccount {sa.key} is annotated with {gsa} but no workloadIdentityUser"
                               f" binding lets it act as that service account")


# --- load -----------------------------------------------------------------------------------


def import_gke(
    store: Store, session: Any, project: str, location: str, cluster_name: str, cluster: str, *,
    endpoints: GcpEndpoints = GcpEndpoints(),
) -> CloudImport:
    """Fetch, normalize and store one GKE cloud import for `cluster` (failed imports are recorded)."""
    try:
        raw = fetch_gke(session, project, location, cluster_name, endpoints)
        facts = normalize_gke(raw, load_k8s_context(store, cluster))
    except Exception as exc:
        record_failed_cloud_import(store, cluster, GKE, f"projects/{project}/locations/{location}/clusters/"
                                   f"{cluster_name}", f"{type(exc).__name__}: {exc}")
        raise
    return save_cloud_import(store, cluster, GKE, facts)
