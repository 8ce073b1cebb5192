"""Exact RBAC authorization, with the semantics of the upstream Kubernetes RBAC authorizer.

Matching follows pkg/apis/rbac/v1/evaluation_helpers.go and rule resolution follows
pkg/registry/rbac/validation/rule.go (VisitRulesFor / appliesToUser) of the Kubernetes
source. Members of `system:masters` are allowed everything, as the API server's
privileged-group authorizer answers before RBAC does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

from rbacmap.model import (
    ALL,
    GROUP,
    SERVICE_ACCOUNT,
    SYSTEM_MASTERS,
    USER,
    Binding,
    NonResourceRequest,
    PolicyRule,
    Request,
    ResourceRequest,
    Role,
    RoleKey,
    Subject,
    UserInfo,
    service_account_username,
)


class PolicySource(Protocol):
    """Read access to the RBAC objects of one snapshot (the upstream listers' role)."""

    def cluster_role_bindings(self) -> Iterable[Binding]: ...

    def role_bindings(self, namespace: str) -> Iterable[Binding]: ...

    def role_binding_namespaces(self) -> Iterable[str]: ...

    def role(self, key: RoleKey) -> Role | None: ...


# --- rule matching (evaluation_helpers.go) -------------------------------------------------


def verb_matches(rule: PolicyRule, verb: str) -> bool:
    return any(v in (ALL, verb) for v in rule.verbs)


def api_group_matches(rule: PolicyRule, group: str) -> bool:
    return any(g in (ALL, group) for g in rule.api_groups)


def resource_matches(rule: PolicyRule, combined_resource: str, subresource: str) -> bool:
    for rule_resource in rule.resources:
        if rule_resource in (ALL, combined_resource):
            return True
        # `*/subresource` matches that subresource of every resource; exact length check as upstream.
        if (
            subresource
            and len(rule_resource) == len(subresource) + 2
            and rule_resource.startswith("*/")
            and rule_resource.endswith(subresource)
        ):
            return True
    return False


def resource_name_matches(rule: PolicyRule, name: str) -> bool:
    # An empty resourceNames list means every name; a list never matches a nameless request.
    return not rule.resource_names or name in rule.resource_names


def non_resource_url_matches(rule: PolicyRule, path: str) -> bool:
    for url in rule.non_resource_urls:
        if url in (ALL, path):
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def rule_allows(request: Request, rule: PolicyRule) -> bool:
    """Whether one PolicyRule allows one request (upstream RuleAllows)."""
    if isinstance(request, ResourceRequest):
        combined = request.resource + ("/" + request.subresource if request.subresource else "")
        return (
            verb_matches(rule, request.verb)
            and api_group_matches(rule, request.api_group)
            and resource_matches(rule, combined, request.subresource)
            and resource_name_matches(rule, request.name)
        )
    return verb_matches(rule, request.verb) and non_resource_url_matches(rule, request.path)


# --- subjects (rule.go appliesToUser) ------------------------------------------------------


def subject_applies(user: UserInfo, subject: Subject, namespace: str) -> bool:
    """Whether a binding subject names this user; `namespace` is the RoleBinding's ('' for CRBs)."""
    if subject.kind == USER:
        return user.name == subject.name
    if subject.kind == GROUP:
        return subject.name in user.groups
    if subject.kind == SERVICE_ACCOUNT:
        sa_namespace = subject.namespace or namespace
        if not sa_namespace:
            return False
        return user.name == service_account_username(sa_namespace, subject.name)
    return False


def effective_subject(subject: Subject, binding_namespace: str) -> Subject | None:
    """The subject with its ServiceAccount namespace defaulted; None when it can never match."""
    key = effective_subject_key(subject, binding_namespace)
    if key is None:
        return None
    if subject.kind == SERVICE_ACCOUNT:
        return Subject(SERVICE_ACCOUNT, subject.name, key[2], subject.api_group)
    return subject


def effective_subject_key(subject: Subject, binding_namespace: str) -> tuple[str, str, str] | None:
    """(kind, name, namespace) of `effective_subject`, without building a Subject (indexes ask it per binding).

    A ServiceAccount without namespace takes the RoleBinding's; in a ClusterRoleBinding it names
    nobody (None), as does an unknown kind.
    """
    kind = subject.kind
    if kind == SERVICE_ACCOUNT:
        sa_namespace = subject.namespace or binding_namespace
        return (SERVICE_ACCOUNT, subject.name, sa_namespace) if sa_namespace else None
    if kind not in (USER, GROUP):
        return None
    return (kind, subject.name, subject.namespace)


# --- decisions with provenance -------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """One binding -> role -> rule chain that allows a request."""

    binding: Binding
    subject_index: int
    role: Role
    rule_index: int

    @property
    def subject(self) -> Subject:
        return self.binding.subjects[self.subject_index]

    @property
    def rule(self) -> PolicyRule:
        return self.role.rules[self.rule_index]

    @property
    def aggregated_from(self) -> str | None:
        return self.role.source_of(self.rule_index)

    def describe(self) -> str:
        text = f"{self.binding.key} -> {self.role.key} rule #{self.rule_index} {self.rule.describe()}"
        if self.aggregated_from:
            text += f" (aggregated from ClusterRole {self.aggregated_from})"
        return text

    def to_json(self) -> dict[str, object]:
        subject = self.subject
        return {
            "binding": {
                "kind": self.binding.key.kind,
                "namespace": self.binding.key.namespace or None,
                "name": self.binding.key.name,
            },
            "subject": {
                "kind": subject.kind,
                "name": subject.name,
                "namespace": subject.namespace or None,
            },
            "role": {
                "kind": self.role.key.kind,
                "namespace": self.role.key.namespace or None,
                "name": self.role.key.name,
            },
            "rule_index": self.rule_index,
            "rule": self.rule.to_dict(),
            "aggregated_from": self.aggregated_from,
        }


@dataclass(frozen=True)
class Decision:
    allowed: bool
    grants: tuple[Grant, ...] = ()
    via_system_masters: bool = False
    # Bindings that name the user but reference a role missing from the snapshot.
    dangling: tuple[Binding, ...] = ()

    @property
    def reason(self) -> str:
        if self.via_system_masters:
            return "member of system:masters (allowed before RBAC is consulted)"
        if self.grants:
            return "; ".join(grant.describe() for grant in self.grants)
        return "no RBAC rule allows this request"


@dataclass(frozen=True)
class SubjectGrant:
    """who-can answer: a subject (namespace defaulted) allowed by one grant, in a scope."""

    subject: Subject
    grant: Grant | None
    # Namespace where the permission holds, None for cluster-wide (ClusterRoleBinding).
    namespace: str | None
    note: str = ""


@dataclass
class Authorizer:
    """Answers `can` and `who-can` over one snapshot's policy."""

    policy: PolicySource
    _role_cache: dict[RoleKey, Role | None] = field(default_factory=dict, repr=False)

    def _role(self, key: RoleKey) -> Role | None:
        if key not in self._role_cache:
            self._role_cache[key] = self.policy.role(key)
        return self._role_cache[key]

    def _bindings_for(self, namespace: str) -> Iterator[tuple[Binding, str]]:
        for binding in self.policy.cluster_role_bindings():
            yield binding, ""
        # Cluster-scoped and non-resource requests only consult ClusterRoleBindings.
        if namespace:
            for binding in self.policy.role_bindings(namespace):
                yield binding, namespace

    def authorize(self, user: UserInfo, request: Request, *, all_grants: bool = True) -> Decision:
        """Decide a request; with all_grants, collect every allowing chain, not just the first."""
        if SYSTEM_MASTERS in user.groups:
            return Decision(True, via_system_masters=True)
        namespace = request.namespace if isinstance(request, ResourceRequest) else ""
        grants: list[Grant] = []
        dangling: list[Binding] = []
        for binding, binding_namespace in self._bindings_for(namespace):
            subject_index = next(
                (i for i, s in enumerate(binding.subjects) if subject_applies(user, s, binding_namespace)),
                None,
            )
            if subject_index is None:
                continue
            role = self._role(binding.role_key())
            if role is None:
                dangling.append(binding)
                continue
            for rule_index, rule in enumerate(role.rules):
                if rule_allows(request, rule):
                    grants.append(Grant(binding, subject_index, role, rule_index))
                    if not all_grants:
                        return Decision(True, tuple(grants))
        return Decision(bool(grants), tuple(grants), dangling=tuple(dangling))

    def who_can(self, request: Request, *, all_namespaces: bool = False) -> list[SubjectGrant]:
        """Every subject allowed, each with the binding -> role -> rule that allows it.

        With all_namespaces, a namespaced request is checked in every namespace that has
        RoleBindings, and each answer says in which namespace it holds.
        """
        answers: list[SubjectGrant] = [
            SubjectGrant(Subject(GROUP, SYSTEM_MASTERS), None, None, "allowed everything before RBAC")
        ]
        for binding, binding_namespace, role, rule_index, rule in self._rules_in_scope(request, all_namespaces):
            if rule_allows(self._scoped(request, binding_namespace), rule):
                answers += self._subject_grants(binding, binding_namespace, role, rule_index)
        return answers

    def who_can_named_only(
        self, request: ResourceRequest, *, all_namespaces: bool = False,
    ) -> list[tuple[tuple[str, ...], SubjectGrant]]:
        """For a request without a name: the grants whose rules allow it only for the objects their
        resourceNames list (an unnamed request matches none of them), with those names. `who_can` leaves
        them out, as the API server does; a reviewer still wants to know who may act on some objects."""
        if request.name:
            return []
        found: list[tuple[tuple[str, ...], SubjectGrant]] = []
        for binding, binding_namespace, role, rule_index, rule in self._rules_in_scope(request, all_namespaces):
            if not rule.resource_names:
                continue
            named = replace(request, namespace=binding_namespace or request.namespace, name=rule.resource_names[0])
            if rule_allows(named, rule):
                found += [(rule.resource_names, answer)
                          for answer in self._subject_grants(binding, binding_namespace, role, rule_index)]
        return found

    def _rules_in_scope(
        self, request: Request, all_namespaces: bool,
    ) -> Iterator[tuple[Binding, str, Role, int, PolicyRule]]:
        """Every rule of every binding that could apply to the request: ClusterRoleBindings, then the
        RoleBindings of its namespace (of every namespace with `all_namespaces`)."""
        scopes: list[tuple[Iterable[Binding], str]] = [(self.policy.cluster_role_bindings(), "")]
        if isinstance(request, ResourceRequest):
            if all_namespaces:
                scopes += [(self.policy.role_bindings(ns), ns) for ns in self.policy.role_binding_namespaces()]
            elif request.namespace:
                scopes.append((self.policy.role_bindings(request.namespace), request.namespace))
        for bindings, binding_namespace in scopes:
            for binding in bindings:
                role = self._role(binding.role_key())
                if role is not None:
                    for rule_index, rule in enumerate(role.rules):
                        yield binding, binding_namespace, role, rule_index, rule

    @staticmethod
    def _subject_grants(binding: Binding, binding_namespace: str, role: Role, rule_index: int) -> list[SubjectGrant]:
        answers = []
        for subject_index, subject in enumerate(binding.subjects):
            effective = effective_subject(subject, binding_namespace)
            if effective is not None:
                answers.append(SubjectGrant(effective, Grant(binding, subject_index, role, rule_index),
                                            binding_namespace or None))
        return answers

    @staticmethod
    def _scoped(request: Request, namespace: str) -> Request:
        if isinstance(request, ResourceRequest) and namespace and request.namespace != namespace:
            return ResourceRequest(
                request.verb, request.resource, namespace, request.api_group, request.subresource, request.name
            )
        return request


def unmatchable_subjects(bindings: Iterable[Binding]) -> list[tuple[Binding, Subject]]:
    """Subjects that can never match, e.g. a ServiceAccount without namespace in a ClusterRoleBinding."""
    out = []
    for binding in bindings:
        for subject in binding.subjects:
            if effective_subject(subject, binding.key.namespace) is None:
                out.append((binding, subject))
    return out


__all__ = [
    "Authorizer",
    "Decision",
    "Grant",
    "NonResourceRequest",
    "PolicySource",
    "ResourceRequest",
    "SubjectGrant",
    "rule_allows",
    "subject_applies",
]
