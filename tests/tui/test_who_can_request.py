"""The who-can form builds the request the CLI builds: cluster-scoped resources carry no namespace."""

from __future__ import annotations

from rbacmap.model import NonResourceRequest, ResourceRequest
from rbacmap.tui.data import build_request


def test_cluster_scoped_resources_drop_the_namespace_typed_in_the_form() -> None:
    assert build_request("get", "nodes", "web") == (ResourceRequest("get", "nodes", ""), False)
    assert build_request("bind", "clusterroles", "*") == (
        ResourceRequest("bind", "clusterroles", "", "rbac.authorization.k8s.io"), False)


def test_namespaced_resources_keep_it_and_star_means_every_namespace() -> None:
    assert build_request("get", "secrets", " web ") == (ResourceRequest("get", "secrets", "web"), False)
    assert build_request("create", "pods/exec", "*") == (ResourceRequest("create", "pods", "", "", "exec"), True)
    # A resource called "nodes" in another API group is not the built-in one.
    assert build_request("get", "nodes.example.com", "web") == (
        ResourceRequest("get", "nodes", "web", "example.com"), False)
    assert build_request("get", "/healthz", "web") == (NonResourceRequest("get", "/healthz"), False)
