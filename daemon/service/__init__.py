"""The daemon: watch the catalogue, reconcile ORDRE to it, and import ORDRE's orders.

Threads, each with one job:
- the watcher (watchdog) reports edits to a Debouncer;
- the reconcile loop runs a reconcile when the edits settle, every ``reconcile_interval``
  whatever the events say (drift), and again after a back-off when one failed;
- the import loop runs the order import every ``poll_interval``, backing off while it fails;
- the web server answers /healthz, /metrics and the activity page.
The main thread supervises: it repairs the watcher, notices a loop that is stuck or dead, keeps
systemd informed, and pings the watchdog only while everything is sound, so a hung daemon is
restarted by systemd. A failure in one loop never stops the other. The passes themselves run
in short-lived child processes (``ChildPasses``), so the daemon stays small between them.

The daemon holds the state directory's lock for its whole life, so a CLI ``apply`` cannot run
beside it. Stopping is graceful when it can be (the call in flight may finish, within
``stop_grace`` seconds), but correctness never depends on it: reconcile and import are both
safe to interrupt at any point.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon import redact
from daemon.errors import ConfigError, ZedonkOrdreError
from daemon.service.sdnotify import SystemdNotifier
from daemon.service.watch import CATALOGUE_DIR, YAML_SUFFIXES, Debouncer, TreeWatcher, is_ignored
from daemon.service.web import ActivityServer
from daemon.store.history import History, utcnow
from daemon.store.lock import StateLock
from daemon.store.status import PAUSED_KEY
from daemon.tree.settings import CONNECTOR_FILE, Settings, check_secrets, load_settings

if TYPE_CHECKING:  # the passes import daemon.reconcile in their child process
    from daemon.reconcile import Converged

log = logging.getLogger("daemon.service")

# Seams: the real passes by default, stand-ins in tests. Both return an object with
# ``run_id``, ``result`` and ``message``, and never raise for expected failures.
ReconcileFn = Callable[..., Any]
ImportFn = Callable[..., Any]

FAILED_RESULTS = ("failed", "partial")
DEFAULT_STUCK_AFTER = 30 * 60.0  # seconds one pass may take before the loop counts as stuck
DEFAULT_STOP_GRACE = 30.0  # seconds the call in flight may take to finish after SIGTERM
MAX_BACKOFF = 300.0
TICK = 1.0  # the main loop's longest sleep; it pings the watchdog at least this often
HANG_AFTER_ENV = "ZEDONK_ORDRE_TEST_HANG_AFTER"  # test hook: the main loop hangs after N pings


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


# sd-daemon(3) priority prefixes: journald reads them as the message's level.
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}


class JournalFormatter(logging.Formatter):
    """No timestamp (journald adds its own), a ``<N>`` priority prefix, the level in words."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_PRIORITY.get(record.levelno, 2)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def setup_logging(*, debug: bool) -> None:
    """Journald-friendly logs under systemd; timestamped ones when run by hand."""
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"):
        handler.setFormatter(JournalFormatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%d %H:%M:%S"
            )
        )
    level = logging.DEBUG if debug else logging.INFO
    logging.basicConfig(level=level, handlers=[handler], force=True)
    redact.secure_logging()  # no secret in any record; httpx's and watchdog's chatter quiet


@dataclass(frozen=True)
class PassOutcome:
    run_id: int | None
    result: str
    message: str
    converged: Converged | None = None  # after a reconcile that left ORDRE matching


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
    try:
        from daemon.notify import Notifier
        from daemon.orders import import_orders
        from daemon.reconcile import reconcile

        with History.open(settings.state_dir) as history:
            if kind == "reconcile":
                out: Any = reconcile(settings, history, trigger=trigger, converged=converged)
            else:
                configured = settings.email is not None or settings.webhook is not None
                notifier = Notifier(settings, history) if configured else None
                out = import_orders(settings, history, trigger=trigger, notifier=notifier)
        conn.send(PassOutcome(out.run_id, out.result, out.message, getattr(out, "converged", None)))
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
    last_finished_at: str | None = None
    last_ok_at: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    def snapshot(self, now: float, stuck_after: float, down_after: float) -> dict[str, Any]:
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
            "alive": self.thread is not None and self.thread.is_alive(),
        }


