"""Parsing departed people and resolving them through aws-auth."""

from __future__ import annotations

import pytest

from rbacmap.offboard_identity import PersonSpecError, parse_aws_auth, parse_person, read_people_file


def test_one_line_mixes_every_kind_of_identifier() -> None:
    person = parse_person("alice@acme.example, arn:aws:iam::111122223333:user/eng/alice  user:alice@gmail.example")
    assert person.label == "alice@acme.example"
    assert person.usernames == ("alice@acme.example",)
    assert person.aws_arns == ("arn:aws:iam::111122223333:user/eng/alice",)
    assert person.gcp_members == ("user:alice@gmail.example",)
    assert person.gcp_emails() == ("alice@gmail.example",)


def test_assumed_role_session_gives_the_role_and_session() -> None:
    person = parse_person("arn:aws:sts::111122223333:assumed-role/platform-admin/alice")
    assert person.assumed_roles() == (("arn:aws:iam::111122223333:role/platform-admin", "alice"),)


def test_bad_arn_is_refused() -> None:
    with pytest.raises(PersonSpecError, match="not an AWS IAM or STS ARN"):
        parse_person("arn:gcp:whatever")


def test_people_file_names_the_bad_line() -> None:
    text = "# departed\nalice@acme.example\n\narn:nope\n"
    with pytest.raises(PersonSpecError, match=r"departed.txt line 4"):
        read_people_file("departed.txt", text)
    people = read_people_file("departed.txt", "alice  # left in March\n dave@acme.example , bob\n")
    assert [p.usernames for p in people] == [("alice",), ("dave@acme.example", "bob")]


def test_aws_auth_templates_render_per_session() -> None:
    entries, problems = parse_aws_auth({
        "mapRoles": "- rolearn: arn:aws:iam::111122223333:role/team/admin\n"
                    "  username: adm:{{SessionName}}\n  groups: [a]\n- username: orphan\n",
        "mapUsers": "not: [a list",
    })
    # A rolearn with a path never matches a caller (rbacmap.cloud.aws_auth.dead_entries): kept, marked dead.
    assert entries[0].arn == "arn:aws:iam::111122223333:role/team/admin" and "has a path" in entries[0].dead
    assert not entries[0].matches("arn:aws:iam::111122223333:role/admin")
    assert entries[0].render_username("alice@acme.example") == "adm:alice-acme.example"
    assert entries[0].render_username(None) is None
    assert any("mapRoles[1]: entry without rolearn" in p for p in problems)
    assert any("mapUsers line 1: not valid YAML" in p for p in problems)


def test_people_file_keeps_a_hash_inside_an_identifier() -> None:
    # A non-email OIDC user is ISSUER#SUBJECT; only a '#' at the start or after a space or comma is a comment.
    text = "https://sso.acme.example#4711, bob@acme.example  # left in May\ncarol@acme.example,# gone\n"
    people = read_people_file("departed.txt", text)
    assert [p.usernames for p in people] == [("https://sso.acme.example#4711", "bob@acme.example"),
                                             ("carol@acme.example",)]
