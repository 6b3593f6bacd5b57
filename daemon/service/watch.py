"""Watching connector.yaml and catalogue/ for edits, and settling bursts into one change.

Events are hints, never data: whatever they say, the daemon reads the whole tree again once
the edits settle. So the watcher only has to be sure not to miss that *something* changed:
- it watches directories, not files, because editors save by writing a temp file and renaming
  it over the original, which would kill a watch on the old inode;
- editor droppings (swap, backup and probe files) are ignored;
- an inotify queue overflow, a dead watcher thread or a replaced catalogue/ directory makes it
  restart its watches and report a change, so the caller rescans;
- the root, catalogue/ and connector.yaml may be reached through symlinks (a release folder
  deployed by swapping ``current -> releases/r2``, as git-sync and Capistrano do): inotify
  watches what they lead to now, and when one leads somewhere else (the link was swapped) the
  watches move to the new target and a change is reported.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

log = logging.getLogger(__name__)

CONNECTOR_FILE = "connector.yaml"
CATALOGUE_DIR = "catalogue"
YAML_SUFFIXES = (".yaml", ".yml")
# watchdog's inotify backend logs this, and rebuilds its own watches, when the kernel drops events.
OVERFLOW_LOGGER = "watchdog.observers.inotify_c"

_EVENT_FILTER = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]


def is_ignored(name: str) -> bool:
    """Editor temp, swap, backup and probe files (vim, emacs, JetBrains, sed -i, rsync...)."""
    return (
        name.startswith((".", "#"))
        or name.endswith(("~", ".swp", ".swo", ".swx", ".tmp", ".bak", ".part"))
        or name == "4913"  # vim's "can I write here" probe
    )


def relevant(root: Path, path: str, *, is_directory: bool = False) -> str | None:
    """The path relative to ``root`` when a change there matters to the catalogue, else None."""
    try:
        rel = Path(path).relative_to(root)
    except ValueError:
        return None
    parts = rel.parts
    if not parts or any(is_ignored(part) for part in parts):
        return None
    if parts == (CONNECTOR_FILE,):
        return CONNECTOR_FILE
    if parts[0] != CATALOGUE_DIR:
        return None
    # A directory event inside catalogue/ (a checkout moving folders) counts too.
    if is_directory or len(parts) == 1 or parts[-1].endswith(YAML_SUFFIXES):
        return rel.as_posix()
    return None


class _Handler(FileSystemEventHandler):
    """Reports the changes under ``base``, a directory reached from ``root`` as ``prefix``
    (its real path, where inotify sees the events), by their path under ``root``."""

    def __init__(self, root: Path, base: Path, prefix: str, report: Callable[[str], None]) -> None:
        self.root = root
        self.base = base
        self.prefix = prefix
        self.report = report

    def on_any_event(self, event: FileSystemEvent) -> None:
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if not raw:
                continue
            try:
                inside = Path(os.fsdecode(raw)).relative_to(self.base)
            except ValueError:
                continue
            path = self.root / self.prefix / inside
            rel = relevant(self.root, str(path), is_directory=event.is_directory)
            if rel is not None:
                self.report(rel)
                return


class _OverflowSpy(logging.Handler):
    """Hears watchdog report a kernel queue overflow, which it otherwise handles silently."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__(level=logging.WARNING)
        self.on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.on_overflow()


