"""`import kube --save-dump DIR`: what was fetched, as kubectl-style List files `import files` reads."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from rbacmap.importers.dump_info import INFO_FILE
from rbacmap.importers.kube_fetch import OK, FetchedKind, ServerInfo
from rbacmap.pod_security_config import PodSecurityConfig

POD_SECURITY_FILE = "podsecurityconfiguration.json"
# Characters kept in a context's dump folder name: safe on every file system, and no path separator.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_FOLDER = 100


def context_folders(names: Sequence[str]) -> dict[str, str]:
    """The dump folder of each context of `--all-contexts`: one path segment each, none shared.

    Context names are anything: an EKS context is its cluster's ARN (`arn:aws:eks:...:cluster/prod`,
    a `/` that would nest folders, `:` that Windows refuses). A safe name is kept as it is; any other
    is made safe and given a hash of the name, so two names that sanitise alike (`cluster/prod`,
    `cluster:prod`) still get two folders, the same ones on every run. Names are compared without
    case, as a macOS or Windows disk does."""
    folders = {name: _folder(name, hashed=not name or _safe(name) != name) for name in names}
    clashing = _clashes(folders)
    folders |= {name: _folder(name, hashed=True) for name in clashing}  # `Prod` beside `prod`
    for number, name in enumerate(sorted(_clashes(folders)), start=1):  # only a hash collision is left
        folders[name] = f"{folders[name]}-{number}"
    return folders


def _safe(name: str) -> str:
    safe = _UNSAFE.sub("_", name)[:_MAX_FOLDER]
    return "" if safe.strip(".") == "" else safe  # "", "." and ".." are no folder of their own


def _folder(name: str, *, hashed: bool) -> str:
    if not hashed:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    stem = _safe(name)[: _MAX_FOLDER - len(digest) - 1]
    return f"{stem}-{digest}" if stem else f"context-{digest}"


def _clashes(folders: dict[str, str]) -> set[str]:
    seen: dict[str, list[str]] = {}
    for name, folder in folders.items():
        seen.setdefault(folder.casefold(), []).append(name)
    return {name for names in seen.values() if len(names) > 1 for name in names}


def write_dump(directory: str | Path, fetched: Sequence[FetchedKind], server: ServerInfo) -> list[Path]:
    """One `<plural>.<group>.json` List per kind that was read; Secrets hold metadata and type only.

    Kinds that could not be read get no file; `dump-info.txt` says which, so whoever receives the
    dump knows what it lacks, and `import files` marks them incomplete. A file an earlier dump into
    the same directory left for such a kind is removed: read back, its stale objects would pass for
    this import's. So is an earlier PodSecurity configuration (`write_pod_security` writes this one's).
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    (root / POD_SECURITY_FILE).unlink(missing_ok=True)
    written = []
    for result in fetched:
        path = root / result.resource.file_name
        if result.status != OK:
            path.unlink(missing_ok=True)
            continue
        document = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": result.items}
        _write_private(path, json.dumps(document, indent=2) + "\n")
        written.append(path)
    lines = [f"server version: {server.git_version or 'unknown'}", f"platform: {server.platform or 'unknown'}"]
    # One line per kind (`import files` reads them back): a message is folded onto it.
    lines += [f"{r.resource.kind}: {r.status}" + (f" ({' '.join(r.message.split())})" if r.message else "")
              for r in fetched]
    _write_private(root / INFO_FILE, "\n".join(lines) + "\n")
    return written


def write_pod_security(directory: str | Path, config: PodSecurityConfig) -> Path:
    """The API server's PodSecurity configuration the import was given, beside the Lists (`import files` reads
    it back): the API does not serve it, so a dump would lose it."""
    path = Path(directory) / POD_SECURITY_FILE
    _write_private(path, json.dumps(config.to_document(), indent=2) + "\n")
    return path


def _write_private(path: Path, text: str) -> None:
    # A dump maps who can do what in a cluster: readable by its owner only, like the DB.
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the mode of os.open applies to a new file only, not one an earlier dump left
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
