"""The API server's PodSecurity admission configuration: the default levels and the exemptions.

Namespace labels are only half of Pod Security: a namespace without an `enforce` label gets the
configuration's `defaults.enforce`, and its `exemptions` let some requests through whatever the
labels say (upstream `pod-security-admission/admission/admission.go`):

- `namespaces`: every pod of these namespaces is admitted;
- `usernames`: every pod these users create or update (ephemeral containers included) is admitted.
  A workload's pods are created by its controller, so it is the controller's username that counts;
- `runtimeClasses`: pods of these RuntimeClasses are admitted, whoever writes them and wherever. Often
  sandboxes (gVisor, Kata), where a privileged container stays in the sandbox, but a hostPath volume is
  still the node's files shared into it (gVisor's gofer, Kata's virtio-fs); a GPU or other runc-based
  handler is no boundary at all. rbacmap counts an exempt RuntimeClass that exists (RuntimeClass
  admission refuses a pod naming one that does not), with a condition for a known sandbox.

The configuration lives in a file the API server reads (`--admission-control-config-file`), never
in the API: `import files` reads it as an `AdmissionConfiguration` (its PodSecurity plugin inline)
or a bare `PodSecurityConfiguration` document. Without one, the upstream defaults apply: `privileged`
and no exemptions (EKS, GKE and AKS run with these).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

LEVELS = ("privileged", "baseline", "restricted")
DEFAULT_LEVEL = "privileged"
ADMISSION_CONFIGURATION = "AdmissionConfiguration"
POD_SECURITY_CONFIGURATION = "PodSecurityConfiguration"
CONFIGURATION_KINDS = (ADMISSION_CONFIGURATION, POD_SECURITY_CONFIGURATION)
PLUGIN_NAME = "PodSecurity"
POD_SECURITY_TABLE = "pod_security_config"

# The controllers that create the pods of each workload kind, as the usernames PodSecurity sees:
# kube-controller-manager with --use-service-account-credentials (kubeadm and most distributions),
# or its own user without it. A Deployment's pods come from its ReplicaSet, a CronJob's from its Job.
CONTROLLER_MANAGER = "system:kube-controller-manager"
POD_CREATING_CONTROLLERS = {
    "Deployment": "replicaset-controller",
    "ReplicaSet": "replicaset-controller",
    "StatefulSet": "statefulset-controller",
    "DaemonSet": "daemon-set-controller",
    "Job": "job-controller",
    "CronJob": "job-controller",
    "ReplicationController": "replication-controller",
}


def blocks_privileged_pods(level: str | None) -> bool:
    """Whether an enforced level rejects a privileged pod (None: not known, the upstream default `privileged`).

    A label that is not a level (`Restricted`, `foo`, empty) is enforced as `restricted` upstream
    (`ParseLevel` fails closed), so it blocks too."""
    return level is not None and level != DEFAULT_LEVEL


def controller_usernames(kind: str) -> tuple[str, ...]:
    """The usernames that may create a workload kind's pods."""
    controller = POD_CREATING_CONTROLLERS[kind]
    return (f"system:serviceaccount:kube-system:{controller}", CONTROLLER_MANAGER)


