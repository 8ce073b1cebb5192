"""Primitive 13: create CSRs + update their approval + `approve` on a client signer -> a certificate as anyone.

The certificate's CN is the username and its O the groups, so it can name any user, any
ServiceAccount (`system:serviceaccount:NS:NAME`, which RBAC matches to ServiceAccount
subjects) or any group, with one exception: the CertificateSubjectRestriction admission
plugin, on by default since Kubernetes 1.19, rejects a `kubernetes.io/kube-apiserver-client`
CSR with O=system:masters. So the step leads to every identity a binding names, never to
system:masters (whose only power is that group).
"""

from __future__ import annotations

from collections.abc import Iterator

from rbacmap.model import ResourceRequest
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import BOUND_GROUPS_POOL, SERVICE_ACCOUNTS_POOL, USERS_POOL, Edge, Pool
from rbacmap.solver.kubectl import sentence

GROUP = "certificates.k8s.io"
CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"
CREATE = ResourceRequest("create", "certificatesigningrequests", api_group=GROUP)
APPROVAL = [ResourceRequest(v, "certificatesigningrequests", "", GROUP, "approval") for v in ("update", "patch")]
# The approval admission plugin accepts `approve` on the exact signer or on `<domain>/*`.
APPROVE = [ResourceRequest("approve", "signers", "", GROUP, "", name) for name in (CLIENT_SIGNER, "kubernetes.io/*")]
# Every user, every ServiceAccount, and each group a binding names but system:masters: pools, so
# one edge each per identity that can sign, not one per group.
VICTIMS = [Pool.of(USERS_POOL), Pool.of(SERVICE_ACCOUNTS_POOL, "*"), Pool.of(BOUND_GROUPS_POOL)]
# The snapshot cannot tell whether the cluster issues these certificates: managed control planes may not.
SIGNER_CONDITION = (f"the cluster's controller manager signs {CLIENT_SIGNER} CSRs (managed services such as EKS may "
                    "not issue them)")
ASKED = [CREATE]  # the edge needs all three permissions: without this one, nothing to look at


def certificates(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(ASKED):
        create = permissions.grants(CREATE)
        approval = next((g for g in (permissions.grants(r) for r in APPROVAL) if g), ())
        approve_request, approve = next(((r, g) for r in APPROVE if (g := permissions.grants(r))), (APPROVE[0], ()))
        if not (create and approval and approve):
            continue
        grants = create + approval + approve
        explain = sentence(identity, approve_request, grants, "it can create a CertificateSigningRequest for "
                           f"{CLIENT_SIGNER} with any user as CN and any groups but system:masters as O, approve "
                           "it, and log in with the issued certificate")
        for victim in VICTIMS:
            yield Edge(
                identity, victim, "sign a client certificate",
                f"create a CSR for signer {CLIENT_SIGNER} naming the victim (CN=user, O=groups; O=system:masters "
                "is refused by the CertificateSubjectRestriction admission plugin) and approve it",
                grants=grants, explain=explain, condition=SIGNER_CONDITION, primitive="certificates",
            )
