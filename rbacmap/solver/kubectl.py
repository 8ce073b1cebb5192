"""Sentences a reviewer can check by hand: `kubectl auth can-i …` for the identity of a step."""

from __future__ import annotations

import json
import shlex

from rbacmap.authorizer import Grant
from rbacmap.model import AUTHENTICATED, ResourceRequest
from rbacmap.solver.identity import ROLE_HOLDER, Identity


def as_flags(identity: Identity) -> str:
    """`--as`/`--as-group` flags that make kubectl ask as this identity."""
    info = identity.user_info()
    if identity.kind == "ServiceAccount":
        return f"--as={info.name}"
    flags = [f"--as={shlex.quote(info.name)}"]
    # Implicit groups are added by the authenticator for real users; kubectl needs them spelled out only for groups.
    flags += [f"--as-group={shlex.quote(g)}" for g in info.groups if g != AUTHENTICATED]
    return " ".join(flags)


# Resources `kubectl auth can-i` cannot resolve through discovery: it would ask about a resource
# of that whole name in the core group. `signers` exists only for authorization.
UNDISCOVERABLE = {("certificates.k8s.io", "signers")}


def can_i(identity: Identity, request: ResourceRequest) -> str:
    """A shell line that asks the API server exactly `request` as `identity`.

    `kubectl auth can-i VERB TYPE[/NAME]` takes exactly two arguments (a third is an error,
    and `pods/exec` would name a pod "exec"), a subresource only as `--subresource`, and without
    `-n` asks in the kubeconfig's namespace: a cluster-wide claim is asked with `-A` (namespace
    "", where only ClusterRoleBindings count). Every API group (`*`) and undiscoverable
    resources are asked with a SubjectAccessReview instead.
    """
    if request.api_group == "*" or (request.api_group, request.resource) in UNDISCOVERABLE:
        return access_review(identity, request)
    resource = request.resource + (f".{request.api_group}" if request.api_group else "")
    resource += f"/{request.name}" if request.name else ""
    parts = ["kubectl auth can-i", shlex.quote(request.verb), shlex.quote(resource)]
    if request.subresource:
        parts.append(f"--subresource={shlex.quote(request.subresource)}")
    parts.append(f"-n {shlex.quote(request.namespace)}" if request.namespace else "-A")
    parts.append(as_flags(identity))
    return " ".join(parts)


def access_review(identity: Identity, request: ResourceRequest) -> str:
    """`kubectl create` of a SubjectAccessReview for `request` as `identity` (prints true or false; POSIX sh)."""
    info = identity.user_info()
    attributes = {"verb": request.verb, "group": request.api_group, "resource": request.resource}
    for key, value in (("subresource", request.subresource), ("name", request.name),
                       ("namespace", request.namespace)):
        if value:
            attributes[key] = value
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": info.name, "groups": list(info.groups), "resourceAttributes": attributes}}
    text = json.dumps(review, separators=(",", ":"))
    return f"echo {shlex.quote(text)} | kubectl create -o jsonpath='{{.status.allowed}}' -f -"


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
        # A RoleHolder's grant does not exist yet: kubectl answers "no" until the bind or rewrite is done.
        when = " (once the bind or rewrite above is done)" if self.identity.kind == ROLE_HOLDER else ""
        return (f"{self.identity} may {self.request.describe()}{granted}: {self.consequence}. "
                f"Check{when}: `{can_i(self.identity, self.request)}`")


def sentence(identity: Identity, request: ResourceRequest, grants: tuple[Grant, ...], consequence: str) -> Sentence:
    """"<identity> may <request> (granted by …): <consequence>. Check: kubectl auth can-i …", rendered lazily."""
    return Sentence(identity, request, grants, consequence)
