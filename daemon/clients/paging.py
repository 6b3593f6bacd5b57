"""Cursor-paginated listings over one ``HttpSession``: a page at a time, or read ahead of the
caller by a helper thread."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any

from daemon.clients.failures import bad_response

if TYPE_CHECKING:
    from daemon.clients.http import HttpSession


class Pager:
    """The listings of ``session``, and the threads that read their pages ahead."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session
        self._ahead: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._ahead is not None:
            self._ahead.shutdown(wait=True, cancel_futures=True)
            self._ahead = None

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
    ) -> Iterator[list[Any]]:
        """Yield the raw items of a cursor-paginated listing, a page (a list) at a time.
        ``last`` receives what the last page holds beside its items (a ``sync_token``),
        before that page is yielded. Raises the session's errors, and ``BadResponse`` for a
        page that is not a page or a cursor that repeats.

        With ``ahead``, a helper thread reads the pages: it asks for the next page as soon as
        it has read one, while the caller works on that one. Never more than one request of
        the listing is in flight, but the remote's time and the caller's overlap (the helper
        sends each request while it still holds the interpreter, instead of waiting for the
        caller to let go of it). For listings read to the end: a caller that stops early
        leaves one page read for nothing.
        """
        read = partial(self._pages, path, params, items_key, cursor_key, cursor_param, last)
        if not ahead:
            yield from read()
            return
        handed: queue.Queue[tuple[list[Any] | None, BaseException | None]] = queue.Queue(1)
        stop = threading.Event()

        def produce() -> None:
            try:
                for page in read():
                    handed.put((page, None))
                    if stop.is_set():
                        return
                handed.put((None, None))
            except BaseException as exc:  # handed to the caller's thread, raised there
                handed.put((None, exc))

        producing = self._helper().submit(produce)
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

    def _pages(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        items_key: str,
        cursor_key: str,
        cursor_param: str,
        last: dict[str, Any] | None = None,
    ) -> Iterator[list[Any]]:
        remote = self.session.remote
        query = dict(params or {})
        seen: set[str] = set()
        where = f"GET {path}"
        while True:
            body = self.session.get(path, params=query).body
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

    def _helper(self) -> ThreadPoolExecutor:
        """The threads that read a listing's pages ahead of its caller (``pages(ahead=True)``)."""
        with self._lock:
            if self._ahead is None:
                self._ahead = ThreadPoolExecutor(
                    max_workers=4, thread_name_prefix=f"{self.session.remote}-pages"
                )
            return self._ahead
