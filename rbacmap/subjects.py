"""Parse the subject specs users type (`user:NAME`, `group:NAME`, `sa:NS/NAME`, usernames)."""

from __future__ import annotations

from rbacmap.model import (
    GROUP,
    SERVICE_ACCOUNT,
    USER,
    Subject,
    UserInfo,
    parse_service_account_username,
    service_account_username,
)


class SubjectSpecError(ValueError):
    pass


def parse_subject(spec: str) -> Subject:
    """`user:alice`, `group:devs`, `sa:ns/name`, `system:serviceaccount:ns:name` or a bare username."""
    prefix, _, rest = spec.partition(":")
    lowered = prefix.lower()
    if lowered in ("user", "u") and rest:
        return Subject(USER, rest)
    if lowered in ("group", "g") and rest:
        return Subject(GROUP, rest)
    if lowered in ("sa", "serviceaccount") and rest:
        namespace, slash, name = rest.partition("/")
        if not slash or not namespace or not name:
            raise SubjectSpecError(f"service account spec must be sa:NAMESPACE/NAME, got {spec!r}")
        return Subject(SERVICE_ACCOUNT, name, namespace)
    parsed = parse_service_account_username(spec)
    if parsed is not None:
        return Subject(SERVICE_ACCOUNT, parsed[1], parsed[0])
    if not spec:
        raise SubjectSpecError("empty subject spec")
    return Subject(USER, spec)


def subject_user_info(subject: Subject, extra_groups: tuple[str, ...] = ()) -> UserInfo:
    """The identity a User or ServiceAccount subject authenticates as, implicit groups included."""
    if subject.kind == SERVICE_ACCOUNT:
        return UserInfo.authenticated(service_account_username(subject.namespace, subject.name), extra_groups)
    if subject.kind == USER:
        return UserInfo.authenticated(subject.name, extra_groups)
    raise SubjectSpecError("a Group is not an identity that makes requests; ask about a user in it")


def format_subject(subject: Subject) -> str:
    """The spec form, round-trippable through parse_subject."""
    if subject.kind == SERVICE_ACCOUNT:
        return f"sa:{subject.namespace}/{subject.name}"
    return f"{subject.kind.lower()}:{subject.name}"
