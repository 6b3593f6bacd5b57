"""The daemon's two loops: reconcile ORDRE to the catalogue, and import ORDRE's orders.

- ``ReconcileLoop`` reconciles when saved edits settle (the ``Debouncer``), every
  ``reconcile_interval`` whatever the events say (drift), and again after a back-off when a
  pass failed. Before each pass it re-reads connector.yaml and adopts it when it is valid, so
  it holds the daemon's current settings; an invalid file is recorded and notified, and the
  last good settings stay. It also remembers what the next pass may reuse: the last
  reconcile's ``Converged`` and the fingerprint of the last tree that applied cleanly.
- ``ImportLoop`` imports the orders every ``poll_interval``, backing off while it fails. It
  reads the settings through a provider function: the ones the reconcile loop adopted.

``Service`` runs each loop's ``run`` on a thread of its own and restarts it if it dies. Every
pass goes through the ``run_pass`` it is given (``Service._pass``), which isolates the pass,
keeps the loop's ``LoopState`` and sends the notices. The passes themselves run in child
processes (``ChildPasses``) unless a test hands in a stand-in through the seams below.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from daemon.errors import ConfigError
from daemon.service.children import BUSY, NOT_STARTED, PAUSED, ChildPasses, PassOutcome
from daemon.service.watch import CATALOGUE_DIR, YAML_SUFFIXES, Debouncer, is_ignored
from daemon.store import requests
from daemon.store.history import History, utcnow
from daemon.store.status import PAUSED_KEY
from daemon.tree.settings import CONNECTOR_FILE, Settings, load_settings

if TYPE_CHECKING:  # the passes import daemon.reconcile and daemon.notify in their child
    from daemon.notify import Notifier
    from daemon.reconcile import Converged

log = logging.getLogger(__name__)

FAILED_RESULTS = ("failed", "partial")
MAX_BACKOFF = 300.0
TICK = 1.0  # the longest the loops and the main loop sleep before looking again
BUSY_RETRY = 2.0  # seconds before a pass tries again the lock a command held
REQUEST = "request"  # the trigger of a pass that `zedonk-ordre reconcile` asked for


class PassResult(Protocol):
    """What a pass returns: its run in the history, the run's result word and one line to log.

    ``PassOutcome``, ``daemon.reconcile.ReconcileResult`` and ``daemon.orders.ImportResult``
    all fit."""

    @property
    def run_id(self) -> int | None: ...

    @property
    def result(self) -> str: ...

    @property
    def message(self) -> str: ...


class ReconcileFn(Protocol):
    """The reconcile seam: one pass with these settings; never raises for expected failures.

    By default a reconcile in a child process; a stand-in in tests."""

    def __call__(self, settings: Settings, history: History, *, trigger: str) -> PassResult: ...


class ImportFn(Protocol):
    """The import seam: one order import pass; never raises for expected failures.

    By default an import in a child process; a stand-in in tests."""

    def __call__(
        self, settings: Settings, history: History, *, trigger: str, notifier: Notifier | None
    ) -> PassResult: ...


# Runs one pass of the named loop, isolated, and returns its result (``Service._pass``).
RunPass = Callable[[str, Callable[[], PassResult]], str]


def backoff(failures: int, base: float, cap: float = MAX_BACKOFF) -> float:
    """Seconds to wait after ``failures`` failures in a row: doubling from ``base``, capped."""
    if failures <= 0:
        return base
    return float(min(max(cap, base), base * 2 ** (failures - 1)))


def tree_fingerprint(root: Path) -> str:
    """A hash of connector.yaml and every catalogue YAML file: names and contents."""
    digest = hashlib.sha256()
    files = [root / CONNECTOR_FILE]
    catalogue = root / CATALOGUE_DIR
    if catalogue.is_dir():
        files += sorted(
            path
            for path in catalogue.rglob("*")
            if path.suffix in YAML_SUFFIXES
            and not any(is_ignored(part) for part in path.relative_to(root).parts)
        )
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError as exc:
            digest.update(f"unreadable: {exc.strerror}".encode())
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass
class LoopState:
    """What one loop is doing, for health, status and STATUS= lines."""

    name: str
    busy_since: float | None = None  # monotonic; set while a pass runs
    passes: int = 0
    failures: int = 0  # in a row
    failing_since: float | None = None  # monotonic
    last_result: str | None = None
    last_message: str | None = None
    last_run_id: int | None = None
    waiting_for: str | None = None  # the command whose lock the pass waits for, if any
    last_finished_at: str | None = None
    last_ok_at: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    def finished(self, result: str, message: str, run_id: int | None, now: float) -> bool:
        """Record a pass that ran to its end (``now``: ``time.monotonic()``). Returns whether
        the loop was failing before and no longer is, so the caller can say it recovered."""
        self.waiting_for = None
        self.passes += 1
        self.last_result = result
        self.last_message = message
        self.last_run_id = run_id
        self.last_finished_at = utcnow()
        if result in FAILED_RESULTS:
            self.failures += 1
            if self.failing_since is None:
                self.failing_since = now
            return False
        if result != "invalid":
            self.last_ok_at = self.last_finished_at
        recovered = self.failures > 0
        self.failures = 0
        self.failing_since = None
        return recovered

    def status(self, label: str) -> str | None:
        """This loop's part of the systemd status line, e.g. ``last poll ok at 10:42:07Z``."""
        if self.waiting_for:
            return f"{self.name} waits for {self.waiting_for}"
        if self.busy_since is not None:
            return f"{self.name} running"
        if self.last_result:
            at = (self.last_finished_at or "")[11:19]
            return f"{label} {self.last_result} at {at}Z"
        return None

    def snapshot(self, now: float, stuck_after: float, down_after: float) -> dict[str, Any]:
        """The loop's state as plain data, for /healthz, /metrics and the status line.

        ``now`` is a ``time.monotonic()`` reading; ``stuck_after`` and ``down_after`` are
        seconds. ``busy_for`` and ``failing_for`` come out in seconds (rounded to the
        millisecond, None when not busy or not failing); ``stuck`` says the pass in flight has
        run longer than ``stuck_after``, ``failing_long`` that the loop has failed for longer
        than ``down_after``. The ``last_*_at`` times are UTC ISO 8601 strings.
        """
        busy_for = None if self.busy_since is None else now - self.busy_since
        failing_for = None if self.failing_since is None else now - self.failing_since
        return {
            "busy_for": None if busy_for is None else round(busy_for, 3),
            "stuck": busy_for is not None and busy_for > stuck_after,
            "passes": self.passes,
            "failures": self.failures,
            "failing_for": None if failing_for is None else round(failing_for, 3),
            "failing_long": failing_for is not None and failing_for > down_after,
            "last_result": self.last_result,
            "last_message": self.last_message,
            "last_finished_at": self.last_finished_at,
            "last_ok_at": self.last_ok_at,
            "waiting_for": self.waiting_for,
            "alive": self.thread is not None and self.thread.is_alive(),
        }


