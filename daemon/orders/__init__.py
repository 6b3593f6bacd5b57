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
from daemon.core.ordermap import check_template
from daemon.errors import ConfigError
from daemon.notify import Notifier
from daemon.orders.audit import Duplicate
from daemon.orders.run import run_audit, run_pass
from daemon.store.history import History
from daemon.store.ledger import (
    CURSOR_KEY,
    DONE_STATES,
    OPEN_STATES,
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
    return run_pass(settings, history, trigger, notifier, retry_key=None)


def audit_orders(
    settings: Settings, history: History, *, notifier: Notifier | None = None
) -> tuple[int, list[Duplicate] | None]:
    """Audit the import season's Zedonk orders now (``daemon.orders.audit``): returns the
    run's id and each import key held by more than one active order (None when Zedonk could
    not be read). Raises ``ZedonkOrdreError`` when the clients cannot be opened."""
    return run_audit(settings, history, notifier)


def retry_import(
    settings: Settings, history: History, import_key: str, *, notifier: Notifier | None = None
) -> ImportResult:
    """Import one failed (or skipped) submission again, with ORDRE's and Zedonk's data as now."""
    return run_pass(settings, history, "retry", notifier, retry_key=import_key)
