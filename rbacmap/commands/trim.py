"""`rbacmap trim` and `rbacmap generate`."""

from __future__ import annotations

import click

from rbacmap.commands.options import cluster_option, db_option, latest, open_store, warn_if_incomplete
from rbacmap.commands.output import emit, format_table
from rbacmap.model import GROUP
from rbacmap.policy import load_policy
from rbacmap.rbac_export import (
    generated_manifests,
    rbac_manager_definitions,
    report_json,
    to_yaml,
    trim_diff,
    trim_yaml,
)
from rbacmap.subjects import SubjectSpecError, parse_subject
from rbacmap.trim import REMOVE_BINDINGS, REPLACE, SKIP, TRIM, TrimProposal, TrimReport, generate, select_roles, trim
from rbacmap.usage import (
    parse_duration,
    usage_records,
    usage_window,
    user_groups,
    users_with_groups_not_logged,
)


def _since(value: str | None) -> object:
    try:
        return parse_duration(value) if value else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc


@click.command("trim")
@db_option
@cluster_option
@click.option("--role", "role_name", help="Trim this role (a Role with -n NS, else a ClusterRole).")
@click.option("-n", "--namespace", help="Namespace of --role.")
@click.option("--subject", help="Trim the roles bound to this subject (sa:NS/NAME, user:NAME, group:NAME).")
@click.option("--all", "all_roles", is_flag=True, help="Trim every bound role (system: ClusterRoles skipped).")
@click.option("--include-system", is_flag=True, help="With --all, also system: ClusterRoles.")
@click.option("--since", help="Only use the last DURATION of the audit logs (e.g. 30d).")
@click.option("--split", is_flag=True, help="One role per subject (plus new bindings) instead of the union.")
@click.option("--resource-names", "narrow_names", is_flag=True,
              help="Also narrow get/update/patch/delete to the object names seen.")
@click.option("-o", "--output", type=click.Choice(["table", "yaml", "json", "diff"]), default="table",
              show_default=True)
@click.option("--format", "export_format", type=click.Choice(["rbac", "rbac-manager"]), default="rbac",
              show_default=True, help="With -o yaml: plain RBAC objects or Fairwinds rbac-manager RBACDefinitions.")
def trim_command(
    db_path: str, cluster: str | None, role_name: str | None, namespace: str | None, subject: str | None,
    all_roles: bool, include_system: bool, since: str | None, split: bool, narrow_names: bool, output: str,
    export_format: str,
) -> None:
    """Propose roles cut down to what audit logs show was used (never wider, nothing used lost).

    Each role gets one action. trim: rewrite it in place. replace: it cannot be edited in
    place (aggregated ClusterRole, bootstrap role with autoupdate, or aggregated into another
    role), so a new role rbacmap-trimmed-ROLE per binding scope (a namespaced Role for
    RoleBindings) plus a new binding NAME-trimmed for each binding that used it; delete the old
    binding after applying. remove-bindings: no observed use in the window, so its bindings
    are proposed for removal (no empty role is written). skip: bound only to system:masters,
    whose members bypass RBAC, so audit logs cannot show its use.

    REDUCTION is the cut in grant size: per rule, verbs x (apiGroups x resources x
    resourceNames + nonResourceURLs), each wildcard counting 10; 1 - proposed/granted. It
    ranks roles; it is not a security measure. Unused and skipped roles show "-".

    -o yaml ends with the deletions as commented kubectl lines; -o json lists them under
    delete_bindings, with provenance (original rule indexes) for every proposed rule.
    """
    if sum(bool(x) for x in (role_name, subject, all_roles)) != 1:
        raise click.UsageError("choose one of --role NAME, --subject SPEC or --all")
    try:
        wanted = parse_subject(subject) if subject else None
    except SubjectSpecError as exc:
        raise click.UsageError(str(exc)) from exc
    with open_store(db_path) as store:
        snapshot = latest(store, cluster)
        warn_if_incomplete(snapshot)
        policy = load_policy(store, snapshot.id)
        window = usage_window(store, snapshot.cluster, _since(since))  # type: ignore[arg-type]
        records = usage_records(store, snapshot.cluster, window)
        groups = user_groups(store, snapshot.cluster)
        not_logged = users_with_groups_not_logged(store, snapshot.cluster, window)
    roles = select_roles(policy, role_name=role_name, namespace=namespace, subject=wanted,
                         include_system=include_system)
    if not roles:
        raise click.ClickException("no bound role matches the selection")
    report = trim(policy, records, groups, window, roles, split=split, narrow_names=narrow_names,
                  groups_not_logged=not_logged)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if output == "yaml":
        text = to_yaml(rbac_manager_definitions(report)) if export_format == "rbac-manager" else trim_yaml(report)
        click.echo(text, nl=False)
    elif output == "json":
        emit(report_json(report), "json")
    elif output == "diff":
        click.echo(trim_diff(report), nl=False)
    else:
        print_report(report)


