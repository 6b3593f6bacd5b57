"""What every part of the ledger shares: its states, its history and run, its transaction."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from typing import Any

from daemon.store.history import History

CURSOR_KEY = "orders.cursor"  # the listing cursor, in the history's durable state
SYNC_KEY = "orders.sync_token"  # where ORDRE's order changes start, and from which ORDRE
OPEN_STATES = ("pending", "sending", "unresolved")  # rows the import still works on
DONE_STATES = ("created", "partial")
# ``orders list --status attention``: a person should look (an unresolved row settles by
# itself once the settle window has passed, but may be a doubled order until then)
ATTENTION = ("failed", "needs_attention", "unresolved")
HELD = "held for review: "  # how the last_error of an order held for review starts


def connector_ref(import_key: str) -> str:
    """``daemon.core.ordermap.connector_ref``, imported when a row is added: the readers
    (status, the web page) need not load the order mapping."""
    from daemon.core.ordermap import connector_ref

    return connector_ref(import_key)


class LedgerBase:
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
