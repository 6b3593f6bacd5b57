"""One import pass: the state its rooms share."""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field

from daemon.errors import RemoteError, ZedonkOrdreError
from daemon.notify import Notifier
from daemon.orders.notices import Notices
from daemon.store.history import History
from daemon.store.ledger import Ledger
from daemon.tree.settings import Settings


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

    @classmethod
    def start(
        cls, settings: Settings, history: History, run_id: int, notifier: Notifier | None
    ) -> PassState:
        ledger = Ledger(history, run_id)
        return cls(
            settings, history, run_id, ledger, Notices.for_pass(settings, history, run_id, notifier)
        )

    def remote_failed(self, remote: str, exc: RemoteError) -> None:
        """``remote`` did not answer: the pass fails with the first such error, and the
        outage is recorded and announced."""
        if self.failure is None:
            self.failure = exc
        self.notices.remote_failed(remote, exc)
