"""Audit records of each log format -> one `Observation` of the request's authorization attributes.

Pure functions, no I/O. Three sources write the same Kubernetes request differently:

- Kubernetes audit events (audit.k8s.io/v1 and v1beta1), also the `message` of EKS
  CloudWatch records;
- GKE Cloud Logging entries, whose `protoPayload` is a Google AuditLog: the verb is the
  last part of `methodName` (`io.k8s.core.v1.pods.exec.create`), the object is
  `resourceName` (`core/v1/namespaces/NS/pods/NAME/exec`), the decision is in
  `authorizationInfo[].granted` (or the `authorization.k8s.io/decision` label).
"""

from __future__ import annotations

import re
from typing import Any

from rbacmap.model import (
    ALL_SERVICE_ACCOUNTS,
    AUTHENTICATED,
    SERVICE_ACCOUNT_GROUP_PREFIX,
    SERVICE_ACCOUNT_USER_PREFIX,
    UNAUTHENTICATED,
    parse_service_account_username,
)
from rbacmap.usage import GROUPS_NOT_LOGGED, Observation, UsageKey, utc_text

DECISION_ANNOTATION = "authorization.k8s.io/decision"
FINAL_STAGES = frozenset({"ResponseComplete", "Panic"})

class BadRecord(ValueError):
    """A record that is valid JSON but not a usable audit event."""


def _decision_from(annotation: object, code: object) -> str:
    if annotation == "allow":
        return "allow"
    if annotation == "forbid":
        return "deny"
    if code is None:
        return "unknown"
    # 401: never authenticated, so never authorized; 403: the authorizer (or admission) said no.
    return "deny" if code in (401, 403) else "allow"


def _check_key(key: UsageKey) -> None:
    """A usable request names who acted and the verb, and every part of it is text."""
    if not key[0] or not isinstance(key[0], str):
        raise BadRecord("not a usable audit event: no user.username")
    if not key[1] or not isinstance(key[1], str):
        raise BadRecord("not a usable audit event: no verb")
    for part in key[2:]:
        if not isinstance(part, str):
            raise BadRecord(f"not a usable audit event: {part!r} where text belongs")


