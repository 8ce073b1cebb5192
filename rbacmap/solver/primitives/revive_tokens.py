"""Primitive 8 (continued): re-enable an invalidated legacy token Secret, then read it.

Since 1.29 the legacy token cleaner labels unused token Secrets `kubernetes.io/legacy-token-
invalid-since`, and the API server refuses their tokens; removing the label re-enables the
token (upstream documents it as the way back, until the cleaner deletes the Secret). So an
identity that may update or patch secrets in N, and read them there (get without resourceNames,
list or watch), still reaches the ServiceAccounts of N's invalidated token Secrets.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from rbacmap.model import ResourceRequest
from rbacmap.solver.context import SolverContext, token_secret_ref
from rbacmap.solver.edges import INVALIDATED_TOKEN_SECRETS_POOL, Edge, Pool, lazy_edge
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import EffectivePermissions
from rbacmap.solver.primitives.direct import SECRET_READS
from rbacmap.solver.primitives.scopes import first_allowed, grants_in, names_in_rules, proving_request, where
from rbacmap.solver.primitives.secrets import NAMED_READS

SECRET_WRITES = [ResourceRequest(verb, "secrets") for verb in ("patch", "update")]
ASKED = [*SECRET_WRITES, *SECRET_READS]


def revive_tokens(ctx: SolverContext) -> Iterator[Edge]:
    invalidated = ctx.objects.invalidated_token_secrets
    if not invalidated:
        return
    for identity, permissions in ctx.frontier_permissions(ASKED):
        writable = permissions.where_any(SECRET_WRITES)
        places = _both(writable, permissions.where_any(SECRET_READS)) if writable else []
        for namespace in places:
            if namespace is None or namespace in invalidated:
                yield lazy_edge(identity, Pool.of(INVALIDATED_TOKEN_SECRETS_POOL, namespace or "*"), "revive_tokens",
                                partial(_describe, identity, permissions, namespace))
        if None not in places and permissions.has_named_rules():
            yield from _named_revivals(ctx, identity, permissions, set(places))


def _named_revivals(ctx: SolverContext, identity: Identity, permissions: EffectivePermissions,
                    covered: set[str | None]) -> Iterator[Edge]:
    """A write limited by resourceNames re-enables the Secrets it names, when a read reaches them too (a get
    of that name, or a list or watch with `fieldSelector=metadata.name=NAME`, authorized with the name)."""
    names = names_in_rules(permissions, SECRET_WRITES)
    for secrets in ctx.objects.invalidated_token_secrets.values():
        for secret in secrets:
            if secret.name not in names or secret.namespace in covered:
                continue
            write = first_allowed(permissions, SECRET_WRITES, secret.namespace, secret.name)
            read = first_allowed(permissions, NAMED_READS, secret.namespace, secret.name)
            if write is None or read is None:
                continue
            (write_request, write_grants), (read_request, read_grants) = write, read
            yield Edge(
                identity, ctx.identity_for_service_account(secret.namespace, secret.service_account),
                "re-enable a token Secret",
                f"{write_request.verb} secret {secret.namespace}/{secret.name} (named in resourceNames) to remove the "
                f"label kubernetes.io/legacy-token-invalid-since, then {read_request.verb} it",
                grants=tuple(dict.fromkeys(write_grants + read_grants)), objects=(token_secret_ref(secret),),
                explain=sentence(identity, write_request, write_grants, "without the label the API server accepts "
                                 f"its token of {secret.service_account} again, and {read_request.verb} reads it"),
                primitive="revive_tokens",
            )


def _both(writable: tuple[str | None, ...], readable: tuple[str | None, ...]) -> list[str | None]:
    """The places where both are allowed (None: every namespace)."""
    if None in writable:
        return list(readable)
    if None in readable:
        return list(writable)
    return [namespace for namespace in writable if namespace in readable]


def _describe(identity: Identity, permissions: EffectivePermissions, namespace: str | None) -> Edge:
    # grants_in: the write and the read may come from different scopes (a ClusterRoleBinding and a RoleBinding).
    write_grants = grants_in(permissions, SECRET_WRITES, namespace)
    write = proving_request(write_grants, SECRET_WRITES, namespace)
    read_grants = grants_in(permissions, SECRET_READS, namespace)
    read = proving_request(read_grants, SECRET_READS, namespace)
    return Edge(
        identity, Pool.of(INVALIDATED_TOKEN_SECRETS_POOL, namespace or "*"), "re-enable a token Secret",
        f"{write.verb} secrets{where(namespace)} to remove the label kubernetes.io/legacy-token-invalid-since from "
        f"a legacy ServiceAccount token Secret, then {read.verb} it",
        grants=tuple(dict.fromkeys(write_grants + read_grants)),
        explain=sentence(identity, write, write_grants, "without the label the API server accepts the Secret's "
                         f"token again, and {read.verb} on secrets there reads it"),
        primitive="revive_tokens",
    )
