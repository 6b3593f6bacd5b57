import json
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils
from sqlite_utils.migrations import Migrations

from daemon.store import requests, retention
from daemon.store.history import History
from daemon.store.migrations import migrations
from daemon.store.outbox import Outbox


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


def _tally(history: History, name: str, **labels: str) -> float:
    rows = history.query(
        "SELECT value FROM tallies WHERE name = ? AND labels = ?",
        (name, json.dumps(dict(sorted(labels.items())), separators=(",", ":"))),
    )
    return rows[0]["value"] if rows else 0.0


def test_a_streak_of_idle_runs_is_one_row_that_counts_them(tmp_path: Path) -> None:
    with History.open(tmp_path) as history:
        first = history.start_run("import", "startup")
        history.finish_run(first, "no-changes")
        for _ in range(58):
            idle = history.start_run("import", "timer")
            history.finish_run(idle, "no-changes")
        busy = history.start_run("import", "timer")
        history.finish_run(busy, "ok", summary={"created": 1})
        after = history.start_run("import", "timer")
        history.finish_run(after, "no-changes")
        rows = history.query("SELECT id, result, repeats, first_started_at FROM runs ORDER BY id")
        assert [(r["result"], r["repeats"]) for r in rows] == [
            ("no-changes", 59),
            ("ok", 1),
            ("no-changes", 1),
        ]
        [streak] = [r for r in rows if r["repeats"] == 59]
        assert streak["id"] == idle  # the last one stays, with the streak's first start
        [start] = history.query("SELECT started_at FROM runs WHERE id = ?", (idle,))
        assert streak["first_started_at"] < start["started_at"]
        assert _tally(history, "runs_total", kind="import", result="no-changes") == 60
        assert _tally(history, "runs_total", kind="import", result="ok") == 1


def test_an_idle_run_with_an_event_or_another_kind_between_is_kept(tmp_path: Path) -> None:
    with History.open(tmp_path) as history:
        noted = history.start_run("reconcile", "timer")
        history.record_event("warning", "held-back", "a product is held back", run_id=noted)
        history.finish_run(noted, "no-changes")
        plain = history.start_run("reconcile", "timer")
        history.finish_run(plain, "no-changes")
        poll = history.start_run("import", "timer")
        history.finish_run(poll, "no-changes")
        again = history.start_run("reconcile", "watch")
        history.finish_run(again, "no-changes")
        kept = [r["id"] for r in history.query("SELECT id FROM runs ORDER BY id")]
        # The run with an event stays; the two plain reconciles fold over the poll between.
        assert kept == [noted, poll, again]
        [row] = history.query("SELECT repeats FROM runs WHERE id = ?", (again,))
        assert row["repeats"] == 2


def test_retention_deletes_old_runs_and_events_but_never_an_order(tmp_path: Path) -> None:
    old = "2025-01-01T00:00:00.000000+00:00"
    with History.open(tmp_path) as history:
        reconcile = history.start_run("reconcile", "timer")
        action = history.record_action(
            reconcile, 1, op="create", object_type="look", object_key="A/L", intent="+ look L"
        )
        history.finish_action(action, "ok")
        history.record_event("error", "remote", "ordre: 503", run_id=reconcile)
        history.finish_run(reconcile, "ok")
        imported = history.start_run("import", "timer")
        history.record_event(
            "info", "order-created", "created SO-1", subject="o#1", run_id=imported
        )
        history.finish_run(imported, "ok")
        with history.transaction() as conn:
            conn.execute(
                "INSERT INTO imports (import_key, ordre_id, ordre_number, submission,"
                " connector_ref, state, first_seen_at, updated_at, run_id)"
                " VALUES ('o#1', 'o', 'ORD-1', 1, 'ordre:o#1', 'created', ?, ?, ?)",
                (old, old, imported),
            )
            conn.execute("UPDATE runs SET started_at = ?, finished_at = ?", (old, old))
            conn.execute("UPDATE events SET at = ?", (old,))
        recent = history.start_run("reconcile", "timer")
        history.finish_run(recent, "failed", error="ordre: 503")
        counted = _tally(history, "runs_total", kind="reconcile", result="ok")

        gone = retention.prune(history, retention.cutoff(30 * 86400))

        assert gone == {**dict.fromkeys(retention.KINDS, 0), "events": 1, "runs": 1, "actions": 1}
        runs = {r["id"] for r in history.query("SELECT id FROM runs")}
        assert runs == {imported, recent}  # the order's run stays, with the order
        assert history.query("SELECT import_key FROM imports") == [{"import_key": "o#1"}]
        assert [e["code"] for e in history.events()] == ["order-created"]
        assert _tally(history, "runs_total", kind="reconcile", result="ok") == counted
        assert retention.prune(history, retention.cutoff(30 * 86400)) == dict.fromkeys(gone, 0)


