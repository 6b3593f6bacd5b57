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

    def run_events(self, run_id: int) -> list[dict[str, Any]]:
        """The events of run ``run_id``, oldest first, in the shape ``events`` gives."""
        rows = self.query("SELECT * FROM events WHERE run_id = ? ORDER BY id", (run_id,))
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
