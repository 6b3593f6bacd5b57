"""The daemon's supervisor: ``Service`` starts, watches and stops everything else.

Threads, each with one job:
- the watcher (watchdog) reports edits to a Debouncer;
- the reconcile loop runs a reconcile when the edits settle, every ``reconcile_interval``
  whatever the events say (drift), and again after a back-off when one failed;
- the import loop runs the order import every ``poll_interval``, backing off while it fails;
- the notice drainer (a thread per channel) sends what the passes owed, grouped into digests,
  each channel with its own back-off: no pass waits for a mail server or a webhook;
- the web server answers the operations console, /healthz and /metrics.
The main thread supervises: it repairs the watcher, notices a loop that is stuck or dead, keeps
systemd informed, and pings the watchdog only while everything is sound, so a hung daemon is
restarted by systemd. A failure in one loop never stops the other: each pass goes through
``Service._pass``, which turns any exception into a recorded failure, keeps the loop's state
and sends the notices. The loops are in ``loops.py``; the passes themselves run in short-lived
child processes (``children.py``), so the daemon stays small between them.

The daemon holds ``daemon.lock`` for its whole life (one daemon per state directory), and
the catalogue's and the orders' locks only while one of its passes runs, in that pass's child
process: commands (``apply``, ``orders retry``, ...) run between the passes, and a pass that
finds a command holding its lock waits for it (docs/architecture.md says why). It answers
requests (``zedonk-ordre reconcile``) from the reconcile loop, and applies the history's
retention every few hours. Stopping is graceful when it can be (the call in flight may
finish, within ``stop_grace`` seconds), but correctness never depends on it: reconcile and
import are both safe to interrupt at any point.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from daemon.errors import ConfigError, ZedonkOrdreError
from daemon.service.children import BUSY, PAUSED, ChildPasses
from daemon.service.housekeeping import Housekeeping
from daemon.service.loops import (
    FAILED_RESULTS,
    TICK,
    ImportFn,
    ImportLoop,
    PassResult,
    ReconcileFn,
    ReconcileLoop,
)
from daemon.service.sdnotify import SystemdNotifier
from daemon.service.watch import Debouncer, TreeWatcher
from daemon.service.web import StatusServer
from daemon.store.history import History
from daemon.store.lock import DAEMON_LOCK_FILE, StateLock
from daemon.tree.settings import Settings, check_secrets

if TYPE_CHECKING:  # the import pass makes its own in its child process
    from daemon.notify import Drainer, Notifier

log = logging.getLogger(__name__)

DEFAULT_STUCK_AFTER = 30 * 60.0  # seconds one pass may take before the loop counts as stuck
DEFAULT_STOP_GRACE = 30.0  # seconds the call in flight may take to finish after SIGTERM
HANG_AFTER_ENV = "ZEDONK_ORDRE_TEST_HANG_AFTER"  # test hook: the main loop hangs after N pings


class Service:
    """The long-running daemon. ``run()`` blocks until ``request_stop()`` (or a signal)."""

    def __init__(
        self,
        settings: Settings,
        *,
        reconcile: ReconcileFn | None = None,
        import_orders: ImportFn | None = None,
        notifier: Notifier | None = None,
        systemd: SystemdNotifier | None = None,
        stuck_after: float = DEFAULT_STUCK_AFTER,
        stop_grace: float = DEFAULT_STOP_GRACE,
        web: bool = True,
    ) -> None:
        self.root = settings.root
        self.state_dir = settings.state_dir
        self._check_against_zedonk = import_orders is None  # stand-ins need no Zedonk
        self.notifier = notifier
        self.systemd = systemd or SystemdNotifier()
        self.stuck_after = stuck_after
        self.stop_grace = stop_grace
        self.want_web = web
        self.stopping = threading.Event()
        self.children = ChildPasses(self.stopping, stop_grace)
        self.debouncer = Debouncer(settings.daemon.debounce)
        self.reconcile_loop = ReconcileLoop(
            settings,
            stopping=self.stopping,
            debouncer=self.debouncer,
            children=self.children,
            run_pass=self._pass,
            problem=lambda key, title, details: _notice(self.notifier, key, title, details),
            resolved=lambda key: _notice(self.notifier, key),
            reconcile=reconcile,
        )
        self.import_loop = ImportLoop(
            lambda: self.settings,
            stopping=self.stopping,
            children=self.children,
            run_pass=self._pass,
            import_orders=import_orders,
        )
        self.loops = {"reconcile": self.reconcile_loop.state, "import": self.import_loop.state}
        self.history: History | None = None
        self.drainer: Drainer | None = None
        self.web: StatusServer | None = None
        self.watcher: TreeWatcher | None = None
        self._lock = StateLock(
            self.state_dir, "zedonk-ordre run (the daemon)", name=DAEMON_LOCK_FILE
        )
        self.housekeeping = Housekeeping(lambda: self.settings)
        self._targets: dict[str, Callable[[], None]] = {}  # each loop's thread, once started
        self._last_status = ""

    @property
    def settings(self) -> Settings:
        """The current settings: the last valid connector.yaml the reconcile loop read."""
        return self.reconcile_loop.settings

    # ------------------------------------------------------------------ lifecycle

    def request_stop(self, *_: object) -> None:
        """Take no new work and wind down (safe to call from a signal handler)."""
        self.stopping.set()

    def run(self) -> int:
        """Start everything, supervise until asked to stop, then stop. Returns the exit code."""
        self._start()
        try:
            self._supervise()
        finally:
            self._stop()
        return 0

    def _start(self) -> None:
        # Fail fast on what a restart cannot fix: every secret must be there and well formed,
        # the webhook URL one that can be sent to (ConfigError -> 78).
        check_secrets(self.settings)
        self._lock.acquire(
            hint="one daemon runs per state directory: stop the other one first "
            "(`systemctl stop zedonk-ordre`), or give this one its own daemon.state_dir"
        )
        try:
            self.history = History.open(self.state_dir)
            if self.notifier is None:
                self.notifier = make_notifier(self.settings, self.history)
            self.drainer = make_drainer(lambda: self.settings, self.history)
            if self._check_against_zedonk:
                check_against_zedonk(self.settings)
            if self.want_web:
                self.web = start_web(self.settings, self.health)
            self.watcher = TreeWatcher(self.root, self.debouncer.poke)
            self.watcher.start()
        except BaseException:
            if self.web is not None:
                self.web.stop()
            self._release()
            raise
        origin = self.settings.state_dir_origin
        self.history.record_event(
            "info",
            "daemon-started",
            f"daemon started (pid {os.getpid()}); state directory {self.state_dir}",
            details={
                "root": str(self.root),
                "root_leads_to": str(self.root.resolve()),
                "state_dir": str(self.state_dir),
                "state_dir_origin": origin,
                "web": self.web.url if self.web else None,
            },
        )
        log.info("state directory: %s (%s)", self.state_dir, origin or "as set")
        self._targets = {
            "reconcile": partial(self.reconcile_loop.run, self.history),
            "import": partial(self.import_loop.run, self.history, self.notifier),
        }
        for name in self._targets:
            self._start_loop(name)
        self.drainer.start()
        where = f"; console {self.web.url}" if self.web else ""
        real = self.root.resolve()
        if real != self.root:  # a release folder behind a symlink: a swap is followed
            where = f" (now {real}){where}"
        log.info("started: watching %s%s", self.root, where)
        self.systemd.ready(f"started; watching {self.root}{where}")

    def _start_loop(self, name: str) -> None:
        thread = threading.Thread(target=self._targets[name], name=f"{name}-loop", daemon=True)
        self.loops[name].thread = thread
        self.loops[name].busy_since = None
        thread.start()

    def _stop(self) -> None:
        self.stopping.set()
        self.systemd.stopping("stopping: letting the call in flight finish")
        log.info("stopping")
        if self.watcher is not None:
            self.watcher.stop()
        self.debouncer.poke("(stop)")  # wake the reconcile loop
        # A child pass is killed after stop_grace; give its loop a moment to notice.
        deadline = time.monotonic() + self.stop_grace + 3
        for loop in self.loops.values():
            if loop.thread is not None:
                loop.thread.join(timeout=max(0.0, deadline - time.monotonic()))
        unfinished = [n for n, lp in self.loops.items() if lp.thread and lp.thread.is_alive()]
        if self.web is not None:
            self.web.stop()
        if self.drainer is not None:
            self.drainer.stop()  # what it has not sent stays owed: the next start sends it
        if self.history is not None:
            with contextlib.suppress(ZedonkOrdreError, OSError):
                self.history.record_event(
                    "warning" if unfinished else "info",
                    "daemon-stopped",
                    "daemon stopped"
                    + (f"; abandoned the {', '.join(unfinished)} in flight" if unfinished else ""),
                )
        if unfinished:
            # Safe: both passes survive an interruption at any point.
            log.warning("stopped without waiting for: %s", ", ".join(unfinished))
        else:
            self._release()
        self.systemd.close()
        log.info("stopped")

    def _release(self) -> None:
        if self.history is not None:
            self.history.close()
        self._lock.release()

    # ------------------------------------------------------------------ supervision

    def health(self) -> dict[str, Any]:
        """Live health: loops stuck, dead or failing for long. Read by /healthz and /metrics."""
        now = time.monotonic()
        down_after = self.settings.daemon.remote_down_alert_after
        loops = {
            name: loop.snapshot(now, self.stuck_after, down_after)
            for name, loop in self.loops.items()
        }
        problems = []
        for name, snap in loops.items():
            if snap["stuck"]:
                problems.append(f"the {name} loop has been busy for {snap['busy_for']:.0f}s")
            if not snap["alive"] and not self.stopping.is_set():
                problems.append(f"the {name} loop is not running")
            if snap["failing_long"]:
                problems.append(
                    f"the {name} loop has been failing for {snap['failing_for']:.0f}s: "
                    f"{snap['last_message']}"
                )
        watcher_problem = self.watcher.problem() if self.watcher else "not started"
        return {
            "healthy": not problems,
            "problems": problems,
            "paused": self.reconcile_loop.paused,
            "loops": loops,
            "watcher": {
                "problem": watcher_problem,
                "restarts": self.watcher.restarts if self.watcher else 0,
            },
        }

    def _supervise(self) -> None:
        interval = self.systemd.watchdog_interval()
        tick = min(TICK, interval) if interval else TICK
        hang_after = int(os.environ[HANG_AFTER_ENV]) if os.environ.get(HANG_AFTER_ENV) else None
        pings = 0
        while not self.stopping.is_set():
            if self.watcher is not None:
                self.watcher.check()
            for name in self._targets:
                thread = self.loops[name].thread
                if thread is not None and not thread.is_alive() and not self.stopping.is_set():
                    log.error("the %s loop died; starting it again", name)
                    self._start_loop(name)
            if self.drainer is not None:
                self.drainer.check()
            health = self.health()
            stuck = [n for n, snap in health["loops"].items() if snap["stuck"]]
            if stuck:
                # No ping: systemd's watchdog restarts a daemon whose loop hangs.
                log.error("the %s loop is stuck; withholding the watchdog ping", stuck[0])
            elif interval:
                self.systemd.watchdog()
                pings += 1
            self._update_status()
            if self.history is not None:
                self.housekeeping.tick(self.history)
            if hang_after is not None and pings >= hang_after:
                log.warning("test hook %s: the main loop hangs now", HANG_AFTER_ENV)
                while True:
                    time.sleep(3600)
            self.stopping.wait(tick)

    def _update_status(self) -> None:
        parts = []
        paused = self.reconcile_loop.paused
        if paused:
            parts.append(f"reconciling paused: {paused.get('reason')}")
        for name, label in (("reconcile", "last reconcile"), ("import", "last poll")):
            part = self.loops[name].status(label)
            if part:
                parts.append(part)
        text = "; ".join(parts) or "starting"
        if text != self._last_status:
            self._last_status = text
            self.systemd.status(text)

    # ------------------------------------------------------------------ the passes

    def _pass(self, name: str, call: Callable[[], PassResult]) -> str:
        """Run one pass of a loop, isolated: any exception becomes a recorded failure."""
        loop = self.loops[name]
        loop.busy_since = time.monotonic()
        run_id = None
        try:
            outcome = call()
            result = outcome.result
            message = outcome.message or ""
            run_id = outcome.run_id
        except Exception as exc:
            result = "failed"
            message = exc.message if isinstance(exc, ZedonkOrdreError) else f"{exc!r}"
            log.error("the %s pass failed: %s", name, message)
            _record(
                self.history,
                "error",
                f"{name}-error",
                f"the {name} pass failed: {message}",
                details={"traceback": traceback.format_exc(limit=8)},
            )
        finally:
            loop.busy_since = None
            if self.drainer is not None:
                self.drainer.poke()  # the pass may have owed notices
        if result == BUSY:  # it did not start: the loop tries again shortly
            if loop.waiting_for != message:
                log.info("the %s waits: %s holds the lock", name, message)
            loop.waiting_for = message
            return result
        if result == PAUSED:  # it did not start: the loop waits for `resume`
            return result
        if loop.finished(result, message, run_id, time.monotonic()):
            _notice(self.notifier, f"{name}-failing")
        alert_after = self.settings.daemon.remote_down_alert_after
        if loop.failing_since is not None and time.monotonic() - loop.failing_since > alert_after:
            _notice(self.notifier, f"{name}-failing", f"the {name} keeps failing", message)
        log.log(_log_level(result), "%s: %s%s", name, result, f" - {message}" if message else "")
        return result


def _record(history: History | None, level: str, code: str, message: str, **kw: Any) -> None:
    """An event in the history, if there is one; a history that fails is only logged."""
    if history is None:
        return
    try:
        history.record_event(level, code, message, **kw)
    except Exception as exc:
        log.error("cannot record %s in the history: %s", code, exc)


def _notice(notifier: Notifier | None, key: str, title: str = "", details: str = "") -> None:
    """Owe a problem notice (with a title) or its recovery (without); never raises."""
    if notifier is None:
        return
    try:
        if title:
            notifier.problem(key, title, details)
        else:
            notifier.resolved(key)
    except Exception as exc:
        log.error("cannot owe the notice %s: %s", key, exc)


def _log_level(result: str) -> int:
    if result in (*FAILED_RESULTS, "invalid"):
        return logging.WARNING
    if result in ("no-changes", "no-orders"):
        return logging.DEBUG  # an idle pass every poll_interval is not news
    return logging.INFO


def make_notifier(settings: Settings, history: History) -> Notifier:
    """The daemon's notifier: it owes notices on the channels connector.yaml sets, and with
    none set it still records each problem, for `status` and `attention`."""
    from daemon.notify import Notifier

    return Notifier(settings, history)


def make_drainer(settings: Callable[[], Settings], history: History) -> Drainer:
    """The daemon's notice drainer, sending on the channels the current ``settings()`` set."""
    from daemon.notify import Drainer

    return Drainer(settings, history)


