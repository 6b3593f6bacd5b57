"""What the Zedonk and ORDRE clients share: construction, closing, and calls mapped to models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Self, TypeVar
from urllib.parse import quote

import httpx

from daemon.clients import feeds
from daemon.clients.feeds import Changed, Feed, Whole
from daemon.clients.fields import BrokenItem, Fields, read_one, read_pages
from daemon.clients.http import HttpSession, RetryPolicy

T = TypeVar("T")
OnBroken = Callable[[BrokenItem], None] | None
MAX_PAGE = 200  # both APIs' documented maximum page size


class ApiClient:
    """A remote's connector API. Use as a context manager, or call ``close()``.

    ``http`` or ``transport`` inject the HTTP layer (tests); ``timeout`` bounds connecting and
    each read, ``deadline`` one whole request; ``sleep`` is what waits between retries.
    """

    remote: ClassVar[str]

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        deadline: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        page_size: int = MAX_PAGE,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be 1 to {MAX_PAGE}, got {page_size}")
        self.page_size = page_size
        self.session = HttpSession(
            self.remote,
            base_url,
            token,
            transport=transport,
            timeout=timeout,
            deadline=deadline,
            retry=retry,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.session.base_url!r})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(
        self, method: str, path: str, read: Callable[[Fields], T], body: Any = None, **options: Any
    ) -> T:
        """One request whose answer is one object, mapped by ``read``."""
        reply = self.session.request(method, path, json_body=body, **options)
        return read_one(reply.body, read, remote=self.remote, where=f"{method} {path}")

    def _list(
        self,
        path: str,
        read: Callable[[Fields], T],
        query: dict[str, str] | None = None,
        *,
        on_broken: OnBroken = None,
        id_key: str = "id",
    ) -> Iterator[T]:
        """Every item of a paginated listing, mapped by ``read``, fetched page by page (the
        next page while this one is mapped)."""
        typed = getattr(read, "typed", None)
        pages = self.session.pages(
            path,
            params={"limit": self.page_size, **(query or {})},
            ahead=True,
            decode=typed.decode if typed is not None else None,
        )
        return read_pages(
            pages, read, remote=self.remote, where=f"GET {path}", on_broken=on_broken, id_key=id_key
        )

    def read_whole(self, feed: Feed) -> Whole:
        """Every raw item of one of this remote's lists, and the point to ask for its
        changes from (``daemon.clients.feeds``)."""
        return feeds.read_whole(self.session, feed, self.page_size)

    def read_changed(self, feed: Feed, token: str, *, keyed_items: bool = True) -> Changed | None:
        """What changed in one of this remote's lists after ``token``; None: read it whole."""
        return feeds.read_changed(
            self.session, feed, token, self.page_size, keyed_items=keyed_items
        )


def seg(text: str) -> str:
    """One URL path segment: ids and listing keys may hold slashes or spaces."""
    return quote(text, safe="")


def query(**values: str | bool | None) -> dict[str, str]:
    """Query parameters, leaving out those not given; booleans as true/false."""
    return {
        key: ("true" if value else "false") if isinstance(value, bool) else value
        for key, value in values.items()
        if value is not None
    }
