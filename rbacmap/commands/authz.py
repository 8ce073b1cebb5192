"""`rbacmap can`, `rbacmap who-can` and `rbacmap check`."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from typing import Any, BinaryIO

import click

from rbacmap.authorizer import Authorizer
from rbacmap.cloud.who_can import cluster_cloud_rows, format_cloud_paths
from rbacmap.commands.options import cluster_option, db_option, latest, open_store, output_option, warn_if_incomplete
from rbacmap.commands.output import emit, format_table
from rbacmap.model import NonResourceRequest, Request, ResourceRequest, UserInfo, carries_no_name
from rbacmap.policy import SqlitePolicy
from rbacmap.resources import guessed_group_note, is_cluster_scoped, split_resource
from rbacmap.review import check_lines
from rbacmap.subjects import SubjectSpecError, parse_subject, subject_user_info
from rbacmap.who_can import describe_question, named_only_rows, who_can_rows


def build_request(
    verb: str, resource: str | None, name: str | None, namespace: str, path: str | None, api_group: str | None
) -> Request:
    if path is not None or (resource or "").startswith("/"):
        return NonResourceRequest(verb, path or resource or "")
    if not resource:
        raise click.UsageError("give a RESOURCE, or --path for a non-resource URL")
    resource_name, subresource, group = split_resource(resource, api_group)
    if resource_name == "namespaces" and group == "" and name:
        # The API server's RequestInfo reads /api/v1/namespaces/NAME[/status|/finalize] as a request
        # in namespace NAME, so RoleBindings there apply (view grants `get` on one's own namespace).
        namespace = name
    elif is_cluster_scoped(resource_name, group):
        # A real request for a cluster-scoped resource carries no namespace, so RoleBindings never apply.
        namespace = ""
    return ResourceRequest(verb, resource_name, namespace, group, subresource, name or "")


def note_guessed_group(resource: str | None, api_group: str | None) -> None:
    note = guessed_group_note(resource, api_group) if resource and not resource.startswith("/") else None
    if note is not None:
        click.echo(f"note: {note}", err=True)


@click.command()
@db_option
@cluster_option
@click.argument("user")
@click.argument("verb")
@click.argument("resource", required=False)
@click.argument("name", required=False)
@click.option("-n", "--namespace", default="", help="Namespace of the request (empty: cluster-scoped).")
@click.option("--group", "groups", multiple=True, help="Extra group the user is in (repeatable).")
@click.option("--path", help="Non-resource URL, e.g. /healthz or /logs/kubelet.log.")
@click.option("--api-group", help="API group of RESOURCE when it is not a built-in one.")
@click.option("--no-implicit-groups", is_flag=True, help="Do not add system:authenticated / SA groups.")
def can(
    db_path: str, cluster: str | None, user: str, verb: str, resource: str | None, name: str | None,
    namespace: str, groups: tuple[str, ...], path: str | None, api_group: str | None, no_implicit_groups: bool,
) -> None:
    """May USER do VERB on RESOURCE? Prints yes/no and why; exit 0 allowed, 1 denied, 2 error.

    USER is a username, `system:serviceaccount:NS:NAME`, `sa:NS/NAME` or `user:NAME`.
    """
    try:
        subject = parse_subject(user)
        info = UserInfo(user, groups) if no_implicit_groups else subject_user_info(subject, groups)
    except SubjectSpecError as exc:
        raise click.UsageError(str(exc)) from exc
    request = build_request(verb, resource, name, namespace, path, api_group)
    if path is None:
        note_guessed_group(resource, api_group)
    with open_store(db_path) as store:
        snapshot = latest(store, cluster)
        warn_if_incomplete(snapshot)
        authorizer = Authorizer(SqlitePolicy(store, snapshot.id))
        decision = authorizer.authorize(info, request)
        unnamed = None
        if isinstance(request, ResourceRequest) and request.name and carries_no_name(request):
            unnamed = authorizer.authorize(info, replace(request, name=""))
    click.echo("yes" if decision.allowed else "no")
    click.echo(f"  {info.name} (groups: {', '.join(info.groups) or 'none'}) -> {request.describe()}")
    if decision.via_system_masters:
        click.echo("  allowed: member of system:masters, which the API server allows before RBAC")
    for grant in decision.grants:
        click.echo(f"  allowed by {grant.describe()}")
    for binding in decision.dangling:
        click.echo(f"  note: {binding.key} names this user but its {binding.role_ref.kind} "
                   f"{binding.role_ref.name!r} does not exist (dangling: whoever creates it grants it)")
    if unnamed is not None and unnamed.allowed != decision.allowed:
        # A SubjectAccessReview with a name answers as above, but the real request never carries one.
        click.echo(f"  note: the API server authorizes a {request.verb} without a name (the object is not known "
                   f"yet), so resourceNames never allow a real one: asked without the name, the answer is "
                   f"{'yes' if unnamed.allowed else 'no'}")
    sys.exit(0 if decision.allowed else 1)


@click.command("who-can")
@db_option
@cluster_option
@click.argument("verb")
@click.argument("resource")
@click.argument("name", required=False)
@click.option("-n", "--namespace", default="", help="Namespace of the request.")
@click.option("-A", "--all-namespaces", is_flag=True, help="Allowed in any namespace (says where).")
@click.option("--api-group", help="API group of RESOURCE when it is not a built-in one.")
@output_option("table", "json", "yaml")
def who_can(
    db_path: str, cluster: str | None, verb: str, resource: str, name: str | None, namespace: str,
    all_namespaces: bool, api_group: str | None, output: str,
) -> None:
    """Every subject allowed VERB on RESOURCE, with binding -> role -> rule."""
    request = build_request(verb, resource, name, namespace, None, api_group)
    note_guessed_group(resource, api_group)
    if isinstance(request, ResourceRequest) and is_cluster_scoped(request.resource, request.api_group):
        all_namespaces = False
    with open_store(db_path) as store:
        snapshot = latest(store, cluster)
        warn_if_incomplete(snapshot)
        authorizer = Authorizer(SqlitePolicy(store, snapshot.id))
        answers = authorizer.who_can(request, all_namespaces=all_namespaces)
        named_only = (named_only_rows(authorizer.who_can_named_only(request, all_namespaces=all_namespaces), answers)
                      if isinstance(request, ResourceRequest) and not carries_no_name(request) else [])
        cloud_rows = cluster_cloud_rows(store, snapshot.cluster, snapshot.id, request, answers,
                                        all_namespaces=all_namespaces)
    rows = who_can_rows(answers) + cloud_rows
    asked = describe_question(request, all_namespaces)
    if output != "table":
        emit({"request": asked, "snapshot": snapshot.id, "incomplete": snapshot.incomplete_kinds,
              "subjects": rows, "named_only": named_only}, output)
        return
    click.echo(f"who can {asked} (snapshot {snapshot.id} of {snapshot.cluster}):")
    click.echo(format_table(
        ["kind", "subject", "where", "binding", "role", "rule"],
        [[r["subject"]["kind"], _subject_name(r["subject"]), r["where"], r["binding"] or "-", r["role"] or "-",
          _rule_text(r)] for r in rows],
    ))
    if cloud_rows:
        click.echo("cloud identities, step by step:\n" + format_cloud_paths(cloud_rows))
    if named_only:
        click.echo("also allowed, but only on the objects resourceNames list (ask with NAME):")
        click.echo(format_table(
            ["kind", "subject", "where", "names", "binding", "role", "rule"],
            [[r["subject"]["kind"], _subject_name(r["subject"]), r["where"], ",".join(r["names"]), r["binding"],
              r["role"], _rule_text(r)] for r in named_only],
        ))


def _rule_text(row: dict[str, Any]) -> str:
    text = str(row["rule"] or row["note"])
    if row.get("aggregated_from"):
        text += f" (aggregated from {row['aggregated_from']})"
    return text


def _subject_name(subject: dict[str, str | None]) -> str:
    if subject.get("namespace"):
        return f"{subject['namespace']}/{subject['name']}"
    return str(subject["name"])


@click.command()
@db_option
@cluster_option
@click.option("--requests", "requests_file", type=click.File("rb"), required=True,
              help="JSON lines of SubjectAccessReviews (or their specs); - for stdin.")
def check(db_path: str, cluster: str | None, requests_file: BinaryIO) -> None:
    """Batch mode: one SubjectAccessReview status per input line, in order.

    Each status is what the API server would return (allowed, reason word for word, evaluationError),
    plus `provenance`: the binding, role and rule that allowed it (the API server names no rule).
    """
    with open_store(db_path) as store:
        snapshot = latest(store, cluster)
        warn_if_incomplete(snapshot)
        authorizer = Authorizer(SqlitePolicy(store, snapshot.id))
        for status in check_lines(authorizer, requests_file):
            click.echo(json.dumps(status))
