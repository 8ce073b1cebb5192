"""Cloud principals in the escalation graph: identity and edge sources for rbacmap.solver.

- Each cloud grant (EKS access policy, GCP role) becomes a virtual binding of the principal,
  so every solver primitive sees those permissions as if RBAC granted them.
- Each live identity mapping is an edge principal -> the Kubernetes login it gets.
- Each cloud edge (assume role, impersonation, IRSA, Pod Identity, Workload Identity,
  CreateAccessEntry, an authentication mode switch, a service account policy change) is an edge with
  the cloud provenance and condition. An access-entry login of one's choosing is expanded by
  rbacmap.cloud.access_entry_logins.

Solver modules are imported inside the functions: `rbacmap.solver.registry` imports this
module while the solver package is still initialising.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from rbacmap.cloud.aws_auth import canonical_role_arn
from rbacmap.cloud.model import (
    AWS_PRINCIPAL,
    CLOUD_STEP,
    CREATE_ACCESS_ENTRY,
    GCP_PRINCIPAL,
    GCP_SET_SA_POLICY,
    GKE,
    K8S_SERVICE_ACCOUNT,
    SWITCH_AUTHENTICATION_MODE,
    UPDATE_ACCESS_ENTRY,
    WRITE_ACCESS_ENTRY,
    CloudEdge,
    CloudGraph,
    IdentityMapping,
    in_scope,
    is_namespace_pattern,
)
from rbacmap.cloud.store import latest_cloud_import, load_cloud_graph
from rbacmap.cloud.username_templates import can_render_to, is_template
from rbacmap.model import (
    AUTHENTICATED,
    CLUSTER_ROLE,
    CLUSTER_ROLE_BINDING,
    NODES_GROUP,
    ROLE_BINDING,
    SYSTEM_MASTERS,
    USER,
    Binding,
    BindingKey,
    PolicyRule,
    Role,
    RoleKey,
    Subject,
)

if TYPE_CHECKING:
    from rbacmap.solver.context import SolverContext
    from rbacmap.solver.edges import Edge, ObjectRef, Pool
    from rbacmap.solver.identity import Identity

CLOUD_LOGIN = "CloudLogin"
"""Intermediate node: the Kubernetes user (name + groups) a cloud principal logs in as."""

CLOUD_KINDS = (AWS_PRINCIPAL, GCP_PRINCIPAL)

GCP_KUBERNETES_TOKEN = "GCPKubernetesToken"
"""Intermediate node (never a subject): a Google service account's token good for GKE's API server alone."""

CLOUD_GRAPH_MEMO = "cloud_graph"


def cloud_graph_for(ctx: SolverContext) -> CloudGraph | None:
    """The latest cloud import of the snapshot's cluster, loaded once per solve (node pools ask for it once per
    node). Solves themselves are cached per snapshot and cloud import (`rbacmap.solver.result`)."""
    if CLOUD_GRAPH_MEMO in ctx.memo:
        found: CloudGraph | None = ctx.memo[CLOUD_GRAPH_MEMO]
        return found
    imported = latest_cloud_import(ctx.store, ctx.snapshot.cluster)
    graph = None if imported is None else load_cloud_graph(ctx.store, imported)
    ctx.memo[CLOUD_GRAPH_MEMO] = graph
    return graph


def _add_virtual_grant(ctx: SolverContext, identity: Identity, rules: tuple[PolicyRule, ...],
                       namespaces: tuple[str, ...], role_name: str, provenance: str) -> None:
    """A cloud grant as the identity's own bindings of a role with its rules (cluster-wide, or per namespace)."""
    role = Role(RoleKey(CLUSTER_ROLE, role_name), rules)
    subject = Subject(USER, identity.user_info().name)
    if any(is_namespace_pattern(n) for n in namespaces):
        # A wildcard access scope (`dev-*`): a binding in each namespace of the snapshot it covers.
        namespaces = tuple(dict.fromkeys(
            [n for n in namespaces if not is_namespace_pattern(n)]
            + [n for n in ctx.objects.all_namespaces() if in_scope(namespaces, n)]))
        if not namespaces:
            return
    for namespace in namespaces or ("",):
        kind = ROLE_BINDING if namespace else CLUSTER_ROLE_BINDING
        binding = Binding(BindingKey(kind, provenance, namespace), role.key, (subject,))
        ctx.permission_index.add_virtual_binding(identity, binding, role)


def principal_identity(kind: str, name: str) -> Identity:
    from rbacmap.solver.identity import Identity

    # A username no RBAC binding can name: a principal's Kubernetes power comes only from its
    # mappings (edges) and cloud grants (virtual bindings).
    return Identity(kind, name, "", (), f"rbacmap:cloud:{kind}:{name}")


