"""The network under every request: each attempt bounded by one overall deadline.

httpx's timeouts apply to each socket operation alone, so a server that drips its headers or
body a byte at a time could hold an attempt for ever. The connection pool here runs on
httpcore's own socket backend with every connect, read and write shortened to the time the
current attempt has left (``attempt_ends``, set by the caller around one attempt).
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Building a context loads the CA bundle (~0.2 s); every client of the process shares one.
    return httpx.create_ssl_context()


# When the attempt running in this thread must end (time.monotonic()); None outside an attempt.
attempt_ends: ContextVar[float | None] = ContextVar("attempt_ends", default=None)


def _time_left(timeout: float | None, expired: type[httpcore.TimeoutException]) -> float | None:
    """``timeout`` shortened to what is left of the current attempt; ``expired`` once none is."""
    ends = attempt_ends.get()
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


def deadline_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
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
    transport = deadline_transport(httpx.Limits(max_connections=1, max_keepalive_connections=0))
    token = attempt_ends.set(time.monotonic() + deadline)
    try:
        with httpx.Client(
            transport=transport, timeout=min(timeout, deadline), trust_env=False
        ) as client:
            return client.post(url, content=body, headers=dict(headers)).status_code
    finally:
        attempt_ends.reset(token)
