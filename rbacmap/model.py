"""Plain value types for RBAC objects, shared by the store, the authorizer and the solver."""

from __future__ import annotations

from dataclasses import dataclass, field

CLUSTER_ROLE = "ClusterRole"
ROLE = "Role"
CLUSTER_ROLE_BINDING = "ClusterRoleBinding"
ROLE_BINDING = "RoleBinding"

USER = "User"
GROUP = "Group"
SERVICE_ACCOUNT = "ServiceAccount"
SUBJECT_KINDS = (USER, GROUP, SERVICE_ACCOUNT)

ALL = "*"
SYSTEM_MASTERS = "system:masters"
NODES_GROUP = "system:nodes"  # kubelets authenticate in it (user system:node:NAME)
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"
SERVICE_ACCOUNT_USER_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNT_GROUP_PREFIX = "system:serviceaccounts:"


def value_type(value: object) -> str:
    """A value's type as YAML and JSON name it, for messages about malformed input."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


@dataclass(frozen=True)
class PolicyRule:
    """One rbac.authorization.k8s.io/v1 PolicyRule, lists kept in their original order."""

    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> PolicyRule:
        # The API server rejects anything but a list of strings; converting (a string to [], null to
        # "None") would store a rule that silently matches something else.
        def strings(key: str) -> tuple[str, ...]:
            value = raw.get(key)
            if value is None:
                return ()
            if not isinstance(value, list):
                raise ValueError(f"{key} must be a list of strings, got {value_type(value)}")
            for index, item in enumerate(value):
                if not isinstance(item, str):
                    raise ValueError(f"{key}[{index}] must be a string, got {value_type(item)}")
            return tuple(value)

        return cls(
            verbs=strings("verbs"),
            api_groups=strings("apiGroups"),
            resources=strings("resources"),
            resource_names=strings("resourceNames"),
            non_resource_urls=strings("nonResourceURLs"),
        )

    def to_dict(self) -> dict[str, list[str]]:
        """The rule as Kubernetes writes it, empty lists left out."""
        out: dict[str, list[str]] = {}
        if self.api_groups or (self.resources and not self.non_resource_urls):
            out["apiGroups"] = list(self.api_groups)
        if self.resources:
            out["resources"] = list(self.resources)
        if self.resource_names:
            out["resourceNames"] = list(self.resource_names)
        if self.non_resource_urls:
            out["nonResourceURLs"] = list(self.non_resource_urls)
        out["verbs"] = list(self.verbs)
        return out

    def describe(self) -> str:
        """Compact one-line text, in the spirit of upstream's CompactString."""
        parts = []
        if self.api_groups:
            parts.append("apiGroups=" + ",".join(g if g else '""' for g in self.api_groups))
        if self.resources:
            parts.append("resources=" + ",".join(self.resources))
        if self.resource_names:
            parts.append("resourceNames=" + ",".join(self.resource_names))
        if self.non_resource_urls:
            parts.append("nonResourceURLs=" + ",".join(self.non_resource_urls))
        parts.append("verbs=" + ",".join(self.verbs))
        return "{" + " ".join(parts) + "}"


@dataclass(frozen=True)
class RoleKey:
    """Identity of a Role (namespace set) or ClusterRole (namespace empty)."""

    kind: str
    name: str
    namespace: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Role:
    key: RoleKey
    rules: tuple[PolicyRule, ...]
    # For aggregated ClusterRoles: which ClusterRole each rule came from (same length as rules).
    rule_sources: tuple[str | None, ...] = ()
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    # Label selectors (dicts, which cannot be hashed): compared, but left out of the hash, so a Role (and a
    # Grant holding one) can still key a dict or a set.
    aggregation_selectors: tuple[dict[str, object], ...] | None = field(default=None, hash=False)
    annotations: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def source_of(self, index: int) -> str | None:
        return self.rule_sources[index] if index < len(self.rule_sources) else None


