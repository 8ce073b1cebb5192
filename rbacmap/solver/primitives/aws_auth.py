"""Primitive 15: update/patch the EKS `kube-system/aws-auth` ConfigMap -> map yourself to system:masters."""

from __future__ import annotations

from collections.abc import Iterator

from rbacmap.model import SYSTEM_MASTERS, ResourceRequest
from rbacmap.normalize import AWS_AUTH
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import Edge, ObjectRef
from rbacmap.solver.kubectl import sentence

NAMESPACE, NAME = AWS_AUTH
EDITS = [ResourceRequest(v, "configmaps", NAMESPACE, "", "", NAME) for v in ("patch", "update")]


# A cluster created with access entries only (authenticationMode API) ignores the ConfigMap; the
# Kubernetes snapshot cannot tell (`rbacmap import eks` records the access entries themselves).
AUTHENTICATION_MODE_CONDITION = ("the EKS cluster's authentication mode reads aws-auth "
                                 "(CONFIG_MAP or API_AND_CONFIG_MAP)")


def aws_auth(ctx: SolverContext) -> Iterator[Edge]:
    if AWS_AUTH not in ctx.objects.config_maps:
        return
    config_map = ObjectRef("ConfigMap", NAME, NAMESPACE, "EKS maps IAM roles and users to Kubernetes groups here")
    for identity, permissions in ctx.frontier_permissions(EDITS):
        places = permissions.where_any(EDITS)  # for this name; answered per held rule-list set
        if None not in places and NAMESPACE not in places:
            continue  # allowed only elsewhere (most of those who may edit some ConfigMap)
        for request in EDITS:
            grants = permissions.grants(request)
            if grants:
                yield Edge(
                    identity, ctx.identity_for_group(SYSTEM_MASTERS), f"{request.verb} aws-auth",
                    f"{request.verb} ConfigMap {NAMESPACE}/{NAME} to map an IAM identity to system:masters",
                    grants=grants, objects=(config_map,), condition=AUTHENTICATION_MODE_CONDITION,
                    explain=sentence(identity, request, grants, "an IAM role it controls then authenticates in "
                                     "group system:masters"),
                    primitive="aws_auth",
                )
                break
