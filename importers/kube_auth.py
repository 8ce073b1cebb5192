"""Find the clusters to import and their credentials, the way kubectl does.

`--kubeconfig F`, else `KUBECONFIG` (several files joined with `:`, merged by the client's
loader, first file wins for each name), else `~/.kube/config`; else, when running in a pod
(`KUBERNETES_SERVICE_HOST` set), the pod's service account. Tokens, client certificates,
exec plugins and auth providers are whatever the `kubernetes` client supports.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import SERVICE_CERT_FILENAME, SERVICE_TOKEN_FILENAME, InClusterConfigLoader
from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

from rbacmap.importers.exec_timeout import bounded_exec

DEFAULT_KUBECONFIG = "~/.kube/config"
IN_CLUSTER = "in-cluster"
# Seconds an exec credential plugin may take (each run: at the start, and when its token expires).
# Generous: an interactive plugin may wait for a login in the browser.
DEFAULT_EXEC_TIMEOUT = 120.0


class KubeconfigError(Exception):
    """No usable credentials: the message says what was looked for."""


@dataclass(frozen=True)
class ClusterTarget:
    """One cluster to import: the kubeconfig context (None in a pod), its cluster name, a client."""

    context: str | None
    cluster: str
    api_client: ApiClient


def kubeconfig_path(explicit: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The kubeconfig path list kubectl would use, or None when there is none."""
    if explicit:
        return explicit
    candidates = environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    existing = [p for p in candidates.split(os.pathsep) if p and os.path.exists(os.path.expanduser(p))]
    return os.pathsep.join(existing) or None


def resolve_targets(
    kubeconfig: str | None = None,
    context: str | None = None,
    all_contexts: bool = False,
    environ: Mapping[str, str] = os.environ,
    on_unusable: Callable[[str, KubeconfigError], None] | None = None,
    exec_timeout: float | None = DEFAULT_EXEC_TIMEOUT,
) -> list[ClusterTarget]:
    """The clusters to import: the current (or named) context, or every context.

    With `on_unusable`, a context of `all_contexts` whose credentials or cluster entry cannot be
    loaded (a client certificate file gone, a context naming no cluster) is handed to it and left
    out, so the other clusters are still imported; without it, that raises KubeconfigError.

    An exec credential plugin is stopped after `exec_timeout` seconds (None: waits for it for ever,
    as the client does); the client then sends no credentials, as for any failed plugin."""
    path = kubeconfig_path(kubeconfig, environ)
    if path is None:
        if environ.get("KUBERNETES_SERVICE_HOST") and not context and not all_contexts:
            return [_in_cluster_target(environ)]
        looked = environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
        raise KubeconfigError(f"no kubeconfig found (looked at {looked}) and not running in a pod")
    try:
        contexts, current = kube_config.list_kube_config_contexts(config_file=path)
    except UNREADABLE_KUBECONFIG as exc:
        raise _unreadable(path, exc) from exc
    if all_contexts:
        chosen = list(contexts)
    elif context:
        chosen = [c for c in contexts if c.get("name") == context]
        if not chosen:
            known = ", ".join(str(c.get("name")) for c in contexts) or "none"
            raise KubeconfigError(f"kubeconfig {path} has no context {context!r} (known: {known})")
    else:
        if not current:
            raise KubeconfigError(f"kubeconfig {path} has no current-context: name one with --context")
        chosen = [current]
    targets = []
    for entry in chosen:
        try:
            targets.append(_context_target(path, entry, exec_timeout))
        except KubeconfigError as exc:
            if on_unusable is None or not all_contexts:
                raise
            on_unusable(str(entry.get("name")), exc)
    return targets


def _context_target(path: str, entry: Mapping[str, Any], exec_timeout: float | None) -> ClusterTarget:
    name = str(entry.get("name"))
    cluster = str((entry.get("context") or {}).get("cluster") or name)
    configuration = _configuration()
    try:
        # What kube_config.new_client_from_config does, with the exec plugin bounded in between. No
        # config_persister (persist_config=False): neither a refreshed token nor the bounded exec entry
        # is ever written back to the user's kubeconfig.
        merged = KubeConfigMerger(path).config
        if merged is None:
            raise ConfigException("Invalid kube-config file. No configuration found.")
        if exec_timeout is not None:
            _bound_exec_plugin(merged, name, exec_timeout)
        # config_base_path=None, as the client's own loader passes: relative paths in an entry (certificate
        # files, the exec plugin's working directory) are then read from the directory of the kubeconfig file
        # that entry came from, as kubectl does. The loader's default, "", reads them from rbacmap's own cwd.
        KubeConfigLoader(config_dict=merged, active_context=name, config_base_path=None).load_and_set(configuration)
    except UNREADABLE_KUBECONFIG as exc:
        raise _unreadable(path, exc, context=name) from exc
    return ClusterTarget(name, cluster, ApiClient(configuration=configuration))


def _bound_exec_plugin(merged: Any, context: str, timeout: float) -> None:
    """Rewrite the context's user's exec plugin entry (in the merged config only) to stop after `timeout` s."""
    found = merged["contexts"].get_with_name(context, safe=True)
    user_name = (found.value.get("context") or {}).get("user") if found is not None else None
    node = merged["users"].get_with_name(user_name, safe=True) if user_name and "users" in merged else None
    user = (node.value.get("user") or {}) if node is not None else {}
    plugin = user.get("exec")
    if node is not None and isinstance(plugin, dict) and "command" in plugin:
        node.value["user"] = {**user, "exec": bounded_exec(plugin, timeout)}


# What the client's loader raises on a file it cannot use. Besides its ConfigException it
# indexes the parsed YAML without checking its shape, so a list or a scalar where a mapping
# belongs gives TypeError/AttributeError; bytes that are not UTF-8 give UnicodeDecodeError.
UNREADABLE_KUBECONFIG = (ConfigException, OSError, yaml.YAMLError, ValueError, TypeError, AttributeError)


def _unreadable(path: str, exc: Exception, context: str | None = None) -> KubeconfigError:
    """The error for a kubeconfig the client could not load, naming the file (and line for bad YAML)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        # The mark names the one file of a ':'-separated list that is broken; its line is 0-based.
        mark = exc.problem_mark
        problem = ", ".join(part for part in (exc.context, exc.problem) if part)
        return KubeconfigError(f"kubeconfig {mark.name} line {mark.line + 1}: not valid YAML: {problem}")
    subject = f"context {context!r} of kubeconfig {path}" if context else f"kubeconfig {path}"
    if isinstance(exc, yaml.YAMLError):
        return KubeconfigError(f"{subject}: not valid YAML: {exc}")
    if isinstance(exc, UnicodeDecodeError):
        return KubeconfigError(f"{subject}: not UTF-8 text ({exc})")
    if isinstance(exc, TypeError | AttributeError):
        return KubeconfigError(f"{subject}: not a kubeconfig, a field holds the wrong type ({exc})")
    return KubeconfigError(f"cannot read {subject}: {exc}")


def _in_cluster_target(environ: Mapping[str, str]) -> ClusterTarget:
    configuration = _configuration()
    loader = InClusterConfigLoader(SERVICE_TOKEN_FILENAME, SERVICE_CERT_FILENAME, environ=environ)
    try:
        loader.load_and_set(configuration)
    except ConfigException as exc:
        raise KubeconfigError(f"in-cluster config: {exc}") from exc
    return ClusterTarget(None, IN_CLUSTER, ApiClient(configuration))


def _configuration() -> Configuration:
    configuration = Configuration()
    # Our fetcher retries with backoff itself; urllib3's own silent retries would multiply it.
    configuration.retries = False
    return configuration