@dataclass(frozen=True)
class Subject:
    kind: str
    name: str
    namespace: str = ""
    api_group: str = ""

    def __str__(self) -> str:
        if self.kind == SERVICE_ACCOUNT:
            return f"ServiceAccount {self.namespace or '<binding namespace>'}/{self.name}"
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class BindingKey:
    kind: str
    name: str
    namespace: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Binding:
    key: BindingKey
    role_ref: RoleKey
    subjects: tuple[Subject, ...]

    def role_key(self) -> RoleKey:
        """The role this binding grants; a Role reference resolves in the binding's namespace."""
        if self.role_ref.kind == ROLE:
            return RoleKey(ROLE, self.role_ref.name, self.key.namespace)
        return RoleKey(self.role_ref.kind, self.role_ref.name, "")


@dataclass(frozen=True)
class UserInfo:
    """An authenticated identity as the API server sees it: a name and its groups."""

    name: str
    groups: tuple[str, ...] = ()

    @classmethod
    def authenticated(cls, name: str, groups: tuple[str, ...] | list[str] = ()) -> UserInfo:
        """The identity with the groups the authenticators add (SA groups, system:authenticated)."""
        all_groups = list(groups)
        parsed = parse_service_account_username(name)
        if parsed is not None:
            all_groups += [ALL_SERVICE_ACCOUNTS, SERVICE_ACCOUNT_GROUP_PREFIX + parsed[0]]
        if name == "system:anonymous":
            all_groups.append(UNAUTHENTICATED)
        elif AUTHENTICATED not in all_groups and UNAUTHENTICATED not in all_groups:
            all_groups.append(AUTHENTICATED)
        return cls(name, tuple(dict.fromkeys(all_groups)))


def service_account_username(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_USER_PREFIX}{namespace}:{name}"


def parse_service_account_username(username: str) -> tuple[str, str] | None:
    """(namespace, name) for `system:serviceaccount:NS:NAME`, else None (as upstream SplitUsername)."""
    if not username.startswith(SERVICE_ACCOUNT_USER_PREFIX):
        return None
    parts = username[len(SERVICE_ACCOUNT_USER_PREFIX) :].split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


@dataclass(frozen=True)
class ResourceRequest:
    verb: str
    resource: str
    namespace: str = ""
    api_group: str = ""
    subresource: str = ""
    name: str = ""

    def action(self) -> str:
        """Verb and target without the place: `get pods/log 'web-1'`."""
        res = self.resource + (f"/{self.subresource}" if self.subresource else "")
        group = f".{self.api_group}" if self.api_group else ""
        return f"{self.verb} {res}{group}" + (f" {self.name!r}" if self.name else "")

    def describe(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else " cluster-wide"
        return f"{self.action()}{where}"


@dataclass(frozen=True)
class NonResourceRequest:
    verb: str
    path: str

    def describe(self) -> str:
        return f"{self.verb} {self.path}"


Request = ResourceRequest | NonResourceRequest

# Requests the API server authorizes without a name, whatever the object will be called (upstream RBAC docs:
# "You cannot restrict create or deletecollection requests by their resource name"). Not a subresource's
# create: `kubectl exec web-0` is `create pods/exec` named web-0, which resourceNames do limit.
NAMELESS_VERBS = ("create", "deletecollection")


def carries_no_name(request: Request) -> bool:
    """Whether the real request is authorized without a name (a create or deletecollection of a resource)."""
    return isinstance(request, ResourceRequest) and request.verb in NAMELESS_VERBS and not request.subresource


def as_authorized(request: Request) -> Request:
    """The request with the attributes the API server authorized it by.

    An audit event's objectRef names the object a create made (the API server fills it in from the
    body after authorizing), but the create itself was authorized without a name: a resourceNames
    rule never allowed it, so it must not be credited with it.
    """
    if isinstance(request, ResourceRequest) and request.name and carries_no_name(request):
        return ResourceRequest(request.verb, request.resource, request.namespace, request.api_group,
                               request.subresource, "")
    return request
