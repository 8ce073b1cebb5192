"""Sentences a reviewer can check by hand: `kubectl auth can-i …` for the identity of a step."""

from __future__ import annotations

import shlex

from rbacmap.authorizer import Grant
from rbacmap.model import AUTHENTICATED, ResourceRequest
from rbacmap.solver.identity import Identity


def as_flags(identity: Identity) -> str:
    """`--as`/`--as-group` flags that make kubectl ask as this identity."""
    info = identity.user_info()
    if identity.kind == "ServiceAccount":
        return f"--as={info.name}"
    flags = [f"--as={shlex.quote(info.name)}"]
    # Implicit groups are added by the authenticator for real users; kubectl needs them spelled out only for groups.
    flags += [f"--as-group={shlex.quote(g)}" for g in info.groups if g != AUTHENTICATED]
    return " ".join(flags)


def can_i(identity: Identity, request: ResourceRequest) -> str:
    resource = request.resource + (f".{request.api_group}" if request.api_group else "")
    resource += f"/{request.subresource}" if request.subresource else ""
    parts = ["kubectl auth can-i", request.verb, resource]
    if request.name:
        parts.append(shlex.quote(request.name))
    parts.append(f"-n {request.namespace}" if request.namespace else "")
    parts.append(as_flags(identity))
    return " ".join(p for p in parts if p)


def grants_text(grants: tuple[Grant, ...]) -> str:
    return "; ".join(grant.describe() for grant in grants)


def sentence(identity: Identity, request: ResourceRequest, grants: tuple[Grant, ...], consequence: str) -> str:
    """"<identity> may <request> (granted by …): <consequence>. Check: kubectl auth can-i …"."""
    granted = f" (granted by {grants_text(grants)})" if grants else ""
    return f"{identity} may {request.describe()}{granted}: {consequence}. Check: `{can_i(identity, request)}`"
