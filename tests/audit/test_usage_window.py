"""Audit timestamps and the usage window: parse_time's RFC 3339 forms, --since on whole-second logs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from rbacmap.cli import cli
from rbacmap.importers.audit import import_audit
from rbacmap.importers.manifests import import_files
from rbacmap.store import Store
from rbacmap.usage import UsageWindow, parse_duration, parse_time, usage_records, usage_window

DEMO_AUDIT = Path(__file__).resolve().parent.parent.parent / "fixtures" / "demo-audit" / "audit.jsonl"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)),
        ("2024-05-01T10:00:00z", datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)),
        ("2024-05-01t10:00:00Z", datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)),
        ("2024-05-01T10:00:00.5Z", datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2024-05-01T10:00:00.05Z", datetime(2024, 5, 1, 10, 0, 0, 50000, tzinfo=UTC)),
        ("2024-05-01T10:00:00.123456Z", datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        # Kubernetes writes nanoseconds: cut, not rounded, to microseconds.
        ("2024-05-01T10:00:00.123456789Z", datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-01T10:00:00.999999999Z", datetime(2024, 5, 1, 10, 0, 0, 999999, tzinfo=UTC)),
        # Offsets are kept (converted to UTC), whether or not a fraction comes before them.
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)),
        ("2024-05-01T12:00:00.123+02:00", datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)),
        ("2024-05-01T08:30:00.123456789-01:30", datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-01T12:00:00+0200", datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)),
        ("2024-05-01T12:00:00.7+0200", datetime(2024, 5, 1, 10, 0, 0, 700000, tzinfo=UTC)),
        ("2024-05-01T10:00:00-00:00", datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)),
        # No zone: taken to be UTC, so the result compares with every other.
        ("2024-05-01T10:00:00", datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)),
        ("2024-05-01T10:00:00.25", datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=UTC)),
        ("2024-05-01 10:00:00Z", datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)),
    ],
)
def test_parse_time_forms(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.utcoffset() is not None and parsed.tzinfo == UTC


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "2024-05-01", "2024-05-01T10:00:00.Z", "2024-05-01T10:00:00.1234567890Z",
     "2024-05-01T10:00:00+2", "2024-05-01T10:00:00Z junk", "2024-13-01T10:00:00Z"],
)
def test_parse_time_rejects_what_is_not_rfc3339(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


def test_window_days_mixes_fractions_zones_and_whole_seconds() -> None:
    assert UsageWindow("2024-05-01T10:00:00.000000Z", "2024-05-03T10:00:00Z").days == 2.0
    assert UsageWindow("2024-05-01T12:00:00.5+02:00", "2024-05-02T10:00:00.5Z").days == 1.0
    assert UsageWindow("2024-05-01T10:00:00", "2024-05-02T10:00:00Z").days == 1.0


@pytest.fixture
def demo_audit_store(demo_store: Store) -> Store:
    """The demo cluster with its two weeks of audit logs (whole-second timestamps)."""
    assert import_audit(demo_store, [str(DEMO_AUDIT)], "demo").errors == []
    return demo_store


def test_since_on_whole_second_logs(demo_audit_store: Store) -> None:
    window = usage_window(demo_audit_store, "demo", parse_duration("2d"))
    assert (window.start, window.end) == ("2026-11-24T06:15:00.000000Z", "2026-11-26T06:15:00Z")
    assert window.days == 2.0
    assert "(2.0 days)" in window.describe()
    records = usage_records(demo_audit_store, "demo", window)
    assert records and all(r.last_seen >= "2026-11-24T06:15:00Z" for r in records)


@pytest.mark.parametrize(
    ("args", "shows"),
    [
        (("usage", "--since", "2d"), "window 2026-11-24T06:15:00.000000Z .. 2026-11-26T06:15:00Z (2.0 days)"),
        (("trim", "--all", "--since", "2d"), "audit window: 2026-11-24T06:15:00.000000Z .. 2026-11-26T06:15:00Z"),
        (("generate", "--subject", "sa:ci/deployer", "--since", "2d"), "rbacmap.io/window-days: '2.0'"),
    ],
)
def test_since_commands_on_whole_second_logs(demo_audit_store: Store, args: tuple[str, ...], shows: str) -> None:
    result = CliRunner().invoke(cli, [args[0], "--db", str(demo_audit_store.path), *args[1:]])
    assert result.exit_code == 0, result.output
    assert shows in result.output


def test_since_cutoff_is_written_in_utc(store: Store, tmp_path: Path, fixtures_dir: Path) -> None:
    """A log whose newest event carries an offset still gets a UTC cutoff, compared as text with the rows."""
    assert import_files(store, [str(fixtures_dir / "demo")], "demo").errors == []
    log = tmp_path / "offset.jsonl"
    event = ('{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"%s","stage":"ResponseComplete",'
             '"verb":"get","user":{"username":"u"},"objectRef":{"resource":"pods","namespace":"web"},'
             '"responseStatus":{"code":200},"stageTimestamp":"%s"}\n')
    log.write_text(event % ("a1", "2024-05-01T10:00:00Z") + event % ("a2", "2024-05-03T12:00:00.000000+02:00"))
    assert import_audit(store, [str(log)], "demo").errors == []
    window = usage_window(store, "demo", parse_duration("1d"))
    assert window.start == "2024-05-02T10:00:00.000000Z"
