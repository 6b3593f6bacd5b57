"""A list read whole, or by what changed in it since a point: the edge of the warm reads.

A remote's list gives a ``sync_token`` on its last page, the point the listing began at, and
``GET <list>?changed_since=<token>`` answers the objects changed since, as they are now, and
the keys of those deleted (docs/sandbox-api.md §1; for the real systems an assumption, §8).
A remote that gives no token, ends one (``410``), or answers a changes request without
``deleted`` (it ignored the parameter) is read whole: the reads cost more, never mislead.

The items stay raw JSON here, so that a list kept between passes is mapped by the same
readers as a list read whole (``Feed.map``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from daemon.clients.fields import Fields, read_pages
from daemon.clients.http import HttpSession
from daemon.errors import RemoteError

# The token is from before the remote's data was replaced (410), or not one it gave out (400:
# another remote's, after the URL in the settings changed).
NOT_SERVED = (400, 410)


@dataclass(frozen=True)
class Feed:
    """One list a plan reads: where it is, what keys its items (the key ``deleted`` names),
    the fields the remote sorts it by (docs/sandbox-api.md), and the reader of an item."""

    remote: str
    name: str
    path: str
    key: str
    order: tuple[str, ...]
    read: Callable[[Fields], Any]

    def map(self, raws: list[Any]) -> list[Any]:
        """The raw items as model objects, as a whole read maps them. Raises BadResponse for
        an item that cannot be read."""
        pages = [raws]
        where = f"GET {self.path}"
        return list(read_pages(pages, self.read, remote=self.remote, where=where, id_key=self.key))


@dataclass(frozen=True)
class Whole:
    """A list read whole: its raw items in the remote's order, and the point the listing
    began at (None when the remote offers no changes)."""

    items: list[Any]
    token: str | None


@dataclass(frozen=True)
class Changed:
    """What changed in a list after a point: the items changed, as they are now; the keys
    deleted; the point to ask from next."""

    items: list[Any]
    deleted: list[str]
    token: str

    @property
    def empty(self) -> bool:
        return not self.items and not self.deleted


def read_whole(session: HttpSession, feed: Feed, page_size: int) -> Whole:
    """Every item of ``feed``'s list, and its sync token if the remote gives one. Raises the
    remote's errors."""
    last: dict[str, Any] = {}
    items: list[Any] = []
    for page in session.pages(feed.path, params={"limit": page_size}, ahead=True, last=last):
        items += page
    token = last.get("sync_token")
    return Whole(items, token if isinstance(token, str) and token else None)


def read_changed(
    session: HttpSession, feed: Feed, token: str, page_size: int, *, keyed_items: bool = True
) -> Changed | None:
    """What changed in ``feed``'s list after ``token``; None when the remote cannot say (the
    token expired or is not its own, or the answer is not a changes answer): then read it
    whole. ``keyed_items``: None as well when an item has no key of its own (for a list that
    is kept by key). Raises the remote's other errors."""
    items: list[Any] = []
    deleted: list[Any] = []
    query: dict[str, Any] = {"changed_since": token, "limit": page_size}
    seen: set[str] = set()
    while True:
        try:
            body = session.get(feed.path, params=query).body
        except RemoteError as exc:
            if exc.status in NOT_SERVED:
                return None
            raise
        if not (
            isinstance(body, dict)
            and isinstance(body.get("items"), list)
            and isinstance(body.get("deleted"), list)
        ):
            return None
        items += body["items"]
        deleted += body["deleted"]
        cursor = body.get("next_cursor")
        if cursor is None or cursor == "":
            break
        if not isinstance(cursor, str) or cursor in seen:
            return None
        seen.add(cursor)
        query["cursor"] = cursor
    after = body.get("sync_token")
    if not isinstance(after, str) or not after:
        return None
    if not all(isinstance(key, str) for key in deleted):
        return None
    if keyed_items and keyed(feed, items) is None:
        return None
    return Changed(items, deleted, after)


def keyed(feed: Feed, items: Iterable[Any]) -> dict[str, Any] | None:
    """The items by their key; None when one has no key (not a string) or two share one."""
    found: dict[str, Any] = {}
    for item in items:
        key = item.get(feed.key) if isinstance(item, dict) else None
        if not isinstance(key, str) or key in found:
            return None
        found[key] = item
    return found


def in_order(feed: Feed, items: Mapping[str, Any]) -> list[Any] | None:
    """The items in the order the remote lists them; None when one cannot be placed (a sort
    field missing, or of another type than its neighbours')."""
    try:
        return sorted(items.values(), key=lambda item: tuple(item[f] for f in feed.order))
    except (KeyError, TypeError):
        return None


def storable(item: Any) -> str | None:
    """The item as JSON text that reads back equal; None when it holds a value JSON does not
    carry exactly (a number the client read as a Decimal)."""
    try:
        return json.dumps(item, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return None
