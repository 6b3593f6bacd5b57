"""A cursor-paginated listing read a page at a time, and the next page read ahead of its reader.

``HttpSession.pages`` and ``paginate`` are built on these two: ``walk`` follows the cursors,
``ahead`` runs a walk on a helper thread (``Helpers``) while its caller works on the last page.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from daemon.clients.failures import bad_response


def walk(
    get: Callable[[str, Mapping[str, Any]], Any],
    remote: str,
    path: str,
    params: Mapping[str, Any] | None,
    items_key: str,
    cursor_key: str,
    cursor_param: str,
    last: dict[str, Any] | None = None,
) -> Iterator[list[Any]]:
    """The raw items of ``path``, a page (a list) at a time; ``get(path, query)`` answers a
    page's JSON body, and ``last`` receives what the last page holds beside its items. Raises
    BadResponse for a page without its items or a cursor that repeats."""
    query = dict(params or {})
    seen: set[str] = set()
    where = f"GET {path}"
    while True:
        body = get(path, query)
        if not isinstance(body, dict):
            raise bad_response(remote, f"{where}: expected a JSON object with {items_key!r}")
        items = body.get(items_key)
        if not isinstance(items, list):
            raise bad_response(remote, f"{where}: {items_key!r} is missing or not a list")
        cursor = body.get(cursor_key)
        if cursor is None or cursor == "":
            if last is not None:
                last.update((k, v) for k, v in body.items() if k != items_key)
            yield items
            return
        if not isinstance(cursor, str | int) or str(cursor) in seen:
            raise bad_response(
                remote, f"{where}: {cursor_key!r} is invalid or repeats ({cursor!r})"
            )
        seen.add(str(cursor))
        query[cursor_param] = str(cursor)
        yield items


def ahead(read: Callable[[], Iterator[list[Any]]], helpers: Helpers) -> Iterator[list[Any]]:
    """The pages of ``read()``, read on a helper thread: it asks for the next page as soon as it
    has read one, while the caller works on that one. Never more than one request of the
    listing is in flight, but the remote's time and the caller's overlap (the helper sends each
    request while it still holds the interpreter, instead of waiting for the caller to let go
    of it). For listings read to the end: a caller that stops early leaves one page read for
    nothing. An error on the helper is raised in the caller's thread."""
    handed: queue.Queue[tuple[list[Any] | None, BaseException | None]] = queue.Queue(1)
    stop = threading.Event()
    closing = helpers.closing

    def hand(item: tuple[list[Any] | None, BaseException | None]) -> bool:
        """Wait for the caller to take ``item``; False once the caller or the session has
        stopped listening (a caller that raised may not have closed this generator yet)."""
        while True:
            try:
                handed.put(item, timeout=0.05)
                return True
            except queue.Full:
                if stop.is_set() or closing.is_set():
                    return False

    def produce() -> None:
        try:
            for page in read():
                if not hand((page, None)) or stop.is_set():
                    return
            hand((None, None))
        except BaseException as exc:  # handed to the caller's thread, raised there
            hand((None, exc))

    producing = helpers.pool().submit(produce)
    try:
        while True:
            page, error = handed.get()
            if error is not None:
                raise error
            if page is None:
                return
            yield page
    finally:
        stop.set()
        while not producing.done():  # let the helper finish its page and go
            with contextlib.suppress(queue.Empty):
                handed.get(timeout=0.05)


class Helpers:
    """The threads that read a session's listings ahead of their callers, made when first
    needed; ``close`` stops them and waits for them, even one whose caller raised without
    closing its listing."""

    def __init__(self, remote: str) -> None:
        self._remote = remote
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.closing = threading.Event()  # set by close: a helper waiting on its caller gives up

    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=4, thread_name_prefix=f"{self._remote}-pages"
                )
            return self._pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            closing, self.closing = self.closing, threading.Event()
        closing.set()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
