"""What an IAM role lets a member do to a Google service account: act as it, or rewrite who may.

By permission, so that custom roles count like the predefined ones (their `includedPermissions`, read by
`import gke` through the same session). Sources (Google Cloud IAM documentation):
- "Roles for service account authentication" (iam/docs/service-account-permissions): Service Account Token
  Creator (`roles/iam.serviceAccountTokenCreator`: iam.serviceAccounts.getAccessToken, getOpenIdToken,
  implicitDelegation, signBlob, signJwt) lets a principal create credentials for the account; Service Account
  User (`iam.serviceAccounts.actAs`) lets it attach the account to resources it runs, whose code then gets the
  account's credentials; a key (`iam.serviceAccountKeys.create`) is a credential of the account.
- "Create short-lived credentials" (iam/docs/create-short-lived-credentials-direct, -delegated): an access token
  from generateAccessToken (getAccessToken); a JWT signed as the account (signJwt, or signBlob over the JWT's
  bytes) is exchanged for an access token with the OAuth 2.0 JWT bearer grant; in a delegation chain each
  account needs token creation on the next one, the permission checked on an intermediate being
  iam.serviceAccounts.implicitDelegation.
- "Manage access to service accounts" (iam/docs/manage-access-service-accounts): iam.serviceAccounts.setIamPolicy
  (roles/iam.serviceAccountAdmin; roles/iam.securityAdmin "get and set any IAM policy") rewrites the account's
  allow policy, granting any role on it to anyone, oneself included. Permission lists as IAM's roles.get
  publishes them, mirrored in github.com/iann0036/iam-dataset gcp/roles/iam.{serviceAccountAdmin,securityAdmin,
  serviceAccountTokenCreator}.json.
getOpenIdToken is left out: an ID token is no Google API credential, and GKE's API server takes access tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Permission -> how it lets a member act as the service account (the order says which one a step names).
IMPERSONATION_PERMISSIONS = {
    "iam.serviceAccounts.getAccessToken": "mints access tokens for it (generateAccessToken)",
    "iam.serviceAccounts.signJwt": "signs a JWT as it (signJwt) and exchanges it for an access token",
    "iam.serviceAccounts.signBlob": "signs a JWT's bytes as it (signBlob) and exchanges it for an access token",
    "iam.serviceAccountKeys.create": "creates keys for it (iam.serviceAccountKeys.create)",
    "iam.serviceAccounts.actAs": "attaches it to workloads it runs (actAs)",
    "iam.serviceAccounts.implicitDelegation": "is a link of a delegation chain to it (implicitDelegation)",
}
IMPLICIT_DELEGATION = "iam.serviceAccounts.implicitDelegation"
DELEGATION_CONDITION = ("{member} is reached by minting its tokens (a delegation chain that starts from a holder of"
                        " token creation on it), not with its own credentials: implicitDelegation alone only lets it"
                        " be an intermediate of the chain")
SET_POLICY = "iam.serviceAccounts.setIamPolicy"
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"

# Predefined roles holding iam.serviceAccounts.setIamPolicy (roles/owner too, which impersonates directly).
SET_POLICY_ROLES = ("roles/iam.serviceAccountAdmin", "roles/iam.securityAdmin")


def role_permissions(role: str, custom_roles: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """A custom role's included permissions (() for a predefined role or one the import could not read)."""
    return tuple(str(p) for p in (custom_roles.get(role) or {}).get("includedPermissions", ()))


def custom_impersonation(role: str, custom_roles: Mapping[str, Mapping[str, Any]]) -> tuple[str, str] | None:
    """(how, permissions) a custom role lets a member act as a service account, None when it does not."""
    held = set(role_permissions(role, custom_roles))
    found = [p for p in IMPERSONATION_PERMISSIONS if p in held]
    if not found:
        return None
    return IMPERSONATION_PERMISSIONS[found[0]], ", ".join(found)


def only_delegation(role: str, custom_roles: Mapping[str, Mapping[str, Any]]) -> bool:
    """Does the custom role act as the account through implicitDelegation alone (a conditional step)?"""
    held = set(role_permissions(role, custom_roles)) & set(IMPERSONATION_PERMISSIONS)
    return held == {IMPLICIT_DELEGATION}


# Members that may be a delegate of a chain: the request's `delegates` are service accounts
# ("projects/-/serviceAccounts/{ACCOUNT_EMAIL_OR_UNIQUEID}", IAM Credentials API, GenerateAccessTokenRequest); a
# Google group may hold service accounts. A user, a domain or a federated principal never is one.
DELEGATE_MEMBER_PREFIXES = ("serviceAccount:", "group:")


def can_be_delegate(member: str) -> bool:
    """Can the member be an intermediate of a delegation chain (where implicitDelegation is checked)?"""
    return member.startswith(DELEGATE_MEMBER_PREFIXES)


def sets_policy(role: str, custom_roles: Mapping[str, Mapping[str, Any]]) -> bool:
    """Does the role hold iam.serviceAccounts.setIamPolicy?"""
    return role in SET_POLICY_ROLES or SET_POLICY in role_permissions(role, custom_roles)
