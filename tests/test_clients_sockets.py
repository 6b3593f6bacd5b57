"""The shared HTTP session over real loopback sockets: servers that drip, one that hangs up.

MockTransport cannot show that httpx's per-read timeout lets a dripping server run on; these
tests use a tiny raw TCP server so the deadline is checked against real I/O.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from daemon.clients.http import HttpSession, RetryPolicy
from daemon.errors import OutcomeUnknown, TransientError

Behaviour = Callable[[socket.socket, bytes], None]  # the connection and its request line


class Server:
    def __init__(self, url: str, hits: list[int]) -> None:
        self.url = url
        self.hits = hits


def serve(behaviour: Behaviour) -> Iterator[Server]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    hits: list[int] = []

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            request = _read_request(conn)
            with contextlib.suppress(OSError):
                behaviour(conn, request)

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            hits.append(1)
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{listener.getsockname()[1]}", hits)
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
            while len(rest) < length:
                rest += conn.recv(65536)
    return head.partition(b"\r\n")[0]


def drip(conn: socket.socket, request: bytes) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"
    )
    for _ in range(400):
        conn.sendall(b" ")
        time.sleep(0.1)


HEADER_GAP = 0.1  # well within the 0.4 s read timeout of ``quick_session``


def drip_headers(conn: socket.socket, request: bytes) -> None:
    """Headers a byte at a time for 3 s, then a valid answer: only a whole-attempt bound cuts it."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Pad: ")
    for _ in range(int(3.0 / HEADER_GAP)):
        conn.sendall(b"a")
        time.sleep(HEADER_GAP)
    conn.sendall(b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")


OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def answer_twice(conn: socket.socket, request: bytes) -> None:
    """Two answers on one kept-alive connection."""
    conn.sendall(OK)
    _read_request(conn)
    conn.sendall(OK)


def slow_or_quick(conn: socket.socket, request: bytes) -> None:
    """``/slow`` drips its headers; anything else is answered at once."""
    if request.split(b" ")[1] == b"/slow":
        drip_headers(conn, request)
    else:
        conn.sendall(OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))


def hang_up(conn: socket.socket, request: bytes) -> None:
    conn.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def dripping() -> Iterator[Server]:
    yield from serve(drip)


@pytest.fixture
def dripping_headers() -> Iterator[Server]:
    yield from serve(drip_headers)


@pytest.fixture
def keeping_alive() -> Iterator[Server]:
    yield from serve(answer_twice)


@pytest.fixture
def slow_and_quick() -> Iterator[Server]:
    yield from serve(slow_or_quick)


@pytest.fixture
def hanging_up() -> Iterator[Server]:
    yield from serve(hang_up)


def session(url: str, attempts: int = 1) -> HttpSession:
    return HttpSession(
        "ordre",
        url,
        "tok",
        timeout=0.5,
        deadline=1.0,
        retry=RetryPolicy(attempts=attempts, backoff_base=0.01),
    )


def test_a_dripping_server_is_cut_off_at_the_deadline(dripping: Server) -> None:
    started = time.monotonic()
    with session(dripping.url) as s, pytest.raises(TransientError, match="too slowly"):
        s.get("/collections")
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 2.0  # each byte came well within the 0.5 s read timeout


def quick_session(url: str, attempts: int) -> HttpSession:
    return HttpSession(
        "ordre",
        url,
        "tok",
        timeout=0.4,
        deadline=0.6,
        retry=RetryPolicy(attempts=attempts, backoff_base=0.01),
    )


MARGIN = 0.4  # scheduling slack on a loaded machine; far below the 3 s the headers drip for


def test_dripping_headers_on_get_are_cut_off_at_the_deadline_then_retried(
    dripping_headers: Server,
) -> None:
    started = time.monotonic()
    s = quick_session(dripping_headers.url, attempts=2)
    with s, pytest.raises(TransientError, match="too slowly") as caught:
        s.get("/collections")
    elapsed = time.monotonic() - started
    assert not isinstance(caught.value, OutcomeUnknown)
    assert "after 2 attempts" in str(caught.value)
    assert len(dripping_headers.hits) == 2
    assert 2 * 0.6 <= elapsed < 2 * 0.6 + MARGIN


def test_dripping_headers_on_a_create_are_outcome_unknown_and_sent_once(
    dripping_headers: Server,
) -> None:
    started = time.monotonic()
    s = quick_session(dripping_headers.url, attempts=3)
    with s, pytest.raises(OutcomeUnknown, match="too slowly"):
        s.post("/orders", {"ref": "R1"})
    elapsed = time.monotonic() - started
    assert len(dripping_headers.hits) == 1
    assert 0.6 <= elapsed < 0.6 + MARGIN


def test_a_pooled_connection_gets_a_fresh_deadline_each_attempt(keeping_alive: Server) -> None:
    with quick_session(keeping_alive.url, attempts=1) as s:
        assert s.get("/collections").body == {}
        time.sleep(0.7)  # longer than the first attempt's deadline
        assert s.get("/collections").body == {}
    assert len(keeping_alive.hits) == 1


def test_each_thread_keeps_its_own_deadline(slow_and_quick: Server) -> None:
    """Quick calls from one thread must not move the deadline of a slow call in another."""
    s = quick_session(slow_and_quick.url, attempts=1)
    outcome: list[BaseException | float] = []

    def slow_call() -> None:
        started = time.monotonic()
        try:
            s.get("/slow")
        except TransientError:
            outcome.append(time.monotonic() - started)
        except BaseException as exc:  # reported by the assertion below
            outcome.append(exc)

    with s:
        slow = threading.Thread(target=slow_call)
        slow.start()
        quick_calls = 0
        while slow.is_alive() and quick_calls < 100:
            assert s.get("/quick").body == {}
            quick_calls += 1
            time.sleep(0.05)
        slow.join()
    assert quick_calls >= 5
    assert len(outcome) == 1
    assert isinstance(outcome[0], float), outcome
    assert 0.6 <= outcome[0] < 0.6 + MARGIN


def test_a_dropped_connection_on_get_is_retried_then_reported(hanging_up: Server) -> None:
    with session(hanging_up.url, attempts=3) as s, pytest.raises(TransientError) as caught:
        s.get("/collections")
    assert len(hanging_up.hits) == 3
    assert "after 3 attempts" in str(caught.value)
    assert not isinstance(caught.value, OutcomeUnknown)


def test_a_dropped_connection_on_post_is_outcome_unknown(hanging_up: Server) -> None:
    with session(hanging_up.url, attempts=3) as s, pytest.raises(OutcomeUnknown):
        s.post("/orders", {"ref": "R1"})
    assert len(hanging_up.hits) == 1


def test_nothing_listening_is_a_connect_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    s = session(f"http://127.0.0.1:{port}", attempts=2)
    with s, pytest.raises(TransientError, match="cannot connect") as caught:
        s.post("/orders", {})
    assert not isinstance(caught.value, OutcomeUnknown)
