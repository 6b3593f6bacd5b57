"""The history's retention: what is older than ``history.retention`` goes, an order's never.

The daemon calls ``prune`` at start and then every few hours (``daemon.service.supervisor``).
It deletes, in small transactions so that the passes running meanwhile never wait long:

- events recorded before the cutoff that are about no order;
- runs that finished before it, with their actions, unless an order or a kept event refers
  to them;
- problems resolved before it, notice deliveries sent (or given up) before it with the
  notices no delivery still owes (``Outbox.prune``), and answered requests to the daemon.

It never deletes an order's ledger rows (``imports``, ``import_lines``, ``import_reports``,
``customer_creations``), nor the events about an order (their subject is its import key):
they are the record of what became of each submission, and the exactly-once guarantee rests
on them. The tallies behind /metrics are not touched either, so a counter never goes down.
SQLite reuses the freed pages; the file does not shrink, and does not grow for them again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from daemon.store.history import History
from daemon.store.outbox import Outbox

BATCH = 2000  # rows per transaction
KINDS = ("events", "runs", "actions", "notifications", "deliveries", "notices", "requests")

_EVENTS = (
    "SELECT id FROM events WHERE at < ? AND (subject IS NULL"
    " OR subject NOT IN (SELECT import_key FROM imports)) LIMIT ?"
)
_RUNS = (
    "SELECT id FROM runs WHERE started_at < ? AND finished_at IS NOT NULL AND finished_at < ?"
    " AND result <> 'running'"
    " AND NOT EXISTS (SELECT 1 FROM imports WHERE imports.run_id = runs.id)"
    " AND NOT EXISTS (SELECT 1 FROM events WHERE events.run_id = runs.id) LIMIT ?"
)


def cutoff(keep_seconds: float, *, now: datetime | None = None) -> str:
    """The history timestamp ``keep_seconds`` before ``now`` (default: the current time)."""
    moment = (now or datetime.now(UTC)) - timedelta(seconds=keep_seconds)
    return moment.isoformat(timespec="microseconds")


def prune(history: History, before: str) -> dict[str, int]:
    """Delete what retention lets go of from before ``before`` (a history timestamp, see
    ``cutoff``); returns how many rows of each kind went (``KINDS``: events, runs, actions,
    resolved problems, sent notice deliveries and their notices, answered requests). Raises
    ``sqlite3.Error`` when the history cannot be written; what was deleted until then stays
    deleted, and the next call goes on."""
    gone = dict.fromkeys(KINDS, 0)
    while True:
        with history.transaction() as conn:
            ids = [row[0] for row in conn.execute(_EVENTS, (before, BATCH))]
            if ids:
                marks = ", ".join("?" for _ in ids)
                conn.execute(f"DELETE FROM events WHERE id IN ({marks})", ids)
        gone["events"] += len(ids)
        if len(ids) < BATCH:
            break
    while True:
        with history.transaction() as conn:
            ids = [row[0] for row in conn.execute(_RUNS, (before, before, BATCH))]
            if ids:
                marks = ", ".join("?" for _ in ids)
                gone["actions"] += conn.execute(
                    f"DELETE FROM actions WHERE run_id IN ({marks})", ids
                ).rowcount
                conn.execute(f"DELETE FROM runs WHERE id IN ({marks})", ids)
        gone["runs"] += len(ids)
        if len(ids) < BATCH:
            break
    with history.transaction() as conn:
        gone.update(Outbox(history).prune(conn, before))
        gone["requests"] = conn.execute(
            "DELETE FROM requests WHERE answered_at IS NOT NULL AND answered_at < ?", (before,)
        ).rowcount
    return gone
