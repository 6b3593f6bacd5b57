"""The reconcile and import passes, each run in a short-lived child process.

``ChildPasses.run`` starts ``_pass_in_child`` in a child from a fork server, waits for its
``PassOutcome`` on a pipe, and kills the child when the daemon stops and the pass has not
finished within ``grace`` seconds. The outcome and the ``Converged`` memory are pickled across
the pipe; both sides run the same code, so the classes always match.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from daemon.errors import LockHeld
from daemon.service.journal import setup_logging
from daemon.store.history import History
from daemon.store.lock import StateLock, mark_as_daemon_pass
from daemon.store.status import PAUSED_KEY
from daemon.tree.settings import Settings

if TYPE_CHECKING:  # the passes import daemon.reconcile in their child process
    from daemon.reconcile import Converged


BUSY = "busy"  # the pass did not start: a command holds the catalogue's lock
PAUSED = "paused"  # the pass did not start: reconciling is paused
NOT_STARTED = (BUSY, PAUSED)


@dataclass(frozen=True)
class PassOutcome:
    """What a child pass sends back: its run in the history (None when it never started one),
    the run's result (``ok``, ``no-changes``, ``failed``, ...; ``busy`` when a command held
    the lock, ``paused`` when reconciling was paused: the pass did not start, and the
    message names the command or the pause's reason) and a one-line message."""

    run_id: int | None
    result: str
    message: str
    converged: Converged | None = None  # after a reconcile that left ORDRE matching
    unchanged: bool = False  # a reconcile that found nothing changed since the last one


def _pass_in_child(
    kind: str,
    settings: Settings,
    trigger: str,
    conn: Any,
    level: int,
    converged: Converged | None,
) -> None:
    """One real pass in a child process (runs there, not in the daemon)."""
    # The daemon decides when to stop; a signal meant for it must not cut this pass short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup_logging(debug=level <= logging.DEBUG)
    logging.getLogger().setLevel(level)
    mark_as_daemon_pass()  # the locks it takes say so: commands wait for them
    try:
        from daemon.notify import Notifier
        from daemon.orders import import_orders
        from daemon.reconcile import reconcile

        with ExitStack() as stack:
            if kind == "reconcile":
                # Held for this pass only: an apply from the command line waits for the pass,
                # and the pass waits its turn behind a command that holds it.
                lock = StateLock(settings.state_dir, "the daemon's reconcile pass")
                try:
                    lock.acquire()
                except LockHeld as exc:
                    conn.send(PassOutcome(None, BUSY, exc.holder))
                    return
                stack.callback(lock.release)
            history = stack.enter_context(History.open(settings.state_dir))
            paused = history.get_state(PAUSED_KEY) if kind == "reconcile" else None
            if paused:  # read under the lock: once `pause` has returned, nothing is applied
                conn.send(PassOutcome(None, PAUSED, str(paused.get("reason"))))
                return
            # Owes, never sends (the daemon's drainer sends): on the channels set, and with
            # none set the problem is still recorded, for `status` and `attention`.
            notifier = Notifier(settings, history)
            if kind == "reconcile":
                out: Any = reconcile(
                    settings, history, trigger=trigger, converged=converged, notifier=notifier
                )
            else:
                out = import_orders(settings, history, trigger=trigger, notifier=notifier)
        converged, unchanged = getattr(out, "converged", None), getattr(out, "unchanged", False)
        conn.send(PassOutcome(out.run_id, out.result, out.message, converged, unchanged))
    except BaseException as exc:  # report it; the daemon records it as a failed pass
        conn.send(PassOutcome(None, "failed", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class ChildPasses:
    """Runs the real reconcile and import passes in short-lived child processes.

    A pass over a large brand builds big structures; Python keeps the memory they used even
    after freeing them, so a daemon that ran them itself would idle at its peak size. A child
    returns all of it to the system when it exits. Children come from a fork server started
    before any of them, so they never inherit the daemon's threads or locks.
    """

    def __init__(self, stopping: threading.Event, grace: float) -> None:
        self.stopping = stopping
        self.grace = grace
        self._ctx: Any = None

    def _context(self) -> Any:
        if self._ctx is None:
            ctx = multiprocessing.get_context("forkserver")
            # daemon.cli too: each child re-runs the daemon's main script, which imports it.
            ctx.set_forkserver_preload(
                ["daemon.cli", "daemon.reconcile", "daemon.orders", "daemon.notify"]
            )
            self._ctx = ctx
        return self._ctx

    def run(
        self, kind: str, settings: Settings, trigger: str, converged: Converged | None = None
    ) -> PassOutcome:
        """Run one pass, ``kind`` "reconcile" or "import", in a child and return its outcome.

        Never raises for the pass: an exception in the child, a child that ends without an
        answer, and a child killed ``grace`` seconds after ``stopping`` was set all come back
        as an outcome (``failed``, ``failed`` and ``interrupted``). ``converged`` is the last
        reconcile's memory, passed to a reconcile that may reuse it.
        """
        ctx = self._context()
        receive, send = ctx.Pipe(duplex=False)
        level = logging.getLogger().getEffectiveLevel()
        child = ctx.Process(
            target=_pass_in_child,
            args=(kind, settings, trigger, send, level, converged),
            name=f"zedonk-ordre {kind}",
            daemon=True,
        )
        child.start()
        send.close()
        outcome: PassOutcome | None = None
        give_up: float | None = None
        try:
            while outcome is None:
                if receive.poll(0.2):
                    with contextlib.suppress(EOFError):
                        outcome = receive.recv()
                    break
                if not child.is_alive() and not receive.poll(0):
                    break
                if self.stopping.is_set():
                    give_up = give_up or time.monotonic() + self.grace
                    if time.monotonic() > give_up:
                        child.kill()
                        return PassOutcome(None, "interrupted", f"the {kind} was stopped")
        finally:
            child.join(5)
            receive.close()
        if outcome is None:
            return PassOutcome(
                None, "failed", f"the {kind} process ended early (exit code {child.exitcode})"
            )
        return outcome
