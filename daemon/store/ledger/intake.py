"""The ledger's transitions at intake: new rows, and what an order seen again changes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from daemon.store.history import utcnow
from daemon.store.ledger.base import CURSOR_KEY, HELD, SYNC_KEY, LedgerBase, connector_ref

if TYPE_CHECKING:
    from daemon.core.model import OrdreOrder


class IntakeTransitions(LedgerBase):
    """Rows added or changed by intake, each in the intake's one transaction (``conn``)."""

    def cursor(self) -> datetime | None:
        """The newest ``updated_at`` of a complete listing (the next one starts there)."""
        value = self.history.get_state(CURSOR_KEY)
        return datetime.fromisoformat(value) if value else None

    def advance_cursor(self, conn: sqlite3.Connection, cursor: datetime) -> None:
        """Move the cursor to ``cursor``, never back."""
        old = self.history.get_state(CURSOR_KEY, conn=conn)
        if old is None or datetime.fromisoformat(old) < cursor:
            self.history.set_state(CURSOR_KEY, cursor.isoformat(), conn=conn)

    def sync_token(self, origin: str) -> str | None:
        """The point ORDRE's order changes start at (``daemon.clients.feeds``), when it was
        given by the ORDRE at ``origin``; None: list by the cursor."""
        value = self.history.get_state(SYNC_KEY)
        if isinstance(value, dict) and value.get("origin") == origin:
            token = value.get("token")
            return token if isinstance(token, str) else None
        return None

    def set_sync_token(self, conn: sqlite3.Connection, origin: str, token: str | None) -> None:
        """Where the next listing's changes start (None: by the cursor), with the cursor."""
        self.history.set_state(SYNC_KEY, {"origin": origin, "token": token}, conn=conn)

    def held(self, conn: sqlite3.Connection, ordre_ids: list[str]) -> Iterator[tuple[str, str]]:
        """``(import_key, ordre_id)`` of every row of these ORDRE orders, 500 ids a query."""
        for start in range(0, len(ordre_ids), 500):
            chunk = ordre_ids[start : start + 500]
            yield from conn.execute(
                "SELECT import_key, ordre_id FROM imports"
                f" WHERE ordre_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )

    def row_in(self, conn: sqlite3.Connection, key: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM imports WHERE import_key = ?", (key,)
        ).fetchone()
        return row

    def add_new(
        self,
        conn: sqlite3.Connection,
        order: OrdreOrder,
        payload: str,
        fingerprint: str,
        *,
        at: str,
        skip_reason: str | None = None,
        skipped_for: str | None = None,
    ) -> None:
        """A new ``pending`` row for ``order`` (``skipped`` with ``skip_reason``, for people,
        and ``skipped_for``, its code), holding ``payload``, the ledger's copy of it, and its
        ``fingerprint``."""
        conn.execute(
            "INSERT INTO imports (import_key, ordre_id, ordre_number, submission,"
            " connector_ref, state, po_number, retailer_name, payload, payload_sha256,"
            " lines_total, last_error, first_seen_at, updated_at, run_id, skipped_for)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                order.import_key,
                order.id,
                order.number,
                order.submission,
                connector_ref(order.import_key),
                "skipped" if skip_reason is not None else "pending",
                order.po_number,
                order.retailer_name,
                payload,
                fingerprint,
                len(order.lines),
                skip_reason,
                at,
                at,
                self.run_id,
                skipped_for if skip_reason is not None else None,
            ),
        )

    def supersede_earlier(
        self, conn: sqlite3.Connection, order: OrdreOrder, *, at: str
    ) -> list[str]:
        """Skip the earlier submissions of ``order`` nobody started importing, or that failed;
        returns their import keys."""
        superseded = conn.execute(
            "SELECT import_key FROM imports WHERE ordre_id = ? AND submission < ? AND"
            " (state = 'failed' OR (state = 'pending' AND attempts = 0))",
            (order.id, order.submission),
        ).fetchall()
        conn.executemany(
            "UPDATE imports SET state = 'skipped', updated_at = ?, last_error = ?,"
            " skipped_for = 'superseded' WHERE import_key = ?",
            [
                (at, f"superseded by submission {order.submission}", r["import_key"])
                for r in superseded
            ],
        )
        return [r["import_key"] for r in superseded]

    def refresh_unstarted(
        self, conn: sqlite3.Connection, order: OrdreOrder, payload: str, fingerprint: str
    ) -> None:
        """Keep the retailer's latest content of a submission whose import has not begun."""
        conn.execute(
            "UPDATE imports SET payload = ?, payload_sha256 = ?, po_number = ?,"
            " lines_total = ?, updated_at = ? WHERE import_key = ?",
            (payload, fingerprint, order.po_number, len(order.lines), utcnow(), order.import_key),
        )

    def revive_failed(
        self, conn: sqlite3.Connection, order: OrdreOrder, payload: str, fingerprint: str
    ) -> None:
        """A failed submission, or one held for review, that the retailer has since changed in
        ORDRE: back to ``pending`` with the new copy. It keeps its attempts, so the import looks
        it up before creating."""
        conn.execute(
            "UPDATE imports SET state = 'pending', payload = ?, payload_sha256 = ?,"
            " po_number = ?, retailer_name = ?, lines_total = ?, updated_at = ?"
            " WHERE import_key = ? AND (state = 'failed'"
            " OR state = 'needs_attention' AND substr(last_error, 1, ?) = ?)",
            (
                payload,
                fingerprint,
                order.po_number,
                order.retailer_name,
                len(order.lines),
                utcnow(),
                order.import_key,
                len(HELD),
                HELD,
            ),
        )

    def skipped_for_status(self, conn: sqlite3.Connection) -> list[sqlite3.Row]:
        """The submissions skipped for their ORDRE status (``skipped_for = 'status'``)."""
        return conn.execute(
            "SELECT * FROM imports WHERE state = 'skipped' AND skipped_for = 'status'"
        ).fetchall()

    def revive_skipped(
        self, conn: sqlite3.Connection, key: str, payload: str, fingerprint: str
    ) -> None:
        """A submission skipped for its status is importable now (its status changed in ORDRE,
        or ``import.statuses`` lists it now): back to ``pending`` with this copy."""
        conn.execute(
            "UPDATE imports SET state = 'pending', payload = ?, payload_sha256 = ?,"
            " skipped_for = NULL, last_error = NULL, updated_at = ?"
            " WHERE import_key = ? AND state = 'skipped'",
            (payload, fingerprint, utcnow(), key),
        )

    def reskip(
        self,
        conn: sqlite3.Connection,
        order: OrdreOrder,
        payload: str,
        fingerprint: str,
        *,
        reason: str,
        skipped_for: str,
    ) -> None:
        """A skipped submission stays skipped, with the latest copy and reason."""
        conn.execute(
            "UPDATE imports SET payload = ?, payload_sha256 = ?, po_number = ?, lines_total = ?,"
            " last_error = ?, skipped_for = ?, updated_at = ?"
            " WHERE import_key = ? AND state = 'skipped'",
            (
                payload,
                fingerprint,
                order.po_number,
                len(order.lines),
                reason,
                skipped_for,
                utcnow(),
                order.import_key,
            ),
        )

    def revive_unreadable(
        self, conn: sqlite3.Connection, order: OrdreOrder, payload: str, fingerprint: str
    ) -> None:
        """A submission that could not be read before reads now: back to ``pending``."""
        conn.execute(
            "UPDATE imports SET state = 'pending', payload = ?, payload_sha256 = ?,"
            " ordre_number = ?, po_number = ?, retailer_name = ?, lines_total = ?,"
            " last_error = NULL, updated_at = ? WHERE import_key = ?",
            (
                payload,
                fingerprint,
                order.number,
                order.po_number,
                order.retailer_name,
                len(order.lines),
                utcnow(),
                order.import_key,
            ),
        )

    def note_cancelled(self, conn: sqlite3.Connection, ordre_id: str) -> list[sqlite3.Row]:
        """ORDRE order ``ordre_id`` is cancelled: skip its submissions skipped for their
        status, mark the copy of its open ones as cancelled, and return the ones already
        imported."""
        now = utcnow()
        conn.execute(
            "UPDATE imports SET state = 'skipped', updated_at = ?,"
            " last_error = 'cancelled in ORDRE before it was imported',"
            " skipped_for = 'cancelled'"
            " WHERE ordre_id = ? AND state = 'skipped' AND skipped_for = 'status'",
            (now, ordre_id),
        )
        # Open submissions keep the news: the listing may not show it again. Even one nobody
        # tried may be in Zedonk (a lost or restored history imported it): the pass's read of
        # Zedonk decides. Found, it is imported and the cancellation reported; else skipped.
        conn.execute(
            "UPDATE imports SET payload = json_set(payload, '$.status', 'cancelled'),"
            " updated_at = ? WHERE ordre_id = ? AND payload_sha256 IS NOT NULL"
            " AND state IN ('pending', 'sending', 'unresolved', 'needs_attention')",
            (now, ordre_id),
        )
        return conn.execute(
            "SELECT * FROM imports WHERE ordre_id = ? AND state IN ('created', 'partial')",
            (ordre_id,),
        ).fetchall()

    def report(
        self, conn: sqlite3.Connection, key: str, kind: str, fingerprint: str, message: str
    ) -> bool:
        """Record an ``edited`` or ``cancelled`` report of import ``key`` once per
        ``(kind, fingerprint)``; False when it was reported before."""
        cur = conn.execute(
            "INSERT OR IGNORE INTO import_reports (import_key, kind, fingerprint, at, message)"
            " VALUES (?, ?, ?, ?, ?)",
            (key, kind, fingerprint, utcnow(), message),
        )
        return cur.rowcount != 0

    def add_unreadable(self, conn: sqlite3.Connection, key: str, raw: Any, message: str) -> bool:
        """A ``failed`` row for an order ORDRE sent that cannot be read (``raw`` as sent,
        ``key`` as ``id#submission``); False when the ledger has the row already."""
        ordre_id, _, submission = key.rpartition("#")
        now = utcnow()
        cur = conn.execute(
            "INSERT OR IGNORE INTO imports (import_key, ordre_id, ordre_number, submission,"
            " connector_ref, state, payload, last_error, first_seen_at, updated_at, run_id)"
            " VALUES (?, ?, '', ?, ?, 'failed', ?, ?, ?, ?, ?)",
            (
                key,
                ordre_id,
                int(submission),
                connector_ref(key),
                json.dumps(raw, sort_keys=True, default=str),
                message,
                now,
                now,
                self.run_id,
            ),
        )
        return cur.rowcount != 0
