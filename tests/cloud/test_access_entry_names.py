"""The names EKS accepts in an access entry, and the platform versions that have access entries."""

from __future__ import annotations

from rbacmap.cloud.access_entry_logins import default_username, group_condition, username_allowed
from rbacmap.importers.eks_access_entry_writers import access_entries_supported

ACCOUNT = "123456789012"


def test_platform_versions_that_support_access_entries() -> None:
    assert access_entries_supported("1.29", "eks.1") is True
    assert access_entries_supported("1.28", "eks.5") is False
    assert access_entries_supported("1.31", "") is True
    assert access_entries_supported("1.22", "eks.99") is False
    assert access_entries_supported("1.27", "") is None


def test_names_eks_accepts_in_an_access_entry() -> None:
    assert group_condition("system:masters") is None and group_condition("system:nodes") is None
    assert group_condition("platform-admins") == ""
    assert "eks:ops" in (group_condition("eks:ops") or "")  # undocumented for groups: a condition
    assert not username_allowed("system:admin") and not username_allowed("aws:root")
    assert username_allowed("release-bot")
    assert default_username(f"arn:aws:iam::{ACCOUNT}:role/team/ops") == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/{{{{SessionName}}}}")
