"""Primitive 13: create CSRs + update their approval + `approve` on a client signer -> system:masters."""

from __future__ import annotations

from collections.abc import Iterator

from rbacmap.model import SYSTEM_MASTERS, ResourceRequest
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import Edge
from rbacmap.solver.kubectl import sentence

GROUP = "certificates.k8s.io"
CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"
CREATE = ResourceRequest("create", "certificatesigningrequests", api_group=GROUP)
APPROVAL = [ResourceRequest(v, "certificatesigningrequests", "", GROUP, "approval") for v in ("update", "patch")]
# The approval admission plugin accepts `approve` on the exact signer or on `<domain>/*`.
APPROVE = [ResourceRequest("approve", "signers", "", GROUP, "", name) for name in (CLIENT_SIGNER, "kubernetes.io/*")]
ASKED = [CREATE]  # the edge needs all three permissions: without this one, nothing to look at


def certificates(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(ASKED):
        create = permissions.grants(CREATE)
        approval = next((g for g in (permissions.grants(r) for r in APPROVAL) if g), ())
        approve = next((g for g in (permissions.grants(r) for r in APPROVE) if g), ())
        if not (create and approval and approve):
            continue
        grants = create + approval + approve
        yield Edge(
            identity, ctx.identity_for_group(SYSTEM_MASTERS), "sign a client certificate",
            f"create a CSR for signer {CLIENT_SIGNER} with O=system:masters and approve it", grants=grants,
            explain=sentence(identity, APPROVE[0], grants, "it can create a CertificateSigningRequest with "
                             "organization system:masters, approve it, and log in with the issued certificate"),
            primitive="certificates",
        )
