"""Deterministic synthetic Kubernetes cluster, written as kubectl-style `List` JSON.

Usage:

    python bench/generate_cluster.py --namespaces 1000 --out bench/out/cluster-1000 [--seed 7]
    python bench/generate_cluster.py --namespaces 50 --out /tmp/c50 --single-file

Without `--single-file` it writes `cluster.json` (cluster-scoped objects, the upstream bootstrap
RBAC policy, kube-system) plus one `ns-NNNN.json` per namespace, so an importer can stream file by
file; with it, one `cluster.json` holding every object. 1000 namespaces is about 60k objects and
40 MB. The same (namespaces, seed) always gives byte-identical output.

Other benchmarks import it through a path insert, without installing anything:

    sys.path.insert(0, str(Path(__file__).parent))
    from generate_cluster import cached_cluster, generate
    for obj in generate(namespaces=10, seed=7): ...
    paths = cached_cluster(1000)   # written once under bench/out/ (gitignored), then reused

What a namespace holds: a Namespace with a mix of Pod Security labels, 5 ServiceAccounts (some
with IRSA / Workload Identity annotations), Deployments -> ReplicaSets -> Pods, a StatefulSet,
Jobs and a CronJob, ~40 Pods spread over 50 nodes (a few privileged / hostPath / hostNetwork),
Roles, RoleBindings to admin/edit/view and to the Roles, group bindings, and some legacy
service-account token Secrets (metadata only: no `data`). Cluster-scoped: Nodes, the upstream
bootstrap ClusterRoles and bindings (bench/data/k8s-bootstrap-rbac), aggregated ClusterRoles,
ClusterRoleBindings (including a few dangerous identities, so an escalation solver has real
work), webhook configurations, CSRs and the kube-system/aws-auth ConfigMap.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

BOOTSTRAP_DIR = Path(__file__).resolve().parent / "data" / "k8s-bootstrap-rbac"
RBAC_V1 = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"
NODE_COUNT = 50
PODS_PER_NAMESPACE = 38
SERVICE_ACCOUNTS = ("default", "app", "worker", "ci", "monitoring")
PSS_LEVELS = ("privileged", "baseline", "restricted")
TIMESTAMP = "2024-05-01T12:00:00Z"
# Compact JSON keeps 1000 namespaces near the issue's 40 MB; whitespace would only make parsing look slower.
SEPARATORS = (",", ":")

Obj = dict[str, Any]


def namespace_name(index: int) -> str:
    return f"team-{index:04d}"


def node_name(index: int) -> str:
    return f"ip-10-0-{index // 256}-{index % 256}.ec2.internal"


def _uid(rng: random.Random) -> str:
    return "%08x-%04x-%04x-%04x-%012x" % (  # noqa: UP031 - fixed-width hex fields read best this way
        rng.getrandbits(32),
        rng.getrandbits(16),
        rng.getrandbits(16),
        rng.getrandbits(16),
        rng.getrandbits(48),
    )


def _meta(name: str, namespace: str | None = None, **extra: Any) -> Obj:
    meta: Obj = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["creationTimestamp"] = TIMESTAMP
    meta.update(extra)
    return meta


# --- namespaced objects --------------------------------------------------------------------


def _namespace(ns: str, rng: random.Random) -> Obj:
    labels = {"kubernetes.io/metadata.name": ns, "team": ns.split("-")[1]}
    mode = rng.randrange(4)
    if mode > 0:  # a quarter of namespaces carry no Pod Security labels at all
        labels["pod-security.kubernetes.io/enforce"] = PSS_LEVELS[mode - 1]
        labels["pod-security.kubernetes.io/audit"] = "restricted"
        labels["pod-security.kubernetes.io/warn"] = "restricted"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns, labels=labels, uid=_uid(rng))}


def _service_account(ns: str, name: str, index: int, rng: random.Random) -> Obj:
    annotations: dict[str, str] = {}
    if name == "app" and index % 3 == 0:
        annotations["eks.amazonaws.com/role-arn"] = f"arn:aws:iam::123456789012:role/{ns}-app"
    if name == "worker" and index % 5 == 0:
        annotations["iam.gke.io/gcp-service-account"] = f"{ns}-worker@demo-project.iam.gserviceaccount.com"
    sa: Obj = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(name, ns, uid=_uid(rng), annotations=annotations) if annotations else _meta(name, ns),
    }
    if name == "ci" and index % 4 == 0:
        sa["secrets"] = [{"name": f"{name}-token-{index:05x}"}]
    return sa


def _token_secret(ns: str, sa: str, index: int, rng: random.Random) -> Obj:
    # Metadata only: the generator never writes `data`, like a metadata-only dump would.
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": _meta(
            f"{sa}-token-{index:05x}",
            ns,
            uid=_uid(rng),
            annotations={"kubernetes.io/service-account.name": sa, "kubernetes.io/service-account.uid": _uid(rng)},
        ),
    }


def _container(name: str, image: str, rng: random.Random, *, privileged: bool, caps: list[str]) -> Obj:
    context: Obj = {"allowPrivilegeEscalation": privileged}
    if privileged:
        context["privileged"] = True
    if caps:
        context["capabilities"] = {"add": caps}
    else:
        context["capabilities"] = {"drop": ["ALL"]}
        context["runAsNonRoot"] = True
    return {
        "name": name,
        "image": image,
        "resources": {"requests": {"cpu": f"{rng.choice((100, 250, 500))}m"}},
        "securityContext": context,
        "volumeMounts": [{"mountPath": "/etc/config", "name": "config"}],
    }


def _pod_spec(app: str, sa: str, rng: random.Random, *, dangerous: bool) -> Obj:
    privileged = dangerous and rng.random() < 0.5
    caps = ["NET_ADMIN", "SYS_ADMIN"] if dangerous and not privileged else []
    volumes: list[Obj] = [{"name": "config", "configMap": {"name": f"{app}-config"}}]
    spec: Obj = {
        "serviceAccountName": sa,
        "containers": [
            _container(
                app, f"registry.example.com/{app}:1.{rng.randrange(30)}.0", rng, privileged=privileged, caps=caps
            )
        ],
        "volumes": volumes,
    }
    if dangerous:
        volumes.append({"name": "host-root", "hostPath": {"path": rng.choice(("/", "/var/run/docker.sock", "/etc"))}})
        if rng.random() < 0.5:
            spec["hostNetwork"] = True
        if rng.random() < 0.3:
            spec["hostPID"] = True
    if sa == "monitoring":
        spec["automountServiceAccountToken"] = False
    return spec


def _owner(kind: str, name: str, rng: random.Random) -> list[Obj]:
    api = "batch/v1" if kind == "Job" else "apps/v1"
    return [
        {
            "apiVersion": api,
            "kind": kind,
            "name": name,
            "uid": _uid(rng),
            "controller": True,
        }
    ]


def _pod(ns: str, name: str, app: str, sa: str, owner: list[Obj], rng: random.Random, *, dangerous: bool) -> Obj:
    spec = _pod_spec(app, sa, rng, dangerous=dangerous)
    spec["nodeName"] = node_name(rng.randrange(NODE_COUNT))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(name, ns, uid=_uid(rng), labels={"app": app}, ownerReferences=owner),
        "spec": spec,
        "status": {
            "phase": "Running",
            "podIP": f"10.1.{rng.randrange(256)}.{rng.randrange(256)}",
        },
    }


def _template(app: str, sa: str, rng: random.Random, *, dangerous: bool) -> Obj:
    return {"metadata": {"labels": {"app": app}}, "spec": _pod_spec(app, sa, rng, dangerous=dangerous)}


def _workloads(ns: str, index: int, rng: random.Random) -> Iterator[Obj]:
    """Deployments with their ReplicaSets and Pods, a StatefulSet, Jobs and a CronJob: 38 pods."""
    dangerous_ns = index % 10 == 0  # one namespace in ten runs something privileged
    pods = 0
    for d in range(3):
        app = f"svc{d}"
        sa = SERVICE_ACCOUNTS[1 + d % 2]
        dangerous = dangerous_ns and d == 0
        rs_name = f"{app}-{rng.getrandbits(32):08x}"[:16]
        replicas = 11
        yield {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta(app, ns, uid=_uid(rng), labels={"app": app}),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": app}},
                "template": _template(app, sa, rng, dangerous=dangerous),
            },
        }
        yield {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": _meta(
                rs_name, ns, uid=_uid(rng), labels={"app": app}, ownerReferences=_owner("Deployment", app, rng)
            ),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": app}},
                "template": _template(app, sa, rng, dangerous=dangerous),
            },
        }
        for r in range(replicas):
            pods += 1
            yield _pod(ns, f"{rs_name}-{r:05d}", app, sa, _owner("ReplicaSet", rs_name, rng), rng, dangerous=dangerous)
    yield {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _meta("db", ns, uid=_uid(rng), labels={"app": "db"}),
        "spec": {
            "replicas": 3,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": _template("db", "default", rng, dangerous=False),
        },
    }
    for r in range(3):
        pods += 1
        yield _pod(ns, f"db-{r}", "db", "default", _owner("StatefulSet", "db", rng), rng, dangerous=False)
    job_template = _template("migrate", "worker", rng, dangerous=False)
    job_template["spec"]["restartPolicy"] = "Never"
    yield {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _meta("nightly", ns, uid=_uid(rng)),
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": job_template}}},
    }
    while pods < PODS_PER_NAMESPACE:
        job = f"nightly-{2840000 + pods}"
        yield {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": _meta(job, ns, uid=_uid(rng), ownerReferences=_owner("CronJob", "nightly", rng)),
            "spec": {"backoffLimit": 2, "template": job_template},
        }
        pods += 1
        yield _pod(ns, f"{job}-x{pods:03d}", "migrate", "worker", _owner("Job", job, rng), rng, dangerous=False)


def _role(ns: str, name: str, rules: list[Obj]) -> Obj:
    return {"apiVersion": RBAC_V1, "kind": "Role", "metadata": _meta(name, ns), "rules": rules}


def _binding(kind: str, name: str, ns: str | None, role_kind: str, role: str, subjects: list[Obj]) -> Obj:
    return {
        "apiVersion": RBAC_V1,
        "kind": kind,
        "metadata": _meta(name, ns),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": role_kind, "name": role},
        "subjects": subjects,
    }


def _sa_subject(ns: str, name: str) -> Obj:
    return {"kind": "ServiceAccount", "name": name, "namespace": ns}


def _group(name: str) -> Obj:
    return {"apiGroup": RBAC_GROUP, "kind": "Group", "name": name}


def _user(name: str) -> Obj:
    return {"apiGroup": RBAC_GROUP, "kind": "User", "name": name}


def _rbac(ns: str, index: int, rng: random.Random) -> Iterator[Obj]:
    team = ns.split("-")[1]
    yield _role(
        ns,
        "app-config-reader",
        [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["app-tls"], "verbs": ["get"]},
        ],
    )
    yield _role(
        ns,
        "worker-jobs",
        [
            {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["create", "delete", "get", "list"]},
            {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
        ],
    )
    if index % 7 == 0:  # some teams gave their CI far too much
        yield _role(
            ns,
            "ci-deployer",
            [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            ],
        )
        yield _binding("RoleBinding", "ci-deployer", ns, "Role", "ci-deployer", [_sa_subject(ns, "ci")])
    yield _binding("RoleBinding", "team-admins", ns, "ClusterRole", "admin", [_group(f"team-{team}-admins")])
    yield _binding(
        "RoleBinding",
        "team-devs",
        ns,
        "ClusterRole",
        "edit",
        [_group(f"team-{team}-devs"), _user(f"dev{index % 97}@example.com")],
    )
    yield _binding(
        "RoleBinding", "readers", ns, "ClusterRole", "view", [_group("org-readers"), _sa_subject(ns, "monitoring")]
    )
    yield _binding("RoleBinding", "app-config", ns, "Role", "app-config-reader", [_sa_subject(ns, "app")])
    yield _binding("RoleBinding", "worker-jobs", ns, "Role", "worker-jobs", [_sa_subject(ns, "worker")])
    yield _binding("RoleBinding", "ci", ns, "ClusterRole", "edit", [_sa_subject(ns, "ci")])
    if index % 25 == 0:  # a binding to a role nobody created: dangling
        yield _binding("RoleBinding", "legacy-ops", ns, "Role", "ops-legacy", [_user("ops@example.com")])


def namespace_objects(index: int, seed: int) -> list[Obj]:
    """Every object of namespace number `index`; independent of the other namespaces."""
    rng = random.Random(seed * 1_000_003 + index)
    ns = namespace_name(index)
    objects = [_namespace(ns, rng)]
    objects += [_service_account(ns, name, index, rng) for name in SERVICE_ACCOUNTS]
    objects += list(_workloads(ns, index, rng))
    objects += list(_rbac(ns, index, rng))
    if index % 4 == 0:
        objects.append(_token_secret(ns, "ci", index, rng))
    if index % 9 == 0:
        objects.append(_token_secret(ns, "default", index + 1, rng))
    return objects


# --- cluster-scoped objects ----------------------------------------------------------------


@cache
def bootstrap_policy() -> tuple[Obj, ...]:
    """The upstream bootstrap ClusterRoles, bindings and kube-system Roles, in file order."""
    objects: list[Obj] = []
    for path in sorted(BOOTSTRAP_DIR.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        objects += document.get("items") or []
    return tuple(objects)


def _node(index: int, rng: random.Random) -> Obj:
    name = node_name(index)
    zone = "abc"[index % 3]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": _meta(
            name,
            labels={
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "node.kubernetes.io/instance-type": "m5.xlarge",
                "topology.kubernetes.io/zone": f"eu-west-1{zone}",
            },
            uid=_uid(rng),
        ),
        "spec": {"providerID": f"aws:///eu-west-1{zone}/i-{rng.getrandbits(64):016x}"},
        "status": {
            "nodeInfo": {
                "kubeletVersion": "v1.30.2",
                "containerRuntimeVersion": "containerd://1.7.11",
                "osImage": "Amazon Linux 2",
            }
        },
    }


def _cluster_role(
    name: str, rules: list[Obj] | None, labels: dict[str, str] | None = None, selectors: list[Obj] | None = None
) -> Obj:
    role: Obj = {"apiVersion": RBAC_V1, "kind": "ClusterRole", "metadata": _meta(name, labels=labels or {})}
    if selectors is not None:
        role["aggregationRule"] = {"clusterRoleSelectors": selectors}
    role["rules"] = rules
    return role


def _cluster_rbac() -> Iterator[Obj]:
    """Aggregated ClusterRoles, CRD roles feeding admin/edit/view, and a few dangerous identities."""
    for crd in ("widgets.example.com", "certificates.cert-manager.io", "backups.velero.io"):
        group = crd.split(".", 1)[1]
        plural = crd.split(".")[0]
        yield _cluster_role(
            f"{plural}-edit",
            [
                {"apiGroups": [group], "resources": [plural], "verbs": ["create", "delete", "patch", "update"]},
            ],
            {
                "rbac.authorization.k8s.io/aggregate-to-edit": "true",
                "rbac.authorization.k8s.io/aggregate-to-admin": "true",
            },
        )
        yield _cluster_role(
            f"{plural}-view",
            [
                {"apiGroups": [group], "resources": [plural], "verbs": ["get", "list", "watch"]},
            ],
            {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
        )
    yield _cluster_role(
        "platform-operator",
        None,
        selectors=[
            {"matchLabels": {"example.com/aggregate-to-platform": "true"}},
            {"matchExpressions": [{"key": "example.com/tier", "operator": "In", "values": ["ops", "sre"]}]},
        ],
    )
    yield _cluster_role(
        "platform-nodes",
        [
            {"apiGroups": [""], "resources": ["nodes", "nodes/proxy"], "verbs": ["get", "list", "create"]},
        ],
        {"example.com/aggregate-to-platform": "true"},
    )
    yield _cluster_role(
        "platform-secrets",
        [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]},
        ],
        {"example.com/tier": "sre"},
    )
    yield _cluster_role(
        "impersonator",
        [
            {"apiGroups": [""], "resources": ["users", "groups", "serviceaccounts"], "verbs": ["impersonate"]},
        ],
    )
    yield _cluster_role(
        "rbac-manager",
        [
            {
                "apiGroups": [RBAC_GROUP],
                "resources": ["clusterroles", "clusterrolebindings", "roles", "rolebindings"],
                "verbs": ["create", "update", "bind", "escalate"],
            },
        ],
    )
    yield _cluster_role(
        "token-minter",
        [
            {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
        ],
    )
    yield _cluster_role(
        "pod-creator",
        [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "list"]},
            {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
        ],
    )
    yield _cluster_role(
        "csr-approver",
        [
            {
                "apiGroups": ["certificates.k8s.io"],
                "resources": ["certificatesigningrequests/approval"],
                "verbs": ["update"],
            },
            {
                "apiGroups": ["certificates.k8s.io"],
                "resources": ["signers"],
                "resourceNames": ["kubernetes.io/*"],
                "verbs": ["approve"],
            },
        ],
    )
    yield _cluster_role("metrics-reader", [{"nonResourceURLs": ["/metrics", "/debug/*"], "verbs": ["get"]}])
    yield _binding(
        "ClusterRoleBinding",
        "platform-operators",
        None,
        "ClusterRole",
        "platform-operator",
        [_group("platform-team"), _sa_subject("team-0003", "ci")],
    )
    yield _binding(
        "ClusterRoleBinding",
        "argo-impersonation",
        None,
        "ClusterRole",
        "impersonator",
        [_sa_subject("team-0001", "worker")],
    )
    yield _binding(
        "ClusterRoleBinding",
        "rbac-managers",
        None,
        "ClusterRole",
        "rbac-manager",
        [_user("alice@example.com"), _sa_subject("team-0002", "ci")],
    )
    yield _binding(
        "ClusterRoleBinding", "token-minters", None, "ClusterRole", "token-minter", [_sa_subject("team-0005", "app")]
    )
    yield _binding(
        "ClusterRoleBinding",
        "ci-pods",
        None,
        "ClusterRole",
        "pod-creator",
        [_sa_subject("team-0004", "ci"), _group("ci-runners")],
    )
    yield _binding(
        "ClusterRoleBinding", "csr-approvers", None, "ClusterRole", "csr-approver", [_user("pki-bot@example.com")]
    )
    yield _binding(
        "ClusterRoleBinding",
        "breakglass",
        None,
        "ClusterRole",
        "cluster-admin",
        [_user("breakglass@example.com"), _group("oncall-admins")],
    )
    yield _binding(
        "ClusterRoleBinding",
        "metrics",
        None,
        "ClusterRole",
        "metrics-reader",
        [_sa_subject("team-0000", "monitoring"), _group("system:authenticated")],
    )
    yield _binding("ClusterRoleBinding", "org-readers", None, "ClusterRole", "view", [_group("org-readers")])
    yield _binding(
        "ClusterRoleBinding",
        "legacy-dangling",
        None,
        "ClusterRole",
        "removed-operator",
        [_sa_subject("kube-system", "old-operator")],
    )


def _webhooks() -> Iterator[Obj]:
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        prefix = "policy" if kind.startswith("Validating") else "inject"
        yield {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": kind,
            "metadata": _meta(f"{prefix}-webhook"),
            "webhooks": [
                {
                    "name": f"{prefix}.example.com",
                    "admissionReviewVersions": ["v1"],
                    "sideEffects": "None",
                    "failurePolicy": "Ignore" if prefix == "inject" else "Fail",
                    "clientConfig": {"service": {"name": f"{prefix}-webhook", "namespace": "kube-system", "port": 443}},
                    "rules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["pods"],
                            "scope": "Namespaced",
                        }
                    ],
                    "namespaceSelector": {
                        "matchExpressions": [
                            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}
                        ]
                    },
                }
            ],
        }


def _csrs(rng: random.Random) -> Iterator[Obj]:
    for i in range(5):
        approved = i % 2 == 0
        csr: Obj = {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": _meta(f"csr-{rng.getrandbits(24):06x}"),
            "spec": {
                "request": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K",
                "signerName": "kubernetes.io/kube-apiserver-client" if i == 4 else "kubernetes.io/kubelet-serving",
                "username": "alice@example.com" if i == 4 else f"system:node:{node_name(i)}",
                "groups": ["system:authenticated"] if i == 4 else ["system:nodes", "system:authenticated"],
                "usages": ["client auth"] if i == 4 else ["digital signature", "server auth"],
                "expirationSeconds": 86400,
            },
            "status": {},
        }
        if approved:
            csr["status"] = {
                "conditions": [{"type": "Approved", "status": "True", "reason": "AutoApproved"}],
                "certificate": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==",
            }
        yield csr


def _aws_auth() -> Obj:
    map_roles = (
        "- rolearn: arn:aws:iam::123456789012:role/eks-nodes\n"
        "  username: system:node:{{EC2PrivateDNSName}}\n"
        "  groups:\n  - system:bootstrappers\n  - system:nodes\n"
        "- rolearn: arn:aws:iam::123456789012:role/platform-admins\n"
        "  username: platform-admin:{{SessionName}}\n"
        "  groups:\n  - system:masters\n"
        "- rolearn: arn:aws:iam::123456789012:role/ci-runner\n"
        "  username: ci\n  groups:\n  - ci-runners\n"
    )
    map_users = "- userarn: arn:aws:iam::123456789012:user/alice\n  username: alice@example.com\n  groups: []\n"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta("aws-auth", "kube-system"),
        "data": {"mapRoles": map_roles, "mapUsers": map_users},
    }


def cluster_objects(seed: int) -> list[Obj]:
    """Cluster-scoped objects plus kube-system: nodes, bootstrap policy, extra RBAC, webhooks, CSRs."""
    rng = random.Random(seed * 1_000_003 - 1)
    objects: list[Obj] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns, labels={"kubernetes.io/metadata.name": ns})}
        for ns in ("default", "kube-system", "kube-public")
    ]
    objects += [_node(i, rng) for i in range(NODE_COUNT)]
    objects += [json.loads(json.dumps(obj)) for obj in bootstrap_policy()]  # fresh copies per call
    objects += list(_cluster_rbac())
    objects += [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, "kube-system")}
        for name in ("default", "aws-node", "coredns", "old-operator")
    ]
    for i in range(NODE_COUNT):  # one privileged DaemonSet pod per node
        objects.append(
            _pod(
                "kube-system",
                f"aws-node-{rng.getrandbits(20):05x}",
                "aws-node",
                "aws-node",
                _owner("DaemonSet", "aws-node", rng),
                rng,
                dangerous=True,
            )
        )
        objects[-1]["spec"]["nodeName"] = node_name(i)
    objects += list(_webhooks())
    objects += list(_csrs(rng))
    objects.append(_aws_auth())
    return objects


# --- output --------------------------------------------------------------------------------


def generate(namespaces: int, seed: int = 7) -> Iterator[Obj]:
    """Every object of the synthetic cluster, cluster-scoped first, then namespace by namespace."""
    yield from cluster_objects(seed)
    for index in range(namespaces):
        yield from namespace_objects(index, seed)


def _as_list(items: list[Obj]) -> Obj:
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


def generate_files(namespaces: int, out: Path, seed: int = 7, *, single_file: bool = False) -> list[Path]:
    """Write the cluster under `out` (created if needed) and return the files written, in order."""
    out.mkdir(parents=True, exist_ok=True)
    if single_file:
        path = out / "cluster.json"
        path.write_text(json.dumps(_as_list(list(generate(namespaces, seed))), separators=SEPARATORS))
        return [path]
    paths = [out / "cluster.json"]
    paths[0].write_text(json.dumps(_as_list(cluster_objects(seed)), separators=SEPARATORS))
    for index in range(namespaces):
        path = out / f"ns-{index:04d}.json"
        path.write_text(json.dumps(_as_list(namespace_objects(index, seed)), separators=SEPARATORS))
        paths.append(path)
    return paths


def cached_cluster(namespaces: int, seed: int = 7, *, single_file: bool = False) -> list[Path]:
    """The files of a generated cluster under bench/out/ (gitignored), generating them once."""
    layout = "single" if single_file else "split"
    out = Path(__file__).resolve().parent / "out" / f"cluster-{namespaces}-seed{seed}-{layout}"
    marker = out / ".complete"
    if marker.exists():
        return sorted(out.glob("*.json"))
    paths = generate_files(namespaces, out, seed, single_file=single_file)
    marker.write_text("generated by bench/generate_cluster.py\n")
    return sorted(paths)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespaces", type=int, required=True, help="how many team namespaces")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--single-file", action="store_true", help="write one big List instead of a file per namespace")
    args = parser.parse_args(argv)
    paths = generate_files(args.namespaces, args.out, args.seed, single_file=args.single_file)
    size = sum(p.stat().st_size for p in paths)
    count = sum(1 for _ in generate(args.namespaces, args.seed))
    print(f"wrote {count} objects in {len(paths)} file(s), {size / 1e6:.1f} MB, under {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
