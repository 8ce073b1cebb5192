"""Primitive 12: update/patch a role bound to you AND `escalate` on it -> rewrite it to everything.

A ClusterRoleBinding to the rewritten role is cluster-admin; a RoleBinding is every
permission in its namespace (the attacker plus a `*`/`*`/`*` role there, see `hold_role`).
Without `escalate` the API server refuses rules you do not already hold: no path. The
roles considered are those of every binding that applies to the identity, its groups'
included. Rewriting a role bound to another identity and then becoming that identity is a
two-condition step the graph cannot express; it is not reported (under-reporting).
"""

from __future__ import annotations

from collections.abc import Iterator

from rbacmap.model import CLUSTER_ROLE, CLUSTER_ROLE_BINDING, PolicyRule, ResourceRequest, Role, RoleKey
from rbacmap.normalize import RBAC_GROUP
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import Edge
from rbacmap.solver.identity import ROLE_HOLDER
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.primitives.bind import hold_role
from rbacmap.solver.targets import CLUSTER_ADMIN_TARGET

EVERYTHING = Role(RoleKey(CLUSTER_ROLE, "<any role rewritten to */*/*>"), (PolicyRule(("*",), ("*",), ("*",)),))


# Without `escalate` on some role or ClusterRole (any name), there is nothing to look at.
ESCALATE_ANY = [ResourceRequest("escalate", resource, api_group=RBAC_GROUP) for resource in ("roles", "clusterroles")]


def escalate(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(ESCALATE_ANY):
        if identity.kind == ROLE_HOLDER:
            continue
        applied = list(permissions.cluster) + [a for group in permissions.namespaced.values() for a in group]
        done: set[tuple[str, str]] = set()
        for binding, _, role in applied:
            scope = "" if binding.key.kind == CLUSTER_ROLE_BINDING else binding.key.namespace
            if (str(role.key), scope) in done:
                continue
            done.add((str(role.key), scope))
            resource = "clusterroles" if role.key.kind == CLUSTER_ROLE else "roles"
            namespace = role.key.namespace  # '' for ClusterRoles: only ClusterRoleBindings can allow it
            update = next(
                (
                    (request, grants)
                    for request in (ResourceRequest(v, resource, namespace, RBAC_GROUP, "", role.key.name)
                                    for v in ("update", "patch"))
                    if (grants := permissions.grants(request))
                ),
                None,
            )
            escalate_request = ResourceRequest("escalate", resource, namespace, RBAC_GROUP, "", role.key.name)
            escalate_grants = permissions.grants(escalate_request)
            if update is None or not escalate_grants:
                continue
            grants = update[1] + escalate_grants
            where = "cluster-wide" if scope == "" else f"in {scope}"
            detail = f"rewrite {role.key} (bound to it by {binding.key}) to allow everything {where}"
            explain = sentence(identity, escalate_request, grants,
                               f"with {update[0].verb} it can {detail}")
            target = CLUSTER_ADMIN_TARGET if scope == "" else hold_role(ctx, identity, EVERYTHING, scope)
            yield Edge(identity, target, f"escalate {role.key}", detail, grants=grants, explain=explain,
                       primitive="escalate")
