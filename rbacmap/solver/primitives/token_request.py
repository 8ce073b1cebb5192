"""Primitive 9: create serviceaccounts/token in N -> a token for any SA of N (or those resourceNames list)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from rbacmap.model import ResourceRequest
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import SERVICE_ACCOUNTS_POOL, Edge, ObjectRef, Pool, lazy_edge
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import EffectivePermissions
from rbacmap.solver.primitives.scopes import in_namespace, service_accounts_reached, where

TOKEN_REQUEST = ResourceRequest("create", "serviceaccounts", subresource="token")
ASKED = [TOKEN_REQUEST]


def token_request(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(ASKED):
        unrestricted, named = service_accounts_reached(ctx.objects, permissions, TOKEN_REQUEST)
        for namespace in unrestricted:
            yield lazy_edge(identity, Pool.of(SERVICE_ACCOUNTS_POOL, namespace or "*"), "token_request",
                            partial(_describe, identity, permissions, namespace))
        for account in named:
            namespace, name = account.namespace, account.name
            yield Edge(
                identity, ctx.identity_for_service_account(namespace, name), "request a token",
                f"create serviceaccounts/token for {namespace}/{name} (named in resourceNames)",
                grants=account.grants, objects=(ObjectRef("ServiceAccount", name, namespace),),
                explain=sentence(identity, account.request, account.grants,
                                 f"`kubectl create token {name} -n {namespace}`"),
                primitive="token_request",
            )


def _describe(identity: Identity, permissions: EffectivePermissions, namespace: str | None) -> Edge:
    grants = permissions.grants_where(ASKED, namespace)
    return Edge(
        identity, Pool.of(SERVICE_ACCOUNTS_POOL, namespace or "*"), "request a token",
        f"create serviceaccounts/token{where(namespace)} (kubectl create token)", grants=grants,
        explain=sentence(identity, in_namespace(TOKEN_REQUEST, namespace), grants,
                         "`kubectl create token NAME` returns a token of any ServiceAccount there"),
        primitive="token_request",
    )
