"""The ledger's transitions of the import: the claim (the intent), each outcome, a retry; the
intent to create a customer; the link between a re-submission and the import before it."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from daemon.store.history import utcnow
from daemon.store.ledger.base import HELD, LedgerBase

if TYPE_CHECKING:
    from daemon.core.model import Customer, SalesOrder
    from daemon.core.ordermap import LeftOutLine


class ImportTransitions(LedgerBase):
    """The rows the import claims, and how each ended."""

    claimed_at: str | None = None  # the ``sent_at`` of the rows ``claim`` claimed last

    def open_keys(self) -> list[str]:
        """The import keys of the ``pending``, ``sending`` and ``unresolved`` rows, oldest
        first."""
        return [
            r["import_key"]
            for r in self.history.query(
                "SELECT import_key FROM imports"
                " WHERE state IN ('pending', 'sending', 'unresolved')"
                " ORDER BY first_seen_at, import_key"
            )
        ]

    def count_open(self) -> int:
        return int(
            self.history.query(
                "SELECT COUNT(*) AS n FROM imports"
                " WHERE state IN ('pending', 'sending', 'unresolved')"
            )[0]["n"]
        )

    def claim(self, keys: list[str]) -> list[dict[str, Any]]:
        """Commit the intent: the ``pending`` and ``unresolved`` rows among ``keys`` go to
        ``sending`` (one more attempt, ``sent_at`` now, kept as ``claimed_at``) before any
        Zedonk write. Returns them as they were before, in the order of ``keys``; a key in
        another state is left out."""
        if not keys:
            return []
        with self.history.transaction() as conn:
            found = {
                row["import_key"]: row
                for row in conn.execute(
                    f"SELECT * FROM imports WHERE import_key IN ({', '.join('?' * len(keys))})",
                    keys,
                )
            }
            rows = [
                dict(r)
                for key in keys
                if (r := found.get(key)) is not None and r["state"] in ("pending", "unresolved")
            ]
            now = self.claimed_at = utcnow()
            conn.executemany(
                "UPDATE imports SET state = 'sending', attempts = attempts + 1, updated_at = ?,"
                " sent_at = ?, run_id = ? WHERE import_key = ?",
                [(now, now, self.run_id, row["import_key"]) for row in rows],
            )
        return rows

    def release(self, rows: list[dict[str, Any]]) -> None:
        """Claimed rows the pass never sent go back to the state they were claimed from
        (``rows`` as ``claim`` returned them), their attempt undone."""
        if rows:
            with self.history.transaction() as conn:
                conn.executemany(
                    "UPDATE imports SET state = ?, attempts = attempts - 1, sent_at = ?"
                    " WHERE import_key = ? AND state = 'sending'",
                    [(row["state"], row["sent_at"], row["import_key"]) for row in rows],
                )

    def confirm(
        self,
        conn: sqlite3.Connection,
        key: str,
        created: SalesOrder,
        *,
        lines_total: int,
        left_out: tuple[LeftOutLine, ...],
    ) -> None:
        """Zedonk holds import ``key`` as ``created``: ``partial`` when lines were left out
        (recorded in ``import_lines``), else ``created``. Raises ``sqlite3.IntegrityError``
        when that Zedonk order is recorded for another submission already."""
        conn.execute(
            "UPDATE imports SET state = ?, zedonk_order_id = ?, zedonk_order_number = ?,"
            " customer_id = ?, lines_total = ?, lines_imported = ?, last_error = NULL,"
            " updated_at = ?, run_id = ? WHERE import_key = ?",
            (
                "partial" if left_out else "created",
                created.id,
                created.number,
                created.customer_id,
                lines_total,
                len(created.lines),
                utcnow(),
                self.run_id,
                key,
            ),
        )
        self.set_left_out(conn, key, left_out)

    def set_left_out(
        self, conn: sqlite3.Connection, key: str, left_out: tuple[LeftOutLine, ...]
    ) -> None:
        """The lines of import ``key`` that are not on its Zedonk order (replacing any)."""
        conn.execute("DELETE FROM import_lines WHERE import_key = ?", (key,))
        if not left_out:
            return
        conn.executemany(
            "INSERT INTO import_lines (import_key, line_no, barcode, style, colour, size,"
            " quantity, unit_price, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    key,
                    x.line_no,
                    x.barcode,
                    x.style,
                    x.colour,
                    x.size,
                    x.quantity,
                    str(x.unit_price),
                    x.reason,
                )
                for x in left_out
            ],
        )

    def fail(
        self,
        conn: sqlite3.Connection,
        key: str,
        error: str,
        left_out: tuple[LeftOutLine, ...] = (),
    ) -> None:
        """Import ``key`` is ``failed`` with ``error`` (and the lines that could not be mapped);
        ``orders retry`` imports it again once the data is fixed."""
        conn.execute(
            "UPDATE imports SET state = 'failed', last_error = ?, updated_at = ?"
            " WHERE import_key = ?",
            (error, utcnow(), key),
        )
        self.set_left_out(conn, key, left_out)

    def hold_for_attention(self, conn: sqlite3.Connection, key: str, error: str) -> None:
        """Import ``key`` waits for a person (``needs_attention``): no pass touches it."""
        conn.execute(
            "UPDATE imports SET state = 'needs_attention', last_error = ?, updated_at = ?"
            " WHERE import_key = ?",
            (error, utcnow(), key),
        )

    def hold_for_review(self, conn: sqlite3.Connection, key: str, reasons: str) -> None:
        """Import ``key`` is held for review (``needs_attention``, its ``last_error`` starting
        with ``HELD``): nothing was created for it, and a person decides."""
        self.hold_for_attention(conn, key, HELD + reasons)

    def note_unknown_outcome(self, conn: sqlite3.Connection, key: str, error: str) -> None:
        """The create's outcome is unknown: the row is ``unresolved`` until a lookup finds the
        order, or the settle window from ``sent_at`` has passed and the lookups found nothing."""
        conn.execute(
            "UPDATE imports SET state = 'unresolved', last_error = ?, updated_at = ?"
            " WHERE import_key = ?",
            (error, utcnow(), key),
        )

    def skip(self, key: str, reason: str, skipped_for: str) -> None:
        """Import ``key`` is ``skipped`` for ``reason`` (its code: ``skipped_for``): it is
        never created."""
        with self.history.transaction() as conn:
            conn.execute(
                "UPDATE imports SET state = 'skipped', updated_at = ?, last_error = ?,"
                " skipped_for = ? WHERE import_key = ?",
                (utcnow(), reason, skipped_for, key),
            )

    def back_to_pending(self, key: str, error: str) -> None:
        """A ``sending`` row whose create was refused before Zedonk processed it (or could not
        be sent) waits for the next pass as ``pending``; it keeps its attempt, so the next
        pass looks before it creates."""
        with self.history.transaction() as conn:
            conn.execute(
                "UPDATE imports SET state = 'pending', last_error = ?, updated_at = ?"
                " WHERE import_key = ? AND state = 'sending'",
                (error, utcnow(), key),
            )

    # ------------------------------------------------------------------ customers

    def customer_intent(self, name_key: str, wanted: Customer, key: str) -> bool:
        """Commit the intent to create ``wanted`` (first needed by import ``key``), keyed by
        its ``name_key``. True when it was intended before: the customer may exist already,
        so it is looked up before it is created."""
        now = utcnow()
        with self.history.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM customer_creations WHERE name_key = ?", (name_key,)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO customer_creations (name_key, name, account_code, state,"
                    " import_key, attempts, created_at, updated_at)"
                    " VALUES (?, ?, ?, 'pending', ?, 1, ?, ?)",
                    (name_key, wanted.name, wanted.account_code, key, now, now),
                )
            else:
                conn.execute(
                    "UPDATE customer_creations SET attempts = attempts + 1, updated_at = ?"
                    " WHERE name_key = ?",
                    (now, name_key),
                )
        return row is not None

    def customer_created(self, conn: sqlite3.Connection, name_key: str, customer_id: str) -> None:
        """The customer intended under ``name_key`` exists in Zedonk as ``customer_id``."""
        conn.execute(
            "UPDATE customer_creations SET state = 'created', customer_id = ?, updated_at = ?"
            " WHERE name_key = ?",
            (customer_id, utcnow(), name_key),
        )

    # ------------------------------------------------------------------ re-submissions

    def resubmissions(self) -> list[dict[str, Any]]:
        """Imported re-submissions not linked to the import before them yet, or whose earlier
        Zedonk order is not inactivated yet (``previous_inactivated`` 0: one with nothing
        earlier to link is marked 1, so it is followed up once)."""
        return self.history.query(
            "SELECT * FROM imports WHERE state IN ('created', 'partial') AND submission > 1"
            " AND previous_inactivated = 0"
        )

    def previous_import(self, ordre_id: str, submission: int) -> dict[str, Any] | None:
        """The latest imported submission of ``ordre_id`` before ``submission``."""
        rows = self.history.query(
            "SELECT * FROM imports WHERE ordre_id = ? AND submission < ?"
            " AND state IN ('created', 'partial') ORDER BY submission DESC LIMIT 1",
            (ordre_id, submission),
        )
        return rows[0] if rows else None

    def later_submission(self, key: str) -> int | None:
        """The latest submission of import ``key``'s ORDRE order after it that was not
        skipped, or None when the retailer did not re-submit it since."""
        rows = self.history.query(
            "SELECT MAX(later.submission) AS latest FROM imports AS this JOIN imports AS later"
            " ON later.ordre_id = this.ordre_id AND later.submission > this.submission"
            " WHERE this.import_key = ? AND later.state != 'skipped'",
            (key,),
        )
        latest = rows[0]["latest"] if rows else None
        return int(latest) if latest is not None else None

    def earlier_in_doubt(self, ordre_id: str, submission: int) -> bool:
        """Whether a submission of ``ordre_id`` before ``submission`` was sent to Zedonk and
        is not settled yet: it may still turn out to be there."""
        rows = self.history.query(
            "SELECT 1 FROM imports WHERE ordre_id = ? AND submission < ? AND (state IN"
            " ('sending', 'unresolved') OR (state = 'pending' AND attempts > 0)) LIMIT 1",
            (ordre_id, submission),
        )
        return bool(rows)

    def link_previous(self, conn: sqlite3.Connection, key: str, previous_key: str) -> None:
        conn.execute(
            "UPDATE imports SET previous_import_key = ? WHERE import_key = ?",
            (previous_key, key),
        )

    def mark_inactivated(self, conn: sqlite3.Connection, key: str) -> None:
        """Nothing is left to inactivate for re-submission ``key``."""
        conn.execute("UPDATE imports SET previous_inactivated = 1 WHERE import_key = ?", (key,))

    def inactivation_refused(self, conn: sqlite3.Connection, key: str) -> None:
        """Zedonk refused to inactivate the order re-submission ``key`` replaces: a person
        inactivates it (``previous_inactivated = -1``); no pass tries again."""
        conn.execute("UPDATE imports SET previous_inactivated = -1 WHERE import_key = ?", (key,))

    # ------------------------------------------------------------------ retry

    def get(self, key: str) -> dict[str, Any] | None:
        rows = self.history.query("SELECT * FROM imports WHERE import_key = ?", (key,))
        return rows[0] if rows else None

    def reopen_for_retry(
        self,
        conn: sqlite3.Connection,
        key: str,
        payload: str,
        fingerprint: str,
        *,
        accept: bool = False,
    ) -> None:
        """Import ``key`` again from this copy: ``pending``, or still ``sending`` or
        ``unresolved`` (a create may have reached Zedonk, so it is looked up first).
        ``accept``: what it was held for is accepted (``review_accepted``), so it is imported
        as it is."""
        conn.execute(
            "UPDATE imports SET state = CASE WHEN state IN ('sending', 'unresolved') THEN state"
            " ELSE 'pending' END, payload = ?, payload_sha256 = ?, updated_at = ?,"
            " skipped_for = NULL, review_accepted = MAX(review_accepted, ?)"
            " WHERE import_key = ?",
            (payload, fingerprint, utcnow(), int(accept), key),
        )
