"""Primitive 14: control mutating admission webhooks -> mutate every pod created later (conditional)."""

from __future__ import annotations

from collections.abc import Iterator

from rbacmap.model import ResourceRequest
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import SERVICE_ACCOUNTS_POOL, Edge, Pool
from rbacmap.solver.kubectl import sentence

ADMISSION = "admissionregistration.k8s.io"
MUTATING = [
    ResourceRequest(verb, "mutatingwebhookconfigurations", api_group=ADMISSION)
    for verb in ("create", "update", "patch")
]
CONDITION = ("needs a webhook endpoint the API server can reach, and a pod created after the change (the next pod "
             "a controller starts, a rollout)")
MUTATING_KIND = "Mutating"  # as stored (webhooks.kind)


def webhooks(ctx: SolverContext) -> Iterator[Edge]:
    # Update or patch needs a configuration to change (else NotFound); create does not.
    existing = (any(webhook["kind"] == MUTATING_KIND for webhook in ctx.objects.webhooks)
                or "MutatingWebhookConfiguration" in ctx.snapshot.incomplete_kinds)  # unknown, not absent
    for identity, permissions in ctx.frontier_permissions(MUTATING):
        for request in MUTATING if existing else MUTATING[:1]:
            grants = permissions.grants(request)
            if grants:
                yield Edge(
                    identity, Pool.of(SERVICE_ACCOUNTS_POOL, "*"), f"{request.verb} mutatingwebhookconfigurations",
                    f"{request.verb} a mutating webhook that rewrites every pod created later (image, "
                    "serviceAccountName)", grants=grants, condition=CONDITION,
                    explain=sentence(identity, request, grants, "its webhook may rewrite any new pod"),
                    primitive="webhooks",
                )
                break
