"""Import, the second half of a pass: each open row becomes exactly one Zedonk order.

First the rows a dead pass left ``sending`` become ``unresolved``, and one read of Zedonk's
orders (``ZedonkView``, in ``settle``) says which open rows Zedonk holds already: those are
confirmed without a create, whatever the ledger said, and the others are created, or wait
while an earlier create of theirs may still show up in Zedonk (the settle window).

Per batch of up to ``BATCH`` rows: commit the intent (``claim``: the rows go to ``sending``),
create each Zedonk order carrying ``connector_ref = "ordre:" + import_key``, then commit the
confirms together (``Outcomes.flush_confirms``). Up to ``CREATES_IN_FLIGHT`` creates are on the
wire at once on sender threads, so the next orders are mapped while Zedonk stores one; only
this main thread touches the ledger, and it settles their outcomes in row order. A pass that
stops early still records every create it sent, and puts the rows it never sent back.

A row tried before (an unresolved create whose settle window has passed, or a create refused)
is looked up once more by its connector reference just before it is sent; it is created only
when that lookup finds nothing either. A submission cancelled in ORDRE is never sent: found in
Zedonk it is imported (and the cancellation reported), else skipped. A create whose outcome
is unknown is never repeated in the same pass.

Zedonk refusing a call the import makes for one order (a customer create, an order create: a
4xx about the order's data, ``daemon.errors.is_refusal``) fails that order alone, with
Zedonk's reason, and the pass goes on; only a transient fault (Zedonk down, the rate limit, the
token) stops the pass. Before anything is created the order is checked: its currency must be
one Zedonk has, and what ``import.on_currency_mismatch`` and ``import.on_zero_price`` say to
hold (and a new customer whose name looks like an existing one's) holds it for a person
(``needs_attention``) unless ``orders retry --accept`` accepted it (``mapping.OrderMapper``).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from daemon import orders as _orders
from daemon.clients import ZedonkClient
from daemon.core.model import OrdreOrder, SalesOrder
from daemon.core.ordercopy import order_from_json
from daemon.core.ordermap import (
    LeftOutLine,
    NoLinesMatched,
    OrderMappingError,
    OrderWarning,
    connector_ref,
)
from daemon.errors import (
    AuthError,
    BadResponse,
    ConfigError,
    Conflict,
    OutcomeUnknown,
    RateLimited,
    RemoteError,
    TransientError,
    is_refusal,
)
from daemon.orders.mapping import OrderMapper
from daemon.orders.outcomes import Confirmed, Outcomes
from daemon.orders.settle import Verdict, ZedonkView

if TYPE_CHECKING:
    from daemon.orders.run import PassState


@dataclass(frozen=True)
class _Sending:
    """A create on the wire: the sender thread's answer is settled in row order."""

    key: str
    order: OrdreOrder
    left_out: tuple[LeftOutLine, ...]
    warnings: tuple[OrderWarning, ...]
    reply: Future[SalesOrder]


class _StopPass(Exception):
    """A remote is unavailable: leave the remaining rows for the next pass."""