class ReconcileLoop:
    """Reconciles on saved edits, on the timer and after a back-off; holds the settings.

    ``settings`` are the daemon's at start; ``adopt`` replaces them with each valid re-read,
    and ``settings`` is where the rest of the daemon reads them. ``paused`` is the pause
    switch as last read (``daemon.store.status``), None while reconciling runs.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        stopping: threading.Event,
        debouncer: Debouncer,
        children: ChildPasses,
        run_pass: RunPass,
        problem: Callable[[str, str, str], None],
        resolved: Callable[[str], None],
        reconcile: ReconcileFn | None = None,
    ) -> None:
        self.settings = settings
        self.root = settings.root
        self.stopping = stopping
        self.debouncer = debouncer
        self.children = children
        self.run_pass = run_pass
        self.problem = problem
        self.resolved = resolved
        self.state = LoopState("reconcile")
        self.paused: dict[str, Any] | None = None
        self._reconcile: ReconcileFn = reconcile or self._in_child
        self._last_good_fingerprint: str | None = None
        self._converged: Converged | None = None  # the last reconcile's, if it converged
        # daemon.state_dir and daemon.status_listen as connector.yaml last said them
        self._restart_read: tuple[Path, tuple[str, int]] | None = None

    def _in_child(self, settings: Settings, history: History, *, trigger: str) -> PassOutcome:
        # A saved edit may need only a look at ORDRE's collections and looks (see
        # daemon.reconcile.plan_structure); the startup, timer, retry and requested passes
        # always read everything.
        known = self._converged if trigger == "watch" else None
        outcome = self.children.run("reconcile", settings, trigger, known)
        # A pass that did not start changed nothing; one that found nothing changed since the
        # last pass (the warm reads) leaves what that pass resolved as it was.
        if outcome.result not in NOT_STARTED and not outcome.unchanged:
            self._converged = outcome.converged
        return outcome

    def run(self, history: History) -> None:
        """The loop, on its own thread: returns once ``stopping`` is set."""
        due: str | None = "startup"  # what asks for the next reconcile, if anything
        next_full = time.monotonic() + self.settings.daemon.reconcile_interval
        retry_at: float | None = None
        while not self.stopping.is_set():
            now = time.monotonic()
            paused = self.is_paused(history)
            wake = now + TICK if paused else min(next_full, retry_at or next_full, now + TICK)
            if due is not None and not paused:
                wake = now
            batch = self.debouncer.wait(max(0.0, wake - now))
            if self.stopping.is_set():
                return
            now = time.monotonic()
            if batch:
                log.info("changed: %s", ", ".join(batch[:5]) + (" ..." if len(batch) > 5 else ""))
                due = due or "watch"
            if now >= next_full:
                due = due or "timer"
            if retry_at is not None and now >= retry_at:
                due, retry_at = due or "retry", None
            paused = self.is_paused(history)  # again: it may have changed while waiting
            asked = self.open_request(history)
            if asked is not None and paused:
                self.answer(history, asked, None, PAUSED, f"reconciling is paused: {paused}")
                asked = None
            if asked is not None and due != "startup":
                due = REQUEST  # a full pass, which covers a saved edit too
            if due is None or paused:
                continue
            trigger, due = due, None
            result = self.reconcile_once(history, trigger)
            if result == BUSY:  # a command holds the catalogue's lock: try again shortly
                due, retry_at = trigger, None
                self.stopping.wait(BUSY_RETRY)
                continue
            if result == PAUSED:  # paused just now: the edit waits for `resume`
                due = trigger
                continue
            if asked is not None:
                self.answer(
                    history,
                    asked,
                    self.state.last_run_id,
                    result,
                    self.state.last_message or "",
                )
            next_full = time.monotonic() + self.settings.daemon.reconcile_interval
            if result in FAILED_RESULTS:
                failures = self.state.failures
                retry_at = time.monotonic() + backoff(
                    failures, max(self.settings.daemon.debounce, 5.0)
                )

    def reconcile_once(self, history: History, trigger: str) -> str:
        """Re-read the settings and the tree, then reconcile; an invalid tree applies nothing.

        Returns the pass's result word; never raises for the pass's failures."""
        fingerprint = tree_fingerprint(self.root)
        if trigger == "watch" and fingerprint == self._last_good_fingerprint:
            log.info("the files changed back to what was last applied; nothing to do")
            return "no-changes"
        # Whatever happens next, a later edit back to this content must be looked at again.
        self._last_good_fingerprint = None
        try:
            settings = load_settings(self.root)
        except ConfigError as exc:
            return self._record_invalid_settings(history, trigger, exc)
        settings = self.adopt(settings)
        self.resolved("settings-invalid")
        result = self.run_pass(
            "reconcile", partial(self._reconcile, settings, history, trigger=trigger)
        )
        if result in ("ok", "no-changes"):
            self._last_good_fingerprint = fingerprint
            self.resolved("catalogue-invalid")
        elif result == "invalid":
            message = self.state.last_message or "the catalogue is invalid"
            self.problem(
                "catalogue-invalid",
                "the catalogue is invalid; nothing was applied",
                message,
            )
        return result

    def _record_invalid_settings(self, history: History, trigger: str, exc: ConfigError) -> str:
        findings = [str(f) for f in exc.findings]
        text = "\n".join([*findings, exc.message])
        log.warning("%s is invalid; applying nothing until it is fixed:\n%s", CONNECTOR_FILE, text)
        run_id = history.start_run("reconcile", trigger)
        history.finish_run(run_id, "invalid", error=text)
        history.record_event(
            "error",
            "settings-invalid",
            f"{CONNECTOR_FILE} is invalid; the daemon keeps the last good settings",
            run_id=run_id,
            details={"findings": findings},
        )
        self.state.last_result, self.state.last_message, self.state.last_finished_at = (
            "invalid",
            exc.message,
            utcnow(),
        )
        self.state.last_run_id = run_id
        self.problem("settings-invalid", f"{CONNECTOR_FILE} is invalid; nothing is applied", text)
        return "invalid"

    def open_request(self, history: History) -> int | None:
        """The newest open request for a reconcile (``daemon.store.requests``), or None."""
        try:
            return requests.newest_open(history, requests.RECONCILE)
        except Exception as exc:  # a busy database must not kill the loop: next tick
            log.warning("cannot read the requests to reconcile: %s", exc)
            return None

    def answer(
        self, history: History, up_to: int, run_id: int | None, result: str, message: str
    ) -> None:
        """Answer the requests up to ``up_to`` with the pass that ran for them."""
        try:
            requests.answer(
                history, requests.RECONCILE, up_to, run_id=run_id, result=result, message=message
            )
        except Exception as exc:  # the command waiting for it says so after its own timeout
            log.error("cannot answer the requests to reconcile: %s", exc)

    def adopt(self, settings: Settings) -> Settings:
        """Use freshly read settings, and return them as in effect: the state directory and
        the status address stay as the daemon started with them, and a change of either in
        connector.yaml is logged as needing a restart."""
        old = self.settings
        # Compared with the file as last read, so that a change is logged once, and the
        # address `run --status-listen` gave instead of the file's is no change.
        read = (settings.state_dir, settings.daemon.status_listen)
        if read != (self._restart_read or (old.state_dir, settings.daemon.status_listen)):
            log.warning("state_dir and status_listen changes take effect after a restart")
        self._restart_read = read
        settings = replace(
            settings,
            state_dir=old.state_dir,
            state_dir_origin=old.state_dir_origin,
            daemon=replace(settings.daemon, status_listen=old.daemon.status_listen),
        )
        if settings != old:
            self.debouncer.quiet = settings.daemon.debounce
            self.settings = settings
        return settings

    def is_paused(self, history: History) -> str | None:
        """Read the pause switch: the pause's reason while paused, else None. A history that
        cannot be read keeps the last known answer."""
        try:
            paused = history.get_state(PAUSED_KEY)
        except Exception as exc:  # a busy database must not kill the loop
            log.warning("cannot read the pause switch: %s", exc)
            paused = self.paused
        if paused != self.paused:
            if paused:
                log.info("reconciling paused: %s", paused.get("reason"))
            else:
                log.info("reconciling resumed")
            self.paused = paused
        return None if paused is None else str(paused.get("reason") or "no reason given")


class ImportLoop:
    """Imports the orders every ``poll_interval``, backing off while the passes fail.

    ``settings`` is a provider: the loop reads the daemon's current settings before each pass.
    """

    def __init__(
        self,
        settings: Callable[[], Settings],
        *,
        stopping: threading.Event,
        children: ChildPasses,
        run_pass: RunPass,
        import_orders: ImportFn | None = None,
    ) -> None:
        self.settings = settings
        self.stopping = stopping
        self.children = children
        self.run_pass = run_pass
        self.state = LoopState("import")
        self._import: ImportFn = import_orders or self._in_child

    def _in_child(
        self, settings: Settings, history: History, *, trigger: str, notifier: Notifier | None
    ) -> PassOutcome:
        # The child makes its own notifier from the settings it is given.
        return self.children.run("import", settings, trigger)

    def run(self, history: History, notifier: Notifier | None) -> None:
        """The loop, on its own thread: returns once ``stopping`` is set."""
        trigger = "startup"
        while not self.stopping.is_set():
            settings = self.settings()
            result = self.run_pass(
                "import",
                partial(self._import, settings, history, trigger=trigger, notifier=notifier),
            )
            trigger = "timer"
            poll = self.settings().daemon.poll_interval
            # Only a failed pass backs off: "partial" leaves orders waiting for the settle
            # window or held for a person, and slower polls would delay the next orders too.
            delay = backoff(self.state.failures, poll) if result == "failed" else poll
            self.stopping.wait(delay)
