"""Identity source: every subject of a binding, every ServiceAccount, and the special groups."""

from __future__ import annotations

from collections.abc import Iterator

from rbacmap.model import (
    ALL_SERVICE_ACCOUNTS,
    AUTHENTICATED,
    GROUP,
    SERVICE_ACCOUNT,
    SERVICE_ACCOUNT_GROUP_PREFIX,
    UNAUTHENTICATED,
    USER,
)
from rbacmap.solver.context import SolverContext
from rbacmap.solver.identity import Identity, identity_for_group, identity_for_service_account, identity_for_user


def kubernetes_subjects(ctx: SolverContext) -> Iterator[Identity]:
    # Subjects repeat across bindings (the first registration of an identity wins): each is made once.
    # Keyed as `effective_subject` would name them, without building that Subject for each ServiceAccount.
    seen: set[tuple[str, str, str]] = set()
    for binding in ctx.policy.all_bindings():
        for subject in binding.subjects:
            kind = subject.kind
            if kind == SERVICE_ACCOUNT:
                namespace = subject.namespace or binding.key.namespace
                if not namespace:
                    continue  # a ServiceAccount without namespace in a ClusterRoleBinding names nobody
                key = (SERVICE_ACCOUNT, subject.name, namespace)
                if key not in seen:
                    seen.add(key)
                    yield identity_for_service_account(namespace, subject.name)
            elif kind in (GROUP, USER):
                key = (kind, subject.name, subject.namespace)
                if key not in seen:
                    seen.add(key)
                    yield identity_for_group(subject.name) if kind == GROUP else identity_for_user(subject.name)
    namespaces = ctx.objects.all_namespaces()
    for namespace in namespaces:
        for name in ctx.objects.service_account_names(namespace):
            if (SERVICE_ACCOUNT, name, namespace) not in seen:
                yield identity_for_service_account(namespace, name)
    for group in (AUTHENTICATED, UNAUTHENTICATED, ALL_SERVICE_ACCOUNTS):
        yield identity_for_group(group)
    for namespace in namespaces:
        yield identity_for_group(SERVICE_ACCOUNT_GROUP_PREFIX + namespace)
