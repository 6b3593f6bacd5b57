"""The daemon's housekeeping: the history's retention, applied at start and every few hours.

``Housekeeping.tick`` is called from the supervisor's main loop, once a second; when the
retention is due it runs it on a thread of its own, so the main loop goes on pinging the
watchdog however long the first prune of a large history takes (``daemon.store.retention``
deletes in small transactions, so the passes meanwhile never wait long for the history).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from daemon.store import retention
from daemon.store.history import History
from daemon.tree.settings import Settings

log = logging.getLogger(__name__)

EVERY = 6 * 3600.0  # seconds between two prunes
FIRST_AFTER = 60.0  # seconds after the start: the first passes go first


class Housekeeping:
    """Runs ``retention.prune`` with the current ``history.retention`` when it is due."""

    def __init__(self, settings: Callable[[], Settings], *, first_after: float = FIRST_AFTER):
        self.settings = settings
        self.due = time.monotonic() + first_after
        self.thread: threading.Thread | None = None
        self.last: dict[str, int] | None = None  # what the last prune deleted

    def tick(self, history: History) -> None:
        """Start a prune on its own thread when one is due and none is running."""
        if time.monotonic() < self.due or (self.thread is not None and self.thread.is_alive()):
            return
        self.due = time.monotonic() + EVERY
        self.thread = threading.Thread(
            target=self.prune, args=(history,), name="housekeeping", daemon=True
        )
        self.thread.start()

    def prune(self, history: History) -> None:
        """One prune: what is older than the retention goes, an order's record stays."""
        keep = self.settings().history.retention
        try:
            gone = retention.prune(history, retention.cutoff(keep))
        except Exception as exc:  # the next prune goes on where this one stopped
            log.error("cannot apply the history's retention: %s", exc)
            return
        self.last = gone
        if any(gone.values()):
            summary = ", ".join(f"{count} {kind}" for kind, count in gone.items() if count)
            log.info("history retention: deleted %s older than %s", summary, _days(keep))
            try:
                history.record_event(
                    "info",
                    "history-pruned",
                    f"deleted {summary} older than {_days(keep)} (history.retention)",
                    details=gone,
                )
            except Exception as exc:
                log.error("cannot record the history's retention: %s", exc)


def _days(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:g} days" if days != 1 else "1 day"
