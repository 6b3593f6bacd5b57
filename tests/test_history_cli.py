"""The history command: runs of every kind, filters, one run's actions, JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from test_apply import Brand, brand  # noqa: F401  (the fixture)

from daemon.cli.history import parse_since
from daemon.errors import ConfigError, ExitCode
from daemon.store.history import History


def test_history_lists_runs_of_every_kind_with_filters(brand: Brand) -> None:  # noqa: F811
    assert brand.reconcile().result == "ok"
    brand.sandbox.ordre.fail_next("PUT", "/api/v1/listings", status=400)
    brand.write({"AW26 Main": [("Look 1", ["ML-101/WOOL/NAVY", "ML-303/LINEN/OLIVE"])]})
    partial = brand.cli("apply", "--yes", "--allow-deletes")
    assert partial.exit_code == ExitCode.PARTIAL, partial.output
    with History.open(brand.state_dir) as history:
        imported = history.start_run("import", "timer")
        history.record_event(
            "error", "line-unmatched", "order ORD-10001 line 2: no such barcode", run_id=imported
        )
        history.finish_run(imported, "partial", summary={"created": 1})

    listed = json.loads(brand.cli("history", "--format", "json").stdout)
    assert listed["format_version"] == 2
    kinds = [(r["kind"], r["result"]) for r in listed["runs"]]
    assert kinds == [("import", "partial"), ("apply", "partial"), ("reconcile", "ok")]

    errors = json.loads(brand.cli("history", "--errors", "--format", "json").stdout)
    assert [r["kind"] for r in errors["runs"]] == ["import", "apply"]
    assert any(e["code"] == "line-unmatched" for e in errors["events"])

    only = json.loads(brand.cli("history", "--kind", "reconcile", "--format", "json").stdout)
    assert [r["kind"] for r in only["runs"]] == ["reconcile"]

    text = brand.cli("history").stdout
    assert "apply" in text and "reconcile" in text and "import" in text

    future = brand.cli("history", "--since", "2999-01-01")
    assert future.exit_code == 0 and "No runs match." in future.stdout
    recent = json.loads(brand.cli("history", "--since", "1h", "--format", "json").stdout)
    assert len(recent["runs"]) == 3


def test_history_shows_one_run_with_its_actions(brand: Brand) -> None:  # noqa: F811
    brand.sandbox.ordre.fail_next("POST", "/api/v1/looks", status=400)
    result = brand.reconcile()
    assert result.result == "partial"
    shown = json.loads(brand.cli("history", "--run", str(result.run_id), "--format", "json").stdout)
    statuses = {a["status"] for a in shown["actions"]}
    assert statuses == {"ok", "failed"}
    failed = next(a for a in shown["actions"] if a["status"] == "failed")
    assert failed["object_type"] == "look" and "400" in failed["error"]
    assert all(a["remote_id"] for a in shown["actions"] if a["status"] == "ok")
    text = brand.cli("history", "--run", str(result.run_id)).stdout
    assert "failed" in text and "create look" in text
    missing = brand.cli("history", "--run", "999")
    assert missing.exit_code == ExitCode.ERROR and "no run 999" in missing.output


def test_history_before_any_run_says_so(brand: Brand) -> None:  # noqa: F811
    # Nothing has run yet: that is an answer, not an error.
    empty = brand.cli("history")
    assert empty.exit_code == ExitCode.OK
    assert "No runs yet" in empty.output
    document = json.loads(brand.cli("history", "--format", "json").stdout)
    assert document == {"format_version": 2, "runs": [], "events": []}
    listed = brand.cli("orders", "list")
    assert listed.exit_code == ExitCode.OK and "no imports" in listed.output
    assert json.loads(brand.cli("orders", "list", "--format", "json").stdout)["imports"] == []


def test_unknown_kinds_and_bad_dates_are_usage_errors(brand: Brand) -> None:  # noqa: F811
    for args in (["--kind", "foo"], ["--since", "yesterday"]):
        wrong = brand.cli("history", *args)
        assert wrong.exit_code == ExitCode.USAGE, wrong.output
        assert "No runs" not in wrong.output


def test_since_takes_durations_and_dates() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert parse_since("2h", now=now).startswith("2026-11-27T10:00:00")
    assert parse_since("7d", now=now).startswith("2026-11-20T12:00:00")
    assert parse_since("2026-11-01", now=now).startswith("2026-11-01T00:00:00")
    assert parse_since("2026-11-01T08:30:00+01:00", now=now).startswith("2026-11-01T07:30:00")
    with pytest.raises(ConfigError, match="neither a duration nor a date"):
        parse_since("yesterday", now=now)
