"""Kinds read for one platform's sake: a 403 on them is a gap there only.

`kube-system/aws-auth` maps IAM identities to Kubernetes users on EKS. Elsewhere (GKE, AKS, kubeadm)
an importer that may not read ConfigMaps in kube-system loses nothing, so marking every such
snapshot "incomplete: ConfigMap" would only teach users to ignore the warning. The kind stays a
gap (FORBIDDEN) wherever it may matter: the server is EKS by its version (v1.29.4-eks-...), its
version could not be read (the platform cannot be told), or the cluster's previous snapshot held
the object (then it exists, and offboarding reads it whatever the platform). A 404 is no gap
anywhere: the fetcher takes it for an absent object.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from rbacmap.importers.kube_fetch import FORBIDDEN, NOT_NEEDED, FetchedKind, ServerInfo


def settle_platform_kinds(
    fetched: Sequence[FetchedKind], server: ServerInfo, held_before: Callable[[str], bool]
) -> list[FetchedKind]:
    """`fetched`, with a forbidden kind that only matters on another platform turned NOT_NEEDED.

    `held_before(kind)`: whether the cluster's previous snapshot held objects of that kind."""
    settled = []
    for result in fetched:
        platform = result.resource.platform
        if result.status == FORBIDDEN and platform is not None and not _may_matter(platform, server, held_before,
                                                                                    result.resource.kind):
            where = "/".join(result.resource.only) if result.resource.only else result.resource.plural
            why = f"only {platform} reads {where}, and this server ({server.git_version}) is not {platform}"
            result = dataclasses.replace(result, status=NOT_NEEDED, message=f"{why}; {result.message}")
        settled.append(result)
    return settled


def _may_matter(platform: str, server: ServerInfo, held_before: Callable[[str], bool], kind: str) -> bool:
    return server.git_version is None or server.platform == platform or held_before(kind)
