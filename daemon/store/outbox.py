"""The notices' outbox: every statement on ``notifications``, ``outbox``, ``outbox_items`` and
``deliveries`` (the schema is in migrations.py).

A problem is announced once while it lasts: ``notifications`` holds one row per problem key,
``open`` or ``resolved``. Opening a problem (``open_problem``) puts a ``problem`` notice in the
outbox, owed on each channel set then; seeing it again only counts it. Closing one
(``close_problem``) puts a ``resolved`` notice in the outbox when its problem notice was owed.
Both write inside the caller's transaction, so a notice commits with the change it reports.

The drainer (``daemon.notify.drain``) takes the notices owed on a channel that no delivery
carries yet (``ungrouped``), makes one delivery of them (``add_delivery``: one notice, or a
digest), and sends the channel's ``pending`` deliveries oldest first. A delivery's id and
payload never change, so every attempt sends the same thing; it ends ``sent``, or ``expired``
when its channel failed for too long. Its state moves only through these methods:

=========  =========  ==================  =====================================================
from       to         method              when
=========  =========  ==================  =====================================================
(no row)   pending    ``add_delivery``    the drainer groups the channel's owed notices
pending    pending    ``note_failure``    an attempt failed: ``attempts`` + 1, the next one is
                                          not before ``next_attempt_at``
pending    sent       ``note_sent``       the channel took it
pending    expired    ``expire``          it kept failing for longer than the drainer retries
=========  =========  ==================  =====================================================
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

from daemon.store.history import History, utcnow


def new_id() -> str:
    """A fresh notice or delivery id: a UUID, unique across installations."""
    return str(uuid.uuid4())


class Outbox:
    """The notices' state in ``history``. Methods taking ``conn`` write inside the caller's
    open ``History.transaction()``; the others are one transaction (or one read) each."""

    def __init__(self, history: History) -> None:
        self.history = history

    # ------------------------------------------------------------------ problems

    def open_problem(
        self,
        conn: sqlite3.Connection,
        key: str,
        title: str,
        details: str,
        *,
        channels: Sequence[str],
        run_id: int | None = None,
    ) -> bool:
        """Open problem ``key``, or count it again while it is open. A problem that opens (or
        opens again after it was resolved) owes a notice on ``channels``; True when it did."""
        now = utcnow()
        row = conn.execute("SELECT state FROM notifications WHERE key = ?", (key,)).fetchone()
        if row is not None and row["state"] == "open":
            conn.execute(
                "UPDATE notifications SET last_seen_at = ?, seen_count = seen_count + 1"
                " WHERE key = ?",
                (now, key),
            )
            return False
        notice_id = (
            self._queue(conn, key, "problem", title, details, channels, run_id)
            if channels
            else None
        )
        conn.execute(
            "INSERT INTO notifications (key, title, details, state, opened_at, last_seen_at,"
            " notice_id) VALUES (?, ?, ?, 'open', ?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
            " title = excluded.title, details = excluded.details, state = 'open',"
            " opened_at = excluded.opened_at, last_seen_at = excluded.last_seen_at,"
            " seen_count = 1, resolved_at = NULL, notice_id = excluded.notice_id,"
            " email_sent_at = NULL, webhook_sent_at = NULL, recovery_sent_at = NULL",
            (key, title, details, now, now, notice_id),
        )
        return notice_id is not None

    def close_problem(
        self,
        conn: sqlite3.Connection,
        key: str,
        *,
        channels: Sequence[str],
        run_id: int | None = None,
    ) -> bool:
        """Resolve open problem ``key``; when its problem notice was owed, owe a ``resolved``
        notice on ``channels``. True when one was owed; nothing happens for a key not open."""
        row = conn.execute(
            "SELECT title, details, notice_id FROM notifications WHERE key = ? AND state = 'open'",
            (key,),
        ).fetchone()
        if row is None:
            return False
        conn.execute(
            "UPDATE notifications SET state = 'resolved', resolved_at = ? WHERE key = ?",
            (utcnow(), key),
        )
        if row["notice_id"] is None or not channels:
            return False
        details = f"Resolved: {row['title']}\n\nThe problem was:\n{row['details']}"
        self._queue(conn, key, "resolved", row["title"], details, channels, run_id)
        return True

    def open_problems(self) -> list[dict[str, Any]]:
        """Problems not resolved yet, oldest first."""
        return self.history.query(
            "SELECT key, title, details, opened_at, last_seen_at, seen_count, notice_id"
            " FROM notifications WHERE state = 'open' ORDER BY opened_at"
        )

    def _queue(
        self,
        conn: sqlite3.Connection,
        key: str,
        event: str,
        title: str,
        details: str,
        channels: Sequence[str],
        run_id: int | None,
    ) -> str:
        notice_id = new_id()
        conn.execute(
            "INSERT INTO outbox (notice_id, key, event, title, details, run_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (notice_id, key, event, title, details, run_id, utcnow()),
        )
        conn.executemany(
            "INSERT INTO outbox_items (notice_id, channel) VALUES (?, ?)",
            [(notice_id, channel) for channel in channels],
        )
        return notice_id

    # ------------------------------------------------------------------ deliveries

    def ungrouped(self, conn: sqlite3.Connection, channel: str) -> list[dict[str, Any]]:
        """The notices owed on ``channel`` that no delivery carries yet, oldest first, each with
        ``run_result``: its pass's result so far (``running`` while it runs; None without a
        pass)."""
        rows = conn.execute(
            "SELECT o.notice_id, o.key, o.event, o.title, o.details, o.run_id, o.created_at,"
            " r.result AS run_result FROM outbox_items i JOIN outbox o USING (notice_id)"
            " LEFT JOIN runs r ON r.id = o.run_id"
            " WHERE i.channel = ? AND i.delivery_id IS NULL ORDER BY o.id",
            (channel,),
        )
        return [dict(row) for row in rows]

    def add_delivery(
        self,
        conn: sqlite3.Connection,
        channel: str,
        delivery_id: str,
        notice_ids: Sequence[str],
        payload: str,
        now: str,
    ) -> None:
        """A ``pending`` delivery of ``notice_ids`` on ``channel``, made and due ``now`` (the
        drainer's clock), with the ``payload`` (JSON) every attempt sends."""
        conn.execute(
            "INSERT INTO deliveries (id, channel, notices, payload, state, created_at,"
            " next_attempt_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
            (delivery_id, channel, len(notice_ids), payload, now, now),
        )
        conn.executemany(
            "UPDATE outbox_items SET delivery_id = ? WHERE notice_id = ? AND channel = ?",
            [(delivery_id, notice_id, channel) for notice_id in notice_ids],
        )

    def unsent(self, channel: str) -> int:
        """How many notices owed on ``channel`` have not gone out (grouped or not yet)."""
        [row] = self.history.query(
            "SELECT COUNT(*) AS n FROM outbox_items i LEFT JOIN deliveries d"
            " ON d.channel = i.channel AND d.id = i.delivery_id"
            " WHERE i.channel = ? AND (i.delivery_id IS NULL OR d.state = 'pending')",
            (channel,),
        )
        return int(row["n"])

    def pending(self, channel: str) -> list[dict[str, Any]]:
        """The deliveries still to send on ``channel``, oldest first."""
        return self.history.query(
            "SELECT * FROM deliveries WHERE channel = ? AND state = 'pending' ORDER BY rowid",
            (channel,),
        )

    def note_sent(self, channel: str, delivery_id: str) -> None:
        with self.history.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET state = 'sent', sent_at = ?, attempts = attempts + 1,"
                " last_error = NULL WHERE channel = ? AND id = ? AND state = 'pending'",
                (utcnow(), channel, delivery_id),
            )

    def note_failure(self, channel: str, delivery_id: str, error: str, next_attempt_at: str) -> int:
        """Record a failed attempt; returns how many attempts the delivery has had."""
        with self.history.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ?,"
                " next_attempt_at = ? WHERE channel = ? AND id = ? AND state = 'pending'",
                (error, next_attempt_at, channel, delivery_id),
            )
            row = conn.execute(
                "SELECT attempts FROM deliveries WHERE channel = ? AND id = ?",
                (channel, delivery_id),
            ).fetchone()
        return int(row["attempts"]) if row else 0

    def expire(self, channel: str, delivery_id: str, error: str) -> None:
        with self.history.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET state = 'expired', last_error = ?"
                " WHERE channel = ? AND id = ? AND state = 'pending'",
                (error, channel, delivery_id),
            )

    # ------------------------------------------------------------------ retention

    def prune(self, conn: sqlite3.Connection, before: str) -> dict[str, int]:
        """What the history's retention lets go of from before ``before`` (a timestamp):
        problems resolved, deliveries sent or given up, and the notices no delivery still
        owes nor an open problem names. Nothing still owed or pending is touched. Returns how
        many ``notifications``, ``deliveries`` and ``notices`` went."""
        problems = conn.execute(
            "DELETE FROM notifications WHERE state = 'resolved' AND resolved_at < ?", (before,)
        ).rowcount
        deliveries = conn.execute(
            "DELETE FROM deliveries WHERE state IN ('sent', 'expired') AND created_at < ?",
            (before,),
        ).rowcount
        conn.execute(
            "DELETE FROM outbox_items WHERE delivery_id IS NOT NULL AND NOT EXISTS (SELECT 1"
            " FROM deliveries d WHERE d.channel = outbox_items.channel"
            " AND d.id = outbox_items.delivery_id)"
        )
        notices = conn.execute(
            "DELETE FROM outbox WHERE created_at < ?"
            " AND NOT EXISTS (SELECT 1 FROM outbox_items i WHERE i.notice_id = outbox.notice_id)"
            " AND notice_id NOT IN (SELECT notice_id FROM notifications"
            " WHERE notice_id IS NOT NULL)",
            (before,),
        ).rowcount
        return {"notifications": problems, "deliveries": deliveries, "notices": notices}
