"""The escalation-path solver: who can reach cluster-admin, secrets or exec, with proofs.

Public API (other packages import only from here):

    from rbacmap.solver import solve
    result = solve(store, snapshot)              # graph built once per snapshot, cached in memory
    for path in result.paths(subject="sa:ci/deployer", target="cluster-admin"):
        path.to_json()    # {"subject", "target", "steps": [{"action", "as", "granted_by", "detail"}]}
        path.explain()    # one sentence per step, each with a kubectl check (auth can-i or an access review)
    find_risks(store, snapshot)  # -> list[Risk]: rbac-police-style findings that are not full paths

Model: nodes are `Identity`s (whole requesters: username + groups, checked with the exact
authorizer semantics), `Pool`s ("any ServiceAccount of N") and `Target`s; every `Edge` keeps
its provenance (authorizer `Grant`s and/or `ObjectRef`s). Edge sources (one module per
primitive under `rbacmap.solver.primitives`) are listed in `rbacmap.solver.registry`
(`EDGE_SOURCES`, `IDENTITY_SOURCES`): append to plug in cloud principals.
"""

from rbacmap.solver.context import ClusterObjects, SolverContext
from rbacmap.solver.edges import Edge, Node, ObjectRef, Pool
from rbacmap.solver.graph import EscalationGraph
from rbacmap.solver.identity import (
    MASTERS,
    ROLE_HOLDER,
    SUBJECT_IDENTITY_KINDS,
    Identity,
    identity_for_group,
    identity_for_service_account,
    identity_for_user,
)
from rbacmap.solver.paths import EscalationPath, Step
from rbacmap.solver.permissions import EffectivePermissions, PermissionIndex, PermissionScope
from rbacmap.solver.registry import EDGE_SOURCES, IDENTITY_SOURCES, EdgeSource, IdentitySource
from rbacmap.solver.result import SolverResult, clear_cache, solve
from rbacmap.solver.risks import Risk, find_risks
from rbacmap.solver.targets import CLUSTER_ADMIN, EXEC, SECRETS, TARGET_KINDS, Target

__all__ = [
    "CLUSTER_ADMIN",
    "EDGE_SOURCES",
    "EXEC",
    "IDENTITY_SOURCES",
    "MASTERS",
    "ROLE_HOLDER",
    "SECRETS",
    "SUBJECT_IDENTITY_KINDS",
    "TARGET_KINDS",
    "ClusterObjects",
    "Edge",
    "EdgeSource",
    "EffectivePermissions",
    "EscalationGraph",
    "EscalationPath",
    "Identity",
    "IdentitySource",
    "Node",
    "ObjectRef",
    "PermissionIndex",
    "PermissionScope",
    "Pool",
    "Risk",
    "SolverContext",
    "SolverResult",
    "Step",
    "Target",
    "clear_cache",
    "find_risks",
    "identity_for_group",
    "identity_for_service_account",
    "identity_for_user",
    "solve",
]
