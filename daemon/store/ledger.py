"""The exactly-once ledger of the order import: every statement on ``imports``,
``customer_creations``, ``import_reports`` and ``import_lines`` (the schema is in history.py).

One ``imports`` row per ORDRE order submission, keyed by ``id#submission``. Its ``state`` moves
only through the methods below; the import commits the intent (``claim``) before it creates
the Zedonk order, so a crash at any point leaves a row the next pass can finish without a
second create.

=========================  ===================  =======================  ========================
from                       to                   method                   when
=========================  ===================  =======================  ========================
(no row)                   pending              ``add_new``              intake meets a new
                                                                         importable submission
(no row)                   skipped              ``add_new``              ... created before
                                                (``skip_reason``)        go-live
(no row)                   failed               ``add_unreadable``       ORDRE sent an order that
                                                                         cannot be read
pending, attempts 0        pending              ``refresh_unstarted``    the retailer changed it
                                                                         before its import began
failed, no copy            pending              ``revive_unreadable``    it reads now
failed; pending,           skipped              ``supersede_earlier``    a later submission of
attempts 0                                                               the order arrives
pending, attempts 0        skipped              ``note_cancelled``       cancelled in ORDRE (rows
                                                                         tried before keep their
                                                                         state; their copy says
                                                                         cancelled)
pending, sending           sending              ``claim``                the intent, committed
                                                                         before the create
                                                                         (attempts + 1)
sending                    pending              ``release``              claimed, never sent: the
                                                                         pass stopped (attempts
                                                                         - 1)
sending                    created, partial     ``confirm``              Zedonk holds the order
                                                                         (created, or found by
                                                                         lookup); partial: lines
                                                                         left out
sending                    failed               ``fail``                 the order cannot be
                                                                         mapped, or Zedonk
                                                                         refused it
sending                    needs_attention      ``hold_for_attention``   several Zedonk orders
                                                                         carry its reference, the
                                                                         ledger refused the
                                                                         Zedonk order, or the
                                                                         copy cannot be read
sending                    sending              ``note_unknown_outcome`` the create's answer was
                                                                         lost: the next pass
                                                                         looks it up
sending                    skipped              ``skip``                 seen cancelled, and the
                                                                         lookup found nothing
sending                    pending              ``back_to_pending``      a remote refused before
                                                                         processing it
any but created, partial   pending (sending     ``reopen_for_retry``     ``orders retry``
                           stays sending)
=========================  ===================  =======================  ========================

``release``, ``back_to_pending``, ``claim``, ``note_cancelled`` and ``supersede_earlier`` check
the from-state themselves: on a row in another state they do nothing. The others trust their
caller, which read the row in the same transaction (intake, retry) or holds its claim (one
pass at a time holds the orders lock); a ``confirm`` that would record a Zedonk order already
recorded for another submission raises ``sqlite3.IntegrityError`` (the UNIQUE constraint is the
last guard against a doubled import).

Besides ``state``: ``link_previous`` and ``mark_inactivated`` follow a re-submission's earlier
Zedonk order; ``report`` records an edit or a cancellation once; ``customer_intent`` (no row →
pending, committed before the create) and ``customer_created`` (→ created) make a new Zedonk
customer exactly once; ``advance_cursor`` moves the listing cursor forward only.

Methods taking ``conn`` write inside the caller's open ``transaction()``, so that what one
commit holds today stays one commit: intake commits its rows, reports, the cursor and the owed
notices together; a confirm commits the row, its left-out lines, its events and its owed notice
together. The others are one transaction each.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from daemon.store.history import History, utcnow

if TYPE_CHECKING:
    from daemon.core.model import Customer, OrdreOrder, SalesOrder
    from daemon.core.ordermap import LeftOutLine

CURSOR_KEY = "orders.cursor"  # the listing cursor, in the history's durable state
OPEN_STATES = ("pending", "sending")
DONE_STATES = ("created", "partial")
ATTENTION = ("failed", "needs_attention")  # ``orders list --status attention``
LIST_COLUMNS = (
    "import_key, ordre_id, ordre_number, submission, state, po_number, retailer_name,"
    " customer_id, zedonk_order_id, zedonk_order_number, previous_import_key,"
    " previous_inactivated, lines_total, lines_imported, attempts, last_error, first_seen_at,"
    " updated_at, run_id"
)
SUMMARY_COLUMNS = (
    "import_key, ordre_number, submission, state, po_number, retailer_name,"
    " zedonk_order_number, last_error, updated_at"
)


def _connector_ref(import_key: str) -> str:
    # Imported here: the readers (status, the web page) need not load the order mapping.
    from daemon.core.ordermap import connector_ref

    return connector_ref(import_key)


class Ledger:
    """The ledger in ``history``. ``run_id``: the import pass whose writes these are, recorded
    on the rows it adds, claims or confirms and on its events (None for a reader)."""

    def __init__(self, history: History, run_id: int | None = None) -> None:
        self.history = history
        self.run_id = run_id

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """The history's write transaction (``BEGIN IMMEDIATE``, committed on success)."""
        return self.history.transaction()

    def event(
        self,
        conn: sqlite3.Connection,
        level: str,
        code: str,
        message: str,
        subject: str,
        details: Any = None,
    ) -> None:
        """An event of this pass about import ``subject``, in the caller's transaction."""
        self.history.record_event(
            level, code, message, subject=subject, details=details, run_id=self.run_id, conn=conn
        )

    # ------------------------------------------------------------------ intake

    def cursor(self) -> datetime | None:
        """The newest ``updated_at`` of a complete listing (the next one starts there)."""
        value = self.history.get_state(CURSOR_KEY)
        return datetime.fromisoformat(value) if value else None

    def advance_cursor(self, conn: sqlite3.Connection, cursor: datetime) -> None:
        """Move the cursor to ``cursor``, never back."""
        old = self.history.get_state(CURSOR_KEY, conn=conn)
        if old is None or datetime.fromisoformat(old) < cursor:
            self.history.set_state(CURSOR_KEY, cursor.isoformat(), conn=conn)

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
    ) -> None:
        """A new ``pending`` row for ``order`` (``skipped`` with ``skip_reason``), holding
        ``payload``, the ledger's copy of it, and its ``fingerprint``."""
        conn.execute(
            "INSERT INTO imports (import_key, ordre_id, ordre_number, submission,"
            " connector_ref, state, po_number, retailer_name, payload, payload_sha256,"
            " lines_total, last_error, first_seen_at, updated_at, run_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                order.import_key,
                order.id,
                order.number,
                order.submission,
                _connector_ref(order.import_key),
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
            "UPDATE imports SET state = 'skipped', updated_at = ?, last_error = ?"
            " WHERE import_key = ?",
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
        """ORDRE order ``ordre_id`` is cancelled: skip its submissions nobody started, mark the
        copy of those tried before as cancelled, and return the ones already imported."""
        now = utcnow()
        conn.execute(
            "UPDATE imports SET state = 'skipped', updated_at = ?,"
            " last_error = 'cancelled in ORDRE before it was imported'"
            " WHERE ordre_id = ? AND state = 'pending' AND attempts = 0",
            (now, ordre_id),
        )
        # Submissions tried before keep the news: the listing may not show it again. If the
        # lookup finds nothing they are not created; if it finds them, it is reported.
        conn.execute(
            "UPDATE imports SET payload = json_set(payload, '$.status', 'cancelled'),"
            " updated_at = ? WHERE ordre_id = ? AND payload_sha256 IS NOT NULL"
            " AND state IN ('pending', 'sending', 'needs_attention')",
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
                _connector_ref(key),
                json.dumps(raw, sort_keys=True, default=str),
                message,
                now,
                now,
                self.run_id,
            ),
        )
        return cur.rowcount != 0

    # ------------------------------------------------------------------ import

    def open_keys(self) -> list[str]:
        """The import keys of the ``pending`` and ``sending`` rows, oldest first."""
        return [
            r["import_key"]
            for r in self.history.query(
                "SELECT import_key FROM imports WHERE state IN ('pending', 'sending')"
                " ORDER BY first_seen_at, import_key"
            )
        ]

    def count_open(self) -> int:
        return int(
            self.history.query(
                "SELECT COUNT(*) AS n FROM imports WHERE state IN ('pending', 'sending')"
            )[0]["n"]
        )

    def claim(self, keys: list[str]) -> list[sqlite3.Row]:
        """Commit the intent: the ``pending`` and ``sending`` rows among ``keys`` go to
        ``sending`` (one more attempt) before any Zedonk write. Returns them as they were
        before, in the order of ``keys``; a key in another state is left out."""
        with self.history.transaction() as conn:
            found = {
                row["import_key"]: row
                for row in conn.execute(
                    f"SELECT * FROM imports WHERE import_key IN ({', '.join('?' * len(keys))})",
                    keys,
                )
            }
            rows = [
                r for key in keys if (r := found.get(key)) is not None and r["state"] in OPEN_STATES
            ]
            now = utcnow()
            conn.executemany(
                "UPDATE imports SET state = 'sending', attempts = attempts + 1, updated_at = ?,"
                " run_id = ? WHERE import_key = ?",
                [(now, self.run_id, row["import_key"]) for row in rows],
            )
        return rows

    def release(self, keys: list[str]) -> None:
        """Claimed rows the pass never sent go back to ``pending``, their attempt undone."""
        if keys:
            with self.history.transaction() as conn:
                conn.executemany(
                    "UPDATE imports SET state = 'pending', attempts = attempts - 1"
                    " WHERE import_key = ? AND state = 'sending'",
                    [(key,) for key in keys],
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

    def note_unknown_outcome(self, conn: sqlite3.Connection, key: str, error: str) -> None:
        """The create's outcome is unknown: the row stays ``sending``; the next pass looks."""
        conn.execute(
            "UPDATE imports SET last_error = ?, updated_at = ? WHERE import_key = ?",
            (error, utcnow(), key),
        )

    def skip(self, key: str, reason: str) -> None:
        """Import ``key`` is ``skipped`` for ``reason``: it is never created."""
        with self.history.transaction() as conn:
            conn.execute(
                "UPDATE imports SET state = 'skipped', updated_at = ?, last_error = ?"
                " WHERE import_key = ?",
                (utcnow(), reason, key),
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
        Zedonk order is not inactivated yet."""
        return self.history.query(
            "SELECT * FROM imports WHERE state IN ('created', 'partial') AND submission > 1"
            " AND (previous_import_key IS NULL OR previous_inactivated = 0)"
        )

    def previous_import(self, ordre_id: str, submission: int) -> dict[str, Any] | None:
        """The latest imported submission of ``ordre_id`` before ``submission``."""
        rows = self.history.query(
            "SELECT * FROM imports WHERE ordre_id = ? AND submission < ?"
            " AND state IN ('created', 'partial') ORDER BY submission DESC LIMIT 1",
            (ordre_id, submission),
        )
        return rows[0] if rows else None

    def link_previous(self, conn: sqlite3.Connection, key: str, previous_key: str) -> None:
        conn.execute(
            "UPDATE imports SET previous_import_key = ? WHERE import_key = ?",
            (previous_key, key),
        )

    def mark_inactivated(self, conn: sqlite3.Connection, key: str) -> None:
        """Nothing is left to inactivate for re-submission ``key``."""
        conn.execute("UPDATE imports SET previous_inactivated = 1 WHERE import_key = ?", (key,))

    # ------------------------------------------------------------------ retry

    def get(self, key: str) -> dict[str, Any] | None:
        rows = self.history.query("SELECT * FROM imports WHERE import_key = ?", (key,))
        return rows[0] if rows else None

    def reopen_for_retry(
        self, conn: sqlite3.Connection, key: str, payload: str, fingerprint: str
    ) -> None:
        """Import ``key`` again from this copy: ``pending``, or still ``sending`` (a create may
        have reached Zedonk, so it is looked up first)."""
        conn.execute(
            "UPDATE imports SET state = CASE state WHEN 'sending' THEN 'sending'"
            " ELSE 'pending' END, payload = ?, payload_sha256 = ?, updated_at = ?"
            " WHERE import_key = ?",
            (payload, fingerprint, utcnow(), key),
        )

    # ------------------------------------------------------------------ readers

    def listing(self, *, states: tuple[str, ...] = (), limit: int = 100) -> list[dict[str, Any]]:
        """``LIST_COLUMNS`` of the imports, most recently changed first; ``states`` may
        include "attention" (failed and needs_attention)."""
        wanted = {s for s in states if s != "attention"} | (
            set(ATTENTION) if "attention" in states else set()
        )
        where, params = "", list[object]([limit])
        if wanted:
            where = f"WHERE state IN ({', '.join('?' * len(wanted))})"
            params = [*sorted(wanted), limit]
        return self.history.query(
            f"SELECT {LIST_COLUMNS} FROM imports {where}"
            " ORDER BY updated_at DESC, import_key LIMIT ?",
            params,
        )

    def find(self, ident: str) -> str | None:
        """The import key for an import key, an ORDRE id or number (latest submission), or a
        Zedonk order id or number."""
        rows = self.history.query(
            "SELECT import_key FROM imports WHERE import_key = ?1 OR ordre_id = ?1"
            " OR ordre_number = ?1 OR zedonk_order_id = ?1 OR zedonk_order_number = ?1"
            " ORDER BY import_key = ?1 DESC, submission DESC LIMIT 1",
            (ident.strip(),),
        )
        return rows[0]["import_key"] if rows else None

    def details(self, key: str) -> dict[str, Any]:
        """Everything the history knows about import ``key``, for ``orders show``."""
        [row] = self.history.query("SELECT * FROM imports WHERE import_key = ?", (key,))
        payload = row.pop("payload")
        try:
            row["order"] = json.loads(payload) if payload else None
        except ValueError:
            row["order"] = payload
        row["left_out_lines"] = self.left_out_lines(key)
        row["reports"] = self.history.query(
            "SELECT kind, at, message FROM import_reports WHERE import_key = ? ORDER BY at",
            (key,),
        )
        row["events"] = list(reversed(self.history.events(subject=key, limit=1000)))
        row["other_submissions"] = self.history.query(
            "SELECT import_key, submission, state, zedonk_order_number FROM imports"
            " WHERE ordre_id = ? AND import_key != ? ORDER BY submission",
            (row["ordre_id"], key),
        )
        return row

    def outcome(self, key: str) -> dict[str, Any]:
        """``state`` and ``last_error`` of import ``key``, which must exist."""
        [row] = self.history.query(
            "SELECT state, last_error FROM imports WHERE import_key = ?", (key,)
        )
        return row

    def left_out_lines(self, key: str) -> list[dict[str, Any]]:
        """The lines left out of import ``key``'s Zedonk order, by line number."""
        return self.history.query(
            "SELECT line_no, barcode, style, colour, size, quantity, unit_price, reason"
            " FROM import_lines WHERE import_key = ? ORDER BY line_no",
            (key,),
        )

    def recent(self, states: tuple[str, ...] = (), *, limit: int) -> list[dict[str, Any]]:
        """Whole rows (any state, or one of ``states``), most recently changed first."""
        where = f"WHERE state IN ({', '.join('?' * len(states))})" if states else ""
        return self.history.query(
            f"SELECT * FROM imports {where} ORDER BY updated_at DESC LIMIT ?", (*states, limit)
        )

    def summaries(self, states: tuple[str, ...], *, limit: int) -> list[dict[str, Any]]:
        """``SUMMARY_COLUMNS`` of the rows in one of ``states``, most recently changed first."""
        return self.history.query(
            f"SELECT {SUMMARY_COLUMNS} FROM imports"
            f" WHERE state IN ({', '.join('?' * len(states))}) ORDER BY updated_at DESC LIMIT ?",
            (*states, limit),
        )

    def in_order_seen(self) -> list[dict[str, Any]]:
        """Every row, first seen first."""
        return self.history.query("SELECT * FROM imports ORDER BY first_seen_at")

    def count_by_state(self) -> dict[str, int]:
        return {
            row["state"]: row["n"]
            for row in self.history.query("SELECT state, COUNT(*) AS n FROM imports GROUP BY state")
        }

    def count_settled(self) -> int:
        """Rows that are neither ``pending`` nor ``sending``."""
        return int(
            self.history.query(
                "SELECT COUNT(*) AS n FROM imports WHERE state NOT IN ('pending', 'sending')"
            )[0]["n"]
        )

    def count_left_out(self) -> int:
        """Order lines left out of Zedonk orders, over all imports."""
        return int(self.history.query("SELECT COUNT(*) AS n FROM import_lines")[0]["n"])

    def customers_created_for(self, key: str) -> list[dict[str, Any]]:
        """``name`` and ``customer_id`` of the customers created first for import ``key``."""
        return self.history.query(
            "SELECT name, customer_id FROM customer_creations WHERE import_key = ?", (key,)
        )


def list_imports(
    history: History, *, states: tuple[str, ...] = (), limit: int = 100
) -> list[dict[str, Any]]:
    """Imports, most recently changed first; ``states`` may include "attention"."""
    return Ledger(history).listing(states=states, limit=limit)


def find_import(history: History, ident: str) -> str | None:
    """The import key for an import key, an ORDRE id or number (latest submission), or a
    Zedonk order id or number."""
    return Ledger(history).find(ident)


def import_details(history: History, import_key: str) -> dict[str, Any]:
    """Everything the history knows about one import, for ``orders show``."""
    return Ledger(history).details(import_key)
