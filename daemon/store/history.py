"""The history: every run, action, import and error, in one SQLite file in the state directory.

Durability first, because the order import keeps its exactly-once ledger here:
- WAL with ``synchronous=FULL``: a committed intent survives a crash or power loss;
- every write transaction starts with ``BEGIN IMMEDIATE``, so two processes never deadlock on
  a read-then-write upgrade, and ``busy_timeout`` makes a writer wait instead of failing;
- UNIQUE constraints are the last guard against a doubled import;
- the file is created with mode 0600 (it names customers and orders) and lives in the state
  directory, never inside ``catalogue/``;
- no secret is written to it: every text parameter of every statement passes
  ``daemon.redact`` on its way in (``_RedactingConnection``), whichever module writes.

The schema is versioned with sqlite-utils ``Migrations`` (``migrations.py``: add a new
migration at the end, never edit one that has shipped). Reporting queries use sqlite-utils; the
write path uses plain ``sqlite3`` with explicit transactions.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from daemon import redact
from daemon.errors import StateDirError, ZedonkOrdreError
from daemon.store.lock import ensure_state_dir
from daemon.store.migrations import migrations
from daemon.store.reports import HistoryReports

HISTORY_FILE = "history.sqlite"
BUSY_TIMEOUT_SECONDS = 10.0
IDLE_RESULT = "no-changes"  # a run that found nothing to do


def utcnow() -> str:
    """The one timestamp format of the history: RFC 3339 UTC with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch a new file to WAL (it stays so). Switching takes an exclusive lock and does not
    wait on the busy handler, so a process that opens a brand-new file alongside another retries.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _alive(pid: int | None) -> bool:
    """Whether process ``pid`` still runs on this machine (the history is local to it)."""
    if not pid or pid == os.getpid():
        return bool(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def _redacted(parameters: Any) -> Any:
    if isinstance(parameters, dict):
        return {k: redact.redact(v) if isinstance(v, str) else v for k, v in parameters.items()}
    return tuple(redact.redact(v) if isinstance(v, str) else v for v in parameters)


class _RedactingConnection(sqlite3.Connection):
    """A connection whose text parameters pass ``daemon.redact``: whatever a module writes
    (an error message, an order's payload, a notice), no registered secret reaches the file."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        if parameters and redact.active():
            parameters = _redacted(parameters)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:
        if redact.active():
            seq_of_parameters = (_redacted(p) for p in seq_of_parameters)
        return super().executemany(sql, seq_of_parameters)


def _fold_idle_streak(conn: sqlite3.Connection, run_id: int) -> None:
    """Fold the run just before idle run ``run_id`` (of its kind) into it, when that one was
    idle too and nothing refers to it (no action, event or import): ``run_id`` then carries
    the streak's count and first start. Call it inside the transaction that finished it."""
    row = conn.execute("SELECT kind FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        return
    before = conn.execute(
        "SELECT id, repeats, started_at, first_started_at, result, error FROM runs"
        " WHERE kind = ? AND id < ? ORDER BY id DESC LIMIT 1",
        (row["kind"], run_id),
    ).fetchone()
    if before is None or before["result"] != IDLE_RESULT or before["error"] is not None:
        return
    for table in ("actions", "events", "imports"):
        if conn.execute(
            f"SELECT 1 FROM {table} WHERE run_id = ? LIMIT 1", (before["id"],)
        ).fetchone():
            return
    conn.execute("SAVEPOINT fold")
    try:
        conn.execute(
            "UPDATE runs SET repeats = repeats + ?, first_started_at = ? WHERE id = ?",
            (before["repeats"], before["first_started_at"] or before["started_at"], run_id),
        )
        conn.execute("DELETE FROM runs WHERE id = ?", (before["id"],))
    except sqlite3.IntegrityError:  # something else refers to it: keep both rows
        conn.execute("ROLLBACK TO fold")
    conn.execute("RELEASE fold")


class HistoryError(ZedonkOrdreError):
    """The history file cannot be opened or written."""


class History(HistoryReports):
    """A connection to the history file. Safe to share between the daemon's threads.

    Times are ``utcnow()`` strings; JSON arguments take anything ``json.dumps`` can write
    (other values, like dates, are written as ``str(value)``). Each write method commits its own
    ``BEGIN IMMEDIATE`` transaction and raises ``sqlite3.OperationalError`` when the file stays
    locked longer than ``BUSY_TIMEOUT_SECONDS`` or cannot be written (a read-only history), and
    ``sqlite3.IntegrityError`` when a constraint fails, e.g. a ``run_id`` that names no run.
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._lock = threading.RLock()
        try:
            if read_only:
                uri = f"file:{path}?mode=ro"
                self.conn = sqlite3.connect(
                    uri,
                    uri=True,
                    timeout=BUSY_TIMEOUT_SECONDS,
                    check_same_thread=False,
                    factory=_RedactingConnection,
                )
            else:
                self.conn = sqlite3.connect(
                    path,
                    timeout=BUSY_TIMEOUT_SECONDS,
                    isolation_level=None,  # we issue BEGIN IMMEDIATE ourselves
                    check_same_thread=False,
                    factory=_RedactingConnection,
                )
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA foreign_keys = ON")
            if not read_only:
                _enable_wal(self.conn)
                self.conn.execute("PRAGMA synchronous = FULL")
            self.db = sqlite_utils.Database(self.conn)
            if not read_only and migrations.pending(self.db):
                # BEGIN IMMEDIATE: two processes opening a new file migrate it one after the
                # other, and the second finds nothing left to do.
                with self.transaction():
                    migrations.apply(self.db)
        except sqlite3.Error as exc:
            raise HistoryError(
                f"cannot open the history at {path}: {exc}",
                hint="check the state directory's permissions and free space",
            ) from exc

    @staticmethod
    def exists(state_dir: Path) -> bool:
        """Whether anything has written a history in ``state_dir`` yet."""
        return (state_dir / HISTORY_FILE).exists()

    @classmethod
    def open(cls, state_dir: Path, *, read_only: bool = False) -> History:
        """Open (creating when missing) the history in ``state_dir``, with safe permissions.

        Creates ``state_dir`` (0700, with a ``.gitignore`` of everything) and the file (0600)
        and applies pending migrations, unless ``read_only``. Raises ``HistoryError`` when a
        read-only history does not exist yet or SQLite cannot open the file, and
        ``StateDirError`` (a ``ConfigError`` naming the directory and the fix) when the
        directory or the file cannot be created."""
        path = state_dir / HISTORY_FILE
        if read_only:
            if not path.exists():
                raise HistoryError(
                    f"no history at {path} yet",
                    hint="run `zedonk-ordre apply` or start the daemon first",
                )
            return cls(path, read_only=True)
        try:
            ensure_state_dir(state_dir)
            if not path.exists():
                # Create it 0600 before SQLite does, so it is never briefly world-readable.
                fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
            path.chmod(0o600)
        except OSError as exc:
            raise StateDirError(state_dir, exc) from None
        return cls(path)

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, started with BEGIN IMMEDIATE and committed on success."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    # ------------------------------------------------------------------ runs and actions

    def start_run(self, kind: str, trigger: str, *, git_commit: str | None = None) -> int:
        """Record that a run starts, with result ``running``, now and this pid; returns its id.

        ``kind``: plan | apply | reconcile | import | audit | validate. ``trigger``: cli |
        watch | timer | retry | startup | demo. ``git_commit``: the catalogue's commit, when
        it is in git."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO runs (kind, trigger, started_at, git_commit, pid)"
                " VALUES (?, ?, ?, ?, ?)",
                (kind, trigger, utcnow(), git_commit, os.getpid()),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def finish_run(
        self,
        run_id: int,
        result: str,
        *,
        summary: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Close the run ``run_id`` now with ``result`` (ok | no-changes | partial | failed |
        invalid | interrupted), its JSON ``summary`` (counts, e.g. ``{"create": 3}``) and, when
        it failed, the ``error`` for people. An unknown ``run_id`` changes nothing.

        An idle run (``no-changes`` without an error: an order poll that found nothing, a
        reconcile or apply without changes) takes the place of the run of its kind just before
        it when that one was idle too: the row counts the streak (``repeats``, from
        ``first_started_at``), so polling every few seconds does not grow the history. The
        tallies behind /metrics count every run all the same."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET finished_at = ?, result = ?, summary = ?, error = ? WHERE id = ?",
                (utcnow(), result, _json(summary), error, run_id),
            )
            if result == IDLE_RESULT and error is None:
                _fold_idle_streak(conn, run_id)

    def close_interrupted_runs(self) -> list[int]:
        """Close the apply and reconcile runs a dead process left "running": the run is
        "interrupted" and its unfinished actions failed. Returns the ids of the runs closed.

        Call it holding the state lock: no other apply can be running then. The unfinished
        actions may or may not have reached ORDRE; the next plan reads ORDRE again, so it
        converges either way.
        """
        stuck = "SELECT id FROM runs WHERE result = 'running' AND kind IN ('apply', 'reconcile')"
        closed = [row["id"] for row in self.query(stuck)]
        with self.transaction() as conn:
            conn.execute(
                f"UPDATE actions SET status = 'failed', error = ? WHERE run_id IN ({stuck})"
                " AND status = 'pending'",
                ("interrupted: the outcome is unknown; the next apply reads ORDRE again",),
            )
            conn.execute(
                f"UPDATE runs SET finished_at = ?, result = 'interrupted', error = ?"
                f" WHERE id IN ({stuck})",
                (utcnow(), "the process ended before the run did"),
            )
        return closed

    def close_interrupted_imports(self, current: int) -> list[int]:
        """Close the import runs other than ``current`` that a process killed mid-pass left
        "running" (its pid is gone): the run is "interrupted". Returns their ids.

        Call it holding the orders lock: a pass still waiting for the lock keeps its run,
        since its process is alive. What the killed pass left ``sending`` is the ledger's to
        resolve (``Ledger.note_interrupted``)."""
        rows = self.query(
            "SELECT id, pid FROM runs WHERE result = 'running' AND kind = 'import' AND id != ?",
            (current,),
        )
        closed = [row["id"] for row in rows if not _alive(row["pid"])]
        if closed:
            with self.transaction() as conn:
                conn.executemany(
                    "UPDATE runs SET finished_at = ?, result = 'interrupted', error = ?"
                    " WHERE id = ? AND result = 'running'",
                    [(utcnow(), "the process ended before the import pass did", i) for i in closed],
                )
        return closed

    def record_action(
        self,
        run_id: int,
        seq: int,
        *,
        op: str,
        object_type: str,
        object_key: str,
        intent: str,
        before: Any = None,
        after: Any = None,
        remote_version: str | None = None,
    ) -> int:
        """Journal an action's intent before it is carried out; returns its id.

        ``seq`` orders the run's actions and is unique within the run. ``op``: create | update |
        delete | move. ``object_type``: collection | look | membership | listing | customer.
        ``intent`` is one line for people; ``before`` and ``after`` are JSON; ``remote_version``
        is the ORDRE version the action was computed from. The action starts ``pending``, until
        ``finish_action``."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO actions (run_id, seq, op, object_type, object_key, intent, before,"
                " after, remote_version, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    seq,
                    op,
                    object_type,
                    object_key,
                    intent,
                    _json(before),
                    _json(after),
                    remote_version,
                    utcnow(),
                ),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def finish_action(
        self,
        action_id: int,
        status: str,
        *,
        remote_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record how the action ``action_id`` ended, now: ``status`` ok | failed | skipped, the
        id ORDRE gave the object (``remote_id``) and the ``error``. An unknown id changes
        nothing."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE actions SET status = ?, remote_id = ?, error = ?, finished_at = ?"
                " WHERE id = ?",
                (status, remote_id, error, utcnow(), action_id),
            )

    def record_event(
        self,
        level: str,
        code: str,
        message: str,
        *,
        subject: str | None = None,
        details: Any = None,
        run_id: int | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> int:
        """Record an event now; returns its id. ``level``: info | warning | error. ``code`` is
        stable (e.g. ``catalogue-invalid``); ``subject`` says what it is about (e.g. an import
        key); ``details`` is JSON; ``run_id`` the run it belongs to, if any. With ``conn`` (an
        open ``transaction()``) it commits together with what it reports."""
        with self.transaction() if conn is None else nullcontext(conn) as tx:
            cur = tx.execute(
                "INSERT INTO events (run_id, at, level, code, subject, message, details)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, utcnow(), level, code, subject, message, _json(details)),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    # ------------------------------------------------------------------ durable state

    def get_state(
        self, key: str, default: Any = None, *, conn: sqlite3.Connection | None = None
    ) -> Any:
        """The JSON value ``set_state`` stored under ``key``, or ``default`` when there is none;
        read in ``conn`` when given."""
        sql = "SELECT value FROM state WHERE key = ?"
        rows = self.query(sql, (key,)) if conn is None else conn.execute(sql, (key,)).fetchall()
        return json.loads(rows[0]["value"]) if rows else default

    def set_state(self, key: str, value: Any, *, conn: sqlite3.Connection | None = None) -> None:
        """Store ``value`` (JSON, not None: use ``delete_state``) under ``key``, replacing it;
        in ``conn`` (an open ``transaction()``) when given."""
        with self.transaction() if conn is None else nullcontext(conn) as tx:
            tx.execute(
                "INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (key, _json(value), utcnow()),
            )

    def delete_state(self, key: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM state WHERE key = ?", (key,))
