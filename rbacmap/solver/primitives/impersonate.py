"""Primitive 10: impersonate users, ServiceAccounts and groups.

resourceNames limit whom. The API server requires a user or ServiceAccount to be
impersonated whenever groups are, so `impersonate groups` alone is no path; with either,
the impersonated requester may carry any allowed group, `system:masters` included.
Usernames of ServiceAccounts are impersonated through `serviceaccounts`, not `users`.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from itertools import chain

from rbacmap.authorizer import Grant
from rbacmap.model import AUTHENTICATED, SYSTEM_MASTERS, ResourceRequest, parse_service_account_username
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import GROUPS_POOL, SERVICE_ACCOUNTS_POOL, USERS_POOL, Edge, Pool, lazy_edge
from rbacmap.solver.identity import Identity, group_member_groups, identity_for_impersonated_group
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import EffectivePermissions
from rbacmap.solver.primitives.scopes import in_namespace, service_accounts_reached, where

USERS = ResourceRequest("impersonate", "users")
GROUPS = ResourceRequest("impersonate", "groups")
SERVICE_ACCOUNTS = ResourceRequest("impersonate", "serviceaccounts")
SERVICE_ACCOUNT_LIST = [SERVICE_ACCOUNTS]
# Groups alone are no path: without users or serviceaccounts there is nothing to look at.
ASKED = [USERS, SERVICE_ACCOUNTS]


USER_LIST = [USERS]
GROUP_LIST = [GROUPS]


def impersonate(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(ASKED):
        # Most identities here may impersonate only ServiceAccounts: users and groups are skipped
        # without asking (`may_allow_any` False: no rule allows them for any name, anywhere).
        users = _users(ctx, identity) if permissions.may_allow_any(USER_LIST) else ()
        first: Edge | None = None  # its grants (never empty) let groups be impersonated too
        for edge in chain(users, _service_accounts(ctx, identity)):
            first = first or edge
            yield edge
        if permissions.may_allow_any(GROUP_LIST):
            yield from _groups(ctx, identity, first)


def _any_named_service_account(ctx: SolverContext, identity: Identity) -> tuple[Grant, ...]:
    """Grants to impersonate a ServiceAccount named in resourceNames, even one missing from the snapshot.

    The API server does not check that an impersonated ServiceAccount exists, so such a
    name still satisfies "a user or ServiceAccount must be impersonated with groups".
    """
    permissions = ctx.permissions(identity)
    names = permissions.named_resources(SERVICE_ACCOUNTS)
    if not names:
        return ()
    # Cluster-wide rules hold in any namespace (one stand-in is enough to ask them); namespaced
    # rules only where the identity has RoleBindings.
    namespaces = permissions.namespaces_it_may_act_in()
    candidates = sorted(namespaces) if namespaces is not None else ["default", *sorted(permissions.namespaced)]
    for namespace in candidates:
        for name in sorted(names):
            grants = permissions.grants(in_namespace(SERVICE_ACCOUNTS, namespace, name))
            if grants:
                return grants
    return ()


def _users(ctx: SolverContext, identity: Identity) -> Iterator[Edge]:
    permissions = ctx.permissions(identity)
    grants = permissions.grants(USERS)
    if grants:
        yield Edge(identity, Pool.of(USERS_POOL), "impersonate a user", "impersonate users (any name)", grants=grants,
                   explain=sentence(identity, USERS, grants, "`kubectl --as=NAME` acts as any user"),
                   primitive="impersonate")
        return
    for name in sorted(permissions.named_resources(USERS)):
        request = in_namespace(USERS, None, name)
        grants = permissions.grants(request)
        if grants and parse_service_account_username(name) is None:
            yield Edge(identity, ctx.identity_for_user(name), "impersonate a user",
                       f"impersonate user {name!r} (named in resourceNames)", grants=grants,
                       explain=sentence(identity, request, grants, f"`kubectl --as={name}` acts as that user"),
                       primitive="impersonate")


def _service_accounts(ctx: SolverContext, identity: Identity) -> Iterator[Edge]:
    permissions = ctx.permissions(identity)
    unrestricted, named = service_accounts_reached(ctx.objects, permissions, SERVICE_ACCOUNTS)
    for namespace in unrestricted:
        yield lazy_edge(identity, Pool.of(SERVICE_ACCOUNTS_POOL, namespace or "*"), "impersonate",
                        partial(_describe_service_accounts, identity, permissions, namespace))
    for account in named:
        yield Edge(identity, ctx.identity_for_service_account(account.namespace, account.name),
                   "impersonate a ServiceAccount",
                   f"impersonate serviceaccount {account.namespace}/{account.name} (named in resourceNames)",
                   grants=account.grants,
                   explain=sentence(identity, account.request, account.grants, "it acts as that ServiceAccount"),
                   primitive="impersonate")


def _describe_service_accounts(identity: Identity, permissions: EffectivePermissions, namespace: str | None) -> Edge:
    grants = permissions.grants_where(SERVICE_ACCOUNT_LIST, namespace)
    return Edge(identity, Pool.of(SERVICE_ACCOUNTS_POOL, namespace or "*"), "impersonate a ServiceAccount",
                f"impersonate serviceaccounts{where(namespace)}", grants=grants,
                explain=sentence(identity, in_namespace(SERVICE_ACCOUNTS, namespace), grants,
                                 "`kubectl --as=system:serviceaccount:NS:NAME` acts as it"),
                primitive="impersonate")


def _groups(ctx: SolverContext, identity: Identity, first: Edge | None) -> Iterator[Edge]:
    """Group impersonation, with the grants to impersonate someone (`first` edge's, else a named SA's)."""
    permissions = ctx.permissions(identity)
    grants = permissions.grants(GROUPS)
    names = () if grants else sorted(permissions.named_resources(GROUPS))
    if not grants and not names:
        return
    someone = first.grants if first is not None else _any_named_service_account(ctx, identity)
    if not someone:
        return
    if grants:
        ctx.identity_for_group(SYSTEM_MASTERS)
        yield Edge(identity, Pool.of(GROUPS_POOL), "impersonate a group",
                   "impersonate groups (any name) together with a user or ServiceAccount",
                   grants=someone + grants,
                   explain=sentence(identity, GROUPS, grants, "`kubectl --as=NAME --as-group=GROUP` adds any group, "
                                    "system:masters included"),
                   primitive="impersonate")
        return
    for name in names:
        request = in_namespace(GROUPS, None, name)
        grants = permissions.grants(request)
        if not grants:
            continue
        # The group node also holds the groups every member has (system:serviceaccounts for a
        # namespace's ServiceAccount group); an impersonated request carries only the groups asked
        # for and system:authenticated. With each of those impersonable too, that is the group
        # node; else a request with this group alone.
        implied = [in_namespace(GROUPS, None, group) for group in group_member_groups(name)
                   if group not in (name, AUTHENTICATED)]
        implied_grants = [permissions.grants(implied_request) for implied_request in implied]
        target = ctx.identity_for_group(name)
        if all(implied_grants):
            grants += tuple(grant for found in implied_grants for grant in found)
        else:
            target, implied = ctx.add_identity(identity_for_impersonated_group(name)), []
        flags = " ".join(f"--as-group={group.name}" for group in (request, *implied))
        yield Edge(identity, target, "impersonate a group",
                   f"impersonate group {name!r} (named in resourceNames) together with a user",
                   grants=someone + grants,
                   explain=sentence(identity, request, grants, f"`{flags}` with an impersonated user"),
                   primitive="impersonate")