def login_identity(mapping: IdentityMapping, username: str | None = None,
                   groups: tuple[str, ...] | None = None) -> Identity:
    """The Kubernetes user a mapping logs in as; `username` is one concrete rendering of a template, `groups`
    the groups its templated groups can render to (`login_groups`)."""
    from rbacmap.solver.identity import Identity

    name = mapping.username if username is None else username
    groups = tuple(dict.fromkeys((*(mapping.groups if groups is None else groups), AUTHENTICATED)))
    return Identity(CLOUD_LOGIN, name, ",".join(groups), groups, name)


def login_groups(mapping: IdentityMapping, bound_groups: Iterable[str]) -> tuple[str, ...]:
    """The mapping's groups, each templated one replaced by every group it can render to among those a binding
    names and system:masters.

    aws-iam-authenticator renders the templates of the groups too (server.go `renderTemplates`), from the same
    session name the caller picks: `system:{{SessionName}}` becomes system:masters with session name `masters`.
    Each template is matched on its own (one session name fills them all at once: errs towards showing access).
    """
    if not any(is_template(group) for group in mapping.groups):
        return mapping.groups
    names = sorted({*bound_groups, SYSTEM_MASTERS})
    out: list[str] = []
    for group in mapping.groups:
        out += [name for name in names if can_render_to(group, name)] if is_template(group) else [group]
    return tuple(dict.fromkeys(out))


def login_usernames(mapping: IdentityMapping, bound_usernames: Iterable[str]) -> list[str]:
    """The mapping's username, then every username named by a binding that its template can render to.

    Same rule as who-can (rbacmap.cloud.username_templates.can_render_to): whoever assumes
    the role picks the session name, so it can log in as any of them.
    """
    if not is_template(mapping.username):
        return [mapping.username]
    return [mapping.username, *sorted(u for u in bound_usernames if can_render_to(mapping.username, u))]


def cloud_principals(ctx: SolverContext) -> Iterator[Identity]:
    """Identity source: every cloud principal of the cluster's latest cloud import."""
    from rbacmap.solver.identity import SUBJECT_IDENTITY_KINDS

    SUBJECT_IDENTITY_KINDS.update(CLOUD_KINDS)
    graph = cloud_graph_for(ctx)
    if graph is None:
        return
    for index, grant in enumerate(graph.grants):
        if not grant.live:
            continue
        identity = ctx.add_identity(principal_identity(grant.principal_kind, grant.principal))
        _add_virtual_grant(ctx, identity, grant.rules, grant.namespaces, f"cloud:{grant.mechanism}:{index}",
                           grant.provenance)
        yield identity
    for mapping in graph.mappings:
        if mapping.live:
            yield principal_identity(mapping.principal_kind, mapping.principal)
    for edge in graph.edges:
        for kind, name in ((edge.source_kind, edge.source), (edge.target_kind, edge.target)):
            if kind in CLOUD_KINDS:
                yield principal_identity(kind, name)
            elif kind == K8S_SERVICE_ACCOUNT:
                namespace, _, sa = name.partition("/")
                yield ctx.identity_for_service_account(namespace, sa)


def cloud_edges(ctx: SolverContext) -> Iterator[Edge]:
    """Edge source: logins and cloud-side steps whose source is in this round's frontier."""
    from rbacmap.solver.edges import Edge, ObjectRef

    graph = cloud_graph_for(ctx)
    if graph is None:
        return
    frontier = {identity.key for identity in ctx.frontier}
    for mapping in graph.mappings:
        source = principal_identity(mapping.principal_kind, mapping.principal)
        if not mapping.live or source.key not in frontier:
            continue
        groups = login_groups(mapping, ctx.permission_index.by_group)
        for username in login_usernames(mapping, ctx.permission_index.by_username):
            login = ctx.add_identity(login_identity(mapping, username, groups))
            how = ("" if username == mapping.username
                   else f" (a session name that renders username template {mapping.username} as {username})")
            yield Edge(source, login, "log in to Kubernetes", mapping.provenance,
                       objects=(ObjectRef("CloudMapping", mapping.mechanism, note=mapping.provenance),),
                       explain=f"{source} authenticates as {username}{how} with groups {', '.join(login.groups)}"
                       f" ({mapping.provenance})", primitive="cloud")
    for edge in graph.edges:
        start = cloud_node(ctx, edge.source_kind, edge.source)
        if start is None or start.key not in frontier:
            continue
        end = cloud_node(ctx, edge.target_kind, edge.target)
        if end is None:
            continue  # an access-entry login of one's choosing: rbacmap.cloud.access_entry_logins
        yield Edge(start, end, _action(edge), edge.provenance,
                   objects=(ObjectRef("CloudEdge", edge.mechanism, note=edge.provenance),),
                   explain=f"{start} -> {end}: {edge.provenance}", condition=edge.condition, primitive="cloud")


