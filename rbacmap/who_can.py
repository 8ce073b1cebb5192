"""Shape who-can answers for output: one row per subject and grant, system:masters first."""

from __future__ import annotations

from typing import Any

from rbacmap.authorizer import SubjectGrant
from rbacmap.model import Request, ResourceRequest


def describe_question(request: Request, all_namespaces: bool) -> str:
    """What who-can was asked: `list secrets in any namespace` with -A, else the request's own words."""
    # The request of an all-namespaces question carries no namespace, which on its own reads "cluster-wide".
    if all_namespaces and isinstance(request, ResourceRequest):
        return f"{request.action()} in any namespace"
    return request.describe()


def who_can_rows(answers: list[SubjectGrant]) -> list[dict[str, Any]]:
    rows = []
    for answer in answers:
        grant = answer.grant
        rows.append(
            {
                "subject": {
                    "kind": answer.subject.kind,
                    "name": answer.subject.name,
                    "namespace": answer.subject.namespace or None,
                },
                "where": answer.namespace or "cluster-wide",
                "binding": str(grant.binding.key) if grant else None,
                "role": str(grant.role.key) if grant else None,
                "rule_index": grant.rule_index if grant else None,
                "rule": grant.rule.describe() if grant else None,
                "aggregated_from": grant.aggregated_from if grant else None,
                "note": answer.note,
            }
        )
    return rows


def named_only_rows(found: list[tuple[tuple[str, ...], SubjectGrant]],
                    allowed: list[SubjectGrant]) -> list[dict[str, Any]]:
    """`who_can_rows` of the grants that allow a request only on named objects, each with those names; not
    for a subject `allowed` already lets do it on any object in that place."""
    anywhere = {(answer.subject, answer.namespace) for answer in allowed}
    kept = [(names, answer) for names, answer in found
            if (answer.subject, answer.namespace) not in anywhere and (answer.subject, None) not in anywhere]
    return [{**row, "names": list(names)}
            for (names, _), row in zip(kept, who_can_rows([answer for _, answer in kept]), strict=True)]
