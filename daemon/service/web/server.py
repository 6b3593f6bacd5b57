"""The status page's HTTP server: uvicorn on a thread of the daemon, with bounded connections.

A daemon under systemd may open 1,024 files (``LimitNOFILE``'s default soft limit), and the
history, the locks, the watcher and the passes' pipes need some of them. So the server never
holds more than ``MAX_CONNECTIONS`` connections: a new one beyond that closes the connection
that has been idle longest (as nginx reuses its idle keep-alive connections when it runs out),
or is answered 503 when every connection has a request in flight. A connection must send a
whole request head within ``HEAD_TIMEOUT`` seconds of opening (or of its last answer), its
head may not pass ``MAX_HEAD`` bytes, and an idle keep-alive connection is closed after
``KEEP_ALIVE`` seconds. So a thousand idle or slow clients cannot take the page, or
``/healthz``, away from the one that asks next. The application (``app.py``) bounds how long
one answer may take.

Run like the sandboxes run theirs (``daemon/sandbox/server.py``): the socket is bound here,
so a taken port fails the start at once, and uvicorn serves it on its own thread and event
loop until ``stop()``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_CONNECTIONS = 200  # open at once; with the rest of the daemon, far below 1,024 files
HEAD_TIMEOUT = 10.0  # seconds to send a request's head
KEEP_ALIVE = 5.0  # seconds an idle keep-alive connection stays open
MAX_HEAD = 16 * 1024  # bytes of request line and headers
BACKLOG = 128  # connections the kernel queues before the server accepts them
STARTUP_SECONDS = 10.0

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 23\r\nconnection: close\r\n\r\ntoo many requests; retry"
)


class BoundedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, with the connection limit and the head timeout."""

    idle_since: float | None
    _head_timer: asyncio.TimerHandle | None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.idle_since = time.monotonic()
        self._head_timer = None
        if len(self.connections) > MAX_CONNECTIONS and not self._make_room():
            transport.write(_BUSY)
            transport.close()
            return
        self._arm_head_timer()

    def _make_room(self) -> bool:
        """Close the connection idle longest, to make room for this one; False when every
        other connection has a request in flight."""
        idle = [
            c
            for c in self.connections
            if c is not self and isinstance(c, BoundedH11Protocol) and c.is_idle()
        ]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c.idle_since or 0.0)
        oldest.close_idle()
        self.connections.discard(oldest)
        return True

    def close_idle(self) -> None:
        """Close this idle connection, telling HTTP when it can."""
        try:
            self.shutdown()
        except Exception:  # h11 refuses the close in some states: close it all the same
            self.transport.close()

    def is_idle(self) -> bool:
        """No request in flight: none yet, or the last one answered."""
        return self.cycle is None or self.cycle.response_complete

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_timed_out)

    def _head_timed_out(self) -> None:
        # A request in flight is the application's to bound; an idle connection that has not
        # sent a whole head by now is closed.
        self._head_timer = None
        if self.is_idle() and not self.transport.is_closing():
            self.close_idle()

    def handle_events(self) -> None:
        super().handle_events()
        if not self.is_idle():
            self.idle_since = None

    def on_response_complete(self) -> None:
        self.idle_since = time.monotonic()
        if not self.transport.is_closing():
            self._arm_head_timer()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)


class WebServer:
    """Serves an ASGI ``app`` on ``listen`` (host, port; port 0 picks a free one) from a
    thread of its own, until ``stop()``. Raises ``OSError`` when the address cannot be
    bound, and ``RuntimeError`` when the server does not start."""

    def __init__(self, app: Any, listen: tuple[str, int]) -> None:
        host, port = listen
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # proto=IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted sockets
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            raise
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            http=BoundedH11Protocol,
            ws="none",
            lifespan="off",
            log_config=None,  # uvicorn logs through the daemon's own handlers
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            server_header=False,
            # Above MAX_CONNECTIONS, so that it never refuses what the protocol admitted.
            limit_concurrency=MAX_CONNECTIONS + 1,
            backlog=BACKLOG,
            timeout_keep_alive=int(KEEP_ALIVE),
            timeout_graceful_shutdown=2,
            h11_max_incomplete_event_size=MAX_HEAD,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}/"

    def start(self) -> None:
        self._socket.listen(BACKLOG)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._socket])),
            name="web",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server.should_exit = True
                raise RuntimeError(f"the web server on {self.url} did not start")
            time.sleep(0.01)

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout)
            self._thread = None
        self._socket.close()

    @property
    def connections(self) -> int:
        """Connections open now (for tests and /metrics)."""
        return len(self._server.server_state.connections)
