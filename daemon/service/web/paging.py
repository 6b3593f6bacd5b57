"""The query string of a console page: its filters, read safely, and its pagination.

A long list is read one page at a time: a page of ``size`` rows asks the history for
``size + 1``, so it knows whether a next page exists without counting them all; a page
never reads more than ``MAX_PAGE`` pages deep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

T = TypeVar("T")

PAGE_SIZE = 50
MAX_PAGE = 1000
MAX_TEXT = 200  # characters of a search text


def text(query: Mapping[str, str], key: str) -> str:
    """The query's ``key``, stripped and cut to ``MAX_TEXT``; empty when absent."""
    return (query.get(key) or "").strip()[:MAX_TEXT]


def choice(query: Mapping[str, str], key: str, choices: Sequence[str], default: str = "") -> str:
    """The query's ``key`` when it is one of ``choices``, else ``default``."""
    value = text(query, key)
    return value if value in choices else default


def whole(query: Mapping[str, str], key: str) -> int | None:
    """The query's ``key`` as a positive whole number, or None."""
    value = text(query, key)
    return int(value) if value.isdigit() and 0 < len(value) < 12 else None


class Paging:
    """Page ``page`` (from 1) of a list at ``path``, filtered by ``filters`` (kept in the
    links to the other pages)."""

    def __init__(
        self, path: str, query: Mapping[str, str], filters: Mapping[str, Any], size: int = PAGE_SIZE
    ) -> None:
        self.path = path
        self.filters = {k: v for k, v in filters.items() if v not in (None, "", False)}
        self.size = size
        self.number = min(whole(query, "page") or 1, MAX_PAGE)
        self.has_next = False

    @property
    def limit(self) -> int:
        """Rows to ask for: one more than a page, to know whether another follows."""
        return self.size + 1

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    def cut(self, rows: Sequence[T]) -> list[T]:
        """This page's rows of the ``limit`` read; notes whether a next page exists."""
        self.has_next = len(rows) > self.size and self.number < MAX_PAGE
        return list(rows[: self.size])

    def href(self, number: int) -> str:
        kept = {**self.filters, **({"page": number} if number > 1 else {})}
        return self.path + ("?" + urlencode(kept) if kept else "")

    @property
    def previous(self) -> str | None:
        return self.href(self.number - 1) if self.number > 1 else None

    @property
    def next(self) -> str | None:
        return self.href(self.number + 1) if self.has_next else None
