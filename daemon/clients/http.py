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
that shortens every connect, read and write to the time the current attempt has left
(``transport.py``). How each failure is told, and whether it may be retried, is
``failures.py``.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

import httpx

from daemon import __version__, redact
from daemon.clients.failures import (
    Attempt,
    after_retry,
    attempt_timeout,
    bad_response,
    exhausted,
    status_error,
    unknown_outcome,
)
from daemon.clients.fields import parse_json
from daemon.clients.pages import Helpers, walk
from daemon.clients.pages import ahead as pages_ahead
from daemon.clients.transport import attempt_ends, deadline_transport
from daemon.errors import (
    Conflict,
    NotFound,
    RemoteError,
    TransientError,
)

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
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


# A pass calls the same few URLs over and over (every create, every page of a listing).
_url = functools.lru_cache(maxsize=256)(httpx.URL)


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
        self._helpers = Helpers(remote)
        # Room for the import's creates in flight and one call beside them, all kept open.
        self._transport = transport or deadline_transport(
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
        self._helpers.close()
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

    def paginate(self, path: str, **options: Any) -> Iterator[Any]:
        """Yield every raw item of a cursor-paginated listing (``options``: as ``pages``)."""
        for items in self.pages(path, **options):
            yield from items

    def pages(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        items_key: str = "items",
        cursor_key: str = "next_cursor",
        cursor_param: str = "cursor",
        ahead: bool = False,
        last: dict[str, Any] | None = None,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Iterator[list[Any]]:
        """Yield the raw items of a cursor-paginated listing, a page (a list) at a time; with
        ``ahead``, the next page is read on a helper thread while the caller works on the last
        one (``daemon.clients.pages.ahead``). ``last`` receives what the last page holds
        beside its items (a ``sync_token``), before that page is yielded. ``decode`` parses a
        page's bytes in place of ``json`` (``daemon.clients.typed``)."""
        get = partial(self._page_body, decode=decode)
        read = partial(
            walk, get, self.remote, path, params, items_key, cursor_key, cursor_param, last
        )
        return pages_ahead(read, self._helpers) if ahead else read()

    def _page_body(
        self, path: str, query: Mapping[str, Any], decode: Callable[[bytes], Any] | None
    ) -> Any:
        return self.request("GET", path, params=query, decode=decode).body

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
        decode: Callable[[bytes], Any] | None = None,
    ) -> Reply:
        """One call with retries. Raises a ``RemoteError`` subclass on failure. ``decode``
        parses a successful answer's bytes in place of ``json`` (``parse_json``)."""
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
                return self._once(method, path, params, content, headers, decode)
            except Attempt as failed:
                may_retry = failed.retryable and (idempotent or not failed.sent)
                if not may_retry:
                    if failed.sent and not idempotent and failed.retryable:
                        raise unknown_outcome(self.remote, method, path, failed.error) from None
                    if maybe_applied and isinstance(failed.error, Conflict | NotFound):
                        raise after_retry(self.remote, failed.error) from None
                    raise failed.error from None
                maybe_applied = maybe_applied or failed.sent
                wait = self._wait(failed, attempt)
                out_of_tries = attempt >= policy.attempts
                over_budget = self._clock() - started + wait > policy.budget
                if out_of_tries or over_budget:
                    raise exhausted(self.remote, failed, attempt) from None
                log.info(
                    "%s; retry %d/%d in %.2fs",
                    failed.error.message,
                    attempt,
                    policy.attempts - 1,
                    wait,
                )
                self._sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _wait(self, failed: Attempt, attempt: int) -> float:
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
        decode: Callable[[bytes], Any] | None = None,
    ) -> Reply:
        where = f"{method} {path}"
        until = self._clock() + self.deadline
        # The wait for a pooled connection comes first and stays within the deadline; the
        # network backend bounds every connect, write and read after it (``attempt_ends``).
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
        ends = attempt_ends.set(ends_at)
        try:
            response = self._transport.handle_request(request)
            try:
                raw = bytearray()
                for chunk in response.iter_bytes():  # decoded, as Content-Encoding says
                    raw += chunk
                    if self._clock() > until:
                        raise attempt_timeout(
                            self.remote,
                            where,
                            "the answer arrived too slowly",
                            self.timeout,
                            self.deadline,
                        )
                    if len(raw) > MAX_BODY_BYTES:
                        raise Attempt(
                            bad_response(
                                self.remote, f"{where}: answer larger than {MAX_BODY_BYTES} bytes"
                            ),
                            sent=True,
                            retryable=False,
                        )
            finally:
                response.close()
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise Attempt(
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
            raise Attempt(
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
            raise attempt_timeout(self.remote, where, what, self.timeout, self.deadline) from None
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise Attempt(
                TransientError(
                    f"{where}: connection failed ({type(exc).__name__}: {self._scrub(str(exc))})",
                    remote=self.remote,
                ),
                sent=True,
                retryable=True,
            ) from None
        finally:
            attempt_ends.reset(ends)
        return _reply(self.remote, where, response, bytes(raw), decode)

    def _scrub(self, text: str) -> str:
        """Never let a secret into a message, in any form, even if a server echoes it."""
        return redact.redact(text)


def _reply(
    remote: str,
    where: str,
    response: httpx.Response,
    raw: bytes,
    decode: Callable[[bytes], Any] | None = None,
) -> Reply:
    """The answer's Reply, its body parsed by ``decode`` (a success) or ``parse_json``; raises
    the status's error, or a non-retryable Attempt for a success that is not JSON."""
    status = response.status_code
    body: Any = None
    parse_error = ""
    if raw.strip():
        parse = decode if decode is not None and 200 <= status < 300 else parse_json
        try:
            body = parse(raw)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            parse_error = str(exc)
    if 200 <= status < 300:
        if parse_error:
            raise Attempt(
                bad_response(remote, f"{where}: answer is not valid JSON ({parse_error})"),
                sent=True,
                retryable=False,
            )
        headers = {k.lower(): v for k, v in response.headers.items()}
        return Reply(status, body, response.headers.get("etag"), headers)
    raise status_error(remote, where, status, body, response.headers.get("retry-after"))
