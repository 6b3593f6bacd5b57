"""Requests to the running daemon: a command asks, the daemon answers with a pass.

``zedonk-ordre reconcile`` run beside a daemon writes a request here and waits; the daemon's
reconcile loop looks for open requests every second, runs one full pass for all the requests
open when the pass starts, and answers each with that pass's run and result. A request made
while a pass runs waits for the next pass, since the running one may have read the files
before the request. This is how Flux's ``flux reconcile`` asks its controller (an annotation
with the time asked, which the controller answers in the object's status): the request is
state both sides can read, so it survives either side restarting, and asking twice costs one
pass.
"""

from __future__ import annotations

import os
from typing import Any

from daemon.store.history import History, utcnow
from daemon.store.status import who

RECONCILE = "reconcile"


def ask(history: History, kind: str, *, by: str | None = None) -> int:
    """Record a request of ``kind`` (``reconcile``) now; returns its id."""
    with history.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO requests (kind, requested_at, requested_by, pid) VALUES (?, ?, ?, ?)",
            (kind, utcnow(), by or who(), os.getpid()),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid


def newest_open(history: History, kind: str) -> int | None:
    """The id of the newest unanswered request of ``kind``, or None when none is open."""
    rows = history.query(
        "SELECT MAX(id) AS id FROM requests WHERE kind = ? AND answered_at IS NULL", (kind,)
    )
    found = rows[0]["id"] if rows else None
    return int(found) if found is not None else None


def answer(
    history: History, kind: str, up_to: int, *, run_id: int | None, result: str, message: str
) -> int:
    """Answer every open request of ``kind`` up to id ``up_to`` with the pass that ran for
    them (its ``run_id``, ``result`` and one-line ``message``); returns how many."""
    with history.transaction() as conn:
        cur = conn.execute(
            "UPDATE requests SET answered_at = ?, run_id = ?, result = ?, message = ?"
            " WHERE kind = ? AND id <= ? AND answered_at IS NULL",
            (utcnow(), run_id, result, message, kind, up_to),
        )
        return cur.rowcount


def answer_of(history: History, request_id: int) -> dict[str, Any] | None:
    """Request ``request_id`` once answered (its row: ``run_id``, ``result``, ``message``,
    ``answered_at``), None while it waits."""
    rows = history.query(
        "SELECT * FROM requests WHERE id = ? AND answered_at IS NOT NULL", (request_id,)
    )
    return rows[0] if rows else None