@dataclass(frozen=True)
class PodSecurityConfig:
    """One cluster's PodSecurity admission configuration (`kind` says which document it came from)."""

    kind: str = POD_SECURITY_CONFIGURATION
    default_enforce: str = DEFAULT_LEVEL
    default_enforce_version: str = "latest"
    exempt_usernames: tuple[str, ...] = ()
    exempt_namespaces: tuple[str, ...] = ()
    exempt_runtime_classes: tuple[str, ...] = ()

    def to_row(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "default_enforce": self.default_enforce,
            "default_enforce_version": self.default_enforce_version,
            "exempt_usernames": list(self.exempt_usernames),
            "exempt_namespaces": list(self.exempt_namespaces),
            "exempt_runtime_classes": list(self.exempt_runtime_classes),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PodSecurityConfig:
        """From a `pod_security_config` row: as stored (lists as JSON text) or as `to_row` made it."""
        return cls(
            str(row["kind"]), str(row["default_enforce"]), str(row["default_enforce_version"]),
            _names_of(row["exempt_usernames"]), _names_of(row["exempt_namespaces"]),
            _names_of(row["exempt_runtime_classes"]),
        )

    def to_document(self) -> dict[str, Any]:
        """As a PodSecurityConfiguration document (`import files` reads it back to the same configuration)."""
        return {
            "apiVersion": "pod-security.admission.config.k8s.io/v1",
            "kind": POD_SECURITY_CONFIGURATION,
            "defaults": {"enforce": self.default_enforce, "enforce-version": self.default_enforce_version},
            "exemptions": {"usernames": list(self.exempt_usernames), "namespaces": list(self.exempt_namespaces),
                           "runtimeClasses": list(self.exempt_runtime_classes)},
        }

    def exempts_user(self, username: str) -> bool:
        return bool(username) and username in self.exempt_usernames

    def exempts_namespace(self, namespace: str) -> bool:
        return bool(namespace) and namespace in self.exempt_namespaces


# CRI handlers that run a pod in its own kernel (gVisor) or VM (Kata, Firecracker): prefixes, lower case.
SANDBOX_HANDLERS = ("runsc", "gvisor", "kata", "firecracker", "aws-firecracker", "fc")


def sandbox_handler(handler: str) -> bool:
    """Whether a RuntimeClass handler is a known sandbox (gVisor, Kata Containers, Firecracker)."""
    lower = handler.lower()
    return any(lower == prefix or lower.startswith(f"{prefix}-") or lower.startswith(f"{prefix}_")
               for prefix in SANDBOX_HANDLERS) or lower.startswith("kata")


def parse_admission_configuration(obj: Mapping[str, Any]) -> PodSecurityConfig | None:
    """The PodSecurity plugin's configuration of an AdmissionConfiguration (None: no such plugin).

    Raises ValueError for a configuration the API server would refuse, or one kept in a separate
    file (`path`), which must be imported itself."""
    plugins = obj.get("plugins") or []
    if not isinstance(plugins, list):
        raise ValueError("plugins must be a list")
    for plugin in plugins:
        if not isinstance(plugin, dict) or plugin.get("name") != PLUGIN_NAME:
            continue
        configuration = plugin.get("configuration")
        if configuration is None:
            where = plugin.get("path")
            raise ValueError(f"the PodSecurity plugin's configuration file {where} cannot be read: import that "
                             "file (a PodSecurityConfiguration) too")
        if not isinstance(configuration, dict):
            raise ValueError("the PodSecurity plugin's configuration must be a mapping")
        return parse_pod_security_configuration(configuration, ADMISSION_CONFIGURATION)
    return None


def inline_plugin_file(obj: Mapping[str, Any], read: Callable[[str], Any]) -> Mapping[str, Any]:
    """An AdmissionConfiguration whose PodSecurity plugin names its configuration's file (`path`), with that
    file's content put inline, as the API server reads it. `read(path)` gives the parsed file (the caller
    resolves a relative path against the AdmissionConfiguration's directory, as the API server does); when it
    raises OSError or ValueError the object comes back as it was, and the normalizer reports the path."""
    plugins = obj.get("plugins")
    if not isinstance(plugins, list):
        return obj
    inlined = []
    changed = False
    for plugin in plugins:
        if (isinstance(plugin, dict) and plugin.get("name") == PLUGIN_NAME and plugin.get("configuration") is None
                and isinstance(plugin.get("path"), str) and plugin["path"]):
            try:
                plugin = {**plugin, "configuration": read(plugin["path"])}
                changed = True
            except (OSError, ValueError):
                pass
        inlined.append(plugin)
    return {**obj, "plugins": inlined} if changed else obj


def parse_pod_security_configuration(obj: Mapping[str, Any], kind: str = POD_SECURITY_CONFIGURATION,
                                     ) -> PodSecurityConfig:
    """A PodSecurityConfiguration, defaulted as upstream (`enforce: privileged`, version `latest`)."""
    defaults = _mapping(obj.get("defaults"), "defaults")
    exemptions = _mapping(obj.get("exemptions"), "exemptions")
    enforce = defaults.get("enforce") or DEFAULT_LEVEL
    if enforce not in LEVELS:
        raise ValueError(f"defaults.enforce {enforce!r} is not a Pod Security level ({', '.join(LEVELS)})")
    return PodSecurityConfig(
        kind, str(enforce), str(defaults.get("enforce-version") or "latest"),
        _names(exemptions, "usernames"), _names(exemptions, "namespaces"), _names(exemptions, "runtimeClasses"),
    )


def _names_of(cell: str | list[str]) -> tuple[str, ...]:
    return tuple(json.loads(cell) if isinstance(cell, str) else cell)


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a mapping")
    return value


def _names(exemptions: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = exemptions.get(key) or []
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValueError(f"exemptions.{key} must be a list of strings")
    return tuple(value)
