"""The order import: every ORDRE submission becomes exactly one Zedonk order.

One pass (``import_orders``) has two halves:

1. Intake. List ORDRE orders changed since the cursor (minus an overlap window), and record
   each importable submission as a ``pending`` row of the ledger (``imports``), keyed by
   ``id#submission``. Rows, reports and the new cursor are committed together, so the cursor
   never runs ahead of the ledger; seeing an order twice changes nothing.
2. Import. For each ``pending`` or ``sending`` row: commit the intent (``sending``), create
   the Zedonk order carrying ``connector_ref = "ordre:" + import_key``, then commit the result.
   Intents and results are committed per batch of up to ``BATCH`` rows. Up to
   ``CREATES_IN_FLIGHT`` creates are on the wire at once; their outcomes are recorded in row
   order, and a pass that stops early still records every create it sent.
   A row that was claimed before (a crash, a timeout, a lost answer) is first looked up in
   Zedonk by its connector reference; it is created only when the lookup finds nothing. A
   create whose outcome is unknown is never repeated in the same pass: the next pass looks.

New customers follow the same intent-first protocol (``customer_creations``), so two orders
from one new retailer, or a crash in between, still make one customer. A file lock in the
state directory keeps two import passes from running at once; the UNIQUE constraints of the
ledger are the last guard.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from daemon.clients import OrdreClient, ZedonkClient
from daemon.core.model import OrdreOrder, SalesOrder
from daemon.core.ordermap import (
    CustomerIndex,
    ImportTarget,
    LeftOutLine,
    NoLinesMatched,
    OrderMappingError,
    SkuIndex,
    check_template,
    connector_ref,
    ledger_copy,
    map_order,
    order_from_json,
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
    ZedonkOrdreError,
)
from daemon.gcpause import cyclic_gc_paused
from daemon.notify import Notifier
from daemon.orders.customers import Customers
from daemon.orders.intake import Intake
from daemon.orders.outcomes import Confirmed, Outcomes
from daemon.orders.resubmit import Resubmissions
from daemon.orders.run import PassState
from daemon.remotes import open_clients
from daemon.store.history import History
from daemon.store.ledger import (
    CURSOR_KEY,
    DONE_STATES,
    OPEN_STATES,
    find_import,
    import_details,
    list_imports,
)
from daemon.store.lock import ORDERS_LOCK_FILE, StateLock
from daemon.tree.settings import Settings

__all__ = [
    "BATCH",
    "CRASH_ENV",
    "CRASH_POINTS",
    "CREATES_IN_FLIGHT",
    "CURSOR_KEY",
    "DONE_STATES",
    "LOOKUP_LAG",
    "OPEN_STATES",
    "ImportResult",
    "check_import_settings",
    "crash_point",
    "find_import",
    "import_details",
    "import_orders",
    "list_imports",
    "retry_import",
]

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=5)  # re-read this much before the cursor: clocks and commits lag
BATCH = 50  # orders per intent commit and per confirm commit
LOCK_WAIT = 60.0  # seconds a pass waits for another pass to finish
CREATES_IN_FLIGHT = 3  # Zedonk creates on the wire at once: more are sent while one is stored
LOOKUP_LAG = 1.0  # seconds Zedonk's lookup by connector_ref may lag behind a create
CRASH_ENV = "ZEDONK_ORDRE_CRASH_AT"
CRASH_POINTS = ("after_intent_commit", "after_zedonk_create", "after_history_commit")
NOTICE_KEYS = ("order-", "lines-left-out:")  # the notices only the import sends
ACTIVITY = ("new", "created", "partial", "failed", "unresolved", "skipped", "reported")


def crash_point(name: str) -> None:
    """Test hook: die here, as a power cut would, when ``$ZEDONK_ORDRE_CRASH_AT`` names it."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class ImportResult:
    run_id: int
    result: str  # "ok" | "partial" | "failed" | "no-orders"
    counts: dict[str, int]
    message: str


def check_import_settings(settings: Settings, zedonk: ZedonkClient) -> None:
    """The import season must exist and the order owner must be an active user."""
    imp = settings.import_
    check_template(imp.order_reference)
    seasons = [s.code for s in zedonk.seasons()]
    if imp.season not in seasons:
        raise ConfigError(
            f"import.season {imp.season!r} is not a Zedonk season",
            hint=f"choose one of: {', '.join(seasons) or '(Zedonk has no seasons)'}",
        )
    users = {u.username: u for u in zedonk.users()}
    owner = users.get(imp.order_owner)
    if owner is None:
        raise ConfigError(
            f"import.order_owner {imp.order_owner!r} is not a Zedonk user",
            hint=f"choose an active user: {', '.join(sorted(u for u in users if users[u].active))}",
        )
    if not owner.active:
        raise ConfigError(
            f"import.order_owner {imp.order_owner!r} is an inactive Zedonk user",
            hint="reactivate the user in Zedonk or choose another order owner",
        )


