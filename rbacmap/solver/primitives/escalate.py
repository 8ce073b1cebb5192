"""Primitive 12: update/patch a role bound to you AND `escalate` on it -> rewrite it to everything.

A ClusterRoleBinding to the rewritten role is cluster-admin; a RoleBinding is every
permission in its namespace (the attacker holding, through that same binding, the same role
rewritten to `*`/`*`/`*`: see `hold_rewritten_role`).
Without `escalate` the API server refuses rules you do not already hold: no path. The
roles considered are those of every binding that applies to the identity, its groups'
included. Rewriting a role bound to another identity and then becoming that identity is
`escalate_others`, which runs on the built graph.
"""

from __future__ import annotations

from collections.abc import Iterator

from rbacmap.authorizer import Grant
from rbacmap.model import CLUSTER_ROLE, CLUSTER_ROLE_BINDING, ResourceRequest, Role
from rbacmap.normalize import RBAC_GROUP
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import Edge
from rbacmap.solver.identity import ROLE_HOLDER
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import AppliedBinding, EffectivePermissions
from rbacmap.solver.primitives.bind import hold_rewritten_role
from rbacmap.solver.targets import CLUSTER_ADMIN_TARGET

# Without `escalate` on some role or ClusterRole (any name), there is nothing to look at.
ESCALATE_ANY = [ResourceRequest("escalate", resource, api_group=RBAC_GROUP) for resource in ("roles", "clusterroles")]


def escalate(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(ESCALATE_ANY):
        if identity.kind == ROLE_HOLDER:
            continue
        applied = applied_bindings(permissions)
        done: set[tuple[str, str]] = set()
        for binding, subject_index, role in applied:
            scope = "" if binding.key.kind == CLUSTER_ROLE_BINDING else binding.key.namespace
            if (str(role.key), scope) in done:
                continue
            done.add((str(role.key), scope))
            rewrite = rewrite_grants(permissions, role)
            if rewrite is None:
                continue
            update, escalate_request, grants = rewrite
            detail = f"rewrite {role.key} (bound to it by {binding.key}) to allow everything {where(scope)}"
            explain = sentence(identity, escalate_request, grants, f"with {update.verb} it can {detail}")
            target = (CLUSTER_ADMIN_TARGET if scope == ""
                      else hold_rewritten_role(ctx, identity, binding, subject_index, role))
            yield Edge(identity, target, f"escalate {role.key}", detail, grants=grants, explain=explain,
                       primitive="escalate")


def applied_bindings(permissions: EffectivePermissions) -> list[AppliedBinding]:
    """The bindings that apply to an identity, cluster-wide first (its groups' included)."""
    return [*permissions.cluster, *(entry for group in permissions.namespaced.values() for entry in group)]


def rewrite_grants(
    permissions: EffectivePermissions, role: Role,
) -> tuple[ResourceRequest, ResourceRequest, tuple[Grant, ...]] | None:
    """(the update or patch request allowed on the role, the escalate request, the grants of both), or None
    when the identity may not rewrite the role to rules it does not hold."""
    resource = "clusterroles" if role.key.kind == CLUSTER_ROLE else "roles"
    namespace = role.key.namespace  # '' for ClusterRoles: only ClusterRoleBindings can allow it
    for verb in ("update", "patch"):
        update = ResourceRequest(verb, resource, namespace, RBAC_GROUP, "", role.key.name)
        update_grants = permissions.grants(update)
        if update_grants:
            break
    else:
        return None
    escalate_request = ResourceRequest("escalate", resource, namespace, RBAC_GROUP, "", role.key.name)
    escalate_grants = permissions.grants(escalate_request)
    if not escalate_grants:
        return None
    # One rule often allows both verbs: listed once.
    return update, escalate_request, tuple(dict.fromkeys(update_grants + escalate_grants))


def where(scope: str) -> str:
    """How a binding's scope reads: '' is cluster-wide."""
    return "cluster-wide" if scope == "" else f"in {scope}"
