"""Primitive 9: create serviceaccounts/token in N -> a token for any SA of N (or those resourceNames list)."""

from __future__ import annotations

from collections.abc import Iterator

from rbacmap.model import ResourceRequest
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import SERVICE_ACCOUNTS_POOL, Edge, ObjectRef, Pool
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.primitives.scopes import in_namespace, places, where

TOKEN_REQUEST = ResourceRequest("create", "serviceaccounts", subresource="token")


def token_request(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions():
        unrestricted = places(permissions.scope(TOKEN_REQUEST))
        for namespace, grants in unrestricted:
            yield Edge(
                identity, Pool(SERVICE_ACCOUNTS_POOL, namespace or "*"), "request a token",
                f"create serviceaccounts/token{where(namespace)} (kubectl create token)", grants=grants,
                explain=sentence(identity, in_namespace(TOKEN_REQUEST, namespace), grants,
                                 "`kubectl create token NAME` returns a token of any ServiceAccount there"),
                primitive="token_request",
            )
        if any(namespace is None for namespace, _ in unrestricted):
            continue
        covered = {namespace for namespace, _ in unrestricted}
        names = permissions.named_resources(TOKEN_REQUEST)
        if not names:
            continue
        for namespace, name in ctx.objects.service_accounts_named(
            names, permissions.namespaces_it_may_act_in()
        ):
            if namespace not in covered:
                request = in_namespace(TOKEN_REQUEST, namespace, name)
                grants = permissions.grants(request)
                if grants:
                    yield Edge(
                        identity, ctx.identity_for_service_account(namespace, name), "request a token",
                        f"create serviceaccounts/token for {namespace}/{name} (named in resourceNames)",
                        grants=grants, objects=(ObjectRef("ServiceAccount", name, namespace),),
                        explain=sentence(identity, request, grants, f"`kubectl create token {name} -n {namespace}`"),
                        primitive="token_request",
                    )
