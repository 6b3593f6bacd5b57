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

The rooms: ``run`` (the pass and the ``PassState`` the others share), ``intake`` (the first
half), ``send`` and ``outcomes`` (the second half), ``customers``, ``resubmit`` (re-submitted
orders) and ``notices``. Every statement on the ledger, and the table of its state
transitions, is in ``daemon.store.ledger``. The rooms read this module's names through the
module at call time (``_orders.BATCH``), so a test can replace ``crash_point``.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from datetime import timedelta

from daemon.clients import ZedonkClient
from daemon.clients.zedonk import ZEDONK_LIMITS
from daemon.core.choices import check_zedonk_names, refusal
from daemon.core.ordermap import check_template
from daemon.notify import Notifier
from daemon.orders.audit import Duplicate
from daemon.orders.run import run_audit, run_pass
from daemon.store.history import History
from daemon.store.ledger import (
    CURSOR_KEY,
    DONE_STATES,
    OPEN_STATES,
    Ledger,
    find_import,
    import_details,
    list_imports,
)
from daemon.tree.settings import Settings

__all__ = [
    "AUDIT_INTERVAL",
    "BATCH",
    "CRASH_ENV",
    "CRASH_POINTS",
    "CREATES_IN_FLIGHT",
    "CURSOR_KEY",
    "DONE_STATES",
    "OPEN_STATES",
    "Duplicate",
    "ImportResult",
    "audit_orders",
    "check_import_settings",
    "crash_point",
    "find_import",
    "import_details",
    "import_orders",
    "list_imports",
    "retry_import",
]

OVERLAP = timedelta(minutes=5)  # re-read this much before the cursor: clocks and commits lag
BATCH = 50  # orders per intent commit and per confirm commit
LOCK_WAIT = 60.0  # seconds a pass waits for another pass to finish
CREATES_IN_FLIGHT = 3  # Zedonk creates on the wire at once: more are sent while one is stored
AUDIT_INTERVAL = timedelta(days=1)  # how often a pass audits the season's Zedonk orders
CRASH_ENV = "ZEDONK_ORDRE_CRASH_AT"
CRASH_POINTS = ("after_intent_commit", "after_zedonk_create", "after_history_commit")
ACTIVITY = (
    "new",
    "created",
    "found",
    "partial",
    "failed",
    "held",
    "unresolved",
    "waiting",
    "skipped",
    "reported",
    "duplicates",
)


def crash_point(name: str) -> None:
    """Test hook: die here, as a power cut would, when ``$ZEDONK_ORDRE_CRASH_AT`` names it."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class ImportResult:
    run_id: int | None  # None: nothing ran (a retry of an order imported already)
    result: str  # "ok" | "partial" | "failed" | "no-orders" | "already-imported"
    counts: dict[str, int]
    message: str


def check_import_settings(settings: Settings, zedonk: ZedonkClient) -> None:
    """The import season must exist and the order owner must be an active user: the check
    ``plan`` makes too (``daemon.core.choices``). Raises ConfigError carrying a finding
    with connector.yaml's line for each setting Zedonk does not hold."""
    check_template(settings.import_.order_reference)
    findings = check_zedonk_names(
        settings.zedonk_names(), zedonk.seasons(), zedonk.users(), ZEDONK_LIMITS, import_only=True
    )
    if findings:
        raise refusal(findings)


def import_orders(
    settings: Settings, history: History, *, trigger: str, notifier: Notifier | None = None
) -> ImportResult:
    """One import pass. Never raises for an expected failure: it records and notifies it."""
    return run_pass(settings, history, trigger, notifier, retry_key=None)


def audit_orders(
    settings: Settings, history: History, *, notifier: Notifier | None = None
) -> tuple[int, list[Duplicate] | None]:
    """Audit the import season's Zedonk orders now (``daemon.orders.audit``): returns the
    run's id and each import key held by more than one active order (None when Zedonk could
    not be read). Raises ``ZedonkOrdreError`` when the clients cannot be opened."""
    return run_audit(settings, history, notifier)


def retry_import(
    settings: Settings,
    history: History,
    import_key: str,
    *,
    notifier: Notifier | None = None,
    accept: bool = False,
) -> ImportResult:
    """Import one failed (or skipped, or held) submission again, with ORDRE's and Zedonk's data
    as now; ``accept``: import it as it is even if it is held for review.

    A submission imported already is no failure: nothing runs, and the result says which
    Zedonk order holds it (``already-imported``)."""
    row = Ledger(history).get(import_key)
    if row is not None and row["state"] in DONE_STATES:
        message = (
            f"{import_key} is already imported as Zedonk order {row['zedonk_order_number']};"
            " nothing to retry"
        )
        return ImportResult(None, "already-imported", {}, message)
    return run_pass(settings, history, "retry", notifier, retry_key=import_key, accept=accept)