class TreeWatcher:
    """Watches ``root/connector.yaml`` and ``root/catalogue/``; calls ``on_change(rel_path)``.

    ``on_change`` runs on a watchdog thread and must be quick (the Debouncer's ``poke`` is).
    Call ``check()`` now and then: it restarts the watches when they can no longer be trusted.
    """

    def __init__(self, root: Path, on_change: Callable[[str], None]) -> None:
        self.root = root  # absolute, as the settings name it: symlinks are not resolved
        self.on_change = on_change
        self.restarts = 0
        self._observer: Any = None
        self._catalogue_id: tuple[int, int] | None = None
        self._targets: dict[str, Path | None] = {}
        self._overflowed = threading.Event()
        self._spy = _OverflowSpy(self._overflowed.set)
        self._lock = threading.Lock()

    def _dir_id(self, path: Path) -> tuple[int, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def targets(self) -> dict[str, Path | None]:
        """Where the root, catalogue/ and connector.yaml lead now (None: they do not exist)."""
        found: dict[str, Path | None] = {}
        for name, path in (
            ("the catalogue root", self.root),
            (CATALOGUE_DIR + "/", self.root / CATALOGUE_DIR),
            (CONNECTOR_FILE, self.root / CONNECTOR_FILE),
        ):
            try:
                found[name] = path.resolve(strict=True)
            except (OSError, RuntimeError):  # missing, or a symlink loop
                found[name] = None
        return found

    def start(self) -> None:
        with self._lock:
            self._start_locked()
        logging.getLogger(OVERFLOW_LOGGER).addHandler(self._spy)

    def _start_locked(self) -> None:
        observer = Observer()
        self._targets = targets = self.targets()
        real_root = targets["the catalogue root"] or self.root
        observer.schedule(
            _Handler(self.root, real_root, "", self.on_change),
            str(real_root),
            recursive=False,
            event_filter=_EVENT_FILTER,
        )
        catalogue = targets[CATALOGUE_DIR + "/"]
        self._catalogue_id = None if catalogue is None else self._dir_id(catalogue)
        if catalogue is not None and catalogue.is_dir():
            observer.schedule(
                _Handler(self.root, catalogue, CATALOGUE_DIR, self.on_change),
                str(catalogue),
                recursive=True,
                event_filter=_EVENT_FILTER,
            )
        connector = targets[CONNECTOR_FILE]
        if connector is not None and connector.parent != real_root:
            # connector.yaml is a link to a file elsewhere: watch that file's folder too
            observer.schedule(
                _Handler(self.root, connector, CONNECTOR_FILE, self.on_change),
                str(connector),
                recursive=False,
                event_filter=_EVENT_FILTER,
            )
        observer.daemon = True
        observer.start()
        self._observer = observer

    def _stop_locked(self) -> None:
        observer, self._observer = self._observer, None
        if observer is None:
            return
        try:
            observer.stop()
            observer.join(timeout=5)
        except Exception as exc:  # a broken observer must not stop us from replacing it
            log.debug("stopping the old watcher failed: %s", exc)

    def stop(self) -> None:
        logging.getLogger(OVERFLOW_LOGGER).removeHandler(self._spy)
        with self._lock:
            self._stop_locked()

    def problem(self) -> str | None:
        """Why the watches can no longer be trusted, or None when they are fine."""
        observer = self._observer
        if observer is None:
            return "the watcher is not running"
        if self._overflowed.is_set():
            return "the kernel's event queue overflowed"
        if not observer.is_alive():
            return "the watcher thread died"
        if any(not emitter.is_alive() for emitter in observer.emitters):
            return "a watcher thread died"
        targets = self.targets()
        for name, target in targets.items():
            if target != self._targets.get(name):
                return f"{name} now leads to {target or 'nothing'}"
        catalogue = targets[CATALOGUE_DIR + "/"]
        if (None if catalogue is None else self._dir_id(catalogue)) != self._catalogue_id:
            return "catalogue/ was replaced"
        return None

    def check(self) -> str | None:
        """Restart the watches if needed, report a change so the caller rescans, and say why."""
        reason = self.problem()
        if reason is None:
            return None
        log.warning("%s; restarting the watcher and rescanning", reason)
        with self._lock:
            self._overflowed.clear()
            self._stop_locked()
            self._start_locked()
            self.restarts += 1
        self.on_change(f"(rescan: {reason})")
        return reason


class Debouncer:
    """Collects change reports until they settle, then hands them over as one batch.

    A batch is ready after ``quiet`` seconds without a new report, or ``max_wait`` seconds
    after its first report when reports never stop (so a busy tree still gets reconciled).
    """

    def __init__(
        self,
        quiet: float,
        max_wait: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet = quiet
        self.max_wait = max_wait if max_wait is not None else max(2.0, quiet * 10)
        self._clock = clock
        self._cond = threading.Condition()
        self._pending: dict[str, None] = {}
        self._first = 0.0
        self._last = 0.0

    def poke(self, what: str) -> None:
        with self._cond:
            now = self._clock()
            if not self._pending:
                self._first = now
            self._last = now
            self._pending[what] = None
            self._cond.notify_all()

    @property
    def pending(self) -> bool:
        with self._cond:
            return bool(self._pending)

    def wait(self, timeout: float) -> list[str] | None:
        """Block until a batch settles (returning it) or ``timeout`` passes (returning None)."""
        deadline = self._clock() + timeout
        with self._cond:
            while True:
                now = self._clock()
                if self._pending:
                    due = min(self._last + self.quiet, self._first + self.max_wait)
                    if now >= due:
                        batch = list(self._pending)
                        self._pending.clear()
                        return batch
                    wake = min(due, deadline)
                else:
                    wake = deadline
                if now >= deadline:
                    return None
                self._cond.wait(wake - now)
