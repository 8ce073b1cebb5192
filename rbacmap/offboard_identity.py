"""Who a departed person is: their identifiers, and the identities they authenticate as per cluster.

A person is given by any of their identifiers (Kubernetes username, OIDC email or
certificate CN, AWS ARN, GCP member). Resolution turns those into the usernames and
groups the API server would see, each with the mapping that produces it (aws-auth entry,
client certificate, audit log, ...), so every later finding can say why it applies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from rbacmap.cloud import aws_auth as cloud_aws_auth
from rbacmap.cloud.aws_auth import caller_key, canonical_role_arn
from rbacmap.cloud.username_templates import can_render_to
from rbacmap.model import SYSTEM_MASTERS

# arn:PARTITION:iam|sts::ACCOUNT:RESOURCE (partitions aws, aws-cn, aws-us-gov, ...).
AWS_ARN = re.compile(r"^arn:(aws[a-z-]*):(iam|sts)::(\d{12}):(.+)$")
GCP_MEMBER_PREFIXES = ("user:", "serviceAccount:", "group:", "principal:", "principalSet:")
# Groups every authenticated identity carries: they say nothing about this person.
UNIVERSAL_GROUPS = frozenset({"system:authenticated", "system:unauthenticated"})
IDENTIFIER_SEPARATORS = re.compile(r"[,\s]+")
COMMENT = re.compile(r"(?:^|(?<=[,\s]))#")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PersonSpecError(ValueError):
    """An identifier or departed-people file that cannot be understood."""


@dataclass(frozen=True)
class Person:
    """One departed person, as the operator named them."""

    label: str
    usernames: tuple[str, ...] = ()
    aws_arns: tuple[str, ...] = ()
    gcp_members: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @property
    def identifiers(self) -> tuple[str, ...]:
        return (*self.usernames, *self.aws_arns, *self.gcp_members)

    def gcp_emails(self) -> tuple[str, ...]:
        return tuple(m.partition(":")[2] for m in self.gcp_members if m.startswith("user:"))

    def iam_user_arns(self) -> tuple[str, ...]:
        return tuple(a for a in self.aws_arns if ":user/" in a)

    def assumed_roles(self) -> tuple[tuple[str, str], ...]:
        """(role ARN, session name) for every `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION` given."""
        out = []
        for arn in self.aws_arns:
            match = AWS_ARN.match(arn)
            if match and match.group(2) == "sts" and match.group(4).startswith("assumed-role/"):
                parts = match.group(4).split("/")
                if len(parts) >= 3:
                    out.append((canonical_arn(arn), parts[-1]))
        return tuple(out)


def canonical_arn(arn: str) -> str:
    """The ARN aws-iam-authenticator knows the principal's requests by (pkg/arn `Canonicalize`).

    IAM users keep their path and every ARN its partition (aws-cn, aws-us-gov); an assumed role's
    session becomes `arn:PARTITION:iam::ACCOUNT:role/NAME` (STS reports no path). A role given
    as an IAM ARN is compared as its sessions are: without its path (rbacmap.cloud.aws_auth).
    """
    arn = arn.strip()
    match = AWS_ARN.match(arn)
    if not match:
        return arn
    partition, service, account, resource = match.groups()
    if service == "sts" and resource.startswith("assumed-role/") and resource.count("/") >= 2:
        return f"arn:{partition}:iam::{account}:role/{resource.split('/')[1]}"
    return canonical_role_arn(arn)


def account_of(arn: str) -> str:
    match = AWS_ARN.match(arn.strip())
    return match.group(3) if match else ""


def parse_person(text: str, extra_groups: Iterable[str] = ()) -> Person:
    """One line of identifiers (commas or whitespace between them) -> Person."""
    tokens = [t for t in IDENTIFIER_SEPARATORS.split(text.strip()) if t]
    if not tokens:
        raise PersonSpecError("no identifier given")
    usernames: list[str] = []
    arns: list[str] = []
    members: list[str] = []
    for token in tokens:
        if token.startswith("arn:"):
            if not AWS_ARN.match(token):
                raise PersonSpecError(f"{token!r} is not an AWS IAM or STS ARN")
            arns.append(token)
        elif token.startswith(GCP_MEMBER_PREFIXES) and "@" in token:
            members.append(token)
        else:
            usernames.append(token.removeprefix("k8s:"))
    return Person(
        label=tokens[0],
        usernames=tuple(dict.fromkeys(usernames)),
        aws_arns=tuple(dict.fromkeys(arns)),
        gcp_members=tuple(dict.fromkeys(members)),
        groups=tuple(dict.fromkeys(extra_groups)),
    )


def parse_groups(text: str) -> tuple[str, ...]:
    """Groups typed as one line, comma separated (a group name may hold spaces); empty ones dropped."""
    return tuple(dict.fromkeys(g.strip() for g in text.split(",") if g.strip()))


def read_people_file(path: str, text: str, extra_groups: Iterable[str] = ()) -> list[Person]:
    """A departed-people file: one person per line, `#` comments and blank lines ignored.

    A comment starts a line or follows a space: inside an identifier `#` is part of it (the API
    server names a non-email OIDC user `ISSUER#SUBJECT`).
    """
    people = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = COMMENT.split(line, maxsplit=1)[0].strip()
        if not content:
            continue
        try:
            people.append(parse_person(content, extra_groups))
        except PersonSpecError as exc:
            raise PersonSpecError(f"{path} line {number}: {exc}") from None
    return people


# --- aws-auth ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AwsAuthEntry:
    """One mapRoles, mapUsers or mapAccounts entry of kube-system/aws-auth, read by rbacmap.cloud.aws_auth."""

    section: str  # "mapRoles", "mapUsers" or "mapAccounts"
    index: int
    arn: str  # as written; the account id for mapAccounts
    username: str  # template; "" when the entry names none
    groups: tuple[str, ...]
    raw: dict[str, Any] = field(hash=False, compare=False)
    # Why the entry never applies to any caller (rbacmap.cloud.aws_auth.dead_entries); "" when it may.
    dead: str = ""

    def describe(self) -> str:
        if self.section == "mapAccounts":
            return f"aws-auth mapAccounts[{self.index}] {self.arn} -> every principal of the account as its ARN"
        groups = list(self.groups)
        return f"aws-auth {self.section}[{self.index}] {self.arn} -> username {self.username!r} groups {groups}"

    def matches(self, caller: str) -> bool:
        """Does the entry apply to the caller's canonical ARN (`caller_key`)? The authenticator ignores case."""
        return not self.dead and self.section != "mapAccounts" and self.arn.lower() == caller_key(caller)

    def render_username(self, session_name: str | None, account: str = "") -> str | None:
        """The Kubernetes username; None when it depends on a session name we do not know."""
        return render_aws_username(self.username, self.arn, session_name, account)


