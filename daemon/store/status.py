"""What the daemon is doing now, from the history and the locks: the data behind ``status``.

Read-only: it never takes a lock and never writes, so it works while the daemon runs.
The pause switch lives here too, because ``pause``/``resume`` and the daemon must agree on it.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from daemon.store.attention import inbox
from daemon.store.history import HISTORY_FILE, History, utcnow
from daemon.store.ledger import Ledger
from daemon.store.lock import LOCK_FILE, ORDERS_LOCK_FILE, current_holder, running_daemon

STATUS_VERSION = 4  # 2: "format_version" (was "version"); 3: the present: "daemon", "working",
# "reconciling" and "problems" (the errors of the last passes that failed) for "lock" and
# "recent_errors"; 4: "attention", the counts of the "needs a person" inbox
PAUSED_KEY = "paused"

WAITING_STATES = ("pending", "sending")
# unresolved: Zedonk may hold the order or not until its settle window has passed
ATTENTION_STATES = ("needs_attention", "failed", "partial", "unresolved")
RECONCILE_KINDS = ("reconcile", "apply")
SUCCESS_RESULTS = ("ok", "no-changes", "no-orders")
PROBLEM_RESULTS = ("failed", "invalid", "partial", "interrupted")


def who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def pause(history: History, reason: str, *, by: str | None = None) -> dict[str, Any]:
    """Stop automatic reconciling (order import goes on). Returns the pause record."""
    record = {"reason": reason, "at": utcnow(), "by": by or who()}
    history.set_state(PAUSED_KEY, record)
    history.record_event("info", "paused", f"reconciling paused: {reason}", details=record)
    return record


def resume(history: History, *, by: str | None = None) -> dict[str, Any] | None:
    """Restart automatic reconciling. Returns the pause that was lifted, or None."""
    record: dict[str, Any] | None = history.get_state(PAUSED_KEY)
    if record is not None:
        history.delete_state(PAUSED_KEY)
        history.record_event(
            "info",
            "resumed",
            "reconciling resumed",
            details={"by": by or who(), "paused": record},
        )
    return record


def _run(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    keys = (
        "id",
        "kind",
        "trigger",
        "started_at",
        "finished_at",
        "result",
        "summary",
        "error",
        "repeats",
        "first_started_at",
    )
    return {key: row.get(key) for key in keys}


def _last_run(history: History, kinds: tuple[str, ...], *, ok_only: bool = False) -> Any:
    marks = ", ".join("?" for _ in kinds)
    where = f"kind IN ({marks})"
    if ok_only:
        where += f" AND result IN ({', '.join(repr(r) for r in SUCCESS_RESULTS)})"
    else:
        where += " AND result <> 'running'"
    rows = history.query(f"SELECT * FROM runs WHERE {where} ORDER BY id DESC LIMIT 1", kinds)
    if not rows:
        return None
    row = rows[0]
    summary = row.get("summary")
    if isinstance(summary, str):
        row["summary"] = json.loads(summary)
    return _run(row)


def _problems(history: History, run: dict[str, Any] | None) -> list[dict[str, Any]]:
    """What is wrong now: the error events of a loop's last pass, when that pass did not
    succeed (whole events, as ``History.events`` gives them; none when the run itself says
    it all, in its ``error``). An error a later pass cleared is history, not status
    (``zedonk-ordre history --errors``)."""
    if run is None or run["result"] not in PROBLEM_RESULTS:
        return []
    events = history.query(
        "SELECT * FROM events WHERE run_id = ? AND level = 'error' ORDER BY id LIMIT 20",
        (run["id"],),
    )
    for event in events:
        event["details"] = json.loads(event["details"]) if event["details"] else None
    return events


def gather(state_dir: Path) -> dict[str, Any]:
    """The status document (``status --format json`` prints it as is): the present, never
    the past. The counts of the "needs a person" inbox (``daemon.store.attention``), whether
    a daemon runs (its lock), who works on the catalogue or the orders now, the pause, the
    last pass of each loop (and the last good one), the orders waiting or in trouble, and
    the errors of the last passes that did not succeed."""
    daemon = running_daemon(state_dir)
    doc: dict[str, Any] = {
        "format_version": STATUS_VERSION,
        "attention": {"open": 0, "acknowledged": 0, "by_kind": {}},
        "state_dir": str(state_dir),
        "daemon": {"running": daemon is not None, "holder": daemon},
        "working": {
            "catalogue": current_holder(state_dir, LOCK_FILE),
            "orders": current_holder(state_dir, ORDERS_LOCK_FILE),
        },
        "history": False,
        "reconciling": "active" if daemon is not None else "off",
        "paused": None,
        "last_reconcile": None,
        "last_good_reconcile": None,
        "last_poll": None,
        "last_good_poll": None,
        "orders": {"waiting": [], "needs_attention": [], "rebuilt": None, "audit": None},
        "problems": [],
    }
    if not (state_dir / HISTORY_FILE).exists():
        return doc
    try:
        return _fill(doc, state_dir)
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # the daemon is creating it this very moment
            return doc
        raise


def _fill(doc: dict[str, Any], state_dir: Path) -> dict[str, Any]:
    with History.open(state_dir, read_only=True) as history:
        doc["attention"] = inbox(history).counts()
        doc["paused"] = history.get_state(PAUSED_KEY)
        if doc["paused"]:
            doc["reconciling"] = "paused"
        doc["last_reconcile"] = _last_run(history, RECONCILE_KINDS)
        doc["last_good_reconcile"] = _last_run(history, RECONCILE_KINDS, ok_only=True)
        doc["last_poll"] = _last_run(history, ("import",))
        doc["last_good_poll"] = _last_run(history, ("import",), ok_only=True)
        ledger = Ledger(history)
        doc["orders"] = {
            "waiting": ledger.summaries(WAITING_STATES, limit=20),
            "needs_attention": ledger.summaries(ATTENTION_STATES, limit=20),
            # Zedonk orders the ledger found that it had not recorded: it was new or lost
            "rebuilt": ledger.rebuilt(),
            # the last audit of the import season's Zedonk orders, with any duplicate
            "audit": ledger.last_audit(),
        }
        doc["problems"] = _problems(history, doc["last_reconcile"]) + _problems(
            history, doc["last_poll"]
        )
    doc["history"] = True
    return doc
