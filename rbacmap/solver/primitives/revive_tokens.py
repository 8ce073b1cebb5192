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
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import INVALIDATED_TOKEN_SECRETS_POOL, Edge, Pool, lazy_edge
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import EffectivePermissions
from rbacmap.solver.primitives.direct import SECRET_READS
from rbacmap.solver.primitives.scopes import grants_in, proving_request, where

SECRET_WRITES = [ResourceRequest(verb, "secrets") for verb in ("patch", "update")]
ASKED = [*SECRET_WRITES, *SECRET_READS]


def revive_tokens(ctx: SolverContext) -> Iterator[Edge]:
    invalidated = ctx.objects.invalidated_token_secrets
    if not invalidated:
        return
    for identity, permissions in ctx.frontier_permissions(ASKED):
        writable = permissions.where_any(SECRET_WRITES)
        if not writable:
            continue
        readable = permissions.where_any(SECRET_READS)
        for namespace in _both(writable, readable):
            if namespace is None or namespace in invalidated:
                yield lazy_edge(identity, Pool.of(INVALIDATED_TOKEN_SECRETS_POOL, namespace or "*"), "revive_tokens",
                                partial(_describe, identity, permissions, namespace))


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
