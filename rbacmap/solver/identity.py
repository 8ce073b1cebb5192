"""Identities: the requesters of the escalation graph, each with the exact Kubernetes user it is.

RBAC power is the union over a requester's own bindings and its groups' bindings, so a node
is a whole requester (username plus groups), never a single binding subject.

- A ServiceAccount is `system:serviceaccount:NS:NAME` with its implicit groups
  (`system:serviceaccounts`, `system:serviceaccounts:NS`, `system:authenticated`).
- A User named in a binding is that username plus `system:authenticated`.
- A Group G stands for "any member of G": a requester named `<member of G>` whose groups are
  G and the groups every member of G necessarily has (`system:authenticated`; for the
  service-account groups also `system:serviceaccounts`; `system:unauthenticated` is the
  anonymous user). The power of a group node is therefore a lower bound for each member.
- The kind is an open string: cloud principals (`AWSPrincipal`, `GCPPrincipal`) or the
  solver's own hypothetical holders (`RoleHolder`) plug in with their own username/groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rbacmap.model import (
    ALL_SERVICE_ACCOUNTS,
    AUTHENTICATED,
    GROUP,
    NODES_GROUP,
    SERVICE_ACCOUNT,
    SERVICE_ACCOUNT_GROUP_PREFIX,
    SYSTEM_MASTERS,
    UNAUTHENTICATED,
    USER,
    UserInfo,
    parse_service_account_username,
    service_account_username,
)

ROLE_HOLDER = "RoleHolder"
"""Hypothetical identity: an attacker after a bind/escalate step, with its own power plus a role (never a subject)."""

ANONYMOUS = "system:anonymous"
"""The username of unauthenticated requests."""

SUBJECT_IDENTITY_KINDS = {USER, GROUP, SERVICE_ACCOUNT}
"""Kinds reported as subjects; cloud engineers add theirs (e.g. "AWSPrincipal") to this set."""


# Slots: thousands are built per solve (a slotted frozen dataclass builds ~1.6x faster) and their
# fields are read on every step of the search.
@dataclass(frozen=True, slots=True)
class Identity:
    """A requester: (kind, name, namespace) identify it; username/groups say how it authenticates."""

    kind: str
    name: str
    namespace: str = ""
    groups: tuple[str, ...] = field(default=(), compare=False)
    username: str = field(default="", compare=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.name, self.namespace)

    @property
    def is_subject(self) -> bool:
        """Whether paths are reported for it (not a hypothetical RoleHolder)."""
        return self.kind in SUBJECT_IDENTITY_KINDS

    def user_info(self) -> UserInfo:
        """The user the API server would see, for the authorizer."""
        return UserInfo(self.username or self.name, self.groups)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind, "name": self.name}
        if self.kind == SERVICE_ACCOUNT or self.namespace:
            out["namespace"] = self.namespace or None
        return out

    def spec(self) -> str:
        """Short form as `rbacmap paths --subject` accepts it."""
        if self.kind == SERVICE_ACCOUNT:
            return f"sa:{self.namespace}/{self.name}"
        if self.kind in (USER, GROUP):
            return f"{self.kind.lower()}:{self.name}"
        return f"{self.kind}:{self.name}"

    def __str__(self) -> str:
        if self.kind == SERVICE_ACCOUNT:
            return f"ServiceAccount {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"


def identity_for_service_account(namespace: str, name: str) -> Identity:
    username = service_account_username(namespace, name)
    if namespace and name and ":" not in namespace and ":" not in name:
        # What `UserInfo.authenticated(username)` gives a well-formed ServiceAccount username, without
        # parsing it back (a big cluster has thousands of ServiceAccounts).
        groups = (ALL_SERVICE_ACCOUNTS, SERVICE_ACCOUNT_GROUP_PREFIX + namespace, AUTHENTICATED)
        return Identity(SERVICE_ACCOUNT, name, namespace, groups, username)
    info = UserInfo.authenticated(username)
    return Identity(SERVICE_ACCOUNT, name, namespace, info.groups, info.name)


def identity_for_user(name: str, groups: tuple[str, ...] = ()) -> Identity:
    """A username; `system:serviceaccount:NS:NAME` becomes the ServiceAccount identity."""
    parsed = parse_service_account_username(name)
    if parsed is not None and not groups:
        return identity_for_service_account(*parsed)
    info = UserInfo.authenticated(name, groups)
    return Identity(USER, name, "", info.groups, info.name)


def group_member_groups(group: str) -> tuple[str, ...]:
    """The groups any member of `group` necessarily has."""
    # Tuples written out (no list, no dedup pass): an identity per namespace's ServiceAccount group.
    if group == UNAUTHENTICATED:
        return (UNAUTHENTICATED,)
    if group.startswith(SERVICE_ACCOUNT_GROUP_PREFIX):  # never system:serviceaccounts nor system:authenticated
        return (group, ALL_SERVICE_ACCOUNTS, AUTHENTICATED)
    return (AUTHENTICATED,) if group == AUTHENTICATED else (group, AUTHENTICATED)


def identity_for_group(group: str) -> Identity:
    username = ANONYMOUS if group == UNAUTHENTICATED else f"<member of {group}>"
    return Identity(GROUP, group, "", group_member_groups(group), username)


KUBELET = "Kubelet"
"""A node's kubelet as it authenticates (never a subject): user `system:node:NAME` in group `system:nodes`."""


NODE_USERNAME_PREFIX = "system:node:"


def identity_for_kubelet(node: str) -> Identity:
    return Identity(KUBELET, node, "", (NODES_GROUP, AUTHENTICATED), NODE_USERNAME_PREFIX + node)


IMPERSONATED_GROUP = "ImpersonatedGroup"
"""A request that impersonates a user with one group: that group and system:authenticated, none of the groups
a member of it would carry (never a subject)."""


def identity_for_impersonated_group(group: str) -> Identity:
    groups = (AUTHENTICATED,) if group == AUTHENTICATED else (group, AUTHENTICATED)
    return Identity(IMPERSONATED_GROUP, group, "", groups, "<impersonated user>")


def identity_for_role_holder(role: str, scope: str, attacker: Identity) -> Identity:
    """`attacker` after binding `role` in namespace `scope` ('' = cluster-wide, '*' = every namespace).

    It authenticates exactly as the attacker (same username and groups, so it keeps every
    permission the attacker had); the role comes on top as a virtual binding keyed by this
    identity (`PermissionIndex.add_virtual_binding`).
    """
    info = attacker.user_info()
    return Identity(ROLE_HOLDER, f"{role} held by {attacker.spec()}", scope, info.groups, info.name)


MASTERS = identity_for_group(SYSTEM_MASTERS)
