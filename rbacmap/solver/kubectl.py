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


class Sentence:
    """A step's proof sentence, kept as data and written out only when shown (`str()`).

    The solver makes ~100k edges on a big cluster and shows a few of them: rendering every
    sentence up front cost more than the whole search. A slotted class rather than a frozen
    dataclass for the same reason as `Edge` (treat it as immutable).
    """

    __slots__ = ("identity", "request", "grants", "consequence")

    def __init__(self, identity: Identity, request: ResourceRequest, grants: tuple[Grant, ...],
                 consequence: str) -> None:
        self.identity = identity
        self.request = request
        self.grants = grants
        self.consequence = consequence

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sentence) and (self.identity, self.request, self.grants, self.consequence) == (
            other.identity, other.request, other.grants, other.consequence)

    def __hash__(self) -> int:
        return hash((self.identity, self.request, self.grants, self.consequence))

    def __repr__(self) -> str:
        return f"Sentence({str(self)!r})"

    def __str__(self) -> str:
        granted = f" (granted by {grants_text(self.grants)})" if self.grants else ""
        return (f"{self.identity} may {self.request.describe()}{granted}: {self.consequence}. "
                f"Check: `{can_i(self.identity, self.request)}`")


def sentence(identity: Identity, request: ResourceRequest, grants: tuple[Grant, ...], consequence: str) -> Sentence:
    """"<identity> may <request> (granted by …): <consequence>. Check: kubectl auth can-i …", rendered lazily."""
    return Sentence(identity, request, grants, consequence)
