"""One import pass: open the clients, take in ORDRE's orders (or prepare a retry), import the
open rows, follow up the re-submissions; then record how the pass went.

The rooms of the pass share one ``PassState``. A file lock in the state directory keeps two
passes from running at once; the collector is paused while a pass builds its many long-lived
objects, and the pass drops them (``ImportPass.close``) before it runs again.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from daemon import orders as _orders
from daemon.clients import OrdreClient
from daemon.core.model import OrdreOrder
from daemon.core.ordercopy import ledger_copy
from daemon.core.words import import_summary
from daemon.errors import ConfigError, RemoteError, ZedonkOrdreError
from daemon.gcpause import cyclic_gc_paused
from daemon.notify import Notifier
from daemon.orders.audit import Audit, Duplicate
from daemon.orders.intake import Intake
from daemon.orders.notices import Notices
from daemon.orders.resubmit import Resubmissions
from daemon.orders.send import Sender
from daemon.remotes import open_clients
from daemon.store.history import History
from daemon.store.ledger import DONE_STATES, Ledger
from daemon.store.lock import ORDERS_LOCK_FILE, StateLock
from daemon.tree.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class PassState:
    """What the rooms of one import pass share: its settings and run, the ledger, the
    notices, the counts of what happened (``ImportResult.counts``) and the first failure."""

    settings: Settings
    history: History
    run_id: int
    ledger: Ledger
    notices: Notices
    counts: Counter[str] = field(default_factory=Counter)
    failure: ZedonkOrdreError | None = None  # the pass failed (a remote did not answer)
    clients: ExitStack = field(default_factory=ExitStack)  # closes both clients
    waiting_until: datetime | None = None  # from then on no row waits any more (UTC)
    creates_sent: int = 0  # Zedonk order creates this pass sent

    def wait_until(self, until: datetime) -> None:
        """A row waits until ``until`` before it may be sent (its settle window)."""
        if self.waiting_until is None or until > self.waiting_until:
            self.waiting_until = until

    @classmethod
    def start(
        cls, settings: Settings, history: History, run_id: int, notifier: Notifier | None
    ) -> PassState:
        notices = Notices.for_pass(settings, history, run_id, notifier)
        return cls(settings, history, run_id, Ledger(history, run_id), notices)

    def remote_failed(self, remote: str, exc: RemoteError) -> None:
        """``remote`` did not answer: the pass fails with the first such error, and the
        outage is recorded and announced."""
        if self.failure is None:
            self.failure = exc
        self.notices.remote_failed(remote, exc)


def run_pass(
    settings: Settings,
    history: History,
    trigger: str,
    notifier: Notifier | None,
    retry_key: str | None,
    *,
    accept: bool = False,
) -> _orders.ImportResult:
    """One pass (of import key ``retry_key`` alone when given; ``accept``: import it even if
    it was held for review). Never raises for an expected failure: it records and notifies
    it."""
    run_id = history.start_run("import", trigger)
    importer = ImportPass(PassState.start(settings, history, run_id, notifier))
    with cyclic_gc_paused():
        try:
            with _import_lock(settings):
                importer.run(retry_key, accept=accept)
        except ZedonkOrdreError as exc:
            importer.fail(exc)
        except Exception as exc:  # a bug: record it, keep the daemon alive
            log.exception("order import failed")
            importer.fail(ZedonkOrdreError(f"internal error: {type(exc).__name__}: {exc}"))
        finally:
            importer.close()  # drops the pass' orders before the collector runs again
    return importer.finish()


def run_audit(
    settings: Settings, history: History, notifier: Notifier | None
) -> tuple[int, list[Duplicate] | None]:
    """Audit the import season's Zedonk orders now, in a run of its own (kind ``audit``).
    Returns the run's id and the duplicates (None when Zedonk could not be read). Raises
    ``ZedonkOrdreError`` when the clients cannot be opened."""
    run_id = history.start_run("audit", "cli")
    state = PassState.start(settings, history, run_id, notifier)
    duplicates = None
    try:
        with open_clients(settings) as (zedonk, _):
            duplicates = Audit(state, zedonk).run()
    finally:
        if duplicates is None:
            history.finish_run(run_id, "failed", error="Zedonk's orders could not be read")
        else:
            history.finish_run(
                run_id, "partial" if duplicates else "ok", summary={"duplicates": len(duplicates)}
            )
    return run_id, duplicates


@contextmanager
def _import_lock(settings: Settings) -> Iterator[None]:
    """One import pass at a time per state directory, waiting up to ``LOCK_WAIT`` seconds
    for another to finish; raises LockHeld naming it."""
    lock = StateLock(settings.state_dir, "order import pass", name=ORDERS_LOCK_FILE)
    lock.acquire(wait=_orders.LOCK_WAIT)
    try:
        yield
    finally:
        lock.release()


class ImportPass:
    """The steps of one pass, in order: ``run``, ``fail`` if it raised, ``close``, ``finish``."""

    def __init__(self, state: PassState) -> None:
        self.state = state
        self.fresh: dict[str, tuple[OrdreOrder, str]] = {}  # the orders as intake read them
        self.sender: Sender | None = None

    def run(self, retry_key: str | None, *, accept: bool = False) -> None:
        for run_id in self.state.history.close_interrupted_imports(self.state.run_id):
            log.warning("import run %s was interrupted", run_id)
        # A new history's settle window runs from its first pass, idle or not (recorded once).
        self.state.ledger.since()
        try:
            zedonk, ordre = self.state.clients.enter_context(open_clients(self.state.settings))
        except ConfigError as exc:
            self.state.notices.problem("import-config", "Order import cannot start", exc)
            raise
        if retry_key is not None:
            self._prepare_retry(ordre, retry_key, accept=accept)
        else:
            self.fresh = Intake(self.state, ordre).run()
        self.sender = Sender(self.state, zedonk, self.fresh)
        self.sender.import_open_rows(only=retry_key)
        if retry_key is None:
            Resubmissions(self.state, zedonk).finish()
            audit = Audit(self.state, zedonk)
            if self.state.failure is None and audit.due():
                audit.run()

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

    def finish(self) -> _orders.ImportResult:
        counts = dict(self.state.counts)
        if self.state.failure is not None:
            result, message = "failed", self.state.failure.message
        elif not any(counts.get(k) for k in _orders.ACTIVITY):
            result, message = "no-orders", "no new orders"
        else:
            troubled = counts.get("failed", 0) + counts.get("partial", 0)
            troubled += counts.get("unresolved", 0) + counts.get("needs_attention", 0)
            troubled += counts.get("waiting", 0) + counts.get("held", 0)
            result = "partial" if troubled else "ok"
            message = import_summary(counts, self.state.waiting_until)
        try:
            self.state.history.finish_run(
                self.state.run_id,
                "no-changes" if result == "no-orders" else result,
                summary=counts,
                error=message if result == "failed" else None,
            )
        except sqlite3.Error:
            log.exception("cannot record the end of import run %s", self.state.run_id)
        return _orders.ImportResult(self.state.run_id, result, counts, message)

    def _prepare_retry(self, ordre: OrdreClient, key: str, *, accept: bool) -> None:
        """Put import ``key`` back in line, with ORDRE's copy of it as now when it is still
        the same submission (``accept``: what it was held for is accepted). Raises
        ZedonkOrdreError when there is nothing to retry."""
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
        with self.state.ledger.transaction() as conn:
            self.state.ledger.reopen_for_retry(conn, key, payload, fingerprint, accept=accept)
            what = f"retry of {key} requested" + (", as it is (--accept)" if accept else "")
            self.state.ledger.event(conn, "info", "order-retry", what, key)
