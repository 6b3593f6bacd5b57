"""Error notices by e-mail (SMTP) and webhook: owed in the history, sent by a drainer.

A problem has a stable key (``order-failed:ord_000003#2``, ``remote-down:zedonk``, ...).
``Notifier.problem`` owes a notice the first time a key opens and stays quiet while it stays
open, however often the poll meets it again; ``resolved`` closes it and owes a recovery notice
when its problem notice was owed. ``owe`` does the same inside the caller's transaction, so a
notice commits with the change it reports. The state lives in the history (``daemon.store.
outbox``), so a restart repeats nothing and loses nothing.

Owing is a write to the history and nothing else: no pass ever waits for a mail server or a
webhook. The drainer (``drain.Drainer``) sends what is owed, outside the passes: in the
daemon on a thread per channel, after a command-line pass within a bound. Notices owed by one
pass go out together, as one digest per channel (``digest``), and every delivery carries a
stable id, the same on each attempt, so a receiver can drop a repeat (delivery is at least
once). ``channels`` holds the SMTP and webhook sending, imported when a drainer first
sends, so that a daemon without a webhook never loads an HTTP client for it.

No secret reaches a notice (every text the history stores passes ``daemon.redact``).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from daemon.notify.drain import CHANNELS, Drainer, Round
from daemon.store.history import History
from daemon.store.outbox import Outbox
from daemon.tree.settings import Settings

__all__ = ["CHANNELS", "Drainer", "Notifier", "Round"]


class Notifier:
    """Owes the notices of one connector in ``history``; safe to share between threads.

    The channels are those ``settings`` sets: a notice is owed on each of them, and on none
    when none is set (the problem is still recorded, so ``status`` can show it)."""

    def __init__(self, settings: Settings, history: History) -> None:
        self.history = history
        self.outbox = Outbox(history)
        self.channels: tuple[str, ...] = tuple(
            channel
            for channel, on in zip(CHANNELS, (settings.email, settings.webhook), strict=True)
            if on is not None
        )

    def problem(self, key: str, title: str, details: str, *, run_id: int | None = None) -> None:
        """Announce ``key`` once while it is open; later calls only count it. ``run_id``: the
        pass that met it (its notices go out together)."""
        with self.history.transaction() as conn:
            self.owe(conn, key, title, details, run_id=run_id)

    def owe(
        self,
        conn: sqlite3.Connection,
        key: str,
        title: str,
        details: str,
        *,
        run_id: int | None = None,
    ) -> None:
        """``problem()`` inside the caller's transaction: the notice is owed from the moment
        the change it reports commits, and not before."""
        self.outbox.open_problem(conn, key, title, details, channels=self.channels, run_id=run_id)

    def resolved(self, key: str, *, run_id: int | None = None) -> None:
        """Close ``key``; owe a recovery notice when its problem notice was owed."""
        with self.history.transaction() as conn:
            self.outbox.close_problem(conn, key, channels=self.channels, run_id=run_id)

    def open_problems(self) -> list[dict[str, Any]]:
        """Problems not resolved yet, oldest first (for ``status`` and the console)."""
        return self.outbox.open_problems()
