"""RuleMatcher's shortcuts (rules indexed by verb, resourceNames skipped for nameless questions) give
exactly the rules `rule_allows` picks, request by request."""

from __future__ import annotations

import itertools

from rbacmap.authorizer import rule_allows
from rbacmap.model import CLUSTER_ROLE, PolicyRule, ResourceRequest, Role, RoleKey
from rbacmap.solver.permissions import RuleMatcher, names_an_object, request_key

RULES = (
    PolicyRule(("get", "list"), ("",), ("secrets",)),
    PolicyRule(("*",), ("",), ("pods/exec",)),
    PolicyRule(("create", "get", "create"), ("",), ("pods", "pods/attach")),  # a verb listed twice
    PolicyRule(("get",), ("",), ("secrets",), ("app-tls",)),
    PolicyRule(("update",), ("rbac.authorization.k8s.io",), ("*",)),
    PolicyRule(("*",), ("*",), ("*/status",)),
    PolicyRule(("bind", "*"), ("rbac.authorization.k8s.io",), ("roles",), ("",)),
    PolicyRule(("GET",), ("",), ("configmaps",)),  # verbs compare exactly: no request has this verb
)
VERBS = ("get", "list", "create", "update", "bind", "*", "GET", "watch")
RESOURCES = (("secrets", "", ""), ("pods", "exec", ""), ("pods", "attach", ""), ("pods", "", ""),
             ("roles", "", "rbac.authorization.k8s.io"), ("deployments", "status", "apps"),
             ("configmaps", "", ""))
NAMES = ("", "app-tls", "other")


def test_allowing_picks_exactly_the_rules_rule_allows_picks() -> None:
    matcher = RuleMatcher()
    rules_id = matcher.rules_id(Role(RoleKey(CLUSTER_ROLE, "mixed"), RULES))
    for verb, (resource, subresource, group), name in itertools.product(VERBS, RESOURCES, NAMES):
        request = ResourceRequest(verb, resource, "", group, subresource, name)
        key = request_key(request)
        nameless = name == "" and names_an_object(key)
        expected = tuple(i for i, rule in enumerate(RULES)
                         if rule_allows(request, rule) and not (nameless and rule.resource_names))
        assert matcher.allowing(key).get(rules_id, ()) == expected, request
    # The rules of `*` and of "get" both answer a get; a verb no rule names finds nothing.
    assert matcher.allowing(request_key(ResourceRequest("get", "pods", subresource="exec")))[rules_id] == (1,)
    assert rules_id not in matcher.allowing(request_key(ResourceRequest("watch", "configmaps")))