def import_orders(
    settings: Settings, history: History, *, trigger: str, notifier: Notifier | None = None
) -> ImportResult:
    """One import pass. Never raises for an expected failure: it records and notifies it."""
    return _run(settings, history, trigger, notifier, retry_key=None)


def retry_import(
    settings: Settings, history: History, import_key: str, *, notifier: Notifier | None = None
) -> ImportResult:
    """Import one failed (or skipped) submission again, with ORDRE's and Zedonk's data as now."""
    return _run(settings, history, "retry", notifier, retry_key=import_key)


def _run(
    settings: Settings,
    history: History,
    trigger: str,
    notifier: Notifier | None,
    retry_key: str | None,
) -> ImportResult:
    run_id = history.start_run("import", trigger)
    importer = _Importer(PassState.start(settings, history, run_id, notifier))
    with cyclic_gc_paused():
        try:
            with _import_lock(settings):
                importer.run(retry_key)
        except ZedonkOrdreError as exc:
            importer.fail(exc)
        except Exception as exc:  # a bug: record it, keep the daemon alive
            log.exception("order import failed")
            importer.fail(ZedonkOrdreError(f"internal error: {type(exc).__name__}: {exc}"))
        finally:
            importer.close()  # drops the pass' orders before the collector runs again
    return importer.finish()


@contextmanager
def _import_lock(settings: Settings) -> Iterator[None]:
    """One import pass at a time per state directory, waiting up to ``LOCK_WAIT`` seconds
    for another to finish; raises LockHeld naming it."""
    lock = StateLock(settings.state_dir, "order import pass", name=ORDERS_LOCK_FILE)
    lock.acquire(wait=LOCK_WAIT)
    try:
        yield
    finally:
        lock.release()


@dataclass
class _Context:
    """What Zedonk knows, loaded once per pass and only when there is something to import."""

    customers: Customers
    skus: SkuIndex
    target: ImportTarget


@dataclass(frozen=True)
class _Sending:
    """A create on the wire: the sender thread's answer is settled in row order."""

    key: str
    order: OrdreOrder
    left_out: tuple[LeftOutLine, ...]
    reply: Future[SalesOrder]


class _StopPass(Exception):
    """A remote is unavailable: leave the remaining rows for the next pass."""