def _action(edge: CloudEdge) -> str:
    if edge.mechanism == CREATE_ACCESS_ENTRY:
        return "create an EKS access entry with AmazonEKSClusterAdminPolicy"
    if edge.mechanism == SWITCH_AUTHENTICATION_MODE:
        return "switch the EKS cluster's authentication mode to API_AND_CONFIG_MAP (eks:UpdateClusterConfig)"
    if edge.mechanism == GCP_SET_SA_POLICY:
        return f"grant itself roles/iam.serviceAccountTokenCreator on {edge.target.rpartition(' on ')[2]}" \
               " (iam.serviceAccounts.setIamPolicy)"
    if edge.target_kind == CLOUD_STEP and edge.mechanism in (WRITE_ACCESS_ENTRY, UPDATE_ACCESS_ENTRY):
        verb = "update" if edge.mechanism == UPDATE_ACCESS_ENTRY else "create"
        role = edge.target.removeprefix("access entry of ").partition(" written by ")[0]
        return f"{verb} the EKS access entry of {role}, with a username and kubernetesGroups of its choosing"
    if edge.target_kind == CLOUD_STEP:
        return f"{edge.mechanism}: {edge.target}"
    return f"become {edge.target} ({edge.mechanism})"


EC2_NODE_USERNAME = "{{EC2PrivateDNSName}}"  # in the username EC2 nodes log in with
HYBRID_NODE_USERNAME = "{{SessionName}}"  # hybrid nodes (and Fargate, in aws-auth)
WINDOWS_NODES_GROUP = "eks:kube-proxy-windows"  # in aws-auth's mapping of a Windows node role
WINDOWS_ENTRY = "(type EC2_WINDOWS)"  # as the EKS importer words a Windows node access entry
OS_LABEL = "kubernetes.io/os"
EKS_NODE_GROUP_LABEL = "eks.amazonaws.com/nodegroup"  # on the nodes of a managed node group
FARGATE_GROUP = "system:node-proxier"  # aws-auth's Fargate pod execution role mapping carries it
FARGATE_ENTRY = "(type FARGATE_LINUX)"  # as the EKS importer words an access entry's provenance


def node_roles(graph: CloudGraph) -> list[IdentityMapping]:
    """The mappings of the IAM roles nodes run with (aws-auth or access entries: EC2 and hybrid), one per role.

    Fargate's pod execution roles log in as nodes too, but a Fargate pod can neither escape to its
    node nor reach the instance metadata service."""
    found: dict[str, IdentityMapping] = {}
    for mapping in graph.mappings:
        if (mapping.live and mapping.principal_kind == AWS_PRINCIPAL and NODES_GROUP in mapping.groups
                and (EC2_NODE_USERNAME in mapping.username or HYBRID_NODE_USERNAME in mapping.username)
                and FARGATE_GROUP not in mapping.groups and FARGATE_ENTRY not in mapping.provenance):
            found.setdefault(mapping.principal, mapping)
    return [found[role] for role in sorted(found)]


def node_credentials(ctx: SolverContext, pool: Pool, node: str | None) -> Iterator[Edge]:
    """Root on a node reads the node's cloud credentials from the metadata service."""
    graph = cloud_graph_for(ctx)
    if graph is None:
        return
    if graph.cloud_import.provider == GKE:
        if not graph.cloud_import.details.get("autopilot"):  # Autopilot: no root on a node (see below)
            yield from _gke_node_credentials(ctx, graph, pool, node)
    else:
        yield from _eks_node_credentials(ctx, graph, pool, node)


