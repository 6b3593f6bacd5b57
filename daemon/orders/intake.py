"""Intake, the first half of a pass: list the ORDRE orders changed since the cursor (minus
an overlap window) and record each importable submission as a ``pending`` row of the ledger.

Rows, reports and the new cursor are committed together, so the cursor never runs ahead of
the ledger; seeing an order twice changes nothing. An order edited or cancelled after it was
imported (or while its import was under way) is reported once; a submission that cannot be
read is recorded as ``failed``.

Every submission intake sees and does not import is recorded as ``skipped`` with its reason:
submitted before go-live, or in an ORDRE status that ``import.statuses`` does not list. The
latter is imported once its status is listed (the order moves on in ORDRE, or the setting
changes), so no order is lost to the cursor. A failed submission the retailer changes in ORDRE
is imported again from the new copy. A submission cancelled before it was imported is skipped
by the pass once its read of Zedonk finds no order for it: a lost or restored history may
have imported it after all.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from typing import TYPE_CHECKING, Any

from daemon import orders as _orders
from daemon.clients import BrokenItem, OrdreClient
from daemon.clients.lists import order_changes
from daemon.core.model import OrdreOrder
from daemon.core.ordercopy import ledger_copy, order_from_json
from daemon.core.ordermap import Triage, submitted_before_go_live, triage
from daemon.errors import RemoteError
from daemon.store.history import utcnow
from daemon.store.ledger import DONE_STATES, HELD, OPEN_STATES, Ledger

if TYPE_CHECKING:
    from daemon.orders.run import PassState

Notice = tuple[str, str, str]  # key, title, details


@dataclass
class _Held:
    """The import keys and ORDRE ids the ledger has rows for, kept up to date through one
    intake commit: an order new to the ledger is recorded without a look-up."""

    keys: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, ledger: Ledger, conn: sqlite3.Connection, ordre_ids: list[str]) -> _Held:
        held = cls()
        for key, ordre_id in ledger.held(conn, ordre_ids):
            held.add(key, ordre_id)
        return held

    def add(self, key: str, ordre_id: str) -> None:
        self.keys.add(key)
        self.ids.add(ordre_id)


class Intake:
    """One pass's intake from ``ordre``."""

    def __init__(self, state: PassState, ordre: OrdreClient) -> None:
        self.state = state
        self.ledger = state.ledger
        self.notices = state.notices
        self.ordre = ordre
        self.fresh: dict[str, tuple[OrdreOrder, str]] = {}
        self.superseded: list[str] = []  # import keys
        self._next_token: str | None = None  # where the next intake's changes start

    def run(self) -> dict[str, tuple[OrdreOrder, str]]:
        """Record what ORDRE lists. Returns each order as just read, with its fingerprint, by
        import key: the import uses it instead of parsing the ledger's copy back."""
        imp = self.state.settings.import_
        # An order dated ahead of this clock (ORDRE's clock ahead, or a wrong date) must not
        # carry the cursor past orders still to come: it never passes when this intake began.
        began = datetime.now(UTC)
        cursor = self.ledger.cursor()
        if cursor:
            since: datetime | None = min(cursor, began) - _orders.OVERLAP
        elif imp.go_live:
            go_live = imp.go_live
            since = datetime(go_live.year, go_live.month, go_live.day, tzinfo=UTC) - _orders.OVERLAP
        else:
            since = None
        seen: dict[str, OrdreOrder | BrokenItem] = {}
        newest: datetime | None = None
        complete = False
        origin = self.ordre.session.base_url
        token: str | None = None
        try:
            listed = self._listed(origin, since)
            for item in listed:
                if isinstance(item, BrokenItem):
                    seen[_broken_key(item)] = item
                    continue
                seen[item.import_key] = item  # a later copy of the same submission wins
                if item.updated_at and (newest is None or item.updated_at > newest):
                    newest = item.updated_at
            complete = True
            token = self._next_token
            self.notices.remote_ok("ordre")
        except RemoteError as exc:
            self.state.remote_failed("ordre", exc)
        self.state.counts["seen"] += len(seen)
        sync = (origin, token) if complete else None
        if newest is not None:
            newest = min(newest, began)
        self._record(list(seen.values()), newest if complete else None, sync)
        return self.fresh

    def _listed(self, origin: str, since: datetime | None) -> Iterable[OrdreOrder | BrokenItem]:
        """ORDRE's orders changed since the last complete intake: by the sync token when ORDRE
        gave one (one small request when nothing changed), else by the cursor minus the
        overlap. ``_next_token`` is where the next intake's changes start, once read through."""
        known = self.ledger.sync_token(origin)
        changed = order_changes(self.ordre, known) if known else None
        if changed is not None:
            self._next_token = changed[1]
            return changed[0]
        last: dict[str, Any] = {}

        def listing() -> Iterator[OrdreOrder | BrokenItem]:
            yield from self.ordre.orders(updated_since=since, last=last)
            token = last.get("sync_token")
            self._next_token = token if isinstance(token, str) and token else None

        self._next_token = None
        return listing()

    def _record(
        self,
        items: list[OrdreOrder | BrokenItem],
        cursor: datetime | None,
        sync: tuple[str, str | None] | None = None,
    ) -> None:
        imp = self.state.settings.import_
        notices: list[Notice] = []
        with self.ledger.transaction() as conn:
            self._revive_listed_statuses(conn)
            ordre_ids = [item.id for item in items if isinstance(item, OrdreOrder)]
            held = _Held.read(self.ledger, conn, ordre_ids)
            for item in items:
                if isinstance(item, BrokenItem):
                    notices += self._broken(conn, item)
                    key = _broken_key(item)
                    held.add(key, key.rpartition("#")[0])
                    continue
                notices += self._reports(conn, item)
                decision = triage(item, statuses=imp.statuses, go_live=imp.go_live)
                if decision is not Triage.IGNORE:  # a draft is no submission yet
                    notices += self._order(conn, item, decision, held)
                    held.add(item.import_key, item.id)
            if cursor is not None:
                self.ledger.advance_cursor(conn, cursor)
            if sync is not None:
                self.ledger.set_sync_token(conn, *sync)
            for key, title, details in notices:
                self.notices.owe(conn, key, title, details)
        for key in self.superseded:
            self.notices.resolved(f"order-failed:{key}")
        self.superseded.clear()

    def _order(
        self, conn: sqlite3.Connection, order: OrdreOrder, decision: Triage, held: _Held
    ) -> list[Notice]:
        key = order.import_key
        now = utcnow()
        payload, fingerprint = ledger_copy(order)
        self.fresh[key] = (order, fingerprint)
        row = self.ledger.row_in(conn, key) if key in held.keys else None
        if row is None:
            if decision is Triage.SKIP_CANCELLED and not submitted_before_go_live(
                order, self.state.settings.import_.go_live
            ):
                # Cancelled before this ledger saw it, yet Zedonk may hold it: a history that
                # was lost or restored may have imported it. The pass's read of Zedonk decides
                # (found: imported, and the cancellation reported; else skipped).
                self.ledger.add_new(conn, order, payload, fingerprint, at=now)
                return []
            if decision is not Triage.IMPORT:
                reason = self._skip_reason(order, decision)
                self.ledger.add_new(
                    conn,
                    order,
                    payload,
                    fingerprint,
                    at=now,
                    skip_reason=reason,
                    skipped_for=decision.value,
                )
                self.state.counts["skipped"] += 1
                return []
            self.ledger.add_new(conn, order, payload, fingerprint, at=now)
            self.state.counts["new"] += 1
            if order.id in held.ids:
                # An earlier submission nobody has started importing, or that failed, is
                # superseded by this one.
                self.superseded += self.ledger.supersede_earlier(conn, order, at=now)
            return []
        if row["state"] == "skipped" and row["skipped_for"] == Triage.SKIP_STATUS.value:
            if decision is Triage.IMPORT:  # its status is imported now
                self.ledger.revive_skipped(conn, key, payload, fingerprint)
                self.state.counts["new"] += 1
            elif row["payload_sha256"] != fingerprint:
                reason = self._skip_reason(order, decision)
                self.ledger.reskip(
                    conn, order, payload, fingerprint, reason=reason, skipped_for=decision.value
                )
            return []
        if decision in (Triage.SKIP_CANCELLED, Triage.SKIP_STATUS):
            return []  # a cancellation is reported by ``_reports``; a later status changes nothing
        if row["state"] == "pending" and row["attempts"] == 0:
            # Not started: import the retailer's latest content of this submission.
            self.ledger.refresh_unstarted(conn, order, payload, fingerprint)
        elif row["state"] == "failed" and row["payload_sha256"] is None:
            # It was unreadable before and reads now: import it.
            self.ledger.revive_unreadable(conn, order, payload, fingerprint)
            self.state.counts["new"] += 1
        elif _failed_or_held(row) and row["payload_sha256"] != fingerprint:
            if decision is Triage.IMPORT:
                # The retailer changed it in ORDRE since it failed or was held: import (or
                # check) the new copy.
                self.ledger.revive_failed(conn, order, payload, fingerprint)
                self.state.counts["new"] += 1
        elif row["payload_sha256"] not in (None, fingerprint) and row["state"] in (
            *DONE_STATES,
            *OPEN_STATES,  # tried before: Zedonk may hold the content as first read
            "needs_attention",
        ):
            if row["state"] in DONE_STATES:
                message = (
                    f"ORDRE order {order.number} was edited after it was imported as Zedonk "
                    f"order {row['zedonk_order_number']}; the edit is not applied. Change the "
                    "Zedonk order by hand, or ask the retailer to re-submit the order."
                )
            else:  # the listing may not show this edit again once the import is done
                message = (
                    f"ORDRE order {order.number} was edited while its import was under way; it "
                    "is imported as first read and the edit is not applied. Change the Zedonk "
                    "order by hand once it is imported, or ask the retailer to re-submit it."
                )
            if report(self.state, conn, key, "edited", fingerprint, message):
                return [
                    (f"order-edited:{key}:{fingerprint[:12]}", f"{order.number} edited", message)
                ]
        return []

    def _skip_reason(self, order: OrdreOrder, decision: Triage) -> str:
        imp = self.state.settings.import_
        if decision is Triage.SKIP_GO_LIVE:
            return f"submitted before go-live ({imp.go_live})"
        if decision is Triage.SKIP_CANCELLED:
            return "cancelled in ORDRE before it was imported"
        return (
            f"{order.status} in ORDRE, and import.statuses lists only "
            f"{', '.join(imp.statuses)}: it is imported once it is in one of them (or with "
            "`zedonk-ordre orders retry`)"
        )

    def _revive_listed_statuses(self, conn: sqlite3.Connection) -> None:
        """Submissions skipped for a status that ``import.statuses`` lists now (the setting
        changed) go back to ``pending``: the listing will not show them again."""
        imp = self.state.settings.import_
        for row in self.ledger.skipped_for_status(conn):
            try:
                order = order_from_json(json.loads(row["payload"]))
            except (ValueError, TypeError):
                continue
            if triage(order, statuses=imp.statuses, go_live=imp.go_live) is Triage.IMPORT:
                self.ledger.revive_skipped(
                    conn, row["import_key"], row["payload"], row["payload_sha256"]
                )
                self.state.counts["new"] += 1

    def _reports(self, conn: sqlite3.Connection, order: OrdreOrder) -> list[Notice]:
        if order.status != "cancelled":
            return []
        notices = []
        for row in self.ledger.note_cancelled(conn, order.id):
            message = cancelled_message(order.number, row["submission"], row["zedonk_order_number"])
            if report(self.state, conn, row["import_key"], "cancelled", "", message):
                key = row["import_key"]
                notices.append((f"order-cancelled:{key}", f"{order.number} cancelled", message))
        return notices

    def _broken(self, conn: sqlite3.Connection, item: BrokenItem) -> list[Notice]:
        key = _broken_key(item)
        ordre_id = key.rpartition("#")[0]
        message = f"ORDRE sent an order that cannot be read: {item.reason}"
        if not self.ledger.add_unreadable(conn, key, item.raw, message):
            return []
        self.state.counts["failed"] += 1
        self.ledger.event(conn, "error", "order-malformed", message, key)
        return [(f"order-failed:{key}", f"ORDRE order {ordre_id} cannot be read", message)]


