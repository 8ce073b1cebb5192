"""Primitive 8: read secrets in N -> the legacy token Secrets present there; create secrets -> mint one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from rbacmap.model import ResourceRequest
from rbacmap.solver.context import SolverContext, token_secret_ref
from rbacmap.solver.edges import SERVICE_ACCOUNTS_POOL, TOKEN_SECRETS_POOL, Edge, Pool, lazy_edge
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import EffectivePermissions
from rbacmap.solver.primitives.direct import SECRET_READS
from rbacmap.solver.primitives.scopes import first_allowed, in_namespace, names_in_rules, proving_request, where

GET_SECRET = ResourceRequest("get", "secrets")
DELETE_SECRET = ResourceRequest("delete", "secrets")
CREATE_SECRET = ResourceRequest("create", "secrets")
CREATE_SECRETS = [CREATE_SECRET]
ASKED = [*SECRET_READS, CREATE_SECRET]  # GET_SECRET is one of SECRET_READS
# Reads of one Secret by name, get first (a list or watch by name needs a field selector to say so).
NAMED_READS = [GET_SECRET, *SECRET_READS]


def secrets(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(ASKED):
        readable = permissions.where_any(SECRET_READS)
        for namespace in readable:
            yield lazy_edge(identity, Pool.of(TOKEN_SECRETS_POOL, namespace or "*"), "secrets",
                            partial(_describe_read, identity, permissions, namespace))
        if None not in readable and permissions.has_named_rules():
            yield from _named_reads(ctx, identity, set(readable))
        creatable = permissions.where_any(CREATE_SECRETS)
        if creatable:
            taken = partial(_name_taken, ctx, permissions)
            for namespace, named_read in _read_back_places(permissions, creatable, readable, taken):
                # Asked now, while the store is open (the edge is described later, maybe from a cached result).
                occupied = (named_read is not None and namespace is not None
                            and ctx.objects.secret_exists(namespace, named_read.name))
                yield lazy_edge(identity, Pool.of(SERVICE_ACCOUNTS_POOL, namespace or "*"), "secrets",
                                partial(_describe_mint, identity, permissions, namespace, named_read, occupied))


def _name_taken(ctx: SolverContext, permissions: EffectivePermissions, namespace: str, name: str) -> bool:
    """A Secret of that name exists there and the identity may not delete it: the minted Secret cannot have
    that name (AlreadyExists), and updating the existing one cannot make it a token Secret (its type is
    immutable). Real shape: cert-manager's webhook may create any Secret but get only its own CA Secret,
    which it wrote at start."""
    return (ctx.objects.secret_exists(namespace, name)
            and not permissions.grants(in_namespace(DELETE_SECRET, namespace, name)))


def _read_back_places(
    permissions: EffectivePermissions, creatable: tuple[str | None, ...], readable: tuple[str | None, ...],
    taken: Callable[[str, str], bool],
) -> list[tuple[str | None, ResourceRequest | None]]:
    """Where a minted token Secret can also be read back: (place, the named get that reads it, or None when
    any Secret there is readable). The create response comes back before the token controller fills
    the token in, so without a read there is no token. The minter picks the Secret's name, so
    resourceNames on get are enough (in a namespace named place, when no Secret there has the name already
    (`taken`); not for "every namespace")."""
    places: list[tuple[str | None, ResourceRequest | None]] = []
    names = sorted(permissions.named_resources(GET_SECRET)) if permissions.has_named_rules() else []

    def named_get(namespace: str | None) -> ResourceRequest | None:
        return next((request for request in (in_namespace(GET_SECRET, namespace, name) for name in names)
                     if permissions.grants(request)
                     and (namespace is None or not taken(namespace, request.name))), None)

    for namespace in creatable:
        if None in readable or namespace in readable:
            places.append((namespace, None))
        elif namespace is not None:
            if (named := named_get(namespace)) is not None:
                places.append((namespace, named))
        elif (named := named_get(None)) is not None:  # a named get cluster-wide: every namespace
            places.append((None, named))
        else:  # creates everywhere: read back where some read (or a named get) is allowed
            places.extend((here, None) for here in readable)
            places.extend((here, named) for here in sorted(set(permissions.namespaced) - set(readable))
                          if (named := named_get(here)) is not None)
    return places


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


def _describe_mint(identity: Identity, permissions: EffectivePermissions, namespace: str | None,
                   named_read: ResourceRequest | None, occupied: bool) -> Edge:
    """`occupied`: a Secret has the named read's name now, which the identity may delete (`_name_taken`)."""
    request = in_namespace(CREATE_SECRET, namespace)
    grants = permissions.grants(request)
    if named_read is not None:
        read, read_grants = named_read, permissions.grants(named_read)
        how = f"{read.verb} secret {read.name} (named in resourceNames: the Secret is given that name)"
        if occupied and namespace is not None:
            delete = in_namespace(DELETE_SECRET, namespace, read.name)
            read_grants = read_grants + permissions.grants(delete)
            how += f", after deleting the existing Secret {namespace}/{read.name}"
    else:
        read, read_grants = (first_allowed(permissions, SECRET_READS, namespace)
                             or (in_namespace(GET_SECRET, namespace), ()))
        how = f"{read.verb} secrets"
    return Edge(
        identity, Pool.of(SERVICE_ACCOUNTS_POOL, namespace or "*"), "mint a token Secret",
        f"create a Secret of type kubernetes.io/service-account-token{where(namespace)} annotated with the "
        f"victim ServiceAccount; the token controller fills in its token, read back with {how}",
        grants=tuple(dict.fromkeys(grants + read_grants)),
        explain=sentence(identity, request, grants, "the token controller writes a token of the named "
                         f"ServiceAccount into it, and {read.verb} on secrets there reads it back"),
        primitive="secrets",
    )


def _named_reads(ctx: SolverContext, identity: Identity, covered: set[str | None]) -> Iterator[Edge]:
    """get, list or watch limited by resourceNames still reach the token Secrets they name.

    A list or watch with `fieldSelector=metadata.name=NAME` is authorized with that name
    (upstream RequestInfo), so resourceNames on list/watch read the named Secret too.
    """
    permissions = ctx.permissions(identity)
    names = names_in_rules(permissions, SECRET_READS)
    if not names:
        return
    for secret in ctx.objects.token_secrets_named(names):
        namespace = secret.namespace
        if namespace in covered:
            continue
        allowed = first_allowed(permissions, NAMED_READS, namespace, secret.name)
        if allowed is not None:
            request, grants = allowed
            how = "" if request.verb == "get" else f", with --field-selector metadata.name={secret.name}"
            yield Edge(
                identity, ctx.identity_for_service_account(namespace, secret.service_account),
                "read a token Secret", f"{request.verb} secret {namespace}/{secret.name} (named in resourceNames{how})",
                grants=grants, objects=(token_secret_ref(secret),),
                explain=sentence(identity, request, grants, f"it holds a token of {secret.service_account}"),
                primitive="secrets",
            )