class Sender:
    """Imports one pass's open rows into ``zedonk``. ``fresh``: the orders intake just read,
    by import key, with their fingerprints (an order whose copy is unchanged is not parsed)."""

    def __init__(
        self, state: PassState, zedonk: ZedonkClient, fresh: dict[str, tuple[OrdreOrder, str]]
    ) -> None:
        self.state = state
        self.ledger = state.ledger
        self.zedonk = zedonk
        self.fresh = fresh
        self.outcomes = Outcomes(state)
        self.mapper: OrderMapper | None = None  # what Zedonk knows, once there is work
        self.view: ZedonkView | None = None  # what Zedonk holds for the open rows
        self.pool: ThreadPoolExecutor | None = None  # runs the Zedonk creates

    def import_open_rows(self, only: str | None) -> None:
        """Import every open row, oldest first (only import key ``only`` when given)."""
        self.ledger.note_interrupted()  # the orders lock is held: no other pass is sending
        keys = [only] if only is not None else self.ledger.open_keys()
        if not keys:
            return
        try:
            self._load_context()
            self._read_zedonk(keys)
            with ThreadPoolExecutor(_orders.CREATES_IN_FLIGHT, "zedonk-create") as self.pool:
                for start in range(0, len(keys), _orders.BATCH):
                    self._import_batch(keys[start : start + _orders.BATCH])
        except _StopPass:
            counts = self.state.counts
            counts["waiting"] = max(
                counts["waiting"], self.ledger.count_by_state().get("pending", 0)
            )
            return
        self.state.notices.remote_ok("zedonk")

    def close(self) -> None:
        """Drop what Zedonk knows (all its customers and products)."""
        self.mapper = None
        self.view = None

    def _read_zedonk(self, keys: list[str]) -> None:
        """Read what Zedonk holds for the open rows, before anything is sent."""
        view = ZedonkView(self.state, self.zedonk)
        try:
            view.read(self.ledger.rows(keys))
        except RemoteError as exc:
            self.state.remote_failed("zedonk", exc)
            raise _StopPass from None
        self.view = view

    def _import_batch(self, keys: list[str]) -> None:
        """Decide each row by what Zedonk holds; claim the ones to send in one commit, create
        each order, confirm them in one commit.

        A crash before the confirm commit leaves the rows ``sending``: the next pass finds
        their orders by its read of Zedonk, so deferring the confirm trades a few reads after
        a crash for one fsync per batch instead of two per order.

        Up to ``CREATES_IN_FLIGHT`` creates are on the wire at once, so the next orders are
        mapped and sent while Zedonk stores one; their outcomes are settled in row order.
        """
        assert self.pool is not None
        to_send = [row["import_key"] for row in self.ledger.rows(keys) if self._decide(row)]
        rows = self.ledger.claim(to_send)  # the intent: committed before any Zedonk write
        if not rows:
            self.outcomes.flush_confirms()
            return
        _orders.crash_point("after_intent_commit")
        untried = list(rows)
        in_flight: deque[_Sending] = deque()
        try:
            for row in rows:
                untried.remove(row)
                sending = self._prepare(row)
                if sending is not None:
                    in_flight.append(sending)
                    if len(in_flight) >= _orders.CREATES_IN_FLIGHT:
                        self._settle(in_flight.popleft())
            while in_flight:
                self._settle(in_flight.popleft())
        except Exception:  # a remote went away (a kill or Ctrl-C records nothing more)
            while in_flight:  # what was sent is settled all the same
                self._settle(in_flight.popleft(), stopping=True)
            self.outcomes.flush_confirms()
            self.ledger.release(untried)  # claimed, but nothing was sent for them
            raise
        self.outcomes.flush_confirms()
        _orders.crash_point("after_history_commit")

    def _decide(self, row: Mapping[str, Any]) -> bool:
        """Settle ``row`` by what Zedonk holds, or say it is to be sent (True)."""
        assert self.view is not None
        key = row["import_key"]
        decision = self.view.decide(dict(row), datetime.now(UTC))
        if decision.verdict is Verdict.SEND:
            if row["attempts"] > 0:  # tried before: the lookup before the create decides
                later = self.ledger.later_submission(key)
                if later is None:
                    return True
                # Not in Zedonk once its create settled, and re-submitted since: the later
                # submission is the order now, as for one that failed.
                self.outcomes.superseded_before_import(key, later)
                return False
            order = self._order_of(row)
            if order is not None and order.status == "cancelled":  # and Zedonk holds none
                self.outcomes.cancelled_before_import(key)
                return False
            return order is not None
        if decision.verdict in (Verdict.SETTLING, Verdict.HELD):
            assert decision.until is not None
            self.outcomes.waits(
                key, decision.until, unresolved=decision.verdict is Verdict.SETTLING
            )
            return False
        order = self._order_of(row)
        if order is None:
            return False
        if decision.verdict is Verdict.DOUBLED:
            numbers = ", ".join(o.number or o.id for o in decision.holders)
            self.outcomes.needs_attention(
                key,
                order,
                Conflict(
                    f"{len(decision.holders)} Zedonk orders carry connector reference "
                    f"{connector_ref(key)!r}: {numbers}",
                    remote="zedonk",
                    hint="keep one and inactivate the others in Zedonk",
                ),
            )
            return False
        found = decision.holders[0]
        assert self.mapper is not None
        left_out, warnings = self.mapper.left_out_for(order, key)
        self.outcomes.confirm_later(
            Confirmed(key, order, found, left_out, True, warnings, untried=decision.untried)
        )
        return False

    def _order_of(self, row: Mapping[str, Any]) -> OrdreOrder | None:
        """The ORDRE order of ``row``: as intake read it when its copy is unchanged, else
        parsed from the ledger's copy; None when that copy cannot be read (held for a
        person)."""
        key = row["import_key"]
        fresh = self.fresh.get(key)
        if fresh is not None and fresh[1] == row["payload_sha256"]:
            return fresh[0]  # the order as intake read it: no need to parse the copy
        if "payload" not in row:  # a row read to decide it: its copy is read only now
            row = {**row, "payload": (self.ledger.get(key) or {}).get("payload")}
        try:
            return order_from_json(json.loads(row["payload"]))
        except (ValueError, KeyError, TypeError) as exc:
            self.outcomes.unreadable_copy(row, exc)
            return None

    def _load_context(self) -> None:
        try:
            self.mapper = OrderMapper.load(self.state, self.zedonk)
        except ConfigError as exc:
            self.state.notices.problem("import-config", "Order import settings are wrong", exc)
            raise
        except RemoteError as exc:
            self.state.remote_failed("zedonk", exc)
            raise _StopPass from None
        self.state.notices.resolved("import-config")

    def _prepare(self, row: Mapping[str, Any]) -> _Sending | None:
        """Everything before the create: recover, map, find the customer; then send it.

        Returns None when the row is settled without a create.
        """
        assert self.mapper is not None and self.pool is not None
        outcomes = self.outcomes
        key = row["import_key"]
        order = self._order_of(row)
        if order is None:
            return None
        try:
            if row["attempts"] > 0 or row["state"] in ("sending", "unresolved"):
                # Tried before: Zedonk may have the order already. Look once more, just
                # before creating (for an unresolved row, after its settle window).
                try:
                    existing = self.zedonk.find_sales_order(connector_ref(key))
                except Conflict as exc:  # several orders carry it: a person must choose
                    outcomes.needs_attention(key, order, exc)
                    return None
                except RemoteError as exc:  # not about the order: never fail it on a lookup
                    outcomes.back_to_pending(key, exc)
                    self.state.remote_failed("zedonk", exc)
                    raise _StopPass from None
                if existing is not None:
                    left_out, warnings = self.mapper.left_out_for(order, key)
                    done = Confirmed(key, order, existing, left_out, True, warnings)
                    outcomes.confirm_later(done)
                    return None
                if order.status == "cancelled":  # seen cancelled since: Zedonk never got it
                    outcomes.cancelled_before_import(key)
                    return None
            mapped = self.mapper.map(order, key, accepted=bool(row["review_accepted"]))
        except NoLinesMatched as exc:
            outcomes.failed(key, order, exc.code, exc.message, left_out=exc.left_out)
            return None
        except OrderMappingError as exc:
            outcomes.failed(key, order, exc.code, exc.message, hint=exc.hint)
            return None
        except OutcomeUnknown as exc:  # e.g. a customer create: the next pass looks it up
            outcomes.back_to_pending(key, exc)
            return None
        except Conflict as exc:
            outcomes.failed(key, order, "customer-conflict", exc.message, hint=exc.hint)
            return None
        except RemoteError as exc:
            if is_refusal(exc):  # about this order's data: it fails alone
                outcomes.failed(key, order, "zedonk-refused", exc.message, hint=exc.hint)
                return None
            outcomes.back_to_pending(key, exc)
            self.state.remote_failed("zedonk", exc)
            raise _StopPass from None
        if isinstance(mapped, tuple):  # held for review
            outcomes.held(key, order, mapped)
            return None
        assert self.ledger.claimed_at is not None  # the row was claimed
        self.ledger.mark_sent(self.ledger.claimed_at)  # outlives a history put back
        reply = self.pool.submit(self.zedonk.create_sales_order, mapped.order)
        self.state.creates_sent += 1
        return _Sending(key, order, mapped.left_out, mapped.warnings, reply)

    def _settle(self, sending: _Sending, *, stopping: bool = False) -> None:
        """Record how a create ended. ``stopping``: the pass is ending already, so a refusal
        only puts the row back."""
        key, order = sending.key, sending.order
        try:
            created = sending.reply.result()
        except (OutcomeUnknown, BadResponse) as exc:
            # A 2xx we cannot read still means Zedonk stored the order: as unknown as a loss.
            self.outcomes.unresolved(key, order, exc)
            return
        except (TransientError, RateLimited, AuthError) as exc:
            # Refused before it was processed (a lost answer is OutcomeUnknown, above).
            self.outcomes.back_to_pending(key, exc)
            if stopping:
                return
            self.state.remote_failed("zedonk", exc)
            raise _StopPass from None
        except RemoteError as exc:
            if not is_refusal(exc):  # e.g. a request that could not be sent: not the order's
                self.outcomes.back_to_pending(key, exc)
                if stopping:
                    return
                self.state.remote_failed("zedonk", exc)
                raise _StopPass from None
            # Zedonk refused the order (a 4xx about its data): it fails alone
            self.outcomes.failed(key, order, "zedonk-refused", exc.message, hint=exc.hint)
            return
        _orders.crash_point("after_zedonk_create")
        done = Confirmed(key, order, created, sending.left_out, False, sending.warnings)
        self.outcomes.confirm_later(done)
