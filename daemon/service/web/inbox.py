"""The console's first page: the "needs a person" inbox (``daemon.store.attention``).

Each item says what is wrong, who must act (ORDRE, Zedonk or the catalogue), since when, and
the exact command or place that fixes it, and links to the order, product or run it is about.
Acknowledged items follow the open ones, with their notes. Filters: who must act, and the
kind; ``PAGE_SIZE`` items a page. Acknowledging is the command's (``zedonk-ordre attention
ack``): the console only reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from daemon.core.attention import KINDS, AttentionItem
from daemon.service.web.paging import Paging, choice
from daemon.service.web.render import render
from daemon.store.attention import inbox
from daemon.store.history import History

WHO = ("ORDRE", "Zedonk", "catalogue")
MAX_DETAILS = 20  # detail lines shown with one item
KIND_WORDS = {kind: kind.replace("_", " ") for kind in KINDS}


def link(item: AttentionItem) -> tuple[str, str] | None:
    """(address, words) of the console page about ``item``, or None."""
    target = item.link
    if "order" in target:
        return f"/orders/{quote(str(target['order']), safe='')}", f"order {target['order']}"
    if "product" in target:
        key = str(target["product"])
        return f"/catalogue?{urlencode({'q': key})}#p-{quote(key, safe='/')}", f"product {key}"
    if "run" in target:
        return f"/runs/{int(target['run'])}", f"run {target['run']}"
    return None


def _shown(item: AttentionItem) -> dict[str, Any]:
    return {
        "item": item,
        "kind_words": KIND_WORDS.get(item.kind, item.kind),
        "details": item.details[:MAX_DETAILS],
        "more_details": max(0, len(item.details) - MAX_DETAILS),
        "link": link(item),
    }


def page(history: History | None, query: Mapping[str, str]) -> str:
    """``/``, with the filters ``who``, ``kind`` and ``page``."""
    who = choice(query, "who", WHO)
    kind = choice(query, "kind", KINDS)
    paging = Paging("/", query, {"who": who, "kind": kind})
    context: dict[str, Any] = {"counts": None, "by_who": {}, "items": [], "acknowledged": 0}
    if history is not None:
        found = inbox(history, now=datetime.now(UTC))
        kept = [
            item
            for item in found.items
            if (not who or item.who == who) and (not kind or item.kind == kind)
        ]
        shown = paging.cut(kept[paging.offset : paging.offset + paging.limit])
        context = {
            "counts": found.counts(),
            "by_who": {w: sum(1 for item in found.open if item.who == w) for w in WHO},
            "items": [_shown(item) for item in shown],
            "matching": len(kept),
        }
    return render(
        "inbox.html",
        path="/",
        title="Needs a person",
        subtitle="what is wrong, who must act and how to fix it; most urgent first",
        has_history=history is not None,
        filters={"who": who, "kind": kind},
        who_choices=WHO,
        kind_choices=KIND_WORDS,
        paging=paging,
        **context,
    )
