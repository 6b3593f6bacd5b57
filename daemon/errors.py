"""The project's exceptions and exit codes.

Exceptions carry structured fields and say what happened; ``daemon.cli`` is the one place
that turns them into terminal output (``daemon.cli.root.render_error``) and exits with the
class's ``exit_code``. Nothing here knows about httpx or Typer.

The hierarchy, with each class's exit code:

    ZedonkOrdreError           1  base: rendered without a traceback
    ├── ConfigError            1  connector.yaml or catalogue/ is invalid; ``findings``
    │                             (``run`` exits 78 instead: systemd then does not restart it)
    ├── LockHeld               4  another process holds the state directory's lock
    ├── StalePlan              5  a saved plan no longer matches ORDRE
    └── RemoteError            1  a call to Zedonk or ORDRE failed (raised by daemon.clients)
        ├── AuthError          1  the token was refused (401, 403)
        ├── NotFound           1  404
        ├── Conflict           1  409, or 412 when If-Match failed
        ├── RateLimited        1  429 after the retries ran out
        ├── TransientError     1  connect failure, timeout, 5xx: may succeed later
        │   └── OutcomeUnknown 1  a write's outcome is unknown: look before writing again
        └── BadResponse        1  an answer we cannot read

``is_refusal`` tells a refusal of one request for its content (a 4xx but 401, 403, 408, 429)
from a fault that may concern every request.

Modules raise their own subclasses of ``ZedonkOrdreError`` too, all with exit code 1: the
history's ``HistoryError``, notify's ``NotifyError``, the order mapper's ``OrderMappingError``
(and its ``NoLinesMatched``), reconcile's ``DeletesRefused`` and ``PlanFileError``. Exit codes 2
(``plan --detailed-exitcode`` found changes) and 3 (a partial apply or import) come from
results, not exceptions.
"""

from __future__ import annotations

import errno
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes that scripts rely on. Documented in the README; never renumber."""

    OK = 0
    ERROR = 1  # invalid input, failed call
    CHANGES = 2  # plan --detailed-exitcode found changes
    PARTIAL = 3  # apply finished only partly
    LOCKED = 4  # another process holds the lock
    STALE_PLAN = 5  # a saved plan no longer matches ORDRE
    USAGE = 64  # EX_USAGE: an unknown option, a missing or bad argument
    CONFIG = 78  # EX_CONFIG: the daemon will not start on invalid configuration
    BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of the output went away, as for other tools


class ZedonkOrdreError(Exception):
    """Base of every error the CLI renders without a traceback."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(ZedonkOrdreError):
    """connector.yaml or catalogue/ is invalid; ``findings`` lists every problem."""

    def __init__(
        self, message: str, findings: list[object] | None = None, *, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.findings = list(findings or [])


class StateDirError(ConfigError):
    """The state directory cannot be created or written: a read-only file system, missing
    permissions, a file in its place. A configuration problem (``run`` exits 78): no restart
    fixes it."""

    def __init__(self, state_dir: object, exc: OSError) -> None:
        reason = exc.strerror or type(exc).__name__
        if exc.errno == errno.EROFS:
            hint = (
                "the file system is mounted read-only there; under systemd with "
                "ProtectSystem=strict only StateDirectory= is writable: keep "
                "daemon.state_dir unset there, or point it at a writable directory"
            )
        else:
            hint = (
                "make the directory writable by the user zedonk-ordre runs as, or set "
                "daemon.state_dir in connector.yaml to one that is"
            )
        super().__init__(f"cannot write in the state directory {state_dir}: {reason}", hint=hint)
        self.state_dir = state_dir


class LockHeld(ZedonkOrdreError):
    """Another command holds one of the state directory's locks (it is working on the same
    thing right now), or another daemon holds the state directory."""

    exit_code = ExitCode.LOCKED

    def __init__(self, holder: str, *, hint: str = "wait for it to finish") -> None:
        super().__init__(f"another process holds the lock: {holder}", hint=hint)
        self.holder = holder


class StalePlan(ZedonkOrdreError):
    """A saved plan no longer matches ORDRE."""

    exit_code = ExitCode.STALE_PLAN


# --- Remote errors: raised by daemon.clients, which translates HTTP at the edge. ---


class RemoteError(ZedonkOrdreError):
    """A call to Zedonk or ORDRE failed. ``remote`` is "zedonk" or "ordre"."""

    def __init__(
        self,
        message: str,
        *,
        remote: str,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(f"{remote}: {message}", hint=hint)
        self.remote = remote
        self.status = status


class AuthError(RemoteError):
    """The token was refused (401/403)."""


class NotFound(RemoteError):
    """The object does not exist (404)."""


class Conflict(RemoteError):
    """The write conflicts with the object as it is now (409, 412 If-Match failed)."""


class RateLimited(RemoteError):
    """429 after the retries ran out. ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, remote: str, retry_after: float | None = None) -> None:
        super().__init__(message, remote=remote, status=429)
        self.retry_after = retry_after


class TransientError(RemoteError):
    """Connect failure, timeout, 5xx: may succeed later."""


class OutcomeUnknown(TransientError):
    """A write was sent but its outcome is unknown (timeout, reset, 5xx on a create).

    Never retry the write blindly: look the object up first.
    """


class BadResponse(RemoteError):
    """The remote answered with something we cannot read (malformed JSON, wrong shape)."""


def is_refusal(exc: RemoteError) -> bool:
    """The remote refused this one request for what it holds: a 4xx other than the token's
    (401, 403), a timeout (408) and the rate limit (429). Sending it again unchanged cannot
    help, and other requests are not concerned (the order import fails that order alone; a
    transient fault, which may concern every request, stops the pass instead)."""
    if isinstance(exc, TransientError | AuthError | RateLimited | BadResponse):
        return False
    return exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 429)
