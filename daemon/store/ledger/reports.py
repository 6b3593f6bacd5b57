"""Reading the ledger: ``orders list`` and ``show``, ``status``, the web page and the demo."""

from __future__ import annotations

import json
from typing import Any

from daemon.store.history import History
from daemon.store.ledger.base import ATTENTION, LedgerBase

LIST_COLUMNS = (
    "import_key, ordre_id, ordre_number, submission, state, po_number, retailer_name,"
    " customer_id, zedonk_order_id, zedonk_order_number, previous_import_key,"
    " previous_inactivated, lines_total, lines_imported, attempts, last_error, skipped_for,"
    " first_seen_at, updated_at, run_id"
)
SUMMARY_COLUMNS = (
    "import_key, ordre_number, submission, state, po_number, retailer_name,"
    " zedonk_order_number, last_error, updated_at"
)


def _like_escaped(text: str) -> str:
    """``text`` matched literally by SQL's LIKE (with ``ESCAPE '\\'``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class LedgerReports(LedgerBase):
    """The ledger's read-only queries."""

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

    def browse(
        self,
        *,
        states: tuple[str, ...] = (),
        retailer: str = "",
        po: str = "",
        limit: int,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """``LIST_COLUMNS`` of the imports in one of ``states`` (any when empty) whose
        retailer name and PO contain ``retailer`` and ``po`` (ASCII letters in any case),
        most recently changed first: ``limit`` rows from ``offset``."""
        where, params = ["1 = 1"], list[object]()
        if states:
            where.append(f"state IN ({', '.join('?' * len(states))})")
            params += states
        for column, text in (("retailer_name", retailer), ("po_number", po)):
            if text:
                where.append(f"{column} LIKE ? ESCAPE '\\'")
                params.append("%" + _like_escaped(text) + "%")
        return self.history.query(
            f"SELECT {LIST_COLUMNS} FROM imports WHERE {' AND '.join(where)}"
            " ORDER BY updated_at DESC, import_key LIMIT ? OFFSET ?",
            (*params, limit, offset),
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
        """Rows that are neither ``pending``, ``sending`` nor ``unresolved``."""
        return int(
            self.history.query(
                "SELECT COUNT(*) AS n FROM imports"
                " WHERE state NOT IN ('pending', 'sending', 'unresolved')"
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
    return LedgerReports(history).listing(states=states, limit=limit)


def find_import(history: History, ident: str) -> str | None:
    """The import key for an import key, an ORDRE id or number (latest submission), or a
    Zedonk order id or number."""
    return LedgerReports(history).find(ident)


def import_details(history: History, import_key: str) -> dict[str, Any]:
    """Everything the history knows about one import, for ``orders show``."""
    return LedgerReports(history).details(import_key)
