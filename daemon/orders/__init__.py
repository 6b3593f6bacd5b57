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

import logging
import os
import signal
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from daemon.clients import OrdreClient, ZedonkClient
from daemon.core.model import OrdreOrder
from daemon.core.ordermap import (
    check_template,
    ledger_copy,
)
from daemon.errors import (
    ConfigError,
    RemoteError,
    ZedonkOrdreError,
)
from daemon.gcpause import cyclic_gc_paused
from daemon.notify import Notifier
from daemon.orders.intake import Intake
from daemon.orders.resubmit import Resubmissions
from daemon.orders.run import PassState
from daemon.orders.send import Sender
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
class _Importer:
    state: PassState
    fresh: dict[str, tuple[OrdreOrder, str]] = field(default_factory=dict)  # as just read
    sender: Sender | None = None

    # ------------------------------------------------------------------ the pass

    def run(self, retry_key: str | None) -> None:
        if retry_key is None:
            self.state.notices.redeliver()
        try:
            zedonk, ordre = self.state.clients.enter_context(open_clients(self.state.settings))
        except ConfigError as exc:
            self.state.notices.problem("import-config", "Order import cannot start", exc)
            raise
        if retry_key is not None:
            self._prepare_retry(ordre, retry_key)
        else:
            self.fresh = Intake(self.state, ordre).run()
        self.sender = Sender(self.state, zedonk, self.fresh)
        self.sender.import_open_rows(only=retry_key)
        if retry_key is None:
            Resubmissions(self.state, zedonk).finish()

    def close(self) -> None:
        self.state.clients.close()
        self.fresh.clear()
        if self.sender is not None:
            self.sender.close()

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

    # ------------------------------------------------------------------ retry

    def _prepare_retry(self, ordre: OrdreClient, key: str) -> None:
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
            fresh = ordre.get_order(row["ordre_id"])
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
