"""Warm reads: both remotes read through the read cache, each list asked only for what changed
since the last pass (``daemon.clients.feeds``, ``daemon.store.readcache``).

A pass ``fetch``es first, over the network alone: per list, its changes since the cached
token, or the whole list where the cache has no token, the token expired or the remote offers
no changes. ``unchanged`` then says whether anything changed at all, which lets the daemon's
pass stop there when the last plan from the same lists and tree changed nothing; otherwise
``snapshots`` applies the changes to the cached items, writes the cache and maps the lists,
sorted as the remotes sort them, with the clients' own readers: what a cold read would give.

A ``full`` pass (the daemon's ``full_read_interval``) reads every list whole as well and
compares it with the warm state; a difference is a cache defect (``defects``), and the whole
read wins. Keys that changed while the whole read ran are left out of the comparison.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon import __version__
from daemon.clients.base import ApiClient
from daemon.clients.feeds import Changed, Feed, Whole, in_order, keyed, storable
from daemon.clients.lists import ORDRE_FEEDS, ZEDONK_FEEDS
from daemon.clients.ordre import OrdreClient
from daemon.clients.zedonk import ZedonkClient
from daemon.core.plan import OrdreSnapshot
from daemon.core.resolve import ZedonkSnapshot
from daemon.errors import BadResponse
from daemon.store.history import History
from daemon.store.readcache import ReadCache, Unreadable
from daemon.tree.catalogue import tree_digest
from daemon.tree.settings import Settings

log = logging.getLogger(__name__)


def open_cache(directory: Path, settings: Settings) -> ReadCache | None:
    """The read cache in ``directory`` for the remotes ``settings`` name; None (and a log
    line) when the folder cannot hold it: the pass then reads everything."""
    origins = {
        "zedonk": settings.zedonk.url,
        "ordre": settings.ordre.url,
        # The accounts as well as the addresses: two brands on one shared host never read each
        # other's cache. A digest, never the tokens; a rotated token costs one full read.
        "accounts": account_digest(settings),
    }
    try:
        return ReadCache(directory, origins)
    except (OSError, sqlite3.Error) as exc:  # the cache is only a help
        log.warning("cannot use a read cache in %s (%s); every list is read whole", directory, exc)
        return None


def account_digest(settings: Settings) -> str:
    """A short digest (12 hex digits of SHA-256) of both remotes' tokens: which accounts a
    cache was read with, without keeping anything that gives the tokens back."""
    tokens = f"{settings.zedonk.token.resolve()}\n{settings.ordre.token.resolve()}"
    return hashlib.sha256(f"zedonk-ordre read cache\n{tokens}".encode()).hexdigest()[:12]


def fetch_warm(
    cache: ReadCache, settings: Settings, zedonk: ZedonkClient, ordre: OrdreClient
) -> WarmReads:
    """The daemon's warm reads, fetched: whole as well when ``daemon.full_read_interval``
    has passed since the last full read. Raises the remotes' errors."""
    at = cache.full_read_at()
    full = at is None or time.time() - at >= settings.daemon.full_read_interval
    reads = WarmReads(cache, zedonk, ordre, full=full)
    reads.fetch()
    return reads


def record_defects(reads: WarmReads, history: History, run_id: int) -> None:
    """A ``cache-defect`` warning in run ``run_id`` for each list a full read found the warm
    state of wrong (the full read was used)."""
    for defect in reads.defects:
        history.record_event(
            "warning",
            "cache-defect",
            f"the read cache differed from a full read: {defect.describe()}; the full read "
            "was used",
            subject=f"{defect.remote}:{defect.name}",
            details=defect.to_json(),
            run_id=run_id,
        )


def converged_mark(settings: Settings, *, strict: bool = False) -> str:
    """What a plan depends on besides the lists: this version, the tree's files, ``strict``."""
    what = f"{__version__}\0{tree_digest(settings.root)}\0{strict}"
    return hashlib.sha256(what.encode()).hexdigest()