def from_k8s_event(event: Any) -> Observation:
    """A Kubernetes audit Event (v1 or v1beta1) as an Observation; BadRecord when unusable."""
    try:
        verb = event["verb"]
        user = event["user"]
        impersonated = event.get("impersonatedUser")
        checks: tuple[UsageKey, ...] = ()
        impersonator_groups: tuple[str, ...] = ()
        if impersonated:
            acting = impersonated["username"]
            groups = impersonated.get("groups") or ()
            impersonator = user.get("username") or ""
            if impersonator:
                checks = impersonation_checks(impersonator, impersonated)
                impersonator_groups = tuple(user.get("groups") or ())
        else:
            acting = user.get("username") or ""
            groups = user.get("groups") or ()
            impersonator = ""
        ref = event.get("objectRef")
        if ref and ref.get("resource"):
            key: UsageKey = (
                acting,
                verb,
                ref.get("apiGroup") or "",
                ref["resource"],
                ref.get("subresource") or "",
                ref.get("namespace") or "",
                ref.get("name") or "",
                "",
                _decision_from((event.get("annotations") or {}).get(DECISION_ANNOTATION),
                               (event.get("responseStatus") or {}).get("code")),
            )
        else:
            key = (
                acting, verb, "", "", "", "", "", event["requestURI"].partition("?")[0],
                _decision_from((event.get("annotations") or {}).get(DECISION_ANNOTATION),
                               (event.get("responseStatus") or {}).get("code")),
            )
        _check_key(key)
        stage = event.get("stage") or ""
        timestamp = (
            event.get("stageTimestamp") or event.get("requestReceivedTimestamp") or event.get("timestamp") or ""
        )
        return Observation(
            str(event.get("auditID") or ""), stage in FINAL_STAGES or not stage, key, _utc(timestamp),
            tuple(groups), impersonator, checks, impersonator_groups,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadRecord(f"not a Kubernetes audit event: {_describe(exc)}") from None


AUTHENTICATION_GROUP = "authentication.k8s.io"
ANONYMOUS = "system:anonymous"


def impersonation_checks(impersonator: str, impersonated: dict[str, Any]) -> tuple[UsageKey, ...]:
    """The `impersonate` requests the API server authorized for `impersonator` before acting as `impersonated`.

    An event logs `impersonatedUser` only once the impersonation filter allowed every check, so each is an
    allowed request of the impersonator's own (its role's use; the logged request is the target's). As the
    filter (apiserver endpoints/filters/impersonation.go) asks them: the user (a ServiceAccount username:
    `serviceaccounts` in its namespace, else `users`), each group asked for, the UID and each extra value
    (`authentication.k8s.io` `uids`, `userextras/KEY`). Groups the filter adds itself are no check: the
    ServiceAccount groups when none were asked for, and system:authenticated (system:unauthenticated for
    system:anonymous), which the log cannot tell from one asked for explicitly.
    """
    target = impersonated["username"]
    checks: list[tuple[str, str, str, str, str]] = []  # (apiGroup, resource, subresource, namespace, name)
    account = parse_service_account_username(target) if isinstance(target, str) else None
    added = {UNAUTHENTICATED if target == ANONYMOUS else AUTHENTICATED}
    if account is not None:
        checks.append(("", "serviceaccounts", "", account[0], account[1]))
    else:
        checks.append(("", "users", "", "", target))
    asked = [group for group in impersonated.get("groups") or () if group not in added]
    if account is not None and set(asked) == {ALL_SERVICE_ACCOUNTS, SERVICE_ACCOUNT_GROUP_PREFIX + account[0]}:
        asked = []  # the groups every ServiceAccount gets when no group is asked for
    checks += [("", "groups", "", "", group) for group in asked]
    uid = impersonated.get("uid")
    if uid:
        checks.append((AUTHENTICATION_GROUP, "uids", "", "", uid))
    extra = impersonated.get("extra")
    for extra_key, values in (extra if isinstance(extra, dict) else {}).items():
        checks += [(AUTHENTICATION_GROUP, "userextras", extra_key, "", value)
                   for value in (values if isinstance(values, list) else ())]
    # A part that is not text (a damaged extra) makes no request; the event's own request still counts.
    return tuple((impersonator, "impersonate", *check, "", "allow") for check in dict.fromkeys(checks)
                 if all(isinstance(part, str) for part in check) and check[4])


_VERSION = re.compile(r"^v\d+(?:(?:alpha|beta)\d+)?$")


def parse_gke_method(method: str) -> tuple[str, str, str, str] | None:
    """`io.k8s.core.v1.pods.exec.create` -> (group token, resource, subresource, verb); None if no version."""
    parts = method.split(".")
    for index, part in enumerate(parts):
        if _VERSION.match(part):
            rest = parts[index + 1 :]
            if len(rest) == 2:
                return ".".join(parts[2:index]), rest[0], "", rest[1]
            if len(rest) == 3:
                return ".".join(parts[2:index]), rest[0], rest[1], rest[2]
            return None
    return None


def parse_gke_resource_name(resource_name: str, resource: str) -> tuple[str, str, str]:
    """`core/v1/namespaces/NS/pods/NAME[/sub]` -> (apiGroup, namespace, name); `core` is the "" group.

    A Namespace object is in its own namespace, as the API server's request info has it
    (`/api/v1/namespaces/NS[/status]` is namespace NS, name NS): a RoleBinding in NS may grant
    `get namespaces`, and the authorizer must consult it as the API server did.
    """
    parts = resource_name.split("/")
    group = parts[0] if parts else ""
    group = "" if group == "core" else group
    path = parts[2:]
    namespace = ""
    if len(path) >= 3 and path[0] == "namespaces" and path[2] == resource and resource != "namespaces":
        namespace = path[1]
        path = path[2:]
    name = path[1] if len(path) >= 2 and path[0] == resource else ""
    if resource == "namespaces" and path[:1] == ["namespaces"] and name:
        namespace = name
    return group, namespace, name


def from_gke_entry(entry: Any) -> Observation:
    """A GKE Cloud Logging LogEntry with a Kubernetes AuditLog protoPayload as an Observation."""
    try:
        payload = entry["protoPayload"]
        user = payload["authenticationInfo"]["principalEmail"]
        method = payload["methodName"]
        resource_name = payload.get("resourceName") or ""
        decision = _gke_decision(entry, payload)
        parsed = parse_gke_method(method)
        if parsed is None:
            # Non-resource requests: methodName `io.k8s.get`, resourceName the path without its slash.
            verb = method.rsplit(".", 1)[-1]
            key: UsageKey = (user, verb, "", "", "", "", "", "/" + resource_name.lstrip("/"), decision)
        else:
            _, resource, subresource, verb = parsed
            group, namespace, name = parse_gke_resource_name(resource_name, resource)
            if verb == "create" and resource == "namespaces" and not subresource:
                namespace = ""  # POST /api/v1/namespaces: the name is the new object's, the request is in none
            key = (user, verb, group, resource, subresource, namespace, name, "", decision)
        operation = entry.get("operation") or {}
        audit_id = str(operation.get("id") or entry.get("insertId") or "")  # stored as text: see audit_earlier
        final = bool(operation.get("last", True))
        # The entry names no groups: a ServiceAccount has only those its username implies, anyone else's are unknown.
        groups = () if user.startswith(SERVICE_ACCOUNT_USER_PREFIX) else (GROUPS_NOT_LOGGED,)
        return Observation(audit_id, final, key, _utc(entry.get("timestamp") or ""), groups, "")
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadRecord(f"not a GKE Kubernetes audit entry: {_describe(exc)}") from None


def _gke_decision(entry: dict[str, Any], payload: dict[str, Any]) -> str:
    label = (entry.get("labels") or {}).get(DECISION_ANNOTATION)
    if label in ("allow", "forbid"):
        return "allow" if label == "allow" else "deny"
    infos = payload.get("authorizationInfo") or []
    if infos:
        return "allow" if all(info.get("granted") for info in infos) else "deny"
    code = (payload.get("status") or {}).get("code")
    if code is None:
        return "unknown"
    return "deny" if code == 7 else "allow"  # google.rpc.Code 7 = PERMISSION_DENIED


def _utc(timestamp: object) -> str:
    """The record's timestamp as UTC text ('' stays undated); BadRecord when no timestamp parser reads it."""
    if timestamp == "":
        return ""
    try:
        return utc_text(timestamp)  # type: ignore[arg-type]  # utc_text refuses what is not text
    except ValueError as exc:
        raise BadRecord(f"not a usable audit event: bad timestamp ({exc})") from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return f"unexpected shape ({exc})"


def detect_format(record: Any) -> str | None:
    """'k8s', 'eks' or 'gke' for one parsed record (or whole document); None when unknown."""
    if not isinstance(record, dict):
        return None
    if "protoPayload" in record:
        return "gke"
    if isinstance(record.get("message"), str) or isinstance(record.get("events"), list):
        return "eks"
    if record.get("kind") in ("Event", "EventList") or "auditID" in record:
        return "k8s"
    return None
