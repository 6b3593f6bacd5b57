"""Shared HTTP behaviour for the remote clients: auth, timeouts, deadline, retries, pagination.

``HttpSession`` is the only place that touches httpx. It turns every transport failure and
every non-2xx answer into a ``daemon.errors.RemoteError`` subclass, so nothing above sees httpx.

Retry rules (RFC 9110 section 9.2.2):
- a connect failure means the request never left: retried for any method;
- a timeout, a dropped connection or a 5xx is retried only for idempotent requests (GET, PUT,
  DELETE, or a POST that carries an idempotency key); for any other POST the outcome is unknown
  and ``OutcomeUnknown`` is raised, so the caller resolves it by looking the object up;
- 429 and 503 wait as long as ``Retry-After`` says, clamped to ``RetryPolicy.max_retry_after``.

The deadline bounds a whole attempt (connect, send, status line, headers and body): httpx's
timeouts apply to each socket operation alone, so the connection pool runs on a network backend
that shortens every connect, read and write to the time the current attempt has left.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpcore
import httpx

from daemon import __version__, redact
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

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_BODY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries. Waits grow exponentially with full jitter.

    ``attempts`` counts every try (1 = never retry); ``budget`` bounds the whole call in
    seconds, waits included: no retry starts once it would end past the budget.
    """

    attempts: int = 4
    budget: float = 60.0
    backoff_base: float = 0.25
    backoff_max: float = 8.0
    max_retry_after: float = 120.0

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1-based): uniform in [0, cap]."""
        cap = min(self.backoff_max, self.backoff_base * 2 ** (retry - 1))
        return rng.uniform(0.0, cap)


NO_RETRY = RetryPolicy(attempts=1)  # one try: for questions asked while a person waits


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


@dataclass(frozen=True)
class Reply:
    """A successful answer: the parsed JSON body (None when empty) and its ETag."""

    status: int
    body: Any
    etag: str | None
    headers: Mapping[str, str] = field(default_factory=dict)


def _encode(value: Any) -> Any:
    """JSON for the values our bodies carry: money as a decimal string, ISO dates."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


