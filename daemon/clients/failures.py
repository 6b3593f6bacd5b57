"""How a failed request is told: every transport failure and error status becomes one
``daemon.errors.RemoteError`` subclass, with whether the request may have reached the server
and whether to retry it (RFC 9110 section 9.2.2; ``http.HttpSession.request`` decides).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from daemon import redact
from daemon.core.words import plural
from daemon.errors import (
    AuthError,
    BadResponse,
    Conflict,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    RemoteError,
    TransientError,
)

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class Attempt(Exception):
    """One failed try, with what is needed to decide on a retry."""

    def __init__(
        self, error: RemoteError, *, sent: bool, retryable: bool, wait: float | None = None
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.sent = sent  # the request may have reached the server
        self.retryable = retryable
        self.wait = wait  # Retry-After, when the server gave one


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date.

    Returns None when the header is missing or unreadable; never a negative number.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" dates parse as naive; HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, delta)


def status_error(
    remote: str, where: str, status: int, body: Any, retry_after: str | None
) -> Attempt:
    """The failed attempt an HTTP error status stands for: which error, whether the request
    may have been applied, whether to retry and after how long (``Retry-After``)."""
    detail = error_detail(body)
    message = f"{where}: HTTP {status}" + (f": {detail}" if detail else "")
    if status in (401, 403):
        return Attempt(
            AuthError(
                message,
                remote=remote,
                status=status,
                hint=f"check the {remote} token in the connector settings",
            ),
            sent=True,
            retryable=False,
        )
    if status == 404:
        return Attempt(NotFound(message, remote=remote, status=status), sent=True, retryable=False)
    if status in (409, 412):
        hint = "the object changed since it was read; read it again and retry"
        return Attempt(
            Conflict(message, remote=remote, status=status, hint=hint),
            sent=True,
            retryable=False,
        )
    wait = parse_retry_after(retry_after) if status in (429, 503) else None
    if status == 429:
        # A rate-limited request is refused before it is processed: safe to repeat.
        return Attempt(
            RateLimited(message, remote=remote, retry_after=wait),
            sent=False,
            retryable=True,
            wait=wait,
        )
    if status in RETRYABLE_STATUSES:
        return Attempt(
            TransientError(message, remote=remote, status=status),
            sent=True,
            retryable=True,
            wait=wait,
        )
    return Attempt(RemoteError(message, remote=remote, status=status), sent=True, retryable=False)


def attempt_timeout(remote: str, where: str, what: str, timeout: float, deadline: float) -> Attempt:
    """An attempt that ran out of time: it may have reached the server, and may be retried."""
    error = TransientError(
        f"{where}: {what} (timeout {timeout:g}s, deadline {deadline:g}s)",
        remote=remote,
    )
    return Attempt(error, sent=True, retryable=True)


def exhausted(remote: str, failed: Attempt, attempt: int) -> RemoteError:
    """The error a call ends with when its retries ran out, saying how many tries it took."""
    error = failed.error
    tries = f"after {plural(attempt, 'attempt')}"
    message = f"{error.message.removeprefix(f'{remote}: ')} ({tries})"
    if isinstance(error, RateLimited):
        return RateLimited(message, remote=remote, retry_after=error.retry_after)
    return type(error)(message, remote=remote, status=error.status, hint=error.hint)


def after_retry(remote: str, error: RemoteError) -> RemoteError:
    """A 404/409/412 on a retry may only mean that the first attempt did the work."""
    note = "an earlier attempt whose answer was lost may already have applied this change"
    message = f"{error.message.removeprefix(f'{remote}: ')} ({note})"
    return type(error)(message, remote=remote, status=error.status, hint=error.hint)


def unknown_outcome(remote: str, method: str, path: str, error: RemoteError) -> OutcomeUnknown:
    """A write that may or may not have taken effect: the caller looks the object up."""
    return OutcomeUnknown(
        f"{error.message.removeprefix(f'{remote}: ')}; the {method} may or may not "
        "have taken effect",
        remote=remote,
        status=error.status,
        hint=f"look the object up before sending {method} {path} again",
    )


def bad_response(remote: str, message: str) -> BadResponse:
    """A 2xx answer that cannot be read (never retried: the server did the work)."""
    return BadResponse(redact.redact(message), remote=remote)


def error_detail(body: Any) -> str:
    """A short reason from a JSON error body: ``{"error": {"code", "message"}}``."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
        details = error.get("details")
        problems = details.get("errors") if isinstance(details, dict) else None
        causes: list[str] = []
        for problem in problems[:5] if isinstance(problems, list) else []:
            if isinstance(problem, dict):
                cause = f"{problem.get('field', '?')}: {problem.get('message', '?')}"
                if cause not in causes:
                    causes.append(cause)
        parts = [code] if isinstance(code, str) and code else []
        # The message often repeats the first cause ("x: ... (and 2 more)"): each once.
        if (
            isinstance(message, str)
            and message
            and not any(message.startswith(cause) for cause in causes)
        ):
            parts.append(message)
        return redact.redact("; ".join(parts + causes)[:500])
    if isinstance(error, str):
        return redact.redact(error[:300])
    return ""
