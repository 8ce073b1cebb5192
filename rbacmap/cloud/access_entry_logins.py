"""Edge source: an EKS access entry whose username and kubernetesGroups the attacker wrote, as logins.

`import eks` records who can write such an entry (rbacmap.importers.eks_access_entry_writers) as a cloud edge
to an `EKSAccessEntryLogin` of the principal the entry names. This source expands it into one login per group
and one per username that an RBAC binding of the snapshot names, within the names EKS accepts:

- a username "can't start with system:, eks:, aws:, amazon:, or iam:" (AWS, Amazon EKS User Guide, "Create
  access entries" and "Set a custom username for EKS access entries"): such usernames are left out;
- a group starting with `system:` is refused (EKS answers "The kubernetes group name system:masters is invalid,
  it cannot start with system:", terraform-aws-modules/terraform-aws-eks#2915; the console says so too,
  awsdocs/amazon-eks-user-guide#985), so `system:masters` and the other system groups are never reached this way;
- no source says whether the username's other reserved prefixes hold for groups: a group starting with one of
  them is reached under that condition.

A login carries one chosen group (or the chosen username) at a time: a step that needs two bound groups at once
is not shown (each is, on its own).

Expanded at solve time, not import time: the groups and usernames are those of the snapshot being solved.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from rbacmap.cloud.model import ACCESS_ENTRY_LOGIN, ASSUME_ROLE, UPDATE_ACCESS_ENTRY, CloudEdge
from rbacmap.model import AUTHENTICATED

if TYPE_CHECKING:
    from rbacmap.solver.context import SolverContext
    from rbacmap.solver.edges import Edge
    from rbacmap.solver.identity import Identity

REFUSED_USERNAME_PREFIXES = ("system:", "eks:", "aws:", "amazon:", "iam:")
REFUSED_GROUP_PREFIXES = ("system:",)
UNDOCUMENTED_GROUP_PREFIXES = ("eks:", "aws:", "amazon:", "iam:")


def default_username(principal_arn: str) -> str:
    """The username EKS gives an access entry that names none: the user's ARN, or the role's assumed-role ARN with
    the session name (any path dropped) (AWS, "Set a custom username for EKS access entries")."""
    parts = principal_arn.split(":")
    if ":role/" in principal_arn and len(parts) > 5:
        name = principal_arn.rsplit("/", 1)[-1]
        return f"arn:{parts[1] or 'aws'}:sts::{parts[4]}:assumed-role/{name}/{{{{SessionName}}}}"
    return principal_arn


def group_condition(group: str) -> str | None:
    """None when EKS refuses the group name in kubernetesGroups, else the condition it needs ('' for none)."""
    if group.startswith(REFUSED_GROUP_PREFIXES):
        return None
    if group.startswith(UNDOCUMENTED_GROUP_PREFIXES):
        return (f"EKS accepts kubernetesGroups name {group} (refused as a username prefix; for groups only system: is"
                " known to be refused)")
    return ""


def username_allowed(username: str) -> bool:
    return bool(username) and not username.startswith(REFUSED_USERNAME_PREFIXES)


def access_entry_logins(ctx: SolverContext) -> Iterator[Edge]:
    """One edge per group and per username that RBAC binds, from each edge to an access-entry login."""
    from rbacmap.cloud.solver_edges import cloud_graph_for, cloud_node

    graph = cloud_graph_for(ctx)
    if graph is None:
        return
    frontier = {identity.key for identity in ctx.frontier}
    choices: list[tuple[str, tuple[str, ...], str, str]] | None = None
    for edge in graph.edges:
        if edge.target_kind != ACCESS_ENTRY_LOGIN:
            continue
        start = cloud_node(ctx, edge.source_kind, edge.source)
        if start is None or start.key not in frontier:
            continue
        if choices is None:
            choices = _choices(ctx)
        for username, groups, what, condition in choices:
            yield _login_edge(ctx, start, edge, username or default_username(edge.target), groups, what, condition)


def _choices(ctx: SolverContext) -> list[tuple[str, tuple[str, ...], str, str]]:
    """(username or '' for the default one, groups, what is chosen, condition) for every name RBAC binds."""
    found: list[tuple[str, tuple[str, ...], str, str]] = []
    for group in sorted(ctx.permission_index.by_group):
        condition = group_condition(group)
        if condition is not None:
            found.append(("", (group, AUTHENTICATED), f"kubernetesGroups [{group}]", condition))
    for username in sorted(ctx.permission_index.by_username):
        if username_allowed(username):
            found.append((username, (AUTHENTICATED,), f"username {username}", ""))
    return found


def _login_edge(ctx: SolverContext, start: Identity, edge: CloudEdge, username: str, groups: tuple[str, ...],
                what: str, condition: str) -> Edge:
    from rbacmap.cloud.solver_edges import CLOUD_LOGIN
    from rbacmap.solver.edges import Edge, ObjectRef
    from rbacmap.solver.identity import Identity

    login = ctx.add_identity(Identity(CLOUD_LOGIN, username, ",".join(groups), groups, username))
    principal = edge.target
    if edge.mechanism == ASSUME_ROLE:
        action = f"assume {principal} and log in through the access entry written for it ({what})"
    elif edge.mechanism == UPDATE_ACCESS_ENTRY:
        action = f"update the EKS access entry of {principal} ({what}) and log in as {principal}"
    else:
        action = f"create an EKS access entry for {principal} ({what}) and log in as {principal}"
    return Edge(start, login, action, edge.provenance,
                objects=(ObjectRef("CloudEdge", edge.mechanism, note=edge.provenance),),
                explain=f"{start} -> {username} with groups {', '.join(groups)}: {edge.provenance}",
                condition="; ".join(c for c in (edge.condition, condition) if c), primitive="cloud")
