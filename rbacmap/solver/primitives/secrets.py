"""Primitive 8: read secrets in N -> the legacy token Secrets present there; create secrets -> mint one."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from rbacmap.model import ResourceRequest
from rbacmap.solver.context import SolverContext, token_secret_ref
from rbacmap.solver.edges import SERVICE_ACCOUNTS_POOL, TOKEN_SECRETS_POOL, Edge, Pool, lazy_edge
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import EffectivePermissions
from rbacmap.solver.primitives.direct import SECRET_READS
from rbacmap.solver.primitives.scopes import in_namespace, proving_request, where

GET_SECRET = ResourceRequest("get", "secrets")
CREATE_SECRET = ResourceRequest("create", "secrets")
CREATE_SECRETS = [CREATE_SECRET]
ASKED = [*SECRET_READS, CREATE_SECRET]  # GET_SECRET is one of SECRET_READS


def secrets(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(ASKED):
        readable = permissions.where_any(SECRET_READS)
        for namespace in readable:
            yield lazy_edge(identity, Pool.of(TOKEN_SECRETS_POOL, namespace or "*"), "secrets",
                            partial(_describe_read, identity, permissions, namespace))
        if None not in readable and permissions.has_named_rules():
            yield from _named_reads(ctx, identity, set(readable))
        for namespace in permissions.where_any(CREATE_SECRETS):
            yield lazy_edge(identity, Pool.of(SERVICE_ACCOUNTS_POOL, namespace or "*"), "secrets",
                            partial(_describe_mint, identity, permissions, namespace))


def _describe_read(identity: Identity, permissions: EffectivePermissions, namespace: str | None) -> Edge:
    grants = permissions.grants_where(SECRET_READS, namespace)
    request = proving_request(grants, SECRET_READS, namespace)
    return Edge(
        identity, Pool.of(TOKEN_SECRETS_POOL, namespace or "*"), "read a token Secret",
        f"{request.verb} secrets{where(namespace)}: legacy ServiceAccount token Secrets", grants=grants,
        explain=sentence(identity, request, grants, "a kubernetes.io/service-account-token Secret holds "
                         "a long-lived token of its ServiceAccount"),
        primitive="secrets",
    )


def _describe_mint(identity: Identity, permissions: EffectivePermissions, namespace: str | None) -> Edge:
    grants = permissions.grants_where(CREATE_SECRETS, namespace)
    request = in_namespace(CREATE_SECRET, namespace)
    return Edge(
        identity, Pool.of(SERVICE_ACCOUNTS_POOL, namespace or "*"), "mint a token Secret",
        f"create a Secret of type kubernetes.io/service-account-token{where(namespace)} annotated with the "
        "victim ServiceAccount; the token controller fills in its token",
        grants=grants,
        condition="reading the filled-in Secret back (get secrets, or mounting it in a pod)",
        explain=sentence(identity, request, grants, "the token controller writes a token of the named "
                         "ServiceAccount into it"),
        primitive="secrets",
    )


def _named_reads(ctx: SolverContext, identity: Identity, covered: set[str | None]) -> Iterator[Edge]:
    """get, list or watch limited by resourceNames still reach the token Secrets they name.

    A list or watch with `fieldSelector=metadata.name=NAME` is authorized with that name
    (upstream RequestInfo), so resourceNames on list/watch read the named Secret too.
    """
    permissions = ctx.permissions(identity)
    names: set[str] = set()
    for read in SECRET_READS:
        names |= permissions.named_resources(read)
    if not names:
        return
    for secret in ctx.objects.token_secrets_named(names):
        namespace = secret.namespace
        if namespace in covered:
            continue
        request, grants = next(
            ((r, g) for r in (in_namespace(read, namespace, secret.name) for read in (GET_SECRET, *SECRET_READS))
             if (g := permissions.grants(r))),
            (in_namespace(GET_SECRET, namespace, secret.name), ()),
        )
        if grants:
            how = "" if request.verb == "get" else f", with --field-selector metadata.name={secret.name}"
            yield Edge(
                identity, ctx.identity_for_service_account(namespace, secret.service_account),
                "read a token Secret", f"{request.verb} secret {namespace}/{secret.name} (named in resourceNames{how})",
                grants=grants, objects=(token_secret_ref(secret),),
                explain=sentence(identity, request, grants, f"it holds a token of {secret.service_account}"),
                primitive="secrets",
            )
