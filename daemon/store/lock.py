"""The state directory's locks: who may write what, and who waits for whom.

Three ``flock`` files in the state directory, each held by at most one process:

- ``daemon.lock``: one daemon (``zedonk-ordre run``) per state directory, for its whole life;
- ``lock``: the catalogue side, held while ORDRE's catalogue is planned and written: by
  ``apply`` (fresh or a saved plan), by ``reconcile`` when it runs the pass itself, and by
  each reconcile pass of the daemon, for that pass only;
- ``orders.lock``: one order import pass at a time (the daemon's, ``orders import``,
  ``orders retry``).

The kernel drops a lock when its holder dies, so a lock left by a dead process is simply
taken over. The file's content (who holds it) is a label for people and for the commands
that must decide whether to wait: it is rewritten by each new holder, and a daemon's pass
marks itself (``daemon_pass``), because a command waits for a pass of the daemon, which
ends on its own, and refuses at once (exit 4) when another command holds the lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from daemon.errors import LockHeld, StateDirError

LOCK_FILE = "lock"  # the catalogue side: apply, reconcile
ORDERS_LOCK_FILE = "orders.lock"  # one order import pass at a time
DAEMON_LOCK_FILE = "daemon.lock"  # one daemon per state directory

_in_daemon_pass = False  # set in the daemon's pass processes: their locks say so

PASS_WAIT = 30 * 60.0  # seconds a command waits for the daemon's pass (the daemon's stuck limit)
POLL = 0.05  # seconds between two tries of a busy lock
STATE_GITIGNORE = (
    "# zedonk-ordre's state directory: the history and the locks. Never in git, wherever it"
    " is.\n*\n"
)


def ensure_state_dir(state_dir: Path) -> None:
    """Create ``state_dir`` (0700) when missing, with a ``.gitignore`` that keeps it out of any
    git checkout it may sit in. Raises OSError when it cannot be created."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    ignore = state_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text(STATE_GITIGNORE)


def describe(holder: dict[str, Any] | None) -> str:
    """A holder record as people read it: ``apply (pid 42 on host, since 2026-...)``."""
    if not holder:
        return "an unknown process"
    return (
        f"{holder.get('purpose', 'a process')} (pid {holder.get('pid')} on "
        f"{holder.get('host')}, since {holder.get('since')})"
    )


def mark_as_daemon_pass() -> None:
    """Say that this process is one of the daemon's passes (``daemon.service.children``
    calls it in each child): every lock it takes is labelled so, and commands wait for it."""
    global _in_daemon_pass
    _in_daemon_pass = True


class StateLock:
    """Exclusive lock on one of a state directory's lock files (``name``). Use as a context
    manager, or ``acquire()`` and ``release()``. A lock taken in one of the daemon's passes
    (``mark_as_daemon_pass``) is labelled so, and commands wait for it
    (``acquire(behind_daemon=...)``)."""

    def __init__(self, state_dir: Path, purpose: str, *, name: str = LOCK_FILE) -> None:
        self.path = state_dir / name
        self.purpose = purpose
        self._file: TextIO | None = None

    def acquire(
        self,
        *,
        wait: float = 0.0,
        behind_daemon: Callable[[str], None] | None = None,
        hint: str | None = None,
    ) -> None:
        """Take the lock, waiting up to ``wait`` seconds for any holder.

        With ``behind_daemon``, a command's way: while one of the daemon's passes holds the
        lock, wait for it (up to ``PASS_WAIT`` seconds) and call ``behind_daemon`` once with
        a line saying so; a lock held by anything else raises at once. Raises LockHeld naming
        the holder (with ``hint`` when given), StateDirError when the state directory cannot
        be written.
        """
        try:
            ensure_state_dir(self.path.parent)
            handle = open(self.path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        except OSError as exc:  # before any call to a remote: nothing is half done
            raise StateDirError(self.path.parent, exc) from None
        start = time.monotonic()
        said = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = read_holder(self.path)
                elapsed = time.monotonic() - start
                if behind_daemon is not None and is_daemon_pass(holder) and elapsed < PASS_WAIT:
                    if not said:
                        behind_daemon(f"waiting for {describe(holder)} to finish")
                        said = True
                elif elapsed >= wait:
                    handle.close()
                    raise LockHeld(describe(holder), **({"hint": hint} if hint else {})) from None
                time.sleep(POLL)
        handle.seek(0)
        handle.truncate()
        record = {
            "purpose": self.purpose,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if _in_daemon_pass:
            record["daemon_pass"] = True
        handle.write(json.dumps(record))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_daemon_pass(holder: dict[str, Any] | None) -> bool:
    """Whether a holder record is one of the daemon's passes."""
    return bool(holder and holder.get("daemon_pass"))


def read_holder(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text() or "null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def current_holder(state_dir: Path, name: str = LOCK_FILE) -> dict[str, Any] | None:
    """Who holds the lock file ``name`` now (``{}`` when its label cannot be read), or None
    when nobody does. Takes nothing: for ``status`` and the commands that decide to wait."""
    path = state_dir / name
    if not path.exists():
        return None
    try:
        probe = open(path)  # noqa: SIM115 - closed below; a shared lock only probes
    except OSError:
        return None
    with probe:
        try:
            fcntl.flock(probe.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_holder(path) or {}
        fcntl.flock(probe.fileno(), fcntl.LOCK_UN)
    return None


def running_daemon(state_dir: Path) -> dict[str, Any] | None:
    """The daemon that runs on ``state_dir`` (its holder record), or None when none does."""
    return current_holder(state_dir, DAEMON_LOCK_FILE)


def refuse_unless_daemon_pass(
    state_dir: Path, name: str, *, say: Callable[[str], None], hint: str | None = None
) -> None:
    """For a command whose pass takes lock ``name`` itself (``orders retry``, ``orders
    import``): raise LockHeld now when another command holds it; when a pass of the daemon
    does, ``say`` that the command waits for it (the pass's own lock waits)."""
    holder = current_holder(state_dir, name)
    if holder is None:
        return
    if is_daemon_pass(holder):
        say(f"waiting for {describe(holder)} to finish")
        return
    raise LockHeld(describe(holder), **({"hint": hint} if hint else {}))