def render_aws_username(template: str, arn: str, session_name: str | None, account: str = "") -> str | None:
    """An aws-auth or EKS access entry username template for one session; None when it cannot be known."""
    name = template
    if "{{SessionName}}" in name or "{{SessionNameRaw}}" in name:
        if session_name is None:
            return None
        # aws-iam-authenticator replaces '@' in {{SessionName}} with '-'; Raw keeps it.
        name = name.replace("{{SessionNameRaw}}", session_name)
        name = name.replace("{{SessionName}}", session_name.replace("@", "-"))
    if "{{AccountID}}" in name:
        name = name.replace("{{AccountID}}", account or arn.split(":")[4])
    if "{{" in name:
        return None  # {{EC2PrivateDNSName}} and friends: node identities, not people
    return name


def login_groups(groups: Iterable[str], arn: str, session_name: str | None, bound_groups: Iterable[str]) -> tuple[
        str, ...]:
    """The groups a mapping logs the session in with: aws-iam-authenticator renders group templates too.

    A template the session does not fill (session unknown) can become every group a binding names that it can
    render to (rbacmap.cloud.username_templates, the rule who-can and the solver use), and system:masters.
    """
    out: list[str] = []
    candidates = sorted({*bound_groups, SYSTEM_MASTERS})
    for group in groups:
        rendered = render_aws_username(group, arn, session_name)
        if rendered is not None:
            out.append(rendered)
        else:
            out += [name for name in candidates if can_render_to(group, name)]
    return tuple(dict.fromkeys(out))


def parse_aws_auth(data: dict[str, str]) -> tuple[list[AwsAuthEntry], list[str]]:
    """Every entry, marked dead when the authenticator never applies it, and the problems met."""
    parsed = cloud_aws_auth.parse_aws_auth(data, "")
    dead = cloud_aws_auth.dead_entries(parsed.entries)
    entries = []
    for entry in parsed.entries:
        if entry.key == "mapAccounts":
            raw: dict[str, Any] = {"account": entry.arn}
        else:
            raw = {"rolearn" if entry.key == "mapRoles" else "userarn": entry.arn, "username": entry.username,
                   "groups": list(entry.groups)}
        entries.append(AwsAuthEntry(entry.key, entry.index, entry.arn, entry.username, entry.groups, raw,
                                    dead.get((entry.key, entry.index), "")))
    return entries, list(parsed.problems)


def dump_aws_auth_section(items: list[dict[str, Any]]) -> str:
    return yaml.safe_dump(items, sort_keys=False, default_flow_style=False)


# --- resolved identities -------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """One way the person authenticates to a cluster: a username (None: unknown) and groups, and why."""

    username: str | None
    groups: tuple[str, ...]
    via: str
    # The object or mapping that produces it, as a logical location (`ConfigMap/kube-system/aws-auth`).
    source: str = ""
    # The username is not the person's alone: everyone assuming a role mapped to a fixed username,
    # or whoever else uses a certificate's name. Its bindings serve others: the fix leaves them.
    shared: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"username": self.username, "groups": list(self.groups), "via": self.via, "source": self.source,
                "shared": self.shared}


def person_groups(identities: Iterable[Identity]) -> dict[str, list[Identity]]:
    """Every group the person is known to be in, with the identities that carry it."""
    out: dict[str, list[Identity]] = {}
    for identity in identities:
        for group in identity.groups:
            if group not in UNIVERSAL_GROUPS:
                out.setdefault(group, []).append(identity)
    return out


def email_of(username: str) -> str | None:
    """The email a username carries, lower-cased: itself, or after an authenticator prefix.

    The API server's --oidc-username-prefix (`oidc:`, or the issuer URL and `#` by default for a
    non-email claim) and the IdP's letter case make one mailbox several Kubernetes usernames.
    """
    tail = re.split(r"[:#]", username)[-1]
    return tail.casefold() if EMAIL.match(tail) else None


def alias_identities(person: Person, identities: list[Identity], candidates: Iterable[str]) -> list[Identity]:
    """Usernames seen in the cluster that are one of the person's emails under a prefix or in other letter case."""
    emails = {email_of(i.username): i.username for i in identities
              if i.username and not i.shared and email_of(i.username)}
    known = {i.username for i in identities}
    out = []
    for name in sorted(set(candidates) - known):
        given = emails.get(email_of(name))
        if given is not None:
            prefix = name[:len(name) - len(re.split(r"[:#]", name)[-1])]
            how = f"with the authenticator prefix {prefix!r}" if prefix else "in other letter case"
            out.append(Identity(name, person.groups, f"{name} is {given} {how} (same mailbox)"))
    return out
