"""The "needs a person" inbox, computed from the history; acknowledgements recorded in it.

``inbox(history, now=...)`` reads the ledger (orders failed, held, unresolved, partial;
re-submissions whose earlier Zedonk order is still active; submissions the last audit found
on several active Zedonk orders; edits and cancellations after import), the products the last
full plan held back or found incomplete (``record_products`` keeps them, in the durable
state), the last catalogue pass (invalid, or refused by a guard) and the acknowledgements
(table ``attention_acks``). ``daemon.core.attention`` words each item and orders them.
Nothing here writes but ``acknowledge`` and ``record_products``; reading works on a read-only
history, beside a running daemon.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from daemon.core import attentionitems as words
from daemon.core.attention import TASK_ACK_SHOWN, Ack, AttentionItem, Inbox, gather_inbox
from daemon.errors import ZedonkOrdreError
from daemon.store.history import History, utcnow
from daemon.store.ledger import Ledger
from daemon.store.ledger.base import HELD

PRODUCTS_KEY = "attention.products"  # the durable state: what the last full plan found
CATALOGUE_KINDS = ("reconcile", "apply")
GUARD_CODES = ("deletes-refused", "updates-refused", "catalogue-empty")
TROUBLED_STATES = ("failed", "needs_attention", "unresolved", "partial")

__all__ = [
    "AttentionItem",
    "Inbox",
    "UnknownItem",
    "acknowledge",
    "attention",
    "inbox",
    "record_products",
]


class UnknownItem(ZedonkOrdreError):
    """An id that names no item in the inbox now."""


def attention(history: History, *, now: datetime | None = None) -> list[AttentionItem]:
    """The items of the inbox at ``now`` (aware; default: the clock), most urgent first."""
    return list(inbox(history, now=now).items)


def inbox(history: History, *, now: datetime | None = None) -> Inbox:
    """``attention`` as an ``Inbox`` (counts, ``as_json``); see ``attention``."""
    now = now or datetime.now(UTC)
    try:
        acks = _acks(history)
    except sqlite3.OperationalError as exc:  # a history from before m007, opened read-only
        if "no such table" not in str(exc):
            raise
        acks = {}
    reader = _Reader(history, acks, now)
    items = [
        *reader.orders(),
        *reader.resubmissions(),
        *reader.duplicates(),
        *reader.after_import(),
        *reader.resubmission_checks(),
        *reader.products(),
        *reader.catalogue(),
    ]
    return gather_inbox(items, acks, now=now)


def acknowledge(
    history: History,
    item_ids: Sequence[str],
    note: str,
    *,
    by: str,
) -> list[AttentionItem]:
    """Record ``by``'s acknowledgement with ``note`` of each item in ``item_ids`` (an event
    ``attention-acknowledged`` each, too); returns the items, acknowledged. Raises
    UnknownItem, before recording anything, when an id names no item in the inbox now."""
    now = utcnow()
    found = inbox(history)
    items = []
    for item_id in item_ids:
        item = found.find(item_id.strip())
        if item is None:
            raise UnknownItem(
                f"no item {item_id!r} needs a person now",
                hint="`zedonk-ordre attention` lists the ids; an item leaves the list once its "
                "problem clears",
            )
        items.append(item)
    ack = Ack(note, by, now)
    with history.transaction() as conn:
        for item in items:
            conn.execute(
                "INSERT INTO attention_acks (item_id, note, acked_by, acked_at, since)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (item_id) DO UPDATE SET"
                " note = excluded.note, acked_by = excluded.acked_by,"
                " acked_at = excluded.acked_at, since = excluded.since",
                (item.id, note, by, now, item.since),
            )
            history.record_event(
                "info",
                "attention-acknowledged",
                f"{by} acknowledged {item.id}: {note}",
                subject=item.id,
                details={"note": note, "by": by, "kind": item.kind, "what": item.what},
                conn=conn,
            )
    return [AttentionItem(**{**item.__dict__, "acked": ack}) for item in items]


def record_products(
    history: History, troubles: Mapping[str, Mapping[str, Any]], *, run_id: int | None
) -> None:
    """Keep what a full plan found wrong with the catalogued products
    (``daemon.core.attention.product_troubles``) for the inbox, replacing what the last one
    found. A product keeps the time its trouble was first seen while it stays the same."""
    now = utcnow()
    with history.transaction() as conn:
        before = history.get_state(PRODUCTS_KEY, {}, conn=conn).get("products", {})
        kept: dict[str, Any] = {}
        for key, trouble in troubles.items():
            old = before.get(key)
            same = old is not None and all(old.get(k) == trouble[k] for k in trouble)
            kept[key] = {**trouble, "since": old["since"] if same else now}
        history.set_state(PRODUCTS_KEY, {"at": now, "run_id": run_id, "products": kept}, conn=conn)


def _acks(history: History) -> dict[str, Ack]:
    return {
        row["item_id"]: Ack(row["note"], row["acked_by"], row["acked_at"])
        for row in history.query("SELECT item_id, note, acked_by, acked_at FROM attention_acks")
    }


class _Reader:
    """The queries behind each kind of item. A task acknowledged longer ago than
    ``TASK_ACK_SHOWN`` is skipped before its details are read (old tasks are many)."""

    def __init__(self, history: History, acks: Mapping[str, Ack], now: datetime) -> None:
        self.history = history
        self.acks = acks
        self.now = now

    def done_long_ago(self, item_id: str, since: str) -> bool:
        ack = self.acks.get(item_id)
        if ack is None:
            return False
        at = datetime.fromisoformat(ack.at)
        return at >= datetime.fromisoformat(since) and self.now - at > TASK_ACK_SHOWN

    def lines(self, key: str) -> list[dict[str, Any]]:
        return self.history.query(
            "SELECT line_no, barcode, style, colour, size, quantity, reason FROM import_lines"
            " WHERE import_key = ? ORDER BY line_no",
            (key,),
        )

    def orders(self) -> Iterator[AttentionItem]:
        marks = ", ".join("?" for _ in TROUBLED_STATES)
        rows = self.history.query(
            f"SELECT * FROM imports WHERE state IN ({marks}) ORDER BY updated_at", TROUBLED_STATES
        )
        for row in rows:
            key, state = row["import_key"], row["state"]
            if state == "failed":
                code = self.history.query(
                    "SELECT code FROM events WHERE subject = ? AND level = 'error'"
                    " ORDER BY id DESC LIMIT 1",
                    (key,),
                )
                yield words.failed_order(row, self.lines(key), code[0]["code"] if code else None)
            elif state == "needs_attention":
                yield words.held_order(row, held_prefix=HELD)
            elif state == "unresolved":
                yield words.unresolved_create(row)
            else:
                item_id = f"order:{words.order_label(row)}:partial"
                if not self.done_long_ago(item_id, row["updated_at"]):
                    yield words.partial_order(row, self.lines(key))

    def resubmissions(self) -> Iterator[AttentionItem]:
        # A person was told to inactivate the earlier order (``import.on_resubmit: report``,
        # the notice still open) or Zedonk refused to (-1); a 0 without a notice is the
        # import's own to retry.
        rows = self.history.query(
            "SELECT * FROM imports WHERE state IN ('created', 'partial')"
            " AND previous_import_key IS NOT NULL AND (previous_inactivated = -1"
            " OR (previous_inactivated = 0 AND EXISTS (SELECT 1 FROM notifications"
            " WHERE key = 'order-resubmitted:' || import_key AND state = 'open')))"
            " ORDER BY updated_at"
        )
        for row in rows:
            item_id = f"order:{words.order_label(row)}:inactivate-earlier"
            if self.done_long_ago(item_id, row["updated_at"]):
                continue
            [previous] = self.history.query(
                "SELECT * FROM imports WHERE import_key = ?", (row["previous_import_key"],)
            )
            yield words.inactivate_earlier(row, previous)

    def duplicates(self) -> Iterator[AttentionItem]:
        """The submissions the last audit found on several active Zedonk orders, each since
        an audit first reported it."""
        record = Ledger(self.history).last_audit() or {}
        for duplicate in record.get("duplicates", []):
            key = duplicate["import_key"]
            rows = self.history.query("SELECT * FROM imports WHERE import_key = ?", (key,))
            [first] = self.history.query(
                "SELECT MIN(at) AS at FROM events WHERE code = 'order-duplicate' AND subject = ?",
                (key,),
            )
            since = first["at"] or record["at"]
            yield words.doubled_order(duplicate, rows[0] if rows else None, since)

    def after_import(self) -> Iterator[AttentionItem]:
        rows = self.history.query(
            "SELECT r.kind, r.fingerprint, r.at, r.message, i.* FROM import_reports r"
            " JOIN imports i ON i.import_key = r.import_key ORDER BY r.at"
        )
        for row in rows:
            item = words.after_import(row, row)
            if not self.done_long_ago(item.id, item.since):
                yield item

    def resubmission_checks(self) -> Iterator[AttentionItem]:
        """What a re-submission's import told a person once, by an event: look for an earlier
        order keyed in by hand before go-live, or inactivate earlier orders its history does
        not record."""
        rows = self.history.query(
            "SELECT e.code, e.message, e.at AS event_at, i.* FROM events e"
            " JOIN imports i ON i.import_key = e.subject WHERE e.code IN"
            " ('order-resubmitted-after-go-live', 'order-resubmitted-untracked') ORDER BY e.id"
        )
        for row in rows:
            event = {**row, "at": row["event_at"]}
            if row["code"] == "order-resubmitted-untracked":
                item = words.inactivate_untracked(row, event)
            else:
                item = words.resubmitted_after_go_live(row, event)
            if not self.done_long_ago(item.id, item.since):
                yield item

    def products(self) -> Iterator[AttentionItem]:
        found = self.history.get_state(PRODUCTS_KEY, {})
        for key, trouble in sorted(found.get("products", {}).items()):
            yield words.product_item(key, trouble, trouble["since"])

    def catalogue(self) -> Iterator[AttentionItem]:
        marks = ", ".join("?" for _ in CATALOGUE_KINDS)
        rows = self.history.query(
            f"SELECT * FROM runs WHERE kind IN ({marks}) AND result <> 'running'"
            " ORDER BY id DESC LIMIT 1",
            CATALOGUE_KINDS,
        )
        if not rows or rows[0]["result"] not in ("invalid", "failed"):
            return
        run = rows[0]
        errors = self.history.query(
            "SELECT code, message FROM events WHERE run_id = ? AND level = 'error'"
            " ORDER BY id LIMIT 50",
            (run["id"],),
        )
        if run["result"] == "invalid":
            yield words.invalid_catalogue(run, errors, self.streak_start(run, ("invalid",)))
            return
        guard = next((e["code"] for e in errors if e["code"] in GUARD_CODES), None)
        if guard is not None:
            yield words.guard_refused(run, guard, self.streak_start(run, ("failed",)))

    def streak_start(self, run: Mapping[str, Any], results: tuple[str, ...]) -> str:
        """When the trailing streak of catalogue runs ending in ``results`` began."""
        marks = ", ".join("?" for _ in CATALOGUE_KINDS)
        kept = ", ".join("?" for _ in results)
        rows = self.history.query(
            f"SELECT MIN(COALESCE(first_started_at, started_at)) AS since FROM runs"
            f" WHERE kind IN ({marks}) AND result IN ({kept}) AND id > COALESCE((SELECT MAX(id)"
            f" FROM runs WHERE kind IN ({marks}) AND result NOT IN ({kept}, 'running')), 0)",
            (*CATALOGUE_KINDS, *results, *CATALOGUE_KINDS, *results),
        )
        return str(rows[0]["since"] or run["started_at"])