class Service:
    """The long-running daemon. ``run()`` blocks until ``request_stop()`` (or a signal)."""

    def __init__(
        self,
        settings: Settings,
        *,
        reconcile: ReconcileFn | None = None,
        import_orders: ImportFn | None = None,
        notifier: Any = None,
        systemd: SystemdNotifier | None = None,
        stuck_after: float = DEFAULT_STUCK_AFTER,
        stop_grace: float = DEFAULT_STOP_GRACE,
        web: bool = True,
    ) -> None:
        self.settings = settings
        self.root = settings.root
        self.state_dir = settings.state_dir
        self._reconcile: ReconcileFn = reconcile or self._reconcile_in_child
        self._import = import_orders or self._import_in_child
        self._check_against_zedonk = import_orders is None  # stand-ins need no Zedonk
        self.notifier = notifier
        self.systemd = systemd or SystemdNotifier()
        self.stuck_after = stuck_after
        self.stop_grace = stop_grace
        self.want_web = web
        self.stopping = threading.Event()
        self.children = ChildPasses(self.stopping, stop_grace)
        self.debouncer = Debouncer(settings.daemon.debounce)
        self.loops = {"reconcile": LoopState("reconcile"), "import": LoopState("import")}
        self.history: History | None = None
        self.web: ActivityServer | None = None
        self.watcher: TreeWatcher | None = None
        self._lock = StateLock(self.state_dir, "zedonk-ordre run (the daemon)")
        self._last_good_fingerprint: str | None = None
        self._last_status = ""
        self._paused: dict[str, Any] | None = None
        self._converged: Converged | None = None  # the last reconcile's, if it converged

    def _reconcile_in_child(self, settings: Settings, history: History, **kw: Any) -> Any:
        # A saved edit may need only a look at ORDRE's collections and looks (see
        # apply.plan_structure); the startup, timer and retry passes always read everything.
        known = self._converged if kw["trigger"] == "watch" else None
        outcome = self.children.run("reconcile", settings, kw["trigger"], known)
        self._converged = outcome.converged
        return outcome

    def _import_in_child(self, settings: Settings, history: History, **kw: Any) -> Any:
        return self.children.run("import", settings, kw["trigger"])

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
        self._lock.acquire()
        try:
            self.history = History.open(self.state_dir)
            if self.notifier is None:
                self.notifier = self._make_notifier(self.history)
            if self._check_against_zedonk:
                self._check_import_settings()
            if self.want_web:
                self.web = self._start_web()
            self.watcher = TreeWatcher(self.root, self.debouncer.poke)
            self.watcher.start()
        except BaseException:
            if self.web is not None:
                self.web.stop()
            self._release()
            raise
        self.history.record_event(
            "info",
            "daemon-started",
            f"daemon started (pid {os.getpid()})",
            details={"root": str(self.root), "web": self.web.url if self.web else None},
        )
        self._start_loop("reconcile", self._reconcile_loop)
        self._start_loop("import", self._import_loop)
        where = f"; activity page {self.web.url}" if self.web else ""
        log.info("started: watching %s%s", self.root, where)
        self.systemd.ready(f"started; watching {self.root}{where}")

    def _make_notifier(self, history: History) -> Any:
        if self.settings.email is None and self.settings.webhook is None:
            return None
        from daemon.notify import Notifier

        return Notifier(self.settings, history)

    def _check_import_settings(self) -> None:
        """Check the import settings against Zedonk; a bad setting stops the start (78)."""
        from daemon.clients.zedonk import ZedonkClient
        from daemon.orders import check_import_settings

        try:
            with ZedonkClient(
                self.settings.zedonk.url, self.settings.zedonk.token.resolve(), deadline=15
            ) as client:
                check_import_settings(self.settings, client)
        except ConfigError:
            raise
        except ZedonkOrdreError as exc:
            # Zedonk may simply be down: the import loop will keep trying and say so.
            log.warning("could not check the import settings against Zedonk: %s", exc.message)

    def _start_web(self) -> ActivityServer:
        host, port = self.settings.daemon.status_listen
        try:
            server = ActivityServer(self.state_dir, (host, port), self.health)
        except OSError as exc:
            raise ZedonkOrdreError(
                f"cannot serve the status page on {host}:{port}: {exc.strerror}",
                hint="another process uses that port; change daemon.status_listen in "
                "connector.yaml",
            ) from None
        server.start()
        return server

    def _start_loop(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"{name}-loop", daemon=True)
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
            "paused": self._paused,
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
            for name, target in (
                ("reconcile", self._reconcile_loop),
                ("import", self._import_loop),
            ):
                thread = self.loops[name].thread
                if thread is not None and not thread.is_alive() and not self.stopping.is_set():
                    log.error("the %s loop died; starting it again", name)
                    self._start_loop(name, target)
            health = self.health()
            stuck = [n for n, snap in health["loops"].items() if snap["stuck"]]
            if stuck:
                # No ping: systemd's watchdog restarts a daemon whose loop hangs.
                log.error("the %s loop is stuck; withholding the watchdog ping", stuck[0])
            elif interval:
                self.systemd.watchdog()
                pings += 1
            self._update_status()
            if hang_after is not None and pings >= hang_after:
                log.warning("test hook %s: the main loop hangs now", HANG_AFTER_ENV)
                while True:
                    time.sleep(3600)
            self.stopping.wait(tick)

    def _update_status(self) -> None:
        parts = []
        if self._paused:
            parts.append(f"reconciling paused: {self._paused.get('reason')}")
        for name, label in (("reconcile", "last reconcile"), ("import", "last poll")):
            loop = self.loops[name]
            if loop.busy_since is not None:
                parts.append(f"{name} running")
            elif loop.last_result:
                at = (loop.last_finished_at or "")[11:19]
                parts.append(f"{label} {loop.last_result} at {at}Z")
        text = "; ".join(parts) or "starting"
        if text != self._last_status:
            self._last_status = text
            self.systemd.status(text)

    # ------------------------------------------------------------------ the two loops

    def _pass(self, name: str, call: Callable[[], Any]) -> str:
        """Run one pass of a loop, isolated: any exception becomes a recorded failure."""
        loop = self.loops[name]
        loop.busy_since = time.monotonic()
        try:
            outcome = call()
            result = str(getattr(outcome, "result", "ok"))
            message = str(getattr(outcome, "message", "") or "")
        except Exception as exc:
            result = "failed"
            message = exc.message if isinstance(exc, ZedonkOrdreError) else f"{exc!r}"
            log.error("the %s pass failed: %s", name, message)
            self._record(
                "error",
                f"{name}-error",
                f"the {name} pass failed: {message}",
                details={"traceback": traceback.format_exc(limit=8)},
            )
        finally:
            loop.busy_since = None
        loop.passes += 1
        loop.last_result = result
        loop.last_message = message
        loop.last_finished_at = utcnow()
        if result in FAILED_RESULTS:
            loop.failures += 1
            if loop.failing_since is None:
                loop.failing_since = time.monotonic()
            if time.monotonic() - loop.failing_since > self.settings.daemon.remote_down_alert_after:
                self._notify_problem(f"{name}-failing", f"the {name} keeps failing", message)
        else:
            if result != "invalid":
                loop.last_ok_at = loop.last_finished_at
            if loop.failures:
                self._notify_resolved(f"{name}-failing")
            loop.failures = 0
            loop.failing_since = None
        if result in (*FAILED_RESULTS, "invalid"):
            level = logging.WARNING
        elif result in ("no-changes", "no-orders"):
            level = logging.DEBUG  # an idle pass every poll_interval is not news
        else:
            level = logging.INFO
        log.log(level, "%s: %s%s", name, result, f" - {message}" if message else "")
        return result

    def _reconcile_loop(self) -> None:
        due: str | None = "startup"  # what asks for the next reconcile, if anything
        next_full = time.monotonic() + self.settings.daemon.reconcile_interval
        retry_at: float | None = None
        while not self.stopping.is_set():
            now = time.monotonic()
            paused = self._is_paused()
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
            if due is None or paused:
                continue
            trigger, due = due, None
            result = self._reconcile_once(trigger)
            next_full = time.monotonic() + self.settings.daemon.reconcile_interval
            if result in FAILED_RESULTS:
                failures = self.loops["reconcile"].failures
                retry_at = time.monotonic() + backoff(
                    failures, max(self.settings.daemon.debounce, 5.0)
                )

    def _reconcile_once(self, trigger: str) -> str:
        """Re-read the settings and the tree, then reconcile; an invalid tree applies nothing."""
        fingerprint = tree_fingerprint(self.root)
        if trigger == "watch" and fingerprint == self._last_good_fingerprint:
            log.info("the files changed back to what was last applied; nothing to do")
            return "no-changes"
        # Whatever happens next, a later edit back to this content must be looked at again.
        self._last_good_fingerprint = None
        try:
            settings = load_settings(self.root)
        except ConfigError as exc:
            return self._record_invalid_settings(trigger, exc)
        self._adopt(settings)
        self._notify_resolved("settings-invalid")
        assert self.history is not None
        result = self._pass(
            "reconcile", partial(self._reconcile, settings, self.history, trigger=trigger)
        )
        if result in ("ok", "no-changes"):
            self._last_good_fingerprint = fingerprint
            self._notify_resolved("catalogue-invalid")
        elif result == "invalid":
            message = self.loops["reconcile"].last_message or "the catalogue is invalid"
            self._notify_problem(
                "catalogue-invalid",
                "the catalogue is invalid; nothing was applied",
                message,
            )
        return result

    def _record_invalid_settings(self, trigger: str, exc: ConfigError) -> str:
        findings = [str(f) for f in exc.findings]
        text = "\n".join([*findings, exc.message])
        log.warning("%s is invalid; applying nothing until it is fixed:\n%s", CONNECTOR_FILE, text)
        if self.history is not None:
            run_id = self.history.start_run("reconcile", trigger)
            self.history.finish_run(run_id, "invalid", error=text)
            self.history.record_event(
                "error",
                "settings-invalid",
                f"{CONNECTOR_FILE} is invalid; the daemon keeps the last good settings",
                run_id=run_id,
                details={"findings": findings},
            )
        loop = self.loops["reconcile"]
        loop.last_result, loop.last_message, loop.last_finished_at = (
            "invalid",
            exc.message,
            utcnow(),
        )
        self._notify_problem(
            "settings-invalid", f"{CONNECTOR_FILE} is invalid; nothing is applied", text
        )
        return "invalid"

    def _adopt(self, settings: Settings) -> None:
        """Use freshly read settings; say which changes need a restart."""
        old = self.settings
        if settings == old:
            return
        if settings.state_dir != old.state_dir or settings.daemon.status_listen != (
            old.daemon.status_listen
        ):
            log.warning("state_dir and status_listen changes take effect after a restart")
        self.debouncer.quiet = settings.daemon.debounce
        self.settings = settings

    def _is_paused(self) -> bool:
        assert self.history is not None
        try:
            paused = self.history.get_state(PAUSED_KEY)
        except Exception as exc:  # a busy database must not kill the loop
            log.warning("cannot read the pause switch: %s", exc)
            return self._paused is not None
        if paused != self._paused:
            if paused:
                log.info("reconciling paused: %s", paused.get("reason"))
            else:
                log.info("reconciling resumed")
            self._paused = paused
        return paused is not None

    def _import_loop(self) -> None:
        trigger = "startup"
        while not self.stopping.is_set():
            assert self.history is not None
            history = self.history
            settings = self.settings
            result = self._pass(
                "import",
                partial(self._import, settings, history, trigger=trigger, notifier=self.notifier),
            )
            trigger = "timer"
            poll = self.settings.daemon.poll_interval
            failures = self.loops["import"].failures
            delay = backoff(failures, poll) if result in FAILED_RESULTS else poll
            self.stopping.wait(delay)

    # ------------------------------------------------------------------ history and notices

    def _record(self, level: str, code: str, message: str, **kwargs: Any) -> None:
        if self.history is None:
            return
        try:
            self.history.record_event(level, code, message, **kwargs)
        except Exception as exc:
            log.error("cannot record %s in the history: %s", code, exc)

    def _notify_problem(self, key: str, title: str, details: str) -> None:
        if self.notifier is None:
            return
        try:
            self.notifier.problem(key, title, details)
        except Exception as exc:
            log.error("cannot send the notice %s: %s", key, exc)

    def _notify_resolved(self, key: str) -> None:
        if self.notifier is None:
            return
        try:
            self.notifier.resolved(key)
        except Exception as exc:
            log.error("cannot send the recovery notice %s: %s", key, exc)