def report(
    state: PassState, conn: sqlite3.Connection, key: str, kind: str, fingerprint: str, message: str
) -> bool:
    """Report an edit or a cancellation of import ``key`` once (in the caller's transaction);
    True when it is new, so the caller owes its notice."""
    if not state.ledger.report(conn, key, kind, fingerprint, message):
        return False
    state.ledger.event(conn, "warning", f"order-{kind}", message, key)
    state.counts["reported"] += 1
    return True


def cancelled_message(number: str, submission: int, zedonk_number: str) -> str:
    return (
        f"ORDRE order {number} was cancelled after submission {submission} was imported as "
        f"Zedonk order {zedonk_number}; the Zedonk order is unchanged. Force-close or "
        "inactivate it in Zedonk if it should not be delivered."
    )


def _failed_or_held(row: sqlite3.Row) -> bool:
    """Nothing was created for it in Zedonk, and it waits for a change: failed, or held for
    review."""
    if row["state"] == "failed":
        return True
    return row["state"] == "needs_attention" and str(row["last_error"] or "").startswith(HELD)


def _broken_key(item: BrokenItem) -> str:
    raw = item.raw if isinstance(item.raw, dict) else {}
    submission = raw.get("submission")
    number = submission if isinstance(submission, int) and not isinstance(submission, bool) else 0
    if item.id:
        return f"{item.id}#{number}"
    digest = sha256(json.dumps(item.raw, sort_keys=True, default=str).encode()).hexdigest()
    return f"malformed-{digest[:16]}#{number}"
