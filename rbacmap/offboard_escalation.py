"""Offboarding with the escalation solver: paths the person still holds, and how powerful an SA is.

The solver is optional (`available()`); without it, service-account power falls back to a
few exact authorizer checks so created workloads are still ranked.
"""

from __future__ import annotations

from typing import Any

from rbacmap.authorizer import Authorizer
from rbacmap.model import ResourceRequest, UserInfo, service_account_username
from rbacmap.offboard_context import ClusterContext, Resolution
from rbacmap.offboard_identity import UNIVERSAL_GROUPS
from rbacmap.offboard_report import Finding, ObjectRef

# Requests that make a service account worth a finding when the solver is not there.
POWERFUL_REQUESTS = (
    ResourceRequest("*", "*", api_group="*"),
    ResourceRequest("get", "secrets"),
    ResourceRequest("create", "pods", namespace="kube-system"),
    ResourceRequest("create", "clusterrolebindings", api_group="rbac.authorization.k8s.io"),
    ResourceRequest("escalate", "clusterroles", api_group="rbac.authorization.k8s.io"),
    ResourceRequest("impersonate", "users"),
    ResourceRequest("create", "serviceaccounts", namespace="kube-system", subresource="token"),
)


class EscalationSource:
    """The solver's answers for one snapshot, solved once per cluster and only when a question needs it."""

    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx
        self._solve: Any = None
        self._result: Any = None
        try:
            from rbacmap.solver import solve
        except ImportError:
            return
        self._solve = solve

    @property
    def available(self) -> bool:
        return self._solve is not None

    @property
    def result(self) -> Any:
        # Solving a large snapshot takes seconds: people with no binding never pay for it.
        if self._result is None and self._solve is not None:
            self._result = self._solve(self.ctx.store, self.ctx.snapshot)
        return self._result

    def findings(self, resolution: Resolution, bound_subjects: set[str]) -> list[Finding]:
        """Every escalation path from one of the person's users or groups named in a binding, with its proof.

        `bound_subjects` holds `user:NAME` / `group:NAME` specs that some binding names; the
        solver has no node (so no path) for the others.
        """
        specs = [f"user:{u}" for u in sorted(resolution.usernames())]
        groups = {g for i in resolution.identities for g in i.groups if g not in UNIVERSAL_GROUPS}
        specs += [f"group:{g}" for g in sorted(groups)]
        specs = [spec for spec in specs if spec in bound_subjects]
        if not specs or self.result is None:
            return []
        findings = []
        seen: set[str] = set()
        shared = {f"user:{name}" for name in resolution.shared_usernames()}
        for spec in specs:
            for path in self.result.paths(subject=spec):
                summary = f"{path.subject} -> {path.target}"
                if summary in seen:
                    continue
                seen.add(summary)
                findings.append(Finding(
                    "escalation-path",
                    f"{path.subject} can reach {path.target}: {path.summary()}",
                    _first_binding(path),
                    {"path": path.to_json(), "proof": path.explain()},
                    remediation=_remediation(spec, spec in shared),
                ))
        return findings

    def service_account_power(self, namespace: str, name: str) -> tuple[str, dict[str, Any]] | None:
        """The strongest thing a service account can reach, with the proof or the grant."""
        if self.result is not None:
            paths = self.result.paths(subject=f"sa:{namespace}/{name}")
            if paths:
                return f"reach {paths[0].target}", {"solver_path": paths[0].to_json(), "proof": paths[0].explain()}
            return None
        return authorizer_power(self.ctx, namespace, name)


def _remediation(spec: str, shared: bool) -> str:
    if shared:
        name = spec.partition(":")[2]
        return (f"others authenticate as {name} too: the fix leaves its bindings; cut the person's way to {name} "
                "(stop them assuming the role; for a certificate, re-issue the name's credentials and unbind the old "
                "name, or rotate the CA), or remove the bindings of the first step if no one else needs them")
    return ("remove the bindings of the first step (the fix does so for User subjects); "
            "group paths end when the identity provider membership is revoked")


def authorizer_power(ctx: ClusterContext, namespace: str, name: str) -> tuple[str, dict[str, Any]] | None:
    """Fallback without the solver: the first powerful request the SA is allowed, with its grant."""
    user = UserInfo.authenticated(service_account_username(namespace, name))
    authorizer = Authorizer(ctx.policy)
    for request in POWERFUL_REQUESTS:
        decision = authorizer.authorize(user, request, all_grants=False)
        if decision.allowed and decision.grants:
            grant = decision.grants[0]
            if grant.subject.kind == "Group" and grant.subject.name in UNIVERSAL_GROUPS:
                continue
            return request.describe(), {"request": request.describe(), "grant": grant.to_json()}
    return None


def _first_binding(path: Any) -> ObjectRef | None:
    for step in path.steps:
        for grant in step.grants:
            key = grant.binding.key
            return ObjectRef(key.kind, key.name, key.namespace)
    return None
