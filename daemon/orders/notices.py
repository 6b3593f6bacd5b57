"""The order import's notices: a remote down or refusing the token, a wrong setting, and the
notices of single orders (failed, left-out lines, edited, cancelled, re-submitted).

A notice about an order is owed (``owe``) in the transaction that commits what it reports, so
it is owed exactly when the change is recorded. The pass sends nothing: the drainer
(``daemon.notify.Drainer``) does, outside it, and groups what one pass owed into one digest.
``Notices`` is the null object for a pass without a notifier: it records a remote's outage in
the history like ``OrderNotices`` but owes nothing.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from daemon.core.words import remote_name
from daemon.errors import AuthError, RemoteError, ZedonkOrdreError
from daemon.notify import Notifier
from daemon.store.history import History, utcnow
from daemon.tree.settings import Settings


class Notices:
    """The notices of import pass ``run_id``, sending nothing (see ``OrderNotices``)."""

    def __init__(self, settings: Settings, history: History, run_id: int) -> None:
        self.settings = settings
        self.history = history
        self.run_id = run_id

    @staticmethod
    def for_pass(
        settings: Settings, history: History, run_id: int, notifier: Notifier | None
    ) -> Notices:
        """``OrderNotices`` through ``notifier``, or the null object when there is none."""
        if notifier is None:
            return Notices(settings, history, run_id)
        return OrderNotices(settings, history, run_id, notifier)

    def remote_failed(self, remote: str, exc: RemoteError) -> None:
        """``remote`` ("zedonk" or "ordre") did not answer or refused the token: record it, and
        announce it once it has been down for ``daemon.remote_down_alert_after`` seconds."""
        self.history.record_event("error", f"{remote}-unavailable", exc.message, run_id=self.run_id)
        if isinstance(exc, AuthError):
            self.problem(f"remote-auth:{remote}", f"{remote_name(remote)} refused the token", exc)
            return
        state_key = f"orders.down.{remote}"
        since = self.history.get_state(state_key)
        if since is None:
            since = utcnow()
            self.history.set_state(state_key, since)
        down_for = datetime.now(UTC) - datetime.fromisoformat(since)
        if down_for.total_seconds() >= self.settings.daemon.remote_down_alert_after:
            self.notify(
                f"remote-down:{remote}",
                f"{remote_name(remote)} unreachable",
                f"{remote_name(remote)} has not answered the order import since {since}.\n"
                f"Last error: {exc.message}\nOrders wait in the history and are imported "
                "once it answers again.",
            )

    def remote_ok(self, remote: str) -> None:
        if self.history.get_state(f"orders.down.{remote}") is not None:
            self.history.delete_state(f"orders.down.{remote}")
        self.resolved(f"remote-down:{remote}")
        self.resolved(f"remote-auth:{remote}")

    def problem(self, key: str, title: str, exc: ZedonkOrdreError) -> None:
        self.notify(key, title, exc.message + (f"\nHint: {exc.hint}" if exc.hint else ""))

    def notify(self, key: str, title: str, details: str) -> None:
        """Announce problem ``key`` once while it is open."""

    def owe(self, conn: sqlite3.Connection, key: str, title: str, details: str) -> None:
        """Owe a notice in the transaction that commits what it reports."""

    def resolved(self, key: str) -> None:
        """Close problem ``key``, owing a recovery notice if it was announced."""


class OrderNotices(Notices):
    """The notices of import pass ``run_id``, sent through ``notifier``."""

    def __init__(
        self, settings: Settings, history: History, run_id: int, notifier: Notifier
    ) -> None:
        super().__init__(settings, history, run_id)
        self.notifier = notifier

    def notify(self, key: str, title: str, details: str) -> None:
        self.notifier.problem(key, title, details, run_id=self.run_id)

    def owe(self, conn: sqlite3.Connection, key: str, title: str, details: str) -> None:
        self.notifier.owe(conn, key, title, details, run_id=self.run_id)

    def resolved(self, key: str) -> None:
        self.notifier.resolved(key, run_id=self.run_id)