def _eks_node_credentials(ctx: SolverContext, graph: CloudGraph, pool: Pool, node: str | None) -> Iterator[Edge]:
    """Root on an EKS node reads its instance role's credentials from the metadata service (IMDS).

    A node of a managed node group (label `eks.amazonaws.com/nodegroup`, when `import eks` read the node
    groups) has that group's node role. Otherwise the cloud import does not tell (a self-managed group's
    instance profile, Karpenter): with one node role, every node has it; with several, a node of one's
    choosing (`node` None) may have any of them. A given node has the only role of its operating system (its
    `kubernetes.io/os` label; Windows roles carry the group `eks:kube-proxy-windows`), if there is one;
    otherwise it is left out."""
    from rbacmap.solver.edges import ObjectRef

    every: list[IdentityMapping] | None = ctx.memo.get("eks_node_roles")
    if every is None:
        every = ctx.memo["eks_node_roles"] = node_roles(graph)
    if node is not None:
        group = _node_labels(ctx, EKS_NODE_GROUP_LABEL).get(node)
        node_groups = {str(g["name"]): str(g["node_role"]) for g in graph.cloud_import.details.get("node_groups") or []}
        if group is not None and group in node_groups:
            yield _node_role_edge(ctx, pool, node_groups[group], f"node {node}", "", _node_group_objects(
                node, group, node_groups[group], every))
            return
    roles = every
    if node is not None and len(every) > 1:
        os_name = _node_labels(ctx, OS_LABEL).get(node)
        roles = [m for m in every if _windows_role(m) == (os_name == "windows")] if os_name else []
        if len(roles) != 1:
            return
    where = f"node {node}" if node is not None else "a node"
    for mapping in roles:
        if node is None:
            condition = "" if len(roles) == 1 else f"a node running with {mapping.principal} is chosen"
        elif len(every) == 1:
            condition = f"node {node} runs with the cluster's only node role"
        else:
            condition = f"node {node} runs with the cluster's only node role for its operating system"
        yield _node_role_edge(ctx, pool, mapping.principal, where, condition, (
            ObjectRef("CloudMapping", mapping.mechanism, note=mapping.provenance),), mapping)


def _node_role_edge(ctx: SolverContext, pool: Pool, role_arn: str, where: str, condition: str,
                    objects: tuple[ObjectRef, ...], mapping: IdentityMapping | None = None) -> Edge:
    from rbacmap.solver.edges import Edge

    role = ctx.add_identity(principal_identity(AWS_PRINCIPAL, role_arn))
    source = ("the hybrid node's credential provider (SSM or IAM Roles Anywhere)"
              if mapping is not None and HYBRID_NODE_USERNAME in mapping.username
              else "the EC2 instance metadata service")
    return Edge(pool, role, "", f"root on {where} reads the credentials of its node role {role_arn} from {source}",
                objects=objects, condition=condition, primitive="cloud")


def _node_group_objects(node: str, group: str, role_arn: str, mappings: list[IdentityMapping]
                        ) -> tuple[ObjectRef, ...]:
    """The node (its group label), the managed node group (its role) and the mapping that logs the role in."""
    from rbacmap.solver.edges import ObjectRef

    objects = [ObjectRef("Node", node, note=f"{EKS_NODE_GROUP_LABEL}: {group}"),
               ObjectRef("NodeGroup", group, note=f"nodeRole {role_arn}")]
    canonical = canonical_role_arn(role_arn)
    objects += [ObjectRef("CloudMapping", m.mechanism, note=m.provenance) for m in mappings
                if canonical_role_arn(m.principal) == canonical][:1]
    return tuple(objects)


def _windows_role(mapping: IdentityMapping) -> bool:
    """A Windows node role: aws-auth maps it with eks:kube-proxy-windows; an access entry says its type."""
    return WINDOWS_NODES_GROUP in mapping.groups or WINDOWS_ENTRY in mapping.provenance


def privileged_pods_refused(ctx: SolverContext) -> str:
    """Why no new privileged pod gets in, whatever Pod Security says ('' when nothing known refuses it): GKE
    Autopilot's own admission rejects privileged, hostPID and hostPath pods and debug containers."""
    graph = cloud_graph_for(ctx)
    if graph is not None and graph.cloud_import.provider == GKE and graph.cloud_import.details.get("autopilot"):
        return "GKE Autopilot (import gke) refuses privileged, hostPID and hostPath pods"
    return ""


CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
USERINFO_EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"
GKE_NODE_POOL_LABEL = "cloud.google.com/gke-nodepool"


