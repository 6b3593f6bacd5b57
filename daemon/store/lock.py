"""One writer per state directory: the lock that apply and the daemon share.

An ``flock`` on ``<state_dir>/lock`` (and, for one order import pass at a time, on
``<state_dir>/orders.lock``). The kernel drops it when the holder dies, so a lock left
by a dead process is simply taken over; the file's content (who holds it) is only a label for
people and is rewritten by each new holder.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any, TextIO

from daemon.errors import LockHeld, StateDirError

LOCK_FILE = "lock"
ORDERS_LOCK_FILE = "orders.lock"  # one import pass at a time, inside whoever holds LOCK_FILE
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
    if not holder:
        return "an unknown process"
    return (
        f"{holder.get('purpose', 'a process')} (pid {holder.get('pid')} on "
        f"{holder.get('host')}, since {holder.get('since')})"
    )


class StateLock:
    """Exclusive lock on a state directory (``name``: which of its lock files). Use as a
    context manager, or ``acquire(wait=seconds)`` and ``release()``."""

    def __init__(self, state_dir: Path, purpose: str, *, name: str = LOCK_FILE) -> None:
        self.path = state_dir / name
        self.purpose = purpose
        self._file: TextIO | None = None

    def acquire(self, *, wait: float = 0.0) -> None:
        """Take the lock, waiting up to ``wait`` seconds; raises LockHeld naming the holder,
        StateDirError when the state directory cannot be written."""
        try:
            ensure_state_dir(self.path.parent)
            handle = open(self.path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        except OSError as exc:  # before any call to a remote: nothing is half done
            raise StateDirError(self.path.parent, exc) from None
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = read_holder(self.path)
                    handle.close()
                    raise LockHeld(describe(holder)) from None
                time.sleep(0.05)
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "purpose": self.purpose,
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
            )
        )
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


def read_holder(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text() or "null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def current_holder(state_dir: Path) -> dict[str, Any] | None:
    """Who holds the lock now, or None when nobody does (for ``status``)."""
    path = state_dir / LOCK_FILE
    if not path.exists():
        return None
    with open(path) as probe:
        try:
            fcntl.flock(probe.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_holder(path) or {}
        fcntl.flock(probe.fileno(), fcntl.LOCK_UN)
    return None
