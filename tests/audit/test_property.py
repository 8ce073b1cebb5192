"""Hypothesis: for random roles and random observed requests, trimmed roles are never wider and lose nothing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rbacmap.authorizer import rule_allows
from rbacmap.model import NonResourceRequest, PolicyRule, Request, ResourceRequest
from rbacmap.rule_compaction import compact, permission_for, verify_never_wider, verify_nothing_lost

VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
GROUPS = ["", "apps", "batch"]
RESOURCES = ["pods", "secrets", "deployments"]
SUBS = ["", "log", "status"]
NAMES = ["", "a", "b"]
PATHS = ["/healthz", "/healthz/etcd", "/metrics", "/logs/x"]

rule_resources = st.sampled_from([*RESOURCES, "*", "*/log", "pods/log", "deployments/status"])
resource_rules = st.builds(
    PolicyRule,
    verbs=st.lists(st.sampled_from([*VERBS, "*"]), min_size=1, max_size=3).map(tuple),
    api_groups=st.lists(st.sampled_from([*GROUPS, "*"]), min_size=1, max_size=2).map(tuple),
    resources=st.lists(rule_resources, min_size=1, max_size=3).map(tuple),
    resource_names=st.lists(st.sampled_from(["a", "b"]), max_size=2).map(tuple),
)
url_rules = st.builds(
    PolicyRule,
    verbs=st.lists(st.sampled_from(["get", "post", "*"]), min_size=1, max_size=2).map(tuple),
    non_resource_urls=st.lists(st.sampled_from([*PATHS, "/healthz*", "*"]), min_size=1, max_size=2).map(tuple),
)
resource_requests = st.builds(
    ResourceRequest, verb=st.sampled_from(VERBS), resource=st.sampled_from(RESOURCES),
    namespace=st.sampled_from(["", "ns"]), api_group=st.sampled_from(GROUPS),
    subresource=st.sampled_from(SUBS), name=st.sampled_from(NAMES),
)
url_requests = st.builds(NonResourceRequest, verb=st.sampled_from(["get", "post"]), path=st.sampled_from(PATHS))
requests = st.one_of(resource_requests, url_requests)


@settings(max_examples=300, deadline=None)
@given(
    original=st.lists(st.one_of(resource_rules, url_rules), min_size=1, max_size=4),
    observed=st.lists(requests, max_size=12),
    probes=st.lists(requests, min_size=20, max_size=40),
    narrow=st.booleans(),
)
def test_trimmed_rules_never_wider_and_lose_nothing(
    original: list[PolicyRule], observed: list[Request], probes: list[Request], narrow: bool
) -> None:
    permissions = set()
    used = []
    for request in observed:
        granting = next((rule for rule in original if rule_allows(request, rule)), None)
        if granting is not None:
            permissions.add(permission_for(request, granting, narrow))
            used.append(request)
    trimmed = compact(permissions)
    verify_never_wider(trimmed, original, "role")  # the in-code check must accept every honest trim
    verify_nothing_lost(trimmed, used, "role")
    for request in [*used, *probes]:  # independent check with the authorizer's own matcher
        if any(rule_allows(request, rule) for rule in trimmed):
            assert any(rule_allows(request, rule) for rule in original), request
    for request in used:
        assert any(rule_allows(request, rule) for rule in trimmed)
    for rule in trimmed:  # names only where the verb carries one
        if rule.resource_names and narrow:
            assert all(v not in ("create", "list", "watch", "deletecollection") for v in rule.verbs) or any(
                o.resource_names for o in original)