ACTION_LABELS = {
    TRIM: "trim in place",
    REPLACE: "new role + rebind",
    REMOVE_BINDINGS: "remove bindings (no use)",
    SKIP: "skip (bypasses RBAC)",
}
GROUPS_NOT_LOGGED_LABEL = "skip (groups not logged)"


def action_label(proposal: TrimProposal) -> str:
    """The action as the table shows it; a skip says why: every binding bypasses RBAC, or groups not logged."""
    if proposal.action == SKIP and len(proposal.bypass_bindings) < len(proposal.bindings):
        return GROUPS_NOT_LOGGED_LABEL
    return ACTION_LABELS[proposal.action]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def print_report(report: TrimReport) -> None:
    click.echo(f"audit window: {report.window.describe()}")
    rows = []
    for p in report.proposals:
        rows.append([str(p.role.key), action_label(p), len(p.role.rules), len(p.used_rule_indexes),
                     len(p.rules), p.request_count, _percent(p.reduction_percent)])
    click.echo(format_table(["role", "action", "granted rules", "used rules", "proposed rules", "requests",
                             "reduction"], rows))
    for p in report.proposals:
        click.echo("")
        _print_proposal(p, report.window.days)
    removals = sum(len(p.unused_bindings) for p in report.proposals)
    click.echo("")
    click.echo(f"overall reduction: {_percent(report.reduction_percent)} of granted permission entries in the "
               f"roles that keep rules; {removals} binding(s) with no use in {report.window.days:.1f} days proposed "
               "for removal")


def _print_proposal(p: TrimProposal, window_days: float) -> None:
    click.echo(f"{p.role.key}: {action_label(p)}")
    for reason in p.reasons if p.action in (REPLACE, SKIP) else ():
        click.echo(f"  why not in place: {reason}" if p.action != SKIP else f"  why skipped: {reason}")
    if p.action == SKIP:
        return
    for index, rule in enumerate(p.role.rules):
        state = "used  " if index in p.used_rule_indexes else "unused"
        click.echo(f"  {state} rule #{index} {rule.describe()}")
    if p.action == TRIM:
        for trimmed in p.rules:
            click.echo(f"  proposed {trimmed.rule.describe()} <- rule #{', #'.join(map(str, trimmed.from_rules))}")
    for replacement in p.replacements:
        click.echo(f"  new {replacement.key}:")
        for trimmed in replacement.rules:
            click.echo(f"    {trimmed.rule.describe()} <- rule #{', #'.join(map(str, trimmed.from_rules))}")
        for swap in replacement.swaps:
            click.echo(f"    rebind: {swap.new.key} replaces {swap.old.key} (delete it after applying)")
    for split in p.splits:
        click.echo(f"  new {split.key} for {split.subject}: {len(split.rules)} rule(s); replaces "
                   f"{', '.join(str(b.key) for b in split.replaces)}")
    for binding in p.unused_bindings:
        click.echo(f"  remove: {binding.key} (no request through it in {window_days:.1f} days)")
    for note in p.notes:
        click.echo(f"  note: {note}")


@click.command("generate")
@db_option
@click.option("--cluster", help="Cluster whose audit usage to read (needed when the DB holds several).")
@click.option("--subject", "subjects", multiple=True, required=True,
              help="Subject to generate roles for (repeatable): sa:NS/NAME, user:NAME, group:NAME.")
@click.option("--since", help="Only use the last DURATION of the audit logs.")
@click.option("--allowed-only", is_flag=True, help="Leave out requests that were denied.")
@click.option("--resource-names", "narrow_names", is_flag=True, help="Narrow get/update/patch/delete to names seen.")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def generate_command(db_path: str, cluster: str | None, subjects: tuple[str, ...], since: str | None,
                     allowed_only: bool, narrow_names: bool, output: str) -> None:
    """New minimal Roles/ClusterRoles and bindings from usage alone (like audit2rbac, several subjects)."""
    try:
        parsed = [parse_subject(s) for s in subjects]
    except SubjectSpecError as exc:
        raise click.UsageError(str(exc)) from exc
    with open_store(db_path) as store:
        try:
            name = store.resolve_cluster(cluster)
        except Exception as exc:
            raise click.ClickException(str(exc)) from exc
        window = usage_window(store, name, _since(since))  # type: ignore[arg-type]
        records = usage_records(store, name, window)
        groups = user_groups(store, name)
        not_logged = users_with_groups_not_logged(store, name, window)
    if not_logged and any(subject.kind == GROUP for subject in parsed):
        click.echo(f"warning: {len(not_logged)} user(s) were seen only in logs that name no groups (GKE Cloud "
                   "Logging): a group's roles cover only the members seen in logs that name groups", err=True)
    generated = generate(parsed, records, groups, include_denied=not allowed_only, narrow_names=narrow_names)
    if not generated:
        raise click.ClickException("no usage recorded for these subjects in the window")
    docs = generated_manifests(generated, window)
    if output == "json":
        emit(docs, "json")
    else:
        click.echo(to_yaml(docs), nl=False)
