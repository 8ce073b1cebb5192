"""Loopback servers for the cloud importers: moto (IAM, STS, EKS clusters) and a small EKS
access-entry / pod-identity server whose responses follow botocore's service model."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cloud"
REGION = "eu-west-1"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def aws_session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet handler that answers with JSON bodies (both loopback servers below)."""

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class EksAccessHandler(JsonHandler):
    """Access entries and pod identity associations (moto lacks them); describe_cluster is proxied
    to moto and given the scenario's accessConfig, which moto does not model either."""

    server: EksAccessServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        scenario = self.server.scenario
        parts = [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/")]
        entries = {e["principalArn"]: e for e in scenario.get("access_entries", [])}
        associations = {a["associationId"]: a for a in scenario.get("pod_identity_associations", [])}
        if len(parts) >= 3 and parts[2] == "node-groups":  # moto models managed node groups
            upstream = requests.get(self.server.moto_url + self.path, headers=dict(self.headers), timeout=10)
            self._send(upstream.status_code, upstream.json())
        elif len(parts) == 2 and parts[0] == "clusters":
            upstream = requests.get(self.server.moto_url + self.path, headers=dict(self.headers), timeout=10)
            body = upstream.json()
            body["cluster"]["accessConfig"] = {"authenticationMode": scenario["cluster"]["authenticationMode"]}
            for key in ("version", "platformVersion"):  # moto's defaults (1.19, eks.4) predate access entries
                if key in scenario["cluster"]:
                    body["cluster"][key] = scenario["cluster"][key]
            self._send(upstream.status_code, body)
        elif parts[2:] == ["access-entries"]:
            self._send(200, {"accessEntries": sorted(entries)})
        elif len(parts) == 4 and parts[2] == "access-entries" and parts[3] in entries:
            entry = entries[parts[3]]
            self._send(200, {"accessEntry": {
                "clusterName": parts[1], "principalArn": entry["principalArn"],
                "kubernetesGroups": entry.get("kubernetesGroups", []), "type": entry.get("type", "STANDARD"),
                "username": entry.get("username") or "", "createdAt": 1700000000,
                "accessEntryArn": f"arn:aws:eks:{REGION}:123456789012:access-entry/{parts[1]}/x"}})
        elif len(parts) == 5 and parts[4] == "access-policies" and parts[3] in entries:
            policies = [dict(p, associatedAt=1700000000) for p in entries[parts[3]].get("policies", [])]
            self._send(200, {"clusterName": parts[1], "principalArn": parts[3],
                             "associatedAccessPolicies": policies})
        elif parts[2:] == ["pod-identity-associations"]:
            self._send(200, {"associations": [
                {"clusterName": parts[1], "namespace": a["namespace"], "serviceAccount": a["serviceAccount"],
                 "associationId": a["associationId"]} for a in associations.values()]})
        elif len(parts) == 4 and parts[2] == "pod-identity-associations" and parts[3] in associations:
            self._send(200, {"association": dict(associations[parts[3]], clusterName=parts[1],
                                                 createdAt=1700000000)})
        else:
            self._send(404, {"message": f"no route for {self.path}"})


class EksAccessServer(ThreadingHTTPServer):
    def __init__(self, scenario: dict[str, Any], moto_url: str) -> None:
        super().__init__(("127.0.0.1", 0), EksAccessHandler)
        self.scenario = scenario
        self.moto_url = moto_url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def load_eks_scenario(moto_url: str, fixture: str = "eks-scenario.json", mode: str | None = None) -> dict[str, Any]:
    """Create the scenario's EKS cluster and IAM in moto; return the scenario with the OIDC host filled in (and
    its authentication mode replaced by `mode`, when given)."""
    session = aws_session()
    requests.post(f"{moto_url}/moto-api/reset", timeout=10)
    eks = session.client("eks", endpoint_url=moto_url)
    text = (FIXTURES / fixture).read_text()
    name = json.loads(text)["cluster"]["name"]
    cluster = eks.create_cluster(name=name, roleArn="arn:aws:iam::123456789012:role/eks-cluster",
                                 resourcesVpcConfig={"subnetIds": ["subnet-1"]})["cluster"]
    host = cluster["identity"]["oidc"]["issuer"].removeprefix("https://")
    scenario: dict[str, Any] = json.loads(text.replace("${OIDC_HOST}", host))
    if mode is not None:
        scenario["cluster"]["authenticationMode"] = mode
    iam = session.client("iam", endpoint_url=moto_url)
    for user in scenario["iam"]["users"]:
        iam.create_user(UserName=user["name"])
        for policy_name, document in user["policies"].items():
            iam.put_user_policy(UserName=user["name"], PolicyName=policy_name, PolicyDocument=json.dumps(document))
    for role in scenario["iam"]["roles"]:
        iam.create_role(RoleName=role["name"], Path=role.get("path", "/"),
                        AssumeRolePolicyDocument=json.dumps(role["trust"]))
        for policy_name, document in role["policies"].items():
            iam.put_role_policy(RoleName=role["name"], PolicyName=policy_name, PolicyDocument=json.dumps(document))
    for group in scenario.get("node_groups", []):
        eks.create_nodegroup(clusterName=name, nodegroupName=group["name"], nodeRole=group["nodeRole"],
                             subnets=["subnet-1"])
    return scenario




@contextmanager
def serve_eks_scenario(moto_url: str, fixture: str = "eks-scenario.json", mode: str | None = None
                       ) -> Iterator[dict[str, Any]]:
    """An EKS scenario live: moto for IAM/EKS, the access server for entries; endpoints to pass the importer."""
    scenario = load_eks_scenario(moto_url, fixture, mode)
    server = EksAccessServer(scenario, moto_url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"scenario": scenario, "session": aws_session(),
               "endpoints": {"eks": server.url, "iam": moto_url, "sts": moto_url}}
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture()
def eks_world(moto_url: str) -> Iterator[dict[str, Any]]:
    with serve_eks_scenario(moto_url) as world:
        yield world


class GoogleApiHandler(JsonHandler):
    """Answers the container, cloudresourcemanager and iam REST calls of the GKE importer."""

    server: GoogleApiServer

    def _route(self, method: str) -> None:
        if self.headers.get("Authorization") != "Bearer test":
            self._send(401, {"error": {"code": 401, "message": "missing credentials"}})
            return
        if method == "POST":
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.calls.append(f"{method} {self.path}")
        s = self.server.scenario
        project, location, name = s["project"], s["location"], s["cluster"]["name"]
        accounts = {a["email"]: a for a in s["service_accounts"]}
        path = unquote(urlsplit(self.path).path)
        if method == "GET" and path == f"/v1/projects/{project}/locations/{location}/clusters/{name}":
            self._send(200, s["cluster"])
        elif method == "POST" and path == f"/v1/projects/{project}:getIamPolicy":
            self._send(200, s["project_policy"])
        elif method == "GET" and path == f"/v1/projects/{project}/serviceAccounts":
            # Two pages, to exercise pageToken.
            page = 1 if "pageToken=p2" in self.path else 0
            listed = [{k: v for k, v in a.items() if k != "policy"} for a in s["service_accounts"]]
            body: dict[str, Any] = {"accounts": listed[page:page + 1] if page == 0 else listed[1:]}
            if page == 0 and len(listed) > 1:
                body["nextPageToken"] = "p2"
            self._send(200, body)
        elif method == "POST" and path.endswith(":getIamPolicy") and "/serviceAccounts/" in path:
            email = path.rsplit("/", 1)[-1].removesuffix(":getIamPolicy")
            self._send(200, accounts[email]["policy"]) if email in accounts else self._send(404, {})
        elif method == "GET" and path.removeprefix("/v1/") in s["custom_roles"]:
            self._send(200, s["custom_roles"][path.removeprefix("/v1/")])
        else:
            self._send(404, {"error": {"code": 404, "message": f"no route for {method} {self.path}"}})

    def do_GET(self) -> None:  # noqa: N802
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")


class GoogleApiServer(ThreadingHTTPServer):
    def __init__(self, scenario: dict[str, Any]) -> None:
        super().__init__(("127.0.0.1", 0), GoogleApiHandler)
        self.scenario = scenario
        self.calls: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def serve_google_apis(scenario: dict[str, Any]) -> Iterator[GoogleApiServer]:
    """A GKE scenario live on the loopback Google API server."""
    server = GoogleApiServer(scenario)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture()
def gke_world() -> Iterator[GoogleApiServer]:
    with serve_google_apis(json.loads((FIXTURES / "gke-scenario.json").read_text())) as server:
        yield server