def _gke_node_credentials(ctx: SolverContext, graph: CloudGraph, pool: Pool, node: str | None) -> Iterator[Edge]:
    """Root on a GKE node reads its node pool's service account token from the metadata server (the real
    one: Workload Identity's GKE metadata server answers pods, not the host network).

    A token carries the node pool's OAuth scopes: only `cloud-platform` lets it call the Kubernetes and IAM
    APIs as that account; narrower scopes (the default ones) are taken to stop it. A node's pool is its
    `cloud.google.com/gke-nodepool` label (a node without one is in the only pool, if there is one); a node
    of one's choosing (`node` None) may be in any pool: one with no node in the snapshot is said to need
    one (a pod that selects the pool makes its autoscaler add a node)."""
    from rbacmap.solver.edges import Edge, ObjectRef

    pools = {str(p["name"]): p for p in graph.cloud_import.details.get("node_pools") or []}
    node_pools = _node_labels(ctx, GKE_NODE_POOL_LABEL)
    conditions: dict[str, str] = {}
    if node is not None:
        names = [node_pools[node]] if node in node_pools else list(pools) if len(pools) == 1 else []
        if node not in node_pools and names:
            conditions[names[0]] = f"node {node} (no {GKE_NODE_POOL_LABEL} label) is in the cluster's only node pool"
    else:
        names = sorted(pools)
        running = set(node_pools.values())
        conditions = {name: f"node pool {name} has no node in the snapshot: one must be running (or added by its "
                      "autoscaler for a pod that selects the pool)"
                      for name in names if running and name not in running}
    where = f"node {node}" if node is not None else "a node"
    for name in names:
        node_pool = pools.get(name)
        if node_pool is None:
            continue
        scopes = node_pool["scopes"]
        email = node_pool["service_account"]
        condition = conditions.get(name, "")
        if CLOUD_PLATFORM_SCOPE in scopes:
            account = ctx.add_identity(principal_identity(GCP_PRINCIPAL, f"serviceAccount:{email}"))
            scope = "cloud-platform"
        elif USERINFO_EMAIL_SCOPE in scopes:
            account = _kubernetes_only_token(ctx, graph, email)
            scope = "userinfo.email: the Kubernetes API only"
            # Google's own clients always ask for cloud-platform too; no public source says GKE refuses a token
            # with userinfo.email alone, none says it accepts one.
            condition = "; ".join(filter(None, [condition, "GKE's API server accepts a token scoped to "
                                                "userinfo.email alone (Google's clients also ask for cloud-platform)"]))
        else:
            continue
        objects = [ObjectRef("NodePool", name, note=f"config.serviceAccount {email}, oauthScopes {', '.join(scopes)}")]
        if node is not None and node in node_pools:
            objects.insert(0, ObjectRef("Node", node, note=f"{GKE_NODE_POOL_LABEL}: {name}"))
        yield Edge(pool, account, "", f"root on {where} of node pool {name} reads the token of its service account "
                   f"{email} (scope {scope}) from the GCE metadata server",
                   objects=tuple(objects), condition=condition, primitive="cloud")


def _kubernetes_only_token(ctx: SolverContext, graph: CloudGraph, email: str) -> Identity:
    """A node pool account's token scoped to `userinfo.email`: GKE's API server accepts it, as that account (RBAC of
    its email, and the Kubernetes permissions of its IAM roles), but no other Google API does, so none of the
    account's cloud steps (impersonation, say) follows. Its IAM grants are given to it once per solve."""
    from rbacmap.solver.identity import Identity

    member = f"serviceAccount:{email}"
    token = Identity(GCP_KUBERNETES_TOKEN, member, "", (AUTHENTICATED,), email)
    known = ctx.identities.get(token.key)
    if known is not None:
        return known
    token = ctx.add_identity(token)
    for index, grant in enumerate(graph.grants):
        if grant.live and grant.principal_kind == GCP_PRINCIPAL and grant.principal == member:
            _add_virtual_grant(ctx, token, grant.rules, grant.namespaces, f"cloud:{grant.mechanism}:{index}",
                               grant.provenance)
    return token


def _node_labels(ctx: SolverContext, label: str) -> dict[str, str]:
    """Node name -> the value of one of its labels (nodes without it, or with it empty, left out), once per solve:
    asked for each node pool."""
    found: dict[str, str] | None = ctx.memo.get(f"node_label:{label}")
    if found is None:
        found = ctx.memo[f"node_label:{label}"] = {
            name: labels[label] for name, labels in ctx.objects.node_labels().items() if labels.get(label)}
    return found


def cloud_node(ctx: SolverContext, kind: str, name: str) -> Identity | None:
    """The solver node a cloud edge end names (None for an end another edge source expands)."""
    if kind in CLOUD_KINDS:
        return ctx.add_identity(principal_identity(kind, name))
    if kind == K8S_SERVICE_ACCOUNT:
        namespace, _, sa = name.partition("/")
        return ctx.identity_for_service_account(namespace, sa)
    if kind == "Group":
        return ctx.identity_for_group(name)
    if kind == CLOUD_STEP:
        from rbacmap.solver.identity import Identity

        # Holds no Kubernetes permission (no binding names this username); never a subject.
        return ctx.add_identity(Identity(CLOUD_STEP, name, "", (), f"rbacmap:cloud:step:{name}"))
    return None
