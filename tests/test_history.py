import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlite_utils

from daemon.store.history import History
from daemon.store.migrations import migrations


def test_open_creates_a_private_file_with_wal_and_migrations(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with History.open(state) as history:
        assert stat.S_IMODE(history.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        assert history.query("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
        tables = {r["name"] for r in history.query("SELECT name FROM sqlite_master")}
        assert {"runs", "actions", "events", "imports", "import_lines", "state"} <= tables
    # Reopening applies nothing twice.
    with History.open(state) as history:
        applied = history.query("SELECT name FROM _sqlite_migrations")
        names = [r["name"] for r in applied]
        assert names[0] == "m001_initial" and len(names) == len(set(names))


def test_runs_actions_events_and_state_round_trip(tmp_path: Path) -> None:
    with History.open(tmp_path) as history:
        run = history.start_run("apply", "cli", git_commit="abc123")
        action = history.record_action(
            run, 1, op="create", object_type="look", object_key="Coats/Look 1", intent="+ look"
        )
        history.finish_action(action, "failed", error="boom")
        history.record_event("error", "apply-failed", "it broke", subject="Coats", run_id=run)
        history.finish_run(run, "partial", summary={"failed": 1})
        history.set_state("cursor", {"at": "2026-01-01T00:00:00Z"})
        history.set_state("cursor", {"at": "2026-01-02T00:00:00Z"})

        [row] = history.runs(errors_only=True)
        assert row["result"] == "partial" and row["summary"] == {"failed": 1}
        assert row["git_commit"] == "abc123"
        assert history.runs(kind="import") == []
        [act] = history.actions(run)
        assert (act["status"], act["error"]) == ("failed", "boom")
        assert history.events(level="error")[0]["subject"] == "Coats"
        assert history.get_state("cursor") == {"at": "2026-01-02T00:00:00Z"}
        assert history.get_state("missing", 7) == 7


def test_closing_interrupted_runs_fails_their_unfinished_actions_only(tmp_path: Path) -> None:
    with History.open(tmp_path) as history:
        died = history.start_run("apply", "cli")
        for seq, key in enumerate(("a", "b"), start=1):
            history.record_action(
                died, seq, op="create", object_type="look", object_key=key, intent=f"+ look {key}"
            )
        history.finish_action(history.actions(died)[0]["id"], "ok")
        daemon_died = history.start_run("reconcile", "watch")
        importing = history.start_run("import", "timer")
        finished = history.start_run("apply", "cli")
        history.finish_run(finished, "ok")

        assert history.close_interrupted_runs() == [died, daemon_died]
        assert history.close_interrupted_runs() == []
        results = {row["id"]: row["result"] for row in history.runs()}
        assert results == {
            died: "interrupted",
            daemon_died: "interrupted",
            importing: "running",
            finished: "ok",
        }
        assert [(a["status"], a["error"] is None) for a in history.actions(died)] == [
            ("ok", True),
            ("failed", False),
        ]


def test_import_key_is_unique(tmp_path: Path) -> None:
    with History.open(tmp_path) as history:
        row = (
            "o1#1",
            "o1",
            "ORD-1",
            1,
            "ordre:o1#1",
            "pending",
            "2026-01-01",
            "2026-01-01",
        )
        sql = (
            "INSERT INTO imports (import_key, ordre_id, ordre_number, submission, connector_ref,"
            " state, first_seen_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        with history.transaction() as conn:
            conn.execute(sql, row)
        with pytest.raises(sqlite3.IntegrityError), history.transaction() as conn:
            conn.execute(sql, row)


def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    with History.open(tmp_path) as history:
        with pytest.raises(RuntimeError), history.transaction() as conn:
            conn.execute("INSERT INTO state (key, value, updated_at) VALUES ('k', '1', 'now')")
            raise RuntimeError("crash between writes")
        assert history.get_state("k") is None


OPEN_AT = """
import sys, time
from pathlib import Path
from daemon.store.history import History
start = float(sys.argv[2])
while time.time() < start:
    pass
with History.open(Path(sys.argv[1])) as history:
    print(len(history.query("SELECT name FROM _sqlite_migrations")))
"""


def test_processes_opening_a_new_history_at_once_all_succeed(tmp_path: Path) -> None:
    for attempt in range(3):
        state = tmp_path / f"state{attempt}"
        start = time.time() + 0.5
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT, str(state), str(start)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        results = [proc.communicate(timeout=60) for proc in procs]
        for proc, (out, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0, err
            assert out.strip() == str(len(migrations.pending(_empty_db())))


def _empty_db() -> sqlite_utils.Database:
    return sqlite_utils.Database(memory=True)
