"""Pure parts: IAM evaluation, aws-auth parsing, GCP permission mapping, EKS access policies."""

from __future__ import annotations

from rbacmap.authorizer import rule_allows
from rbacmap.cloud.aws_auth import canonical_role_arn, parse_aws_auth
from rbacmap.cloud.eks_access_policies import access_policy_rules
from rbacmap.cloud.gcp_roles import permission_rule, permissions_rules
from rbacmap.importers.aws_iam import (
    IamPrincipal,
    NamedPolicy,
    can_assume,
    condition_matches,
    evaluate_identity,
    web_identity_allows,
)
from rbacmap.model import ResourceRequest

ACCOUNT = "111122223333"
HOST = "oidc.eks.eu-west-1.amazonaws.com/id/ABC"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST}"


def user(name: str, *statements: dict[str, object]) -> IamPrincipal:
    return IamPrincipal(f"arn:aws:iam::{ACCOUNT}:user/{name}", "user",
                        (NamedPolicy("p", {"Statement": list(statements)}),))


def role(name: str, *trust: dict[str, object]) -> IamPrincipal:
    return IamPrincipal(f"arn:aws:iam::{ACCOUNT}:role/{name}", "role", (), {"Statement": list(trust)})


def test_not_action_and_case_insensitive_actions() -> None:
    who = user("u", {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert evaluate_identity(who, "STS:AssumeRole", "x").allowed
    assert not evaluate_identity(who, "iam:CreateUser", "x").allowed


def test_account_trust_needs_identity_allow_but_direct_trust_does_not() -> None:
    account_trust = role("r", {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"})
    direct_trust = role("d", {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/u"},
                              "Action": "sts:AssumeRole"})
    nobody = user("u")
    assert not can_assume(nobody, account_trust).allowed
    assert can_assume(nobody, direct_trust).allowed
    allowed = user("u", {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/?"})
    assert can_assume(allowed, account_trust).allowed
    denied = user("u", {"Effect": "Deny", "Action": "sts:*", "Resource": "*"})
    assert not can_assume(denied, direct_trust).allowed


def test_web_identity_string_equals_versus_string_like() -> None:
    exact = role("e", {"Effect": "Allow", "Principal": {"Federated": PROVIDER},
                       "Action": "sts:AssumeRoleWithWebIdentity",
                       "Condition": {"StringEquals": {f"{HOST}:sub": "system:serviceaccount:a:b"}}})
    # StringEquals does not expand wildcards: a literal `*` matches only itself.
    literal = role("l", {"Effect": "Allow", "Principal": {"Federated": PROVIDER},
                         "Action": "sts:AssumeRoleWithWebIdentity",
                         "Condition": {"StringEquals": {f"{HOST}:sub": "system:serviceaccount:a:*"}}})
    like = role("k", {"Effect": "Allow", "Principal": {"Federated": PROVIDER},
                      "Action": "sts:AssumeRoleWithWebIdentity",
                      "Condition": {"StringLike": {f"{HOST}:sub": "system:serviceaccount:a:*"}}})
    open_trust = role("o", {"Effect": "Allow", "Principal": {"Federated": PROVIDER},
                            "Action": "sts:AssumeRoleWithWebIdentity"})
    assert web_identity_allows(exact, PROVIDER, HOST, "system:serviceaccount:a:b").allowed
    assert not web_identity_allows(exact, PROVIDER, HOST, "system:serviceaccount:a:c").allowed
    assert not web_identity_allows(literal, PROVIDER, HOST, "system:serviceaccount:a:c").allowed
    assert web_identity_allows(like, PROVIDER, HOST, "system:serviceaccount:a:c").allowed
    assert not web_identity_allows(like, PROVIDER, HOST, "system:serviceaccount:z:c").allowed
    verdict = web_identity_allows(open_trust, PROVIDER, HOST, "system:serviceaccount:z:c")
    assert verdict.allowed and "every service account" in verdict.describe()
    assert not web_identity_allows(like, "arn:aws:iam::1:oidc-provider/other", "other",
                                   "system:serviceaccount:a:c").allowed


def test_conditions_unknown_operator_and_negation() -> None:
    assert condition_matches({"NumericLessThan": {"x": "1"}}, {"x": "0"}) is None
    assert condition_matches({"StringNotEquals": {"k": "a"}}, {"k": "b"}) is True
    assert condition_matches({"StringNotEquals": {"k": "a"}}, {"k": "a"}) is False
    # A key rbacmap has no value for is unknown, not absent: the caller may well send it.
    assert condition_matches({"StringEqualsIfExists": {"k": "a"}}, {}) is None
    assert condition_matches({"StringEquals": {"k": "a"}}, {}) is None
    assert condition_matches({"StringEquals": {"k": "a", "j": "b"}}, {"k": "z"}) is False


def test_unknown_condition_keys_show_access_never_hide_it() -> None:
    external_id = role("x", {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/u"},
                             "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "s3cr3t"}}})
    verdict = can_assume(user("u"), external_id)
    assert verdict.allowed and "condition not evaluated" in verdict.describe()
    tag_deny = user("u", {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
                    {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*",
                     "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "ops"}}})
    account_trust = role("r", {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"})
    assert can_assume(tag_deny, account_trust).allowed  # the Deny may not apply: shown, with its Allow
    known_deny = user("u", {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
                      {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*",
                       "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/u"}}})
    assert not can_assume(known_deny, account_trust).allowed


def test_aws_auth_templates_paths_and_bad_yaml() -> None:
    parsed = parse_aws_auth({
        "mapRoles": "- rolearn: arn:aws:iam::111122223333:role/team/ops\n"
                    "  username: ops:{{AccountID}}:{{SessionName}}\n  groups: [ops]\n",
        "mapUsers": "- userarn: [unclosed\n",
        "mapAccounts": "- '111122223333'\n",
    }, ACCOUNT)
    assert [(e.key, e.username, e.groups) for e in parsed.entries] == [
        ("mapRoles", "ops:111122223333:{{SessionName}}", ("ops",)), ("mapAccounts", "", ())]
    assert len(parsed.problems) == 1 and "mapUsers line" in parsed.problems[0]
    assert canonical_role_arn("arn:aws:iam::1:role/team/ops") == "arn:aws:iam::1:role/ops"


def test_gcp_permissions_map_to_rules() -> None:
    exec_rule = permission_rule("container.pods.exec")
    assert exec_rule is not None and rule_allows(ResourceRequest("create", "pods", "x", subresource="exec"),
                                                 exec_rule)
    rules, unmapped = permissions_rules(["container.secrets.get", "container.clusters.get", "container.foos.get",
                                         "storage.buckets.get"])
    assert len(rules) == 1 and rule_allows(ResourceRequest("get", "secrets", "x"), rules[0])
    assert unmapped == ("container.foos.get",)
    binding = permission_rule("container.clusterRoleBindings.create")
    assert binding is not None and binding.api_groups == ("rbac.authorization.k8s.io",)


def test_eks_view_policy_excludes_secrets_and_edit_includes_them() -> None:
    view = access_policy_rules("arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy") or ()
    edit = access_policy_rules("arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy") or ()
    secrets = ResourceRequest("get", "secrets", "x")
    assert view and not any(rule_allows(secrets, r) for r in view)
    assert any(rule_allows(secrets, r) for r in edit)
    assert access_policy_rules("arn:aws:eks::aws:cluster-access-policy/Unknown") is None