class _Attempt(Exception):
    """One failed try, with what is needed to decide on a retry."""

    def __init__(
        self, error: RemoteError, *, sent: bool, retryable: bool, wait: float | None = None
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.sent = sent  # the request may have reached the server
        self.retryable = retryable
        self.wait = wait  # Retry-After, when the server gave one


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Building a context loads the CA bundle (~0.2 s); every client of the process shares one.
    return httpx.create_ssl_context()


# A pass calls the same few URLs over and over (every create, every page of a listing).
_url = functools.lru_cache(maxsize=256)(httpx.URL)


# When the attempt running in this thread must end (time.monotonic()); None outside an attempt.
_attempt_ends: ContextVar[float | None] = ContextVar("attempt_ends", default=None)


def _time_left(timeout: float | None, expired: type[httpcore.TimeoutException]) -> float | None:
    """``timeout`` shortened to what is left of the current attempt; ``expired`` once none is."""
    ends = _attempt_ends.get()
    if ends is None:
        return timeout
    left = ends - time.monotonic()
    if left <= 0:
        raise expired("the deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own socket backend, with every operation bounded by the attempt deadline."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, left, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _deadline_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    """httpx's own transport (TLS, pooling, error mapping) over ``_DeadlineBackend``.

    httpx does not take a network backend, so its pool is rebuilt with the same settings.
    Being an explicit transport, it also keeps httpx from routing through proxies from the
    environment: the connector talks to its remotes directly.
    """
    transport = httpx.HTTPTransport(verify=_tls_context(), limits=limits)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=_tls_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_DeadlineBackend(),
    )
    return transport


def post_once(
    url: str, body: bytes, headers: Mapping[str, str], *, timeout: float, deadline: float
) -> int:
    """POST ``body`` to ``url`` once and return the answer's status code: no retry, no
    redirect followed, no proxy from the environment, no cookie kept; the whole attempt ends
    within ``deadline`` seconds (``timeout`` bounds the connect and each read or write).

    For one-off posts outside the remotes' sessions (the webhook notices). Raises
    ``httpx.InvalidURL`` for a URL httpx cannot use and ``httpx.HTTPError`` for a transport
    failure; their messages may quote the URL.
    """
    transport = _deadline_transport(httpx.Limits(max_connections=1, max_keepalive_connections=0))
    token = _attempt_ends.set(time.monotonic() + deadline)
    try:
        with httpx.Client(
            transport=transport, timeout=min(timeout, deadline), trust_env=False
        ) as client:
            return client.post(url, content=body, headers=dict(headers)).status_code
    finally:
        _attempt_ends.reset(token)


class HttpSession:
    """One long-lived connection pool to one remote, with its token and call policy.

    Requests go straight to an httpx transport: the connector needs none of what
    ``httpx.Client`` adds on top (cookies, redirects, auth flows, event hooks), and skipping it
    saves a good share of the CPU each call costs. ``transport`` may be injected (e.g.
    ``httpx.MockTransport``); the session then leaves closing it to the caller. ``timeout``
    bounds connect and each read; ``deadline`` bounds one whole attempt, however slowly the
    server drips its headers or body (an injected transport is bounded between body chunks
    only).
    """

    def __init__(
        self,
        remote: str,
        base_url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        deadline: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.remote = remote
        self.base_url = base_url.rstrip("/")
        redact.register(token)  # sessions built from a raw token (tests, benchmarks) too
        self.timeout = timeout
        self.deadline = deadline
        self.retry = retry or RetryPolicy()
        self._sleep = sleep if sleep is not None else time.sleep
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._owns_transport = transport is None
        # Room for the import's creates in flight and one call beside them, all kept open.
        self._transport = transport or _deadline_transport(
            httpx.Limits(max_connections=4, max_keepalive_connections=4)
        )
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": f"zedonk-ordre/{__version__}",
        }

    def __repr__(self) -> str:
        return f"HttpSession(remote={self.remote!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        if self._owns_transport:
            self._transport.close()

    def __enter__(self) -> HttpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ verbs

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Reply:
        return self.request("GET", path, params=params)

    def put(
        self, path: str, body: Any, *, if_match: str | None = None, if_none_match: str | None = None
    ) -> Reply:
        return self.request(
            "PUT", path, json_body=body, if_match=if_match, if_none_match=if_none_match
        )

    def patch(self, path: str, body: Any, *, if_match: str | None = None) -> Reply:
        """A PATCH that sets fields to given values, so repeating it is safe."""
        return self.request("PATCH", path, json_body=body, if_match=if_match, idempotent=True)

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        idempotency_key: str | None = None,
        idempotent: bool = False,
    ) -> Reply:
        """``idempotent=True`` only where the remote documents that a repeat is harmless."""
        return self.request(
            "POST", path, json_body=body, idempotency_key=idempotency_key, idempotent=idempotent
        )

    def delete(self, path: str, *, if_match: str | None = None) -> Reply:
        return self.request("DELETE", path, if_match=if_match)

    def paginate(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        items_key: str = "items",
        cursor_key: str = "next_cursor",
        cursor_param: str = "cursor",
    ) -> Iterator[Any]:
        """Yield every raw item of a cursor-paginated listing, one page at a time."""
        query = dict(params or {})
        seen: set[str] = set()
        while True:
            body = self.get(path, params=query).body
            where = f"GET {path}"
            if not isinstance(body, dict):
                raise self._bad(f"{where}: expected a JSON object with {items_key!r}")
            items = body.get(items_key)
            if not isinstance(items, list):
                raise self._bad(f"{where}: {items_key!r} is missing or not a list")
            yield from items
            cursor = body.get(cursor_key)
            if cursor is None or cursor == "":
                return
            if not isinstance(cursor, str | int) or str(cursor) in seen:
                raise self._bad(f"{where}: {cursor_key!r} is invalid or repeats ({cursor!r})")
            seen.add(str(cursor))
            query[cursor_param] = str(cursor)

    # ------------------------------------------------------------------ core

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        idempotency_key: str | None = None,
        idempotent: bool = False,
    ) -> Reply:
        """One call with retries. Raises a ``RemoteError`` subclass on failure."""
        method = method.upper()
        idempotent = idempotent or method in IDEMPOTENT_METHODS or idempotency_key is not None
        headers = dict(self._headers)
        content = None
        if json_body is not None:
            content = json.dumps(json_body, default=_encode).encode()
            headers["Content-Type"] = "application/json"
        for name, value in (
            ("If-Match", if_match),
            ("If-None-Match", if_none_match),
            ("Idempotency-Key", idempotency_key),
        ):
            if value is not None:
                headers[name] = value
        started = self._clock()
        policy = self.retry
        maybe_applied = False  # an earlier attempt may have reached the server
        for attempt in range(1, policy.attempts + 1):
            try:
                return self._once(method, path, params, content, headers)
            except _Attempt as failed:
                may_retry = failed.retryable and (idempotent or not failed.sent)
                if not may_retry:
                    if failed.sent and not idempotent and failed.retryable:
                        raise self._unknown(method, path, failed.error) from None
                    if maybe_applied and isinstance(failed.error, Conflict | NotFound):
                        raise self._after_retry(failed.error) from None
                    raise failed.error from None
                maybe_applied = maybe_applied or failed.sent
                wait = self._wait(failed, attempt)
                out_of_tries = attempt >= policy.attempts
                over_budget = self._clock() - started + wait > policy.budget
                if out_of_tries or over_budget:
                    raise self._exhausted(failed, attempt) from None
                log.info(
                    "%s; retry %d/%d in %.2fs",
                    failed.error.message,
                    attempt,
                    policy.attempts - 1,
                    wait,
                )
                self._sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _wait(self, failed: _Attempt, attempt: int) -> float:
        if failed.wait is not None:
            return min(failed.wait, self.retry.max_retry_after)
        return self.retry.backoff(attempt, self._rng)

    def _once(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        content: bytes | None,
        headers: dict[str, str],
    ) -> Reply:
        where = f"{method} {path}"
        until = self._clock() + self.deadline
        # The wait for a pooled connection comes first and stays within the deadline; the
        # network backend bounds every connect, write and read after it (``_attempt_ends``).
        timeout = min(self.timeout, self.deadline)
        request = httpx.Request(
            method,
            _url(self.base_url + path),
            params=params or None,
            content=content,
            headers=headers,
            extensions={
                "timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
            },
        )
        ends_at = time.monotonic() + self.deadline
        ends = _attempt_ends.set(ends_at)
        try:
            response = self._transport.handle_request(request)
            try:
                raw = bytearray()
                for chunk in response.iter_bytes():  # decoded, as Content-Encoding says
                    raw += chunk
                    if self._clock() > until:
                        raise self._attempt_timeout(where, "the answer arrived too slowly")
                    if len(raw) > MAX_BODY_BYTES:
                        raise _Attempt(
                            self._bad(f"{where}: answer larger than {MAX_BODY_BYTES} bytes"),
                            sent=True,
                            retryable=False,
                        )
            finally:
                response.close()
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise _Attempt(
                TransientError(
                    f"{where}: cannot connect to {self.base_url} ({type(exc).__name__})",
                    remote=self.remote,
                    hint="check that the URL is right and the service is up",
                ),
                sent=False,
                retryable=True,
            ) from None
        except httpx.LocalProtocolError as exc:
            # Our own request is malformed (a header value HTTP does not allow): it was not
            # sent, and sending it again cannot help.
            raise _Attempt(
                RemoteError(
                    f"{where}: the request cannot be sent ({self._scrub(str(exc))})",
                    remote=self.remote,
                    hint="check the token and the URL in the settings for stray characters",
                ),
                sent=False,
                retryable=False,
            ) from None
        except httpx.TimeoutException:
            late = time.monotonic() >= ends_at
            what = "the answer arrived too slowly" if late else "timed out waiting for the answer"
            raise self._attempt_timeout(where, what) from None
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise _Attempt(
                TransientError(
                    f"{where}: connection failed ({type(exc).__name__}: {self._scrub(str(exc))})",
                    remote=self.remote,
                ),
                sent=True,
                retryable=True,
            ) from None
        finally:
            _attempt_ends.reset(ends)
        return self._reply(where, response, bytes(raw))

    def _reply(self, where: str, response: httpx.Response, raw: bytes) -> Reply:
        status = response.status_code
        body: Any = None
        parse_error = ""
        if raw.strip():
            try:
                body = json.loads(raw, parse_float=Decimal)  # money stays exact
            except (ValueError, UnicodeDecodeError) as exc:
                parse_error = str(exc)
        if 200 <= status < 300:
            if parse_error:
                raise _Attempt(
                    self._bad(f"{where}: answer is not valid JSON ({parse_error})"),
                    sent=True,
                    retryable=False,
                )
            headers = {k.lower(): v for k, v in response.headers.items()}
            return Reply(status, body, response.headers.get("etag"), headers)
        raise self._status_error(where, status, body, response.headers.get("retry-after"))

    def _status_error(
        self, where: str, status: int, body: Any, retry_after: str | None
    ) -> _Attempt:
        detail = self._detail(body)
        message = f"{where}: HTTP {status}" + (f": {detail}" if detail else "")
        remote = self.remote
        if status in (401, 403):
            return _Attempt(
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
            return _Attempt(
                NotFound(message, remote=remote, status=status), sent=True, retryable=False
            )
        if status in (409, 412):
            hint = "the object changed since it was read; read it again and retry"
            return _Attempt(
                Conflict(message, remote=remote, status=status, hint=hint),
                sent=True,
                retryable=False,
            )
        wait = parse_retry_after(retry_after) if status in (429, 503) else None
        if status == 429:
            # A rate-limited request is refused before it is processed: safe to repeat.
            return _Attempt(
                RateLimited(message, remote=remote, retry_after=wait),
                sent=False,
                retryable=True,
                wait=wait,
            )
        if status in RETRYABLE_STATUSES:
            return _Attempt(
                TransientError(message, remote=remote, status=status),
                sent=True,
                retryable=True,
                wait=wait,
            )
        return _Attempt(
            RemoteError(message, remote=remote, status=status), sent=True, retryable=False
        )

    def _attempt_timeout(self, where: str, what: str) -> _Attempt:
        error = TransientError(
            f"{where}: {what} (timeout {self.timeout:g}s, deadline {self.deadline:g}s)",
            remote=self.remote,
        )
        return _Attempt(error, sent=True, retryable=True)

    def _exhausted(self, failed: _Attempt, attempt: int) -> RemoteError:
        error = failed.error
        tries = f"after {plural(attempt, 'attempt')}"
        message = f"{error.message.removeprefix(f'{self.remote}: ')} ({tries})"
        if isinstance(error, RateLimited):
            return RateLimited(message, remote=self.remote, retry_after=error.retry_after)
        return type(error)(message, remote=self.remote, status=error.status, hint=error.hint)

    def _after_retry(self, error: RemoteError) -> RemoteError:
        """A 404/409/412 on a retry may only mean that the first attempt did the work."""
        note = "an earlier attempt whose answer was lost may already have applied this change"
        message = f"{error.message.removeprefix(f'{self.remote}: ')} ({note})"
        return type(error)(message, remote=self.remote, status=error.status, hint=error.hint)

    def _unknown(self, method: str, path: str, error: RemoteError) -> OutcomeUnknown:
        return OutcomeUnknown(
            f"{error.message.removeprefix(f'{self.remote}: ')}; the {method} may or may not "
            "have taken effect",
            remote=self.remote,
            status=error.status,
            hint=f"look the object up before sending {method} {path} again",
        )

    def _bad(self, message: str) -> BadResponse:
        return BadResponse(self._scrub(message), remote=self.remote)

    def _detail(self, body: Any) -> str:
        """A short reason from a JSON error body: ``{"error": {"code", "message"}}``."""
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message")
            parts = [p for p in (code, message) if isinstance(p, str) and p]
            details = error.get("details")
            problems = details.get("errors") if isinstance(details, dict) else None
            for problem in problems[:5] if isinstance(problems, list) else []:
                if isinstance(problem, dict):
                    parts.append(f"{problem.get('field', '?')}: {problem.get('message', '?')}")
            return self._scrub("; ".join(parts)[:500])
        if isinstance(error, str):
            return self._scrub(error[:300])
        return ""

    def _scrub(self, text: str) -> str:
        """Never let a secret into a message, in any form, even if a server echoes it."""
        return redact.redact(text)
