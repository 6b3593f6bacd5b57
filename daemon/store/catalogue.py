"""The catalogue as the last full pass resolved it, kept in the history for the console.

A reconcile pass (or ``apply``) that read Zedonk and resolved the whole catalogue records
its view (``daemon.core.catalogueview``: collections, looks, products, each with its main
image, barcodes per size and why it is held back) with ``record``; the console's catalogue
page reads it back with ``last``. Two rows of the ``state`` table hold it: ``catalogue`` (the
view, rewritten only when its digest changes, since a large brand's is megabytes) and
``catalogue_pass`` (small: the digest, and which pass resolved it, when), so that a pass
that changed nothing writes a few bytes.
"""

from __future__ import annotations

import threading
from typing import Any

from daemon.core.catalogueview import digest
from daemon.store.history import History, utcnow

VIEW_KEY = "catalogue"
PASS_KEY = "catalogue_pass"


def record(history: History, view: dict[str, Any], *, run_id: int | None, source: str) -> bool:
    """Keep ``view`` as the catalogue's last resolved view, resolved by ``source`` ("the
    daemon's reconcile pass", "apply") in run ``run_id``. Returns whether the view changed."""
    fingerprint = digest(view)
    with history.transaction() as conn:
        before = history.get_state(PASS_KEY, conn=conn)
        changed = before is None or before.get("digest") != fingerprint
        if changed:
            history.set_state(VIEW_KEY, view, conn=conn)
        history.set_state(
            PASS_KEY,
            {
                "digest": fingerprint,
                "run_id": run_id,
                "source": source,
                "at": utcnow(),
                "changed_at": utcnow() if changed else before.get("changed_at"),
            },
            conn=conn,
        )
    return changed


class _Cache:
    """The last view read, by digest: a page drawn every few seconds decodes it once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.digest: str | None = None
        self.view: dict[str, Any] | None = None


_cache = _Cache()


def last(history: History) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The last recorded view and its pass record (``digest``, ``run_id``, ``source``, ``at``,
    ``changed_at``), or None when no full pass has recorded one yet. Callers must not change
    the view: it is shared between readers."""
    meta = history.get_state(PASS_KEY)
    if meta is None:
        return None
    with _cache.lock:
        if _cache.digest == meta["digest"] and _cache.view is not None:
            return _cache.view, meta
    view = history.get_state(VIEW_KEY)
    if view is None:
        return None
    with _cache.lock:
        _cache.digest, _cache.view = meta["digest"], view
    return view, meta
