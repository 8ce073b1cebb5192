"""Identity source: every subject of a binding, every ServiceAccount, and the special groups."""

from __future__ import annotations

from collections.abc import Iterator

from rbacmap.authorizer import effective_subject_key
from rbacmap.model import (
    ALL_SERVICE_ACCOUNTS,
    AUTHENTICATED,
    GROUP,
    SERVICE_ACCOUNT,
    SERVICE_ACCOUNT_GROUP_PREFIX,
    UNAUTHENTICATED,
)
from rbacmap.solver.context import SolverContext
from rbacmap.solver.identity import Identity, identity_for_group, identity_for_service_account, identity_for_user


def kubernetes_subjects(ctx: SolverContext) -> Iterator[Identity]:
    # Subjects repeat across bindings (the first registration of an identity wins): each is made once.
    seen: set[tuple[str, str, str]] = set()
    for binding in ctx.policy.all_bindings():
        for subject in binding.subjects:
            key = effective_subject_key(subject, binding.key.namespace)
            if key is None or key in seen:
                continue  # None: e.g. a ServiceAccount without namespace in a ClusterRoleBinding names nobody
            seen.add(key)
            kind, name, namespace = key
            if kind == SERVICE_ACCOUNT:
                yield identity_for_service_account(namespace, name)
            elif kind == GROUP:
                yield identity_for_group(name)
            else:
                yield identity_for_user(name)
    namespaces = ctx.objects.all_namespaces()
    for namespace in namespaces:
        for name in ctx.objects.service_account_names(namespace):
            if (SERVICE_ACCOUNT, name, namespace) not in seen:
                yield identity_for_service_account(namespace, name)
    for group in (AUTHENTICATED, UNAUTHENTICATED, ALL_SERVICE_ACCOUNTS):
        yield identity_for_group(group)
    for namespace in namespaces:
        yield identity_for_group(SERVICE_ACCOUNT_GROUP_PREFIX + namespace)
