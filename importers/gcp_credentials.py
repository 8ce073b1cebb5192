"""Google credentials from a `--credentials` file, with errors that name the file and what it should hold.

google-auth's own message for a file that is not JSON ("Expecting value: line 1 column 1")
names neither the file nor the kind of file it wanted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import google.auth.exceptions
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

EXPECTED = ("expected a service-account key or authorized-user JSON file "
            "(`gcloud iam service-accounts keys create`, `gcloud auth application-default login`)")


class GcpCredentialsError(Exception):
    """The credentials file cannot be used; the message names it and says what was expected."""


def load_credentials_file(path: str, scopes: Sequence[str]) -> Any:
    """Credentials from a service-account key or an authorized-user file (gcloud's ADC file)."""
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise GcpCredentialsError(f"cannot read credentials file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise GcpCredentialsError(f"credentials file {path} is not text: {EXPECTED}") from exc
    except json.JSONDecodeError as exc:
        raise GcpCredentialsError(f"credentials file {path} is not JSON ({exc.msg} at line {exc.lineno} "
                                  f"column {exc.colno}): {EXPECTED}") from exc
    if not isinstance(info, dict):
        raise GcpCredentialsError(f"credentials file {path} holds a JSON {type(info).__name__}, "
                                  f"not an object: {EXPECTED}")
    # Only the two types asked for: google-auth warns that loading any type a file names
    # (external accounts run commands or fetch URLs) is a risk with a file from elsewhere.
    kind = info.get("type")
    try:
        if kind == "service_account":
            return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=list(scopes))
        if kind == "authorized_user":
            return user_credentials.Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
                info, scopes=list(scopes))
    except (ValueError, google.auth.exceptions.GoogleAuthError) as exc:
        raise GcpCredentialsError(f"credentials file {path}: {_reason(exc)}; {EXPECTED}") from exc
    raise GcpCredentialsError(f"credentials file {path} has type {kind!r}: {EXPECTED}")


def _reason(exc: Exception) -> str:
    """google-auth often raises with (message, cause) args; show both in one line."""
    return ": ".join(str(arg).rstrip(".") for arg in exc.args) or type(exc).__name__