@dataclass
class _Importer:
    state: PassState
    zedonk: ZedonkClient | None = None
    ordre: OrdreClient | None = None
    context: _Context | None = None
    fresh: dict[str, tuple[OrdreOrder, str]] = field(default_factory=dict)  # as just read
    sender: ThreadPoolExecutor | None = None  # runs the Zedonk creates
    outcomes: Outcomes = field(init=False)

    def __post_init__(self) -> None:
        self.outcomes = Outcomes(self.state)

    # ------------------------------------------------------------------ the pass

    def run(self, retry_key: str | None) -> None:
        if retry_key is None:
            self.state.notices.redeliver()
        try:
            self.zedonk, self.ordre = self.state.clients.enter_context(
                open_clients(self.state.settings)
            )
        except ConfigError as exc:
            self.state.notices.problem("import-config", "Order import cannot start", exc)
            raise
        if retry_key is not None:
            self._prepare_retry(retry_key)
        else:
            assert self.ordre is not None
            self.fresh = Intake(self.state, self.ordre).run()
        self._import_open_rows(only=retry_key)
        if retry_key is None:
            assert self.zedonk is not None
            Resubmissions(self.state, self.zedonk).finish()

    def close(self) -> None:
        self.state.clients.close()
        self.fresh.clear()
        self.context = None

    def fail(self, exc: ZedonkOrdreError) -> None:
        self.state.failure = exc
        try:
            self.state.history.record_event(
                "error",
                "import-failed",
                exc.message,
                run_id=self.state.run_id,
                details={"hint": exc.hint},
            )
        except sqlite3.Error:  # the history itself is failing: say so in the log at least
            log.exception("cannot record the failed import pass")

    def finish(self) -> ImportResult:
        counts = dict(self.state.counts)
        if self.state.failure is not None:
            result, message = "failed", self.state.failure.message
        elif not any(counts.get(k) for k in ACTIVITY):
            result, message = "no-orders", "no new orders"
        else:
            troubled = counts.get("failed", 0) + counts.get("partial", 0)
            troubled += counts.get("unresolved", 0) + counts.get("needs_attention", 0)
            result = "partial" if troubled else "ok"
            message = _summary(counts)
        try:
            self.state.history.finish_run(
                self.state.run_id,
                "no-changes" if result == "no-orders" else result,
                summary=counts,
                error=message if result == "failed" else None,
            )
        except sqlite3.Error:
            log.exception("cannot record the end of import run %s", self.state.run_id)
        return ImportResult(self.state.run_id, result, counts, message)

    # ------------------------------------------------------------------ import

    def _import_open_rows(self, only: str | None) -> None:
        keys = [only] if only is not None else self.state.ledger.open_keys()
        if not keys:
            return
        try:
            self._load_context()
            with ThreadPoolExecutor(CREATES_IN_FLIGHT, "zedonk-create") as self.sender:
                for start in range(0, len(keys), BATCH):
                    self._import_batch(keys[start : start + BATCH])
        except _StopPass:
            self.state.counts["unresolved"] = max(
                self.state.counts["unresolved"], self.state.ledger.count_open()
            )
            return
        self.state.notices.remote_ok("zedonk")

    def _import_batch(self, keys: list[str]) -> None:
        """Claim a batch in one commit, create each order, confirm them in one commit.

        A crash before the confirm commit leaves the rows ``sending``: the next pass finds
        their orders by lookup, so deferring the confirm trades a few GETs after a crash for
        one fsync per batch instead of two per order.

        Up to ``CREATES_IN_FLIGHT`` creates are on the wire at once, so the next orders are
        mapped and sent while Zedonk stores one; their outcomes are settled in row order.
        """
        assert self.sender is not None
        rows = self._claim(keys)
        if not rows:
            return
        crash_point("after_intent_commit")
        untried = [row["import_key"] for row in rows]
        in_flight: deque[_Sending] = deque()
        try:
            for row in rows:
                untried.remove(row["import_key"])
                sending = self._prepare(row)
                if sending is not None:
                    in_flight.append(sending)
                    if len(in_flight) >= CREATES_IN_FLIGHT:
                        self._settle(in_flight.popleft())
            while in_flight:
                self._settle(in_flight.popleft())
        except Exception:  # a remote went away (a kill or Ctrl-C records nothing more)
            while in_flight:  # what was sent is settled all the same
                self._settle(in_flight.popleft(), stopping=True)
            self.outcomes.flush_confirms()
            self._release(untried)
            raise
        self.outcomes.flush_confirms()
        crash_point("after_history_commit")

    def _load_context(self) -> None:
        assert self.zedonk is not None
        imp = self.state.settings.import_
        try:
            check_import_settings(self.state.settings, self.zedonk)
            customers = CustomerIndex(self.zedonk.customers())
            skus = SkuIndex(self.zedonk.products())
        except ConfigError as exc:
            self.state.notices.problem("import-config", "Order import settings are wrong", exc)
            raise
        except RemoteError as exc:
            self.state.remote_failed("zedonk", exc)
            raise _StopPass from None
        self.state.notices.resolved("import-config")
        target = ImportTarget(imp.season, imp.order_owner, imp.approved, imp.order_reference)
        self.context = _Context(Customers(self.state, self.zedonk, customers), skus, target)

    def _claim(self, keys: list[str]) -> list[sqlite3.Row]:
        """Commit the intent: the rows go to ``sending`` before any Zedonk write."""
        return self.state.ledger.claim(keys)

    def _release(self, keys: list[str]) -> None:
        """Claimed rows this pass never got to: nothing was sent for them."""
        self.state.ledger.release(keys)

    def _prepare(self, row: sqlite3.Row) -> _Sending | None:
        """Everything before the create: recover, map, find the customer; then send it.

        Returns None when the row is settled without a create.
        """
        assert self.zedonk is not None and self.context is not None
        assert self.sender is not None
        key = row["import_key"]
        fresh = self.fresh.get(key)
        if fresh is not None and fresh[1] == row["payload_sha256"]:
            order = fresh[0]  # the order as intake read it: no need to parse the copy
        else:
            try:
                order = order_from_json(json.loads(row["payload"]))
            except (ValueError, KeyError, TypeError) as exc:
                self.outcomes.unreadable_copy(row, exc)
                return None
        try:
            if row["attempts"] > 0 or row["state"] == "sending":
                # Tried before: Zedonk may have the order already. Look before creating.
                try:
                    # Only an interrupted create may be lagging behind in Zedonk's lookup.
                    sent_at = row["updated_at"] if row["state"] == "sending" else None
                    existing = self._lookup(key, sent_at)
                except Conflict as exc:  # several orders carry it: a person must choose
                    self.outcomes.needs_attention(key, order, exc)
                    return None
                if existing is not None:
                    left_out = self._left_out_for(order, key)
                    self.outcomes.confirm_later(Confirmed(key, order, existing, left_out, True))
                    return None
                if order.status == "cancelled":  # seen cancelled since: Zedonk never got it
                    self.outcomes.cancelled_before_import(key)
                    return None
            customer = self.context.customers.for_order(order, key)
            mapped = map_order(
                order,
                import_key=key,
                customer_id=customer.id,
                skus=self.context.skus,
                target=self.context.target,
            )
        except NoLinesMatched as exc:
            self.outcomes.failed(key, order, exc.code, exc.message, left_out=exc.left_out)
            return None
        except OrderMappingError as exc:
            self.outcomes.failed(key, order, exc.code, exc.message, hint=exc.hint)
            return None
        except OutcomeUnknown as exc:  # e.g. a customer create: the next pass looks it up
            self.outcomes.back_to_pending(key, exc)
            return None
        except Conflict as exc:
            self.outcomes.failed(key, order, "customer-conflict", exc.message, hint=exc.hint)
            return None
        except RemoteError as exc:
            self.outcomes.back_to_pending(key, exc)
            self.state.remote_failed("zedonk", exc)
            raise _StopPass from None
        reply = self.sender.submit(self.zedonk.create_sales_order, mapped.order)
        return _Sending(key, order, mapped.left_out, reply)

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
        except RemoteError as exc:  # Zedonk refused the order (422 and the like)
            self.outcomes.failed(key, order, "zedonk-refused", exc.message, hint=exc.hint)
            return
        crash_point("after_zedonk_create")
        self.outcomes.confirm_later(Confirmed(key, order, created, sending.left_out, False))

    def _lookup(self, key: str, sent_at: str | None) -> SalesOrder | None:
        """The Zedonk order carrying this import's connector reference, if any. Zedonk's
        lookup may lag behind a create: finding nothing within ``LOOKUP_LAG`` of a create sent
        at ``sent_at`` is checked again once that time is up, before anything is created."""
        assert self.zedonk is not None
        found = self.zedonk.find_sales_order(connector_ref(key))
        if found is None and sent_at is not None:
            since = (datetime.now(UTC) - datetime.fromisoformat(sent_at)).total_seconds()
            if since < LOOKUP_LAG:
                time.sleep(LOOKUP_LAG - max(since, 0.0))
                found = self.zedonk.find_sales_order(connector_ref(key))
        return found

    def _left_out_for(self, order: OrdreOrder, key: str) -> tuple[LeftOutLine, ...]:
        assert self.context is not None
        try:
            mapped = map_order(
                order,
                import_key=key,
                customer_id="",
                skus=self.context.skus,
                target=self.context.target,
            )
        except OrderMappingError:
            return ()
        return mapped.left_out

    # ------------------------------------------------------------------ retry

    def _prepare_retry(self, key: str) -> None:
        assert self.ordre is not None
        row = self.state.ledger.get(key)
        if row is None:
            raise ZedonkOrdreError(f"no import {key!r}", hint="see `zedonk-ordre orders list`")
        if row["state"] in DONE_STATES:
            raise ZedonkOrdreError(
                f"{key} is already imported as Zedonk order {row['zedonk_order_number']}",
                hint="nothing to retry",
            )
        payload, fingerprint = row["payload"], row["payload_sha256"]
        try:  # the retailer may have fixed the order in ORDRE since
            fresh = self.ordre.get_order(row["ordre_id"])
            if fresh.submission == row["submission"]:
                payload, fingerprint = ledger_copy(fresh)
        except RemoteError as exc:
            if fingerprint is None:
                raise ZedonkOrdreError(
                    f"ORDRE order {row['ordre_id']} could not be read again: {exc.message}",
                    hint="try again when ORDRE answers",
                ) from None
        if fingerprint is None:
            raise ZedonkOrdreError(f"ORDRE order {row['ordre_id']} still cannot be read")
        with self.state.history.transaction() as conn:
            self.state.ledger.reopen_for_retry(conn, key, payload, fingerprint)
            self.state.ledger.event(conn, "info", "order-retry", f"retry of {key} requested", key)


def _summary(counts: dict[str, int]) -> str:
    parts = []
    for key, label in (
        ("created", "imported"),
        ("partial", "imported with lines left out"),
        ("failed", "failed"),
        ("needs_attention", "need attention"),
        ("unresolved", "waiting for the next pass"),
        ("skipped", "skipped"),
        ("reported", "reported"),
    ):
        if counts.get(key):
            parts.append(f"{counts[key]} {label}")
    return ", ".join(parts) or "nothing to import"