def check_against_zedonk(settings: Settings) -> None:
    """Check the import settings against Zedonk; a bad setting stops the start.

    Raises ``ConfigError`` (exit code 78) for a setting Zedonk refuses; a Zedonk that cannot
    be reached is only logged, since the import loop keeps trying and says so."""
    from daemon.clients.zedonk import ZedonkClient
    from daemon.orders import check_import_settings

    try:
        with ZedonkClient(
            settings.zedonk.url, settings.zedonk.token.resolve(), deadline=15
        ) as client:
            check_import_settings(settings, client)
    except ConfigError:
        raise
    except ZedonkOrdreError as exc:
        # Zedonk may simply be down: the import loop will keep trying and say so.
        log.warning("could not check the import settings against Zedonk: %s", exc.message)


def start_web(settings: Settings, health: Callable[[], dict[str, Any]]) -> StatusServer:
    """Serve the operations console, /healthz and /metrics on ``daemon.status_listen``.

    Raises ``ZedonkOrdreError`` when the address cannot be bound (another process uses it)."""
    host, port = settings.daemon.status_listen
    try:
        server = StatusServer(settings.state_dir, (host, port), health)
    except OSError as exc:
        raise ZedonkOrdreError(
            f"cannot serve the status page on {host}:{port}: {exc.strerror}",
            hint="another process uses that port; change daemon.status_listen in connector.yaml"
            " (or `run --status-listen`)",
        ) from None
    server.start()
    return server
