"""`rbacmap import files`: YAML/JSON manifests and kubectl dumps into one snapshot.

Reads what `helm template`, `kustomize build` and `kubectl get -o yaml|json` print:
multi-document YAML, JSON, JSON lines, `kind: List` and typed lists, directories,
gzip, stdin. Every bad document is reported with file, document index and line; the
rest still imports.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import IO, Any

import yaml

from rbacmap.importers.dump_info import info_files, unread_kinds
from rbacmap.importers.item_lines import list_item_lines
from rbacmap.importers.sources import expand_paths as expand_source_paths
from rbacmap.normalize import ItemPath, iter_list_items
from rbacmap.pod_security_config import ADMISSION_CONFIGURATION, inline_plugin_file
from rbacmap.snapshot_builder import ItemLines, SnapshotBuilder, located
from rbacmap.store import ImportError_, Snapshot, Store

try:  # libyaml is several times faster; fall back to the pure-Python loader.
    from yaml import CSafeLoader as YamlLoader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as YamlLoader  # type: ignore[assignment]

_orjson_loads: Callable[[bytes], Any] | None
try:
    import orjson

    _orjson_loads = orjson.loads

    def _json_loads(text: str | bytes) -> Any:
        return orjson.loads(text)

    _JSON_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - orjson is optional
    _orjson_loads = None

    def _json_loads(text: str | bytes) -> Any:
        return json.loads(text)

    _JSON_ERRORS = (ValueError,)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json", ".jsonl")
DOCUMENT_SEPARATOR = re.compile(r"^---(?:[ \t].*)?$|^\.\.\.[ \t]*$")
# How many lines of a broken JSON text `_is_json_lines` looks at.
_JSON_LINES_SAMPLE = 16


class StrictImportError(Exception):
    """--strict was given and the input had errors; nothing was committed."""

    def __init__(self, errors: Sequence[ImportError_]) -> None:
        self.errors = list(errors)
        super().__init__(f"{len(self.errors)} error(s) in the input; --strict: nothing was imported")


class NothingReadError(Exception):
    """No object could be read from any input (all missing, empty or broken); nothing was committed.

    An empty snapshot would become the cluster's latest and every answer would lose all its
    grants, so a typo'd path or a failed `kubectl get ... |` pipe must not replace the last good one.
    """

    def __init__(self, inputs: Sequence[str], errors: Sequence[ImportError_]) -> None:
        self.inputs = list(inputs)
        self.errors = list(errors)
        why = f"{len(self.errors)} error(s)" if self.errors else "no document in the input"
        super().__init__(f"nothing could be read from {', '.join(self.inputs)} ({why}): nothing was imported")


@dataclass(frozen=True)
class Document:
    """One YAML/JSON document of a source: index counts documents with content from 1; line from 1."""

    source: str
    index: int
    line: int
    text: str | bytes
    is_json: bool
    # JSON files are parsed whole while being split; keep that result instead of parsing twice.
    parsed: Any = None


@dataclass(frozen=True)
class ImportResult:
    snapshot: Snapshot
    errors: list[ImportError_]


def is_manifest_file(path: Path) -> bool:
    return path.name.removesuffix(".gz").endswith(MANIFEST_SUFFIXES)


def expand_paths(paths: Sequence[str]) -> Iterator[Path | str]:
    """Manifest files of the given paths; directories keep only YAML/JSON (optionally .gz)."""
    return expand_source_paths(paths, is_manifest_file)


def read_source(source: Path | str, stdin: IO[bytes] | None = None) -> bytes:
    data = (stdin or sys.stdin.buffer).read() if source == "-" else Path(source).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def split_documents(source: str, text: str) -> Iterator[Document]:
    """Split a file into documents, remembering where each starts.

    Only documents with content count: an empty or comment-only document (helm prints
    them for disabled templates) gets no index, so indexes match what a reader counts.
    """
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        yield from _json_documents(source, text)
        return
    number_of_documents = 0
    start = 1
    lines: list[str] = []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if DOCUMENT_SEPARATOR.match(line.rstrip("\r\n")):
            chunk = "".join(lines)
            if _has_content(chunk):
                number_of_documents += 1
                yield Document(source, number_of_documents, start, chunk, False)
            lines = []
            start = number + 1
            continue
        lines.append(line)
    chunk = "".join(lines)
    if _has_content(chunk):
        yield Document(source, number_of_documents + 1, start, chunk, False)


def _has_content(chunk: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in chunk.splitlines())


def _json_documents(source: str, text: str) -> Iterator[Document]:
    try:
        parsed = _json_loads(text)
    except _JSON_ERRORS:
        if _is_json_lines(text):
            # JSON lines: one object per line; a broken line spoils only itself.
            index = 0
            # Split at "\n" only: str.splitlines also splits at U+2028, U+2029 and U+0085, which JSON
            # strings may hold raw.
            for number, line in enumerate(text.split("\n"), start=1):
                if line.strip():
                    index += 1
                    yield Document(source, index, number, line, True)
            return
        # One broken document: parsing it again reports the error at its real line.
        yield Document(source, 1, 1, text, True)
        return
    yield Document(source, 1, 1, text, True, parsed)


def _is_json_lines(text: str) -> bool:
    """Several objects one per line (`kubectl get -o json | jq -c '.items[]'`), not one broken document.

    Called once the whole text failed to parse; only its first non-empty lines are looked at (and
    parsed: they are short in a printed document, whole objects in JSON lines). JSON lines if at least
    half of them parse on their own as objects, or if any does and every one starts with a brace (the
    others are broken lines: a cut pipe truncates the first ones too). A document printed over
    several lines has lines starting with a key, `}` or `]`, and at most a few one-line items.
    """
    sample = _first_lines(text, _JSON_LINES_SAMPLE)
    if len(sample) < 2:
        return False
    objects = sum(_is_json_object(line) for line in sample)
    if 2 * objects >= len(sample):
        return True
    return objects > 0 and all(line.startswith("{") for line in sample)


def _first_lines(text: str, limit: int) -> list[str]:
    """Up to `limit` non-empty lines from the start of `text`, stripped; the rest is never split."""
    lines: list[str] = []
    start = 0
    while len(lines) < limit and start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        line = text[start:end].strip()
        if line:
            lines.append(line)
        start = end + 1
    return lines


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(_json_loads(line), dict)
    except _JSON_ERRORS:
        return False


def _parse_json_bytes(raw: bytes) -> Any:
    """A whole JSON file parsed straight from its bytes, or None to take the general path.

    orjson accepts only valid UTF-8, so whatever parses here parses the same as the decoded
    text would in split_documents; anything else (YAML, a BOM, broken JSON, JSON lines, no
    orjson) goes the general way, which also words the errors.
    """
    if _orjson_loads is None or raw[:1] not in (b"{", b"["):
        return None
    try:
        return _orjson_loads(raw)
    except ValueError:  # orjson.JSONDecodeError
        return None


def parse_document(document: Document) -> Any:
    """Parse one document; errors name the file, the document and the line."""
    if document.parsed is not None:
        return document.parsed
    try:
        if document.is_json:
            return _json_loads(document.text)
        return yaml.load(document.text, Loader=YamlLoader)  # noqa: S506 - CSafeLoader/SafeLoader
    except yaml.YAMLError as exc:
        # The error names the document by its starting line and says where inside it broke.
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {document.line + mark.line}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise _DocumentError(
            ImportError_(document.source, f"YAML syntax error{at}: {problem}", document.index, document.line)
        ) from None
    except _JSON_ERRORS as exc:
        line = document.line + ((getattr(exc, "lineno", None) or 1) - 1)
        raise _DocumentError(
            ImportError_(document.source, f"JSON syntax error at line {line}: {exc}", document.index, document.line)
        ) from None


class _DocumentError(Exception):
    def __init__(self, error: ImportError_) -> None:
        self.error = error
        super().__init__(error.describe())


def read_documents(source: Path | str, on_error: Callable[[ImportError_], None],
                   stdin: IO[bytes] | None = None) -> Iterator[tuple[Document, Any]]:
    """Each document of one source, parsed (null ones left out); read and syntax errors go to `on_error`."""
    name = "<stdin>" if source == "-" else str(source)
    try:
        raw = read_source(source, stdin)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        on_error(ImportError_(name, f"cannot read: {exc}"))
        return
    whole_json = _parse_json_bytes(raw)
    if whole_json is not None:
        documents: Iterable[Document] = [Document(name, 1, 1, raw, True, whole_json)]
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            on_error(ImportError_(name, f"not UTF-8 text: {exc}"))
            return
        documents = split_documents(name, text)
    for document in documents:
        try:
            parsed = parse_document(document)
        except _DocumentError as exc:
            on_error(exc.error)
            continue
        if parsed is not None:
            yield document, parsed


def load_into(builder: SnapshotBuilder, source: Path | str, stdin: IO[bytes] | None = None,
              only_kinds: Collection[str] | None = None) -> int:
    """Read one source and add all its objects to the builder, recording errors.

    Returns how many documents parsed (to anything but null): 0 means the source was unreadable,
    empty, or all broken. With `only_kinds`, an object of another kind is an error, not imported
    (a file meant to hold one thing, such as `import kube --admission-config`, must not slip RBAC
    into a live snapshot)."""
    name = "<stdin>" if source == "-" else str(source)
    parsed_count = 0
    for document, parsed in read_documents(source, builder.writer.error, stdin):
        parsed_count += 1
        # The builder records a bad object (or list item) as an error and goes on.
        objects: Iterable[tuple[ItemPath, Any]] = iter_list_items(parsed)
        item_lines = cache(partial(item_start_lines, document))
        if isinstance(parsed, dict) and parsed.get("kind") == ADMISSION_CONFIGURATION:
            base = Path(name).parent if source != "-" else Path.cwd()
            objects = [((), inline_plugin_file(parsed, partial(_read_plugin_file, base)))]
        if only_kinds is not None:
            objects = _only(objects, only_kinds, builder, document, item_lines)
        builder.add_all(objects, name, document.index, document.line, item_lines)
    return parsed_count


def item_start_lines(document: Document) -> Mapping[ItemPath, int]:
    """The line where each item of a `kind: List` document starts, as far as a parser can tell.

    Parsing keeps no positions, so the text is read again, lazily: only for a document with a bad
    item, and only up to the item asked for. Items it cannot place (broken text) have no line."""
    return list_item_lines(document.text, document.is_json, document.line)


def _only(objects: Iterable[tuple[ItemPath, Any]], kinds: Collection[str], builder: SnapshotBuilder,
          document: Document, item_lines: ItemLines) -> list[tuple[ItemPath, Any]]:
    kept = []
    for path, obj in objects:
        kind = obj.get("kind") if isinstance(obj, dict) else None
        if kind in kinds:
            kept.append((path, obj))
        else:
            error = ImportError_(document.source, f"not read from this file: only {' and '.join(kinds)} is",
                                 document.index, document.line, str(kind or "") or None)
            builder.writer.error(located(error, path, item_lines))
    return kept


def _read_plugin_file(base: Path, path: str) -> Any:
    """An admission plugin's configuration file, its path relative to the AdmissionConfiguration's directory."""
    text = (base / path).read_text(encoding="utf-8")
    try:
        return yaml.load(text, Loader=YamlLoader)  # noqa: S506 - a safe loader (CSafeLoader or SafeLoader)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None


def import_files(
    store: Store,
    paths: Sequence[str],
    cluster: str,
    *,
    strict: bool = False,
    stdin: IO[bytes] | None = None,
    default_namespace: str = "default",
) -> ImportResult:
    """Import manifests as a new snapshot of `cluster`, in one transaction.

    Raises NothingReadError (nothing committed, the previous snapshot stays the latest) when no
    object could be read at all; with `strict`, StrictImportError on any error.
    """
    source = ", ".join(paths)
    with store.write_snapshot(cluster, f"files: {source}"[:500]) as writer:
        builder = SnapshotBuilder(writer, default_namespace)
        documents = sum(_load_input(builder, given, stdin) for given in paths)
        builder.finish()
        # Raised inside the transaction, as --strict does, so the store records the failed import.
        if not (writer.object_counts or writer.skipped_counts) and (writer.errors or not documents):
            raise NothingReadError(["<stdin>" if given == "-" else given for given in paths], writer.errors)
        if strict and writer.errors:
            raise StrictImportError(writer.errors)
        snapshot_id = writer.snapshot_id
        errors = list(writer.errors)
    return ImportResult(store.snapshot(snapshot_id), errors)


def _load_input(builder: SnapshotBuilder, given: str, stdin: IO[bytes] | None) -> int:
    """Load one path as the user gave it; returns the documents parsed.

    A directory without manifests, and a file or stdin named explicitly that holds no document, are
    errors: most likely a wrong path or a failed pipe. (Empty files found inside a directory are not:
    `helm template --output-dir` leaves some.)

    The kinds an `import kube --save-dump` could not read (its `dump-info.txt` says which) are marked
    incomplete, as in the live snapshot: the dump has no objects of theirs, not because there are none."""
    infos = info_files(given)
    for info in infos:
        for kind in unread_kinds(info):
            builder.writer.mark_incomplete(kind)
    if infos == [Path(given)]:
        return 0
    files = list(expand_paths([given]))
    if not files:
        builder.writer.error(ImportError_(given, f"no manifest file ({', '.join(MANIFEST_SUFFIXES)}, "
                                                 "optionally .gz) in this directory"))
        return 0
    explicit = given == "-" or not Path(given).is_dir()
    documents = 0
    for path in files:
        errors_before = len(builder.writer.errors)
        read = load_into(builder, path, stdin)
        if explicit and read == 0 and len(builder.writer.errors) == errors_before:
            builder.writer.error(ImportError_("<stdin>" if path == "-" else str(path), "no document in this input"))
        documents += read
    return documents
