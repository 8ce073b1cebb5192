"""The fields of a Kubernetes audit event that usage needs, decoded by schema (msgspec) and nothing else.

A typical audit line is 600-900 bytes, of which usage needs the verb, the user, the object
reference, the decision and a timestamp. Decoding into these Structs skips everything else
(sourceIPs, userAgent, user.extra, requestObject, ...) without building Python objects for
it, which is what makes `import audit` faster than merely parsing each line into dicts.

The types are strict on purpose: a value of another type than the usual one (a null
username, a numeric verb, a float status code, an `objectRef` that is not an object) fails
validation, and the caller then hands the line to the reference normalizer
(`audit_formats.from_k8s_event`), which decides exactly as before. Fields whose mere presence
needs the reference path (`impersonatedUser`, a CloudWatch `message`) are captured raw.

One difference from a full parse remains, deliberately: content in fields that are skipped is
scanned but not converted, so a line whose only flaw is there (a number like 1e400 that orjson
refuses as infinity, invalid UTF-8 inside a userAgent) still counts instead of being reported.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

DECISION_FIELD = "authorization.k8s.io/decision"


class AuditUser(msgspec.Struct, gc=False):
    username: str = ""
    groups: tuple[str, ...] | None = None


class AuditObjectRef(msgspec.Struct, gc=False):
    resource: str = ""
    apiGroup: str = ""  # noqa: N815 - the audit API's field names
    subresource: str = ""
    namespace: str = ""
    name: str = ""


class AuditResponseStatus(msgspec.Struct, gc=False):
    code: int | None = None


class AuditAnnotations(msgspec.Struct, gc=False):
    decision: str | None = msgspec.field(default=None, name=DECISION_FIELD)


class AuditEventFields(msgspec.Struct, gc=False):
    """What `from_k8s_event` reads of an event; `UNSET` marks a field the line does not have."""

    verb: str
    user: AuditUser
    auditID: str = ""  # noqa: N815
    stage: str = ""
    requestURI: str | msgspec.UnsetType = msgspec.UNSET  # noqa: N815
    objectRef: AuditObjectRef | None = None  # noqa: N815
    responseStatus: AuditResponseStatus | None = None  # noqa: N815
    annotations: AuditAnnotations | None = None
    stageTimestamp: str = ""  # noqa: N815
    requestReceivedTimestamp: str = ""  # noqa: N815
    timestamp: str = ""
    impersonatedUser: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET  # noqa: N815
    message: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET  # an EKS CloudWatch record's event


SCHEMA_ERRORS: tuple[type[Exception], ...] = (msgspec.DecodeError, msgspec.ValidationError)
UNSET = msgspec.UNSET
decode_event_fields: Callable[[bytes], AuditEventFields] = msgspec.json.Decoder(AuditEventFields).decode
