"""The optimized solver finds exactly what a plain, unoptimized permission check finds.

`ReferencePermissions` answers every question the slow, obvious way (every applied binding,
every rule, `rule_allows`, no caches, no shortcuts); the whole solve on the fixtures must give
the same paths, step by step, as the indexed `EffectivePermissions`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest

from rbacmap.authorizer import Grant, rule_allows
from rbacmap.importers.manifests import import_files
from rbacmap.model import ResourceRequest
from rbacmap.solver import EscalationGraph, SolverContext, SolverResult, solve
from rbacmap.solver.permissions import AppliedBinding, EffectivePermissions, PermissionIndex, PermissionScope
from rbacmap.store import Store
from tests.solver.helpers import FIXTURES

ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.yaml") if p.name != "cluster-admin.yaml")


def _grants(applied: Iterable[AppliedBinding], request: ResourceRequest) -> Iterator[Grant]:
    for binding, subject_index, role in applied:
        for rule_index, rule in enumerate(role.rules):
            if rule_allows(request, rule):
                yield Grant(binding, subject_index, role, rule_index)


class ReferencePermissions(EffectivePermissions):
    def grants(self, request: ResourceRequest) -> tuple[Grant, ...]:
        found = list(_grants(self.cluster, request))
        if request.namespace:
            found += _grants(self.every_namespace, request)
            found += _grants(self.namespaced.get(request.namespace, ()), request)
        return tuple(found)

    def scope(self, request: ResourceRequest) -> PermissionScope:
        everywhere = tuple(_grants([*self.cluster, *self.every_namespace], request))
        if everywhere:
            return PermissionScope(everywhere, {})
        places = {ns: tuple(_grants(applied, request)) for ns, applied in self.namespaced.items()}
        return PermissionScope((), {ns: grants for ns, grants in places.items() if grants})

    def scope_any(self, requests: Iterable[ResourceRequest]) -> PermissionScope:
        namespaces: dict[str, tuple[Grant, ...]] = {}
        for request in requests:
            scope = self.scope(request)
            if scope.everywhere:
                return PermissionScope(scope.everywhere, {})
            for namespace, grants in scope.namespaces.items():
                namespaces.setdefault(namespace, grants)
        return PermissionScope((), namespaces)

    # Lazy edges are made from where_any / where and described with grants_where: answered from scope_any here.
    def where_any(self, requests: Sequence[ResourceRequest]) -> tuple[str | None, ...]:
        scope = self.scope_any(requests)
        return (None,) if scope.everywhere else tuple(sorted(scope.namespaces))

    def where(self, request: ResourceRequest) -> tuple[str | None, ...]:
        return self.where_any([request])

    def grants_where(self, requests: Sequence[ResourceRequest], namespace: str | None) -> tuple[Grant, ...]:
        scope = self.scope_any(requests)
        return scope.everywhere if namespace is None else scope.namespaces.get(namespace, ())

    def has_named_rules(self) -> bool:
        return True  # no shortcut: named_resources is always asked

    def named_resources(self, request: ResourceRequest) -> set[str]:
        names: set[str] = set()
        applied = [*self.cluster, *self.every_namespace, *(a for g in self.namespaced.values() for a in g)]
        for _, _, role in applied:
            for rule in role.rules:
                named = ResourceRequest(request.verb, request.resource, "", request.api_group, request.subresource,
                                        rule.resource_names[0] if rule.resource_names else "")
                if rule.resource_names and rule_allows(named, rule):
                    names.update(rule.resource_names)
        return names

    def may_allow_any(self, requests: Sequence[ResourceRequest]) -> bool:
        return True  # no shortcut: every primitive looks at every identity


class ReferenceIndex(PermissionIndex):
    permissions_class = ReferencePermissions


def reference_solve(store: Store) -> SolverResult:
    snapshot = store.latest_snapshot()
    ctx = SolverContext.load(store, snapshot)
    ctx.permission_index = ReferenceIndex.build(ctx.policy)
    graph = EscalationGraph.build(ctx)
    return SolverResult(snapshot, ctx, graph, graph.solve_all())


@pytest.mark.parametrize("fixtures", [[name] for name in ALL_FIXTURES] + [ALL_FIXTURES])
def test_optimized_solver_matches_the_reference(tmp_path: Path, fixtures: list[str]) -> None:
    store = Store(tmp_path / "reference.db")
    paths = [str(FIXTURES / "cluster-admin.yaml"), *(str(FIXTURES / name) for name in fixtures)]
    assert import_files(store, paths, "test").errors == []
    fast = solve(store, use_cache=False).paths()
    slow = reference_solve(store).paths()
    assert fast, "the fixtures must have findings for this comparison to mean something"
    assert [(p.to_json(), p.explain()) for p in fast] == [(p.to_json(), p.explain()) for p in slow]