@dataclass
class ListRead:
    """One list's reads in a pass."""

    feed: Feed
    token: str | None  # the cache's, asked from
    whole: Whole | None = None  # the list read whole
    changed: Changed | None = None  # what changed since ``token``
    moving: Changed | None = None  # a full read: what changed while it ran
    from_cache: bool = False  # its items are the cache's, brought up to date

    @property
    def objects(self) -> int:
        """How many objects the remote sent for this list."""
        return sum(
            len(part.items) + len(getattr(part, "deleted", ()))
            for part in (self.whole, self.changed, self.moving)
            if part is not None
        )


@dataclass(frozen=True)
class Defect:
    """Where the warm state of a list differs from a whole read of it: keys the cache lacks,
    keys it holds that are gone, and keys whose content differs."""

    remote: str
    name: str
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    differ: tuple[str, ...]

    def describe(self) -> str:
        parts = [
            f"{len(keys)} {what} ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})"
            for what, keys in (
                ("missing", self.missing),
                ("deleted but kept", self.extra),
                ("different", self.differ),
            )
            if keys
        ]
        return f"{self.remote} {self.name}: " + "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "remote": self.remote,
            "list": self.name,
            "missing": list(self.missing),
            "extra": list(self.extra),
            "differ": list(self.differ),
        }


