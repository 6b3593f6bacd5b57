"""What the ledger knows of Zedonk, the truth it caches: the rows a pass reads before it sends
anything, the rows a dead pass left ``sending``, when this ledger began to watch Zedonk, the
orders it found there without having made them (a ledger rebuilt), and the last audit."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from daemon.store.history import utcnow
from daemon.store.ledger.base import LedgerBase

SINCE_KEY = "orders.ledger_since"  # when this ledger began to watch Zedonk
REBUILT_KEY = "orders.rebuilt"  # the Zedonk orders it found that it had not recorded
AUDIT_KEY = "orders.audit"  # the last audit of the import season's orders
DECISION_COLUMNS = (
    "import_key, ordre_number, submission, state, attempts, sent_at, updated_at, payload_sha256"
)


class ZedonkTruth(LedgerBase):
    """The ledger's view of what Zedonk holds (see the module docstring)."""

    def rows(self, keys: list[str]) -> list[dict[str, Any]]:
        """What decides the rows of ``keys`` now (``DECISION_COLUMNS``: not the order's copy),
        in the order of ``keys`` (missing ones left out)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            found.update(
                (row["import_key"], row)
                for row in self.history.query(
                    f"SELECT {DECISION_COLUMNS} FROM imports"
                    f" WHERE import_key IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
            )
        return [found[key] for key in keys if key in found]

    def open_since(self) -> datetime | None:
        """The earliest time a Zedonk order for an open row can have been made: the oldest
        ORDRE submission (or creation) among the open rows; None when there is none."""
        stamps = self.history.query(
            "SELECT CASE WHEN json_valid(payload) THEN COALESCE("
            "json_extract(payload, '$.submitted_at'), json_extract(payload, '$.created_at'),"
            " first_seen_at) ELSE first_seen_at END AS at FROM imports"
            " WHERE state IN ('pending', 'sending', 'unresolved')"
        )
        found = [moment(row["at"]) for row in stamps if row["at"]]
        return min(found) if found else None

    def note_interrupted(self) -> list[str]:
        """The ``sending`` rows a pass left behind when it died (the caller holds the orders
        lock, so no pass is sending them now) are ``unresolved``: their create may have reached
        Zedonk at ``sent_at``. Returns their import keys."""
        with self.history.transaction() as conn:
            keys = [
                row["import_key"]
                for row in conn.execute("SELECT import_key FROM imports WHERE state = 'sending'")
            ]
            conn.execute(
                "UPDATE imports SET state = 'unresolved', sent_at = COALESCE(sent_at, updated_at),"
                " last_error = 'the pass that sent it ended before it recorded the outcome'"
                " WHERE state = 'sending'"
            )
            for key in keys:
                self.event(
                    conn,
                    "warning",
                    "order-outcome-unknown",
                    "the import pass that sent this order ended before it recorded the outcome;"
                    " Zedonk may hold it, so it is looked up before anything is sent again",
                    key,
                )
        return keys

    # ------------------------------------------------------------------ the ledger's age

    def since(self) -> datetime:
        """When this ledger began to watch Zedonk, set by its first import pass: a ledger that
        has rows from before it was recorded (an older version) dates from its first row."""
        with self.history.transaction() as conn:
            value = self.history.get_state(SINCE_KEY, conn=conn)
            if value is None:
                [(first,)] = conn.execute("SELECT MIN(first_seen_at) FROM imports").fetchall()
                value = first or utcnow()
                self.history.set_state(SINCE_KEY, value, conn=conn)
        return moment(value)

    def rebuilt(self) -> dict[str, Any] | None:
        """``{"at", "last_at", "found", "hold_until"}`` once the import has found Zedonk
        orders this ledger had not recorded: ``found`` in all, the first and the latest time,
        and until when the rows nobody has tried wait (RFC 3339 times)."""
        value: dict[str, Any] | None = self.history.get_state(REBUILT_KEY)
        return value

    def note_rebuilt(self, found: int, hold: timedelta) -> dict[str, Any]:
        """``found`` more Zedonk orders were found that this ledger had not recorded (it is
        new, restored, or another process imports into the same Zedonk): the rows nobody has
        tried wait ``hold`` from now. Returns the record."""
        now = datetime.now(UTC)
        with self.history.transaction() as conn:
            record: dict[str, Any] = self.history.get_state(REBUILT_KEY, conn=conn) or {
                "at": now.isoformat(),
                "found": 0,
            }
            record["found"] += found
            record["last_at"] = now.isoformat()
            record["hold_until"] = (now + hold).isoformat()
            self.history.set_state(REBUILT_KEY, record, conn=conn)
            self.history.record_event(
                "warning",
                "ledger-rebuilt",
                f"ledger rebuilt from Zedonk: {found} order(s) found that this history had not "
                f"recorded ({record['found']} in all)",
                details=record,
                run_id=self.run_id,
                conn=conn,
            )
        return record

    # ------------------------------------------------------------------ the audit

    def last_audit(self) -> dict[str, Any] | None:
        """The last audit's record (``record_audit``), or None."""
        value: dict[str, Any] | None = self.history.get_state(AUDIT_KEY)
        return value

    def record_audit(self, conn: sqlite3.Connection, record: dict[str, Any]) -> None:
        """Keep ``record`` as the last audit, in the caller's transaction."""
        self.history.set_state(AUDIT_KEY, record, conn=conn)


def moment(text: str) -> datetime:
    """A stored time (RFC 3339; one without a zone is UTC) as an aware datetime."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
