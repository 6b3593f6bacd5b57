"""What the ledger knows of Zedonk, the truth it caches: the rows a pass reads before it sends
anything, the rows a dead pass left ``sending``, when this ledger began to watch Zedonk, the
orders it found there without having made them (a ledger rebuilt), the mark beside the history
of the latest create sent (which a history put back from an older backup is behind), and the
last audit."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from daemon.store.history import utcnow
from daemon.store.ledger.base import LedgerBase

SINCE_KEY = "orders.ledger_since"  # when this ledger began to watch Zedonk
REBUILT_KEY = "orders.rebuilt"  # the Zedonk orders it found that it had not recorded
AUDIT_KEY = "orders.audit"  # the last audit of the import season's orders
BEHIND_KEY = "orders.behind_mark"  # the sent mark this history was last found behind
# Beside the history file, not in it: a history put back from an older backup leaves it as it
# was, so the directory still knows of the creates the history no longer records.
SENT_MARK = "orders-sent.mark"

log = logging.getLogger(__name__)
DECISION_COLUMNS = (
    "import_key, ordre_number, submission, state, attempts, sent_at, updated_at, payload_sha256"
)


class ZedonkTruth(LedgerBase):
    """The ledger's view of what Zedonk holds (see the module docstring)."""

    _marked: str | None = None  # the sent mark this process wrote last

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

    def zedonk_orders_of(self, ordre_id: str) -> set[str]:
        """The ids of the Zedonk orders this history records for ORDRE order ``ordre_id``."""
        rows = self.history.query(
            "SELECT zedonk_order_id FROM imports WHERE ordre_id = ?"
            " AND zedonk_order_id IS NOT NULL",
            (ordre_id,),
        )
        return {row["zedonk_order_id"] for row in rows}

    def earlier_unchecked(self, settled_before: datetime) -> list[dict[str, Any]]:
        """The imported re-submissions whose search of Zedonk for earlier orders this history
        does not record is still to be made, once their own create was claimed before
        ``settled_before`` (a settle window ago: every earlier order shows in the search by
        then), or was never claimed here (found in Zedonk). Those never searched first, then
        by how few searches Zedonk failed (``earlier_checked`` -n), so that one it keeps
        failing does not keep the others waiting."""
        return self.history.query(
            "SELECT * FROM imports WHERE state IN ('created', 'partial') AND submission > 1"
            " AND earlier_checked <= 0 AND (sent_at IS NULL OR sent_at <= ?)"
            " ORDER BY earlier_checked DESC, rowid",
            (settled_before.astimezone(UTC).isoformat(timespec="microseconds"),),
        )

    def mark_earlier_checked(self, conn: sqlite3.Connection, key: str) -> None:
        conn.execute("UPDATE imports SET earlier_checked = 1 WHERE import_key = ?", (key,))

    def earlier_search_failed(self, key: str) -> None:
        """Zedonk failed the search of re-submission ``key``: it goes after the others."""
        with self.history.transaction() as conn:
            conn.execute(
                "UPDATE imports SET earlier_checked = earlier_checked - 1 WHERE import_key = ?",
                (key,),
            )

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

    # ------------------------------------------------------------------ the sent mark

    def mark_sent(self, sent_at: str) -> None:
        """Before a create claimed at ``sent_at`` (its row's ``sent_at``) goes to Zedonk, note
        that time in ``SENT_MARK`` beside the history, unless a later one is noted already. A
        mark that cannot be written is logged: it guards a history restored later, and is no
        reason to hold the order now."""
        if self._marked is not None and sent_at <= self._marked:
            return
        path = self.history.path.with_name(SENT_MARK)
        staged = path.with_name(f".{SENT_MARK}.tmp")
        try:
            staged.write_text(sent_at + "\n", encoding="utf-8")
            staged.replace(path)
        except OSError as exc:
            log.warning("could not write %s: %s", path, exc)
            return
        self._marked = sent_at

    def behind_mark(self) -> datetime | None:
        """When the latest create noted in ``SENT_MARK`` was claimed, if this history records
        no create claimed as late (it was put back from an older backup, or replaced, since);
        None when it is up to date or there is no readable mark."""
        path = self.history.path.with_name(SENT_MARK)
        try:
            mark = moment(path.read_text(encoding="utf-8").strip()).astimezone(UTC)
        except (OSError, UnicodeDecodeError, ValueError, OverflowError):
            return None  # no mark, or none a clock can show: nothing to hold for
        [row] = self.history.query("SELECT MAX(sent_at) AS latest FROM imports")
        if row["latest"] is not None and moment(row["latest"]) >= mark:
            return None
        return mark

    def note_behind(self, mark: datetime, window: timedelta) -> dict[str, str] | None:
        """Record that this history is behind ``mark`` (``behind_mark``), once per mark, with
        an event: the rows nobody has tried wait a settle ``window`` from it (``behind_since``).
        Returns the new record, or None when this mark was recorded already."""
        now = datetime.now(UTC)
        with self.history.transaction() as conn:
            record = self.history.get_state(BEHIND_KEY, conn=conn)
            if isinstance(record, dict) and record.get("mark") == mark.isoformat():
                return None
            record = {"mark": mark.isoformat(), "at": now.isoformat()}
            self.history.set_state(BEHIND_KEY, record, conn=conn)
            hold_until = min(mark, now) + window
            self.history.record_event(
                "warning",
                "ledger-behind",
                f"this state directory sent an order to Zedonk at {_stamp(mark)} that this "
                "history does not record (was history.sqlite put back from an older backup?): "
                f"orders nobody has tried here wait until {_stamp(hold_until)}, when Zedonk's "
                "search shows every order sent before",
                details={**record, "hold_until": hold_until.isoformat()},
                run_id=self.run_id,
                conn=conn,
            )
        return record

    def behind_since(self) -> datetime | None:
        """When the last mark this history was found behind was written (when it was found,
        for a mark dated ahead of the clock): the hold runs a settle window from it, whatever
        this history records since. None when it never was behind."""
        record = self.history.get_state(BEHIND_KEY)
        if not isinstance(record, dict):
            return None
        try:
            return min(moment(record["mark"]), moment(record["at"]))
        except (KeyError, TypeError, ValueError):
            return None

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


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