@dataclass
class WarmReads:
    """Both remotes' lists through ``cache``: ``fetch``, then ``unchanged`` or ``snapshots``."""

    cache: ReadCache
    zedonk: ZedonkClient
    ordre: OrdreClient
    full: bool = False
    reads: list[ListRead] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)

    def fetch(self) -> None:
        """Ask each list for its changes (or read it whole); both remotes side by side.
        Raises the remotes' errors."""
        jobs = [
            (client, [ListRead(f, self.cache.token(f.remote, f.name)) for f in feeds.values()])
            for client, feeds in ((self.zedonk, ZEDONK_FEEDS), (self.ordre, ORDRE_FEEDS))
        ]
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="warm") as pool:
            done = [pool.submit(self._fetch_all, client, reads) for client, reads in jobs]
            for future in done:
                future.result()
        self.reads = [read for _, reads in jobs for read in reads]

    @property
    def unchanged(self) -> bool:
        """Every list was asked for its changes, and none changed."""
        return bool(self.reads) and all(
            read.whole is None and read.changed is not None and read.changed.empty
            for read in self.reads
        )

    @property
    def objects(self) -> int:
        """How many objects the remotes sent this pass."""
        return sum(read.objects for read in self.reads)

    def snapshots(self) -> tuple[ZedonkSnapshot, OrdreSnapshot]:
        """Both remotes as a cold read would give them; writes the cache. Raises the
        remotes' errors (a list the cache cannot serve after all is read whole now)."""
        lists = {(r.feed.remote, r.feed.name): self._mapped(r) for r in self.reads}
        if self.reads and all(read.whole is not None for read in self.reads):
            self.cache.mark_full_read(time.time())
        for defect in self.defects:
            log.warning("read cache defect: %s", defect.describe())
        zedonk = ZedonkSnapshot(
            products=tuple(lists["zedonk", "products"]),
            seasons=tuple(lists["zedonk", "seasons"]),
            customers=tuple(lists["zedonk", "customers"]),
            users=tuple(lists["zedonk", "users"]),
        )
        ordre = OrdreSnapshot(
            collections=tuple(lists["ordre", "collections"]),
            looks=tuple(lists["ordre", "looks"]),
            listings=tuple(lists["ordre", "listings"]),
            customers=tuple(lists["ordre", "customers"]),
        )
        return zedonk, ordre

    def _mapped(self, read: ListRead) -> list[Any]:
        """The list as model objects. A list served from the cache that does not map (an item
        kept wrong) is read whole and mapped again: only an item the remote sends now is
        reported as the remote's."""
        items = self._settle(read)
        if not read.from_cache:
            return read.feed.map(items)
        try:
            return read.feed.map(items)
        except BadResponse as exc:
            log.warning("the read cache cannot serve a list (%s); it is read whole", exc.message)
        feed = read.feed
        self.cache.forget(feed.remote, feed.name)
        read.changed, read.from_cache = None, False
        read.whole = self._client(feed).read_whole(feed)
        return feed.map(self._settle(read))

    # ------------------------------------------------------------------ network

    def _fetch_all(self, client: ApiClient, reads: list[ListRead]) -> None:
        for read in reads:
            self._fetch(client, read)

    def _fetch(self, client: ApiClient, read: ListRead) -> None:
        feed, token = read.feed, read.token
        if self.full:
            read.whole = client.read_whole(feed)
            read.changed = client.read_changed(feed, token) if token else None
            if read.whole.token is not None:
                read.moving = client.read_changed(feed, read.whole.token)
            return
        if token is not None:
            read.changed = client.read_changed(feed, token)
        if read.changed is None:
            read.whole = client.read_whole(feed)

    def _client(self, feed: Feed) -> ApiClient:
        return self.zedonk if feed.remote == "zedonk" else self.ordre

    # ------------------------------------------------------------------ the cache

    def _settle(self, read: ListRead) -> list[Any]:
        """The list's raw items in the remote's order, the cache brought up to date."""
        feed, cache = read.feed, self.cache
        warm = self._warm(read)
        if read.whole is None:
            if warm is not None and read.changed is not None:
                changed = read.changed
                put = _stored(feed, changed.items)
                ordered = in_order(feed, warm)
                if put is not None and ordered is not None:
                    cache.update(feed.remote, feed.name, changed.token, put, changed.deleted)
                    read.from_cache = True
                    return ordered
            # The cache cannot serve the list after all: read it whole now.
            read.whole = self._client(feed).read_whole(feed)
        whole, token = read.whole, read.whole.token
        items = keyed(feed, whole.items)
        if items is not None and read.moving is not None:
            moved = {*(_keys(feed, read.moving.items)), *read.moving.deleted}
            if warm is not None:
                self._compare(feed, warm, items, moved)
            _apply(feed, items, read.moving)
            token = read.moving.token
        stored = _stored(feed, list(items.values())) if items is not None else None
        ordered = in_order(feed, items) if items is not None else None
        if token is None or stored is None or ordered is None or items is None:
            # The remote offers no changes, or its items cannot be kept faithfully: read
            # whole every pass, in the order it sent them.
            cache.forget(feed.remote, feed.name)
            return whole.items
        cache.replace(feed.remote, feed.name, token, stored)
        return ordered

    def _warm(self, read: ListRead) -> dict[str, Any] | None:
        """The cached items with the changes since applied, or None when the cache does not
        hold the list as of the point its changes were asked from."""
        if read.changed is None or read.token is None:
            return None
        feed = read.feed
        try:
            items = self.cache.items(feed.remote, feed.name, read.token)
        except Unreadable as exc:
            log.warning("the read cache cannot serve a list (%s); it is read whole", exc)
            self.cache.forget(feed.remote, feed.name)
            return None
        if items is not None:
            _apply(feed, items, read.changed)
        return items

    def _compare(
        self, feed: Feed, warm: dict[str, Any], whole: dict[str, Any], moved: set[str]
    ) -> None:
        missing = sorted(k for k in whole.keys() - warm.keys() if k not in moved)
        extra = sorted(k for k in warm.keys() - whole.keys() if k not in moved)
        differ = sorted(
            k for k in whole.keys() & warm.keys() if k not in moved and whole[k] != warm[k]
        )
        if missing or extra or differ:
            defect = Defect(feed.remote, feed.name, tuple(missing), tuple(extra), tuple(differ))
            self.defects.append(defect)


def _keys(feed: Feed, items: list[Any]) -> list[str]:
    return [item[feed.key] for item in items]


def _apply(feed: Feed, items: dict[str, Any], changed: Changed) -> None:
    for item in changed.items:
        items[item[feed.key]] = item
    for key in changed.deleted:
        items.pop(key, None)


def _stored(feed: Feed, items: list[Any]) -> dict[str, str] | None:
    """The items as the cache keeps them (key -> JSON text); None when one cannot be kept."""
    stored: dict[str, str] = {}
    for item in items:
        text = storable(item)
        if text is None:
            return None
        stored[item[feed.key]] = text
    return stored
