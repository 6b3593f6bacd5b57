"""The console's catalogue page: collections → looks → products, as the last full pass
resolved them (``daemon.store.catalogue``), which is what ORDRE shows once that pass applied.

Each product has the main-image indicator of Zedonk's "+ Add Product" screen (a picture when
Zedonk holds its Image 1, blank otherwise), the barcode of every size with its validity, and,
for a product held back from ORDRE, why. Filters: a collection, what to show (everything,
held back, without a main image, with a note) and a search text (product id or description);
a page holds at most ``PAGE_PRODUCTS`` products.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from daemon.service.web.paging import Paging, choice, text
from daemon.service.web.render import render
from daemon.store import catalogue as catalogue_store
from daemon.store.history import History

PAGE_PRODUCTS = 200
SHOW = {
    "all": "everything",
    "held": "held back from ORDRE",
    "no-image": "without a main image",
    "notes": "with a note",
}


def _wanted(product: Mapping[str, Any], show: str, needle: str) -> bool:
    if show == "held" and product["exported"]:
        return False
    if show == "no-image" and product["image"]:
        return False
    if show == "notes" and not (product["notes"] or product["problems"]):
        return False
    if needle:
        return needle in product["key"].lower() or needle in product["description"].lower()
    return True


def _entries(
    view: Mapping[str, Any], collection: str, show: str, needle: str
) -> Iterator[tuple[str, str, Mapping[str, Any] | None]]:
    """(collection, look, product) in display order; an empty look, with no filter, once
    with None."""
    for coll in view["collections"]:
        if collection and coll["name"] != collection:
            continue
        for look in coll["looks"]:
            kept = [p for p in look["products"] if _wanted(p, show, needle)]
            if not kept and show == "all" and not needle:
                yield coll["name"], look["name"], None
            for product in kept:
                yield coll["name"], look["name"], product


def _grouped(
    entries: list[tuple[str, str, Mapping[str, Any] | None]],
) -> list[dict[str, Any]]:
    """A page's entries as collections → looks → products again."""
    collections: list[dict[str, Any]] = []
    for coll, look, product in entries:
        if not collections or collections[-1]["name"] != coll:
            collections.append({"name": coll, "looks": []})
        looks = collections[-1]["looks"]
        if not looks or looks[-1]["name"] != look:
            looks.append({"name": look, "products": []})
        if product is not None:
            looks[-1]["products"].append(product)
    return collections


def _summaries(view: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per collection: its looks, products, those held back and those without an image."""
    rows = []
    for coll in view["collections"]:
        products = [p for look in coll["looks"] for p in look["products"]]
        rows.append(
            {
                "name": coll["name"],
                "looks": len(coll["looks"]),
                "products": len(products),
                "held_back": sum(1 for p in products if not p["exported"]),
                "without_image": sum(1 for p in products if not p["image"]),
            }
        )
    return rows


def page(history: History | None, query: Mapping[str, str]) -> str:
    """``/catalogue``, with the filters ``collection``, ``show``, ``q`` and ``page``."""
    found = catalogue_store.last(history) if history is not None else None
    context: dict[str, Any] = {"view": None, "meta": None, "collections": [], "summaries": []}
    show = choice(query, "show", tuple(SHOW), "all")
    collection, needle = text(query, "collection"), text(query, "q")
    paging = Paging(
        "/catalogue",
        query,
        {"collection": collection, "show": "" if show == "all" else show, "q": needle},
        size=PAGE_PRODUCTS,
    )
    if found is not None:
        view, meta = found
        entries = list(_entries(view, collection, show, needle.lower()))
        shown = paging.cut(entries[paging.offset : paging.offset + paging.limit])
        context = {
            "view": view,
            "meta": meta,
            "collections": _grouped(shown),
            "summaries": _summaries(view),
            "matching": sum(1 for *_, p in entries if p is not None),
        }
    return render(
        "catalogue.html",
        path="/catalogue",
        title="Catalogue",
        subtitle="collections, looks and products as ORDRE shows them",
        has_history=history is not None,
        filters={"collection": collection, "show": show, "q": needle},
        show_choices=SHOW,
        paging=paging,
        **context,
    )
