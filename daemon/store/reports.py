"""Reading the history: the queries ``history``, ``status`` and the web pages show.

``HistoryReports`` is the read half of ``daemon.store.history.History``: every method reads
through the one connection, under the same lock as the writes, and decodes the JSON columns
(``summary``, ``before``/``after``, ``details``) back into the values they were recorded with.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any


class HistoryReports:
    """Queries over runs, actions and events. Needs ``conn`` and ``_lock`` (History's)."""

    conn: sqlite3.Connection
    _lock: threading.RLock

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """The rows of one read statement, as dicts of column name to value."""
        with self._lock:
            return [dict(row) for row in self.conn.execute(sql, params)]

    def runs(
        self,
        *,
        kind: str | None = None,
        since: str | None = None,
        errors_only: bool = False,
        limit: int = 50,
        before: int | None = None,
    ) -> list[dict[str, Any]]:
        """Recent runs, newest first, each with ``warnings`` and ``errors``, how many events of
        each level it recorded. ``since`` is an RFC 3339 timestamp; ``before`` a run id (the
        runs older than it: the next page of a list)."""
        where, params = ["1 = 1"], list[Any]()
        if kind:
            where.append("kind = ?")
            params.append(kind)
        if before is not None:
            where.append("id < ?")
            params.append(before)
        if since:
            where.append("started_at >= ?")
            params.append(since)
        if errors_only:
            where.append("result IN ('partial', 'failed', 'invalid', 'interrupted')")
        rows = self.query(
            f"SELECT * FROM runs WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return self._with_event_counts(_with_summaries(rows))

    def _with_event_counts(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        counted = {(row["id"], level): 0 for row in rows for level in ("warning", "error")}
        if rows:
            # A run's events come after its start: the index on ``at`` keeps this to them.
            first = min(row["started_at"] for row in rows)
            for found in self.query(
                "SELECT run_id, level, count(*) AS n FROM events WHERE at >= ?"
                " AND level IN ('warning', 'error') GROUP BY run_id, level",
                (first,),
            ):
                key = (found["run_id"], found["level"])
                if key in counted:
                    counted[key] = found["n"]
        for row in rows:
            row["warnings"], row["errors"] = (
                counted[row["id"], "warning"],
                counted[row["id"], "error"],
            )
        return rows

    def run(self, run_id: int) -> dict[str, Any] | None:
        """One run, as ``runs`` gives it, or None when there is none with that id."""
        rows = _with_summaries(self.query("SELECT * FROM runs WHERE id = ?", (run_id,)))
        return rows[0] if rows else None

    def actions(self, run_id: int, *, limit: int = -1, offset: int = 0) -> list[dict[str, Any]]:
        """The ORDRE actions of run ``run_id``, in the order they were planned; ``limit``
        of them (all when negative) from ``offset``."""
        rows = self.query(
            "SELECT * FROM actions WHERE run_id = ? ORDER BY seq LIMIT ? OFFSET ?",
            (run_id, limit, offset),
        )
        for row in rows:
            for field in ("before", "after"):
                row[field] = json.loads(row[field]) if row[field] else None
        return rows

    def run_events(self, run_id: int, *, limit: int = -1) -> list[dict[str, Any]]:
        """The events of run ``run_id``, oldest first, in the shape ``events`` gives (the
        first ``limit``, all when negative)."""
        rows = self.query(
            "SELECT * FROM events WHERE run_id = ? ORDER BY id LIMIT ?", (run_id, limit)
        )
        for row in rows:
            row["details"] = json.loads(row["details"]) if row["details"] else None
        return rows

    def events(
        self,
        *,
        since: str | None = None,
        level: str | None = None,
        subject: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Recent events, newest first: each ``{"id", "run_id", "at", "level", "code",
        "subject", "message", "details"}``, ``details`` as the JSON it was recorded with."""
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


def _with_summaries(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs' rows with ``summary`` decoded from its JSON text (None when empty)."""
    for row in rows:
        row["summary"] = json.loads(row["summary"]) if row["summary"] else None
    return rows
