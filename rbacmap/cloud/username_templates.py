"""EKS username templates: which concrete Kubernetes usernames a templated mapping can log in as.

aws-iam-authenticator renders an aws-auth entry's groups with the same templates, so the same
rule says which groups a templated group (`system:{{SessionName}}`) can become.

One function answers it for both `who-can` and the solver, so the two agree.

Semantics, from aws-iam-authenticator (kubernetes-sigs/aws-iam-authenticator,
pkg/server/server.go `renderTemplate`), which EKS runs for aws-auth and whose templates
access entries reuse (AWS, "Set a custom username for EKS access entries",
https://docs.aws.amazon.com/eks/latest/userguide/set-custom-username.html):
- `{{AccountID}}`: the caller's account id (rbacmap substitutes it at import time when known);
- `{{SessionNameRaw}}`: the role session name, unchanged;
- `{{SessionName}}`: the role session name with every `@` replaced by `-`;
- `{{EC2PrivateDNSName}}`: the private DNS name of the EC2 instance whose id is the session
  name (the session name must look like `i-...`);
- `{{AccessKeyID}}`: the caller's access key id.
The role session name is chosen by whoever calls sts:AssumeRole (STS RoleSessionName: 2-64
characters of `[\\w+=,.@-]`, per the STS AssumeRole API reference), so a principal that can
assume the role can log in as ANY username the template renders to; rbacmap therefore reads
each template as a wildcard over what it can render to. Session names cannot hold `/` or `:`,
so a template never spans those separators.
Limits: a trust policy that pins `sts:RoleSessionName` narrows this and is not modelled
(answers err towards showing access); {{EC2PrivateDNSName}} is only reachable with the id of
a real instance, rbacmap does not know the instances.
"""

from __future__ import annotations

import re
from functools import lru_cache

ACCOUNT_ID = "{{AccountID}}"
SESSION_NAME = "{{SessionName}}"
SESSION_NAME_RAW = "{{SessionNameRaw}}"
EC2_PRIVATE_DNS_NAME = "{{EC2PrivateDNSName}}"
ACCESS_KEY_ID = "{{AccessKeyID}}"

# What each template can render to (regex fragments).
TEMPLATE_PATTERNS = {
    ACCOUNT_ID: r"[0-9]{12}",
    SESSION_NAME_RAW: r"[A-Za-z0-9_+=,.@-]{2,64}",
    SESSION_NAME: r"[A-Za-z0-9_+=,.-]{2,64}",  # `@` became `-`
    EC2_PRIVATE_DNS_NAME: r"[a-z0-9][a-z0-9.-]*",
    ACCESS_KEY_ID: r"[A-Z0-9]{16,128}",
}
SESSION_TEMPLATES = (SESSION_NAME, SESSION_NAME_RAW, EC2_PRIVATE_DNS_NAME, ACCESS_KEY_ID)
_TEMPLATE = re.compile("(" + "|".join(re.escape(t) for t in TEMPLATE_PATTERNS) + ")")


def is_template(username: str) -> bool:
    """Does the username hold a template that is only filled in at login?"""
    return _TEMPLATE.search(username) is not None


@lru_cache(maxsize=4096)
def template_pattern(username: str) -> re.Pattern[str]:
    """A regex matching exactly the usernames `username` can render to (itself when no template)."""
    parts = _TEMPLATE.split(username)
    return re.compile("".join(TEMPLATE_PATTERNS.get(part, re.escape(part)) for part in parts))


def can_render_to(template: str, username: str) -> bool:
    """Can a login through a mapping with username `template` end up as `username`?"""
    if template == username:
        return True
    return is_template(template) and template_pattern(template).fullmatch(username) is not None
