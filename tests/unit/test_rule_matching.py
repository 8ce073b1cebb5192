"""One PolicyRule against one request: upstream RuleAllows, positive and negative per field."""

from __future__ import annotations

import pytest

from rbacmap.authorizer import rule_allows
from rbacmap.model import NonResourceRequest, PolicyRule, ResourceRequest


def rule(**fields: list[str]) -> PolicyRule:
    return PolicyRule.from_dict(dict(fields))


def pods(verb: str = "get", **kw: str) -> ResourceRequest:
    return ResourceRequest(verb=verb, resource=kw.pop("resource", "pods"), namespace="web", **kw)


@pytest.mark.parametrize(
    ("verbs", "verb", "allowed"),
    [
        (["get"], "get", True),
        (["get", "list"], "list", True),
        (["*"], "deletecollection", True),
        (["*"], "impersonate", True),
        (["get"], "list", False),
        (["Get"], "get", False),  # verbs are case-sensitive
        ([], "get", False),  # a rule without verbs allows nothing
    ],
)
def test_verbs(verbs: list[str], verb: str, allowed: bool) -> None:
    assert rule_allows(pods(verb), rule(verbs=verbs, apiGroups=[""], resources=["pods"])) is allowed


@pytest.mark.parametrize(
    ("groups", "group", "allowed"),
    [
        ([""], "", True),  # "" is the core group
        (["*"], "", True),
        (["*"], "apps", True),
        (["apps"], "apps", True),
        ([""], "apps", False),
        (["apps"], "", False),
        (["extensions"], "apps", False),
        ([], "", False),  # no apiGroups: no resource request matches
    ],
)
def test_api_groups(groups: list[str], group: str, allowed: bool) -> None:
    request = ResourceRequest("get", "deployments", "web", api_group=group)
    assert rule_allows(request, rule(verbs=["get"], apiGroups=groups, resources=["deployments"])) is allowed


@pytest.mark.parametrize(
    ("resources", "resource", "subresource", "allowed"),
    [
        (["pods"], "pods", "", True),
        (["*"], "pods", "", True),
        (["*"], "pods", "log", True),  # `*` covers subresources too
        (["pods/log"], "pods", "log", True),
        (["pods"], "pods", "log", False),  # the resource does not grant its subresources
        (["pods/log"], "pods", "", False),  # nor the subresource the resource
        (["pods/log"], "pods", "exec", False),
        (["*/scale"], "deployments", "scale", True),
        (["*/scale"], "statefulsets", "scale", True),
        (["*/scale"], "deployments", "", False),
        (["*/scale"], "deployments", "status", False),
        # exact-length rule: `*/scale` must be exactly len("scale")+2 long, so a
        # sub-subresource whose name ends in "scale" does not match ...
        (["*/scale"], "deployments", "autoscale", False),
        # ... and `*/xscale` does not match subresource "scale" even though it ends with it.
        (["*/xscale"], "deployments", "scale", False),
        (["pods/*"], "pods", "log", False),  # only `*/sub` is a wildcard form, not `res/*`
        (["Pods"], "pods", "", False),
    ],
)
def test_resources(resources: list[str], resource: str, subresource: str, allowed: bool) -> None:
    request = ResourceRequest("get", resource, "web", subresource=subresource)
    assert rule_allows(request, rule(verbs=["get"], apiGroups=["*"], resources=resources)) is allowed


@pytest.mark.parametrize(
    ("names", "name", "allowed"),
    [
        ([], "anything", True),  # empty list: every name
        ([], "", True),
        (["web-config"], "web-config", True),
        (["a", "web-config"], "web-config", True),
        (["web-config"], "other", False),
        (["web-config"], "", False),  # a nameless request (list, create) never matches a resourceNames rule
    ],
)
def test_resource_names(names: list[str], name: str, allowed: bool) -> None:
    request = ResourceRequest("get", "configmaps", "web", name=name)
    assert (
        rule_allows(request, rule(verbs=["get"], apiGroups=[""], resources=["configmaps"], resourceNames=names))
        is allowed
    )


@pytest.mark.parametrize(
    ("urls", "path", "allowed"),
    [
        (["/healthz"], "/healthz", True),
        (["/healthz"], "/healthz/ping", False),
        (["/healthz"], "/health", False),
        (["*"], "/anything/at/all", True),
        (["/logs/*"], "/logs/kubelet.log", True),
        (["/logs/*"], "/logs/", True),
        (["/logs/*"], "/logs", False),  # the prefix is "/logs/"
        (["/healthz*"], "/healthz/etcd", True),  # trailing * is a plain prefix match
        (["/api/*/x"], "/api/v1/x", False),  # only a trailing * is special
        (["/metrics", "/metrics/*"], "/metrics/cadvisor", True),
    ],
)
def test_non_resource_urls(urls: list[str], path: str, allowed: bool) -> None:
    assert rule_allows(NonResourceRequest("get", path), rule(verbs=["get"], nonResourceURLs=urls)) is allowed


def test_non_resource_verb_must_match() -> None:
    assert not rule_allows(NonResourceRequest("post", "/healthz"), rule(verbs=["get"], nonResourceURLs=["/healthz"]))


def test_resource_rule_never_matches_a_url_and_back() -> None:
    everything = rule(verbs=["*"], apiGroups=["*"], resources=["*"])
    assert not rule_allows(NonResourceRequest("get", "/healthz"), everything)
    urls_only = rule(verbs=["*"], nonResourceURLs=["*"])
    assert not rule_allows(pods(), urls_only)