def test_requests_are_answered_up_to_the_pass_that_ran_for_them(tmp_path: Path) -> None:
    with History.open(tmp_path) as history:
        assert requests.newest_open(history, requests.RECONCILE) is None
        first = requests.ask(history, requests.RECONCILE, by="ines")
        second = requests.ask(history, requests.RECONCILE, by="ines")
        assert requests.newest_open(history, requests.RECONCILE) == second
        late = requests.ask(history, requests.RECONCILE)  # asked while the pass ran
        answered = requests.answer(
            history, requests.RECONCILE, second, run_id=7, result="ok", message="applied 1"
        )
        assert answered == 2
        assert requests.answer_of(history, first)["result"] == "ok"  # type: ignore[index]
        assert requests.answer_of(history, late) is None
        assert requests.newest_open(history, requests.RECONCILE) == late


def test_the_tallies_start_from_what_an_older_history_holds(tmp_path: Path) -> None:
    """A history made before the tallies existed is counted once when it is migrated."""
    path = tmp_path / "history.sqlite"
    db = sqlite_utils.Database(path)
    older = Migrations("zedonk-ordre")
    older._migrations.extend(m for m in migrations._migrations if m.name < "m004")
    older.apply(db)
    db.execute(
        "INSERT INTO runs (kind, trigger, started_at, finished_at, result)"
        " VALUES ('import', 'timer', '2026-01-01T00:00:00.250000+00:00',"
        " '2026-01-01T00:00:01.500000+00:00', 'ok')"
    )
    db.execute(
        "INSERT INTO imports (import_key, ordre_id, ordre_number, submission, connector_ref,"
        " state, first_seen_at, updated_at) VALUES ('o#1', 'o', 'ORD-1', 1, 'ordre:o#1',"
        " 'failed', 'now', 'now')"
    )
    db.conn.commit()
    db.conn.close()
    with History.open(tmp_path) as history:
        assert _tally(history, "runs_total", kind="import", result="ok") == 1
        assert _tally(history, "orders", state="failed") == 1
        assert _tally(history, "orders_failed_total", state="failed") == 1
        stamp = _tally(history, "last_success_timestamp_seconds", kind="import")
        assert stamp == datetime(2026, 1, 1, 0, 0, 1, 500000, tzinfo=UTC).timestamp()


def test_retention_lets_go_of_sent_notices_and_keeps_what_is_still_owed(tmp_path: Path) -> None:
    old = "2025-01-01T00:00:00.000000+00:00"
    with History.open(tmp_path) as history:
        outbox = Outbox(history)
        with history.transaction() as conn:
            outbox.open_problem(conn, "sent-long-ago", "old", "gone", channels=["webhook"])
            outbox.open_problem(conn, "still-owed", "owed", "stays", channels=["webhook"])
            outbox.close_problem(conn, "sent-long-ago", channels=[])
            [sent] = [
                r["notice_id"] for r in outbox.ungrouped(conn, "webhook") if r["title"] == "old"
            ]
            outbox.add_delivery(conn, "webhook", "d-1", [sent], "{}", old)
        outbox.note_sent("webhook", "d-1")
        with history.transaction() as conn:
            conn.execute("UPDATE outbox SET created_at = ?", (old,))
            conn.execute(
                "UPDATE notifications SET resolved_at = ? WHERE state = 'resolved'", (old,)
            )
        gone = retention.prune(history, retention.cutoff(30 * 86400))
        assert (gone["notifications"], gone["deliveries"], gone["notices"]) == (1, 1, 1)
        assert [r["title"] for r in history.query("SELECT title FROM outbox")] == ["owed"]
        with history.transaction() as conn:
            assert [r["title"] for r in outbox.ungrouped(conn, "webhook")] == ["owed"]
        assert [p["key"] for p in outbox.open_problems()] == ["still-owed"]


def test_m008_leaves_a_resubmission_still_to_be_linked_for_its_search(tmp_path: Path) -> None:
    """A history from before m008: its re-submissions linked to the import before them were
    followed up; the others (nothing earlier recorded, or not linked yet) get their search."""
    path = tmp_path / "history.sqlite"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="m008_earlier_checked")
    rows = [  # key, submission, previous import, previous inactivated
        ("o#1", 1, None, 0),
        ("o#2", 2, "o#1", 0),  # linked, earlier order reported
        ("p#2", 2, None, 1),  # nothing earlier to link
        ("q#2", 2, None, 0),  # still to be linked
    ]
    for key, submission, previous, inactivated in rows:
        db.execute(
            "INSERT INTO imports (import_key, ordre_id, ordre_number, submission, connector_ref,"
            " state, previous_import_key, previous_inactivated, first_seen_at, updated_at)"
            " VALUES (?, ?, 'ORD', ?, ?, 'created', ?, ?, '2026-01-01', '2026-01-01')",
            (key, key[0], submission, f"ordre:{key}", previous, inactivated),
        )
    db.conn.commit()
    db.close()
    with History.open(tmp_path) as history:
        checked = {
            r["import_key"]: r["earlier_checked"]
            for r in history.query("SELECT import_key, earlier_checked FROM imports")
        }
    assert checked == {"o#1": 0, "o#2": 1, "p#2": 0, "q#2": 0}
