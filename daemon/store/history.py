"""The history: every run, action, import and error, in one SQLite file in the state directory.

Durability first, because the order import keeps its exactly-once ledger here:
- WAL with ``synchronous=FULL``: a committed intent survives a crash or power loss;
- every write transaction starts with ``BEGIN IMMEDIATE``, so two processes never deadlock on
  a read-then-write upgrade, and ``busy_timeout`` makes a writer wait instead of failing;
- UNIQUE constraints are the last guard against a doubled import;
- the file is created with mode 0600 (it names customers and orders) and lives in the state
  directory, never inside ``catalogue/``.

The schema is versioned with sqlite-utils ``Migrations``; add a new migration function at the
end of the list, never edit one that has shipped. Reporting queries use sqlite-utils; the write
path uses plain ``sqlite3`` with explicit transactions.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from daemon.errors import ZedonkOrdreError

HISTORY_FILE = "history.sqlite"
BUSY_TIMEOUT_SECONDS = 10.0

migrations = Migrations("zedonk-ordre")


def _run_script(db: sqlite_utils.Database, script: str) -> None:
    # Not executescript(): it commits first, which would break the migration's transaction.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    _run_script(
        db,
        """
        -- One row per plan, apply, reconcile or import pass.
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,             -- plan | apply | reconcile | import | validate
            trigger TEXT NOT NULL,          -- cli | watch | timer | retry | startup | demo
            started_at TEXT NOT NULL,
            finished_at TEXT,
            result TEXT NOT NULL DEFAULT 'running',
                -- running | ok | no-changes | partial | failed | invalid | interrupted
            summary TEXT,                   -- JSON counts
            git_commit TEXT,                -- the catalogue's commit, when it lives in git
            error TEXT,
            pid INTEGER
        );
        CREATE INDEX runs_started ON runs(started_at);
        CREATE INDEX runs_kind ON runs(kind, started_at);

        -- One row per plan action that apply carried out (or tried to).
        CREATE TABLE actions (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            seq INTEGER NOT NULL,
            op TEXT NOT NULL,               -- create | update | delete | move
            object_type TEXT NOT NULL,      -- collection | look | membership | listing | customer
            object_key TEXT NOT NULL,
            intent TEXT NOT NULL,           -- one line, for people
            before TEXT,                    -- JSON
            after TEXT,                     -- JSON
            remote_version TEXT,            -- the ORDRE version the action was computed from
            remote_id TEXT,
            status TEXT NOT NULL DEFAULT 'pending',  -- pending | ok | failed | skipped
            error TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            UNIQUE (run_id, seq)
        );
        CREATE INDEX actions_object ON actions(object_type, object_key);

        -- Errors, warnings and notable events, from any room.
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            run_id INTEGER REFERENCES runs(id),
            at TEXT NOT NULL,
            level TEXT NOT NULL,            -- info | warning | error
            code TEXT NOT NULL,             -- stable, e.g. line-unmatched, catalogue-invalid
            subject TEXT,                   -- what it is about, e.g. an import key
            message TEXT NOT NULL,
            details TEXT                    -- JSON
        );
        CREATE INDEX events_at ON events(at);
        CREATE INDEX events_subject ON events(subject);

        -- The exactly-once ledger: one row per ORDRE order submission.
        CREATE TABLE imports (
            import_key TEXT PRIMARY KEY,    -- ORDRE order id + '#' + submission number
            ordre_id TEXT NOT NULL,
            ordre_number TEXT NOT NULL,
            submission INTEGER NOT NULL,
            connector_ref TEXT NOT NULL UNIQUE,  -- carried into the Zedonk order
            state TEXT NOT NULL CHECK (state IN (
                'pending', 'sending', 'created', 'partial', 'failed', 'needs_attention',
                'skipped')),
            po_number TEXT,
            retailer_name TEXT,
            customer_id TEXT,
            zedonk_order_id TEXT UNIQUE,
            zedonk_order_number TEXT,
            previous_import_key TEXT REFERENCES imports(import_key),
            previous_inactivated INTEGER NOT NULL DEFAULT 0,
            payload TEXT,                   -- the ORDRE order as received (JSON)
            payload_sha256 TEXT,
            lines_total INTEGER,
            lines_imported INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            first_seen_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(id),
            UNIQUE (ordre_id, submission)
        );
        CREATE INDEX imports_state ON imports(state);
        CREATE INDEX imports_ordre ON imports(ordre_id);

        -- Order lines that were left out of a Zedonk order, with the reason.
        CREATE TABLE import_lines (
            id INTEGER PRIMARY KEY,
            import_key TEXT NOT NULL REFERENCES imports(import_key),
            line_no INTEGER NOT NULL,
            barcode TEXT,
            style TEXT,
            colour TEXT,
            size TEXT,
            quantity INTEGER,
            unit_price TEXT,
            reason TEXT NOT NULL,
            UNIQUE (import_key, line_no)
        );

        -- Small durable settings: poll cursor, pause, last good catalogue, and the like.
        CREATE TABLE state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,            -- JSON
            updated_at TEXT NOT NULL
        );
        """,
    )


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


class HistoryError(ZedonkOrdreError):
    """The history file cannot be opened or written."""


class History:
    """A connection to the history file. Safe to share between the daemon's threads."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._lock = threading.RLock()
        try:
            if read_only:
                uri = f"file:{path}?mode=ro"
                self.conn = sqlite3.connect(
                    uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False
                )
            else:
                self.conn = sqlite3.connect(
                    path,
                    timeout=BUSY_TIMEOUT_SECONDS,
                    isolation_level=None,  # we issue BEGIN IMMEDIATE ourselves
                    check_same_thread=False,
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

    @classmethod
    def open(cls, state_dir: Path, *, read_only: bool = False) -> History:
        """Open (creating when missing) the history in ``state_dir``, with safe permissions."""
        path = state_dir / HISTORY_FILE
        if read_only:
            if not path.exists():
                raise HistoryError(
                    f"no history at {path} yet",
                    hint="run `zedonk-ordre apply` or start the daemon first",
                )
            return cls(path, read_only=True)
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            # Create it 0600 before SQLite does, so it is never briefly world-readable.
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        path.chmod(0o600)
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

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(row) for row in self.conn.execute(sql, params)]

    # ------------------------------------------------------------------ runs and actions

    def start_run(self, kind: str, trigger: str, *, git_commit: str | None = None) -> int:
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
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET finished_at = ?, result = ?, summary = ?, error = ? WHERE id = ?",
                (utcnow(), result, _json(summary), error, run_id),
            )

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
        """Journal an action's intent before it is carried out; returns its id."""
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
    ) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO events (run_id, at, level, code, subject, message, details)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, utcnow(), level, code, subject, message, _json(details)),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    # ------------------------------------------------------------------ durable state

    def get_state(self, key: str, default: Any = None) -> Any:
        rows = self.query("SELECT value FROM state WHERE key = ?", (key,))
        return json.loads(rows[0]["value"]) if rows else default

    def set_state(self, key: str, value: Any) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (key, _json(value), utcnow()),
            )

    def delete_state(self, key: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM state WHERE key = ?", (key,))

    # ------------------------------------------------------------------ reports

    def runs(
        self,
        *,
        kind: str | None = None,
        since: str | None = None,
        errors_only: bool = False,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Recent runs, newest first. ``since`` is an RFC 3339 timestamp."""
        where, params = ["1 = 1"], []
        if kind:
            where.append("kind = ?")
            params.append(kind)
        if since:
            where.append("started_at >= ?")
            params.append(since)
        if errors_only:
            where.append("result IN ('partial', 'failed', 'invalid', 'interrupted')")
        rows = self.query(
            f"SELECT * FROM runs WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        for row in rows:
            row["summary"] = json.loads(row["summary"]) if row["summary"] else None
        return rows

    def actions(self, run_id: int) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM actions WHERE run_id = ? ORDER BY seq", (run_id,))
        for row in rows:
            for field in ("before", "after"):
                row[field] = json.loads(row[field]) if row[field] else None
        return rows

    def events(
        self,
        *,
        since: str | None = None,
        level: str | None = None,
        subject: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Recent events, newest first."""
        where, params = ["1 = 1"], []
        if since:
            where.append("at >= ?")
            params.append(since)
        if level:
            where.append("level = ?")
            params.append(level)
        if subject:
            where.append("subject = ?")
            params.append(subject)
        rows = self.query(
            f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        for row in rows:
            row["details"] = json.loads(row["details"]) if row["details"] else None
        return rows


@migrations()
def m002_orders_notifications(db: sqlite_utils.Database) -> None:
    _run_script(
        db,
        """
        -- New Zedonk customers the order import is creating: the intent is committed before
        -- the create call, so a crash in between is resolved by a lookup, never a second create.
        CREATE TABLE customer_creations (
            name_key TEXT PRIMARY KEY,      -- the retailer name, trimmed and case-folded
            name TEXT NOT NULL,
            account_code TEXT,
            state TEXT NOT NULL CHECK (state IN ('pending', 'created')),
            customer_id TEXT,
            import_key TEXT,                -- the import that needed it first
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        -- Edits and cancellations of imported orders, each reported once.
        CREATE TABLE import_reports (
            import_key TEXT NOT NULL REFERENCES imports(import_key),
            kind TEXT NOT NULL,             -- edited | cancelled
            fingerprint TEXT NOT NULL,      -- the edited content's hash ('' for a cancellation)
            at TEXT NOT NULL,
            message TEXT NOT NULL,
            PRIMARY KEY (import_key, kind, fingerprint)
        );

        -- One row per problem key: notified once while open, a recovery notice when it clears.
        CREATE TABLE notifications (
            key TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            details TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
            opened_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            seen_count INTEGER NOT NULL DEFAULT 1,
            email_sent_at TEXT,             -- the problem notice, per channel
            webhook_sent_at TEXT,
            resolved_at TEXT,
            recovery_sent_at TEXT
        );
        CREATE INDEX notifications_state ON notifications(state);
        """,
    )
