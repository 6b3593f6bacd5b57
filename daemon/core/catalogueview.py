"""The catalogue as ORDRE shows it, small enough to keep: what the console's catalogue page
draws (pure).

``catalogue_view(plan)`` turns a full plan's tree (collections and their looks, in display
order) and its product reports (every catalogued product, whether it is exported and why not)
into one JSON-ready document:

    {"format_version": 1,
     "counts": {"products": N, "exported": N, "held_back": N, "without_image": N},
     "collections": [{"name": str, "looks": [{"name": str, "products": [PRODUCT, ...]}]}]}

    PRODUCT = {"key": "STYLE/FABRIC/COLOUR", "description": str, "exported": bool,
               "image": bool,                      # Zedonk's Image 1, the screen's picture icon
               "sizes": [[size, barcode, state], ...],   # state: valid, missing, malformed,
                                                         # check-digit (core.products)
               "problems": [str, ...],             # why it is held back from ORDRE
               "notes": [str, ...]}                # what is worth a look in an exported one

A product held back is in the look the catalogue puts it in, with its reasons, though ORDRE
does not show it. The document is a few hundred bytes a product; ``digest`` tells whether it
changed, so that a pass stores it only then.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from daemon.core.plan import Plan
from daemon.core.planlooks import look_key
from daemon.core.products import barcodes
from daemon.core.resolve import ProductReport

VIEW_VERSION = 1


def _sizes(report: ProductReport) -> list[list[str | None]]:
    product = report.product
    if product is None:
        return []
    if report.exported:  # resolve exports a product only when every size has a valid GTIN
        return [[sku.size, sku.barcode, "valid"] for sku in product.skus]
    return [[size.size, size.barcode, size.state] for size in barcodes(product)]


def _product(report: ProductReport) -> dict[str, Any]:
    product = report.product
    sizes = _sizes(report)
    return {
        "key": report.key,
        "description": product.description if product is not None else "",
        "exported": report.exported,
        "image": report.has_image,
        "sizes": sizes,
        "problems": list(report.problems),
        "notes": list(report.warnings),
    }


def catalogue_view(plan: Plan) -> dict[str, Any]:
    """The view of ``plan`` (a full plan: ``Plan.products`` filled by resolve), as above."""
    in_look: dict[str, list[dict[str, Any]]] = {}
    for report in plan.products:
        in_look.setdefault(look_key(report.collection, report.look), []).append(_product(report))
    collections = [
        {
            "name": name,
            "looks": [
                {"name": key[len(name) + 3 :], "products": in_look.get(key, [])}
                for key in look_keys
            ],
        }
        for name, look_keys in plan.tree
    ]
    exported = sum(1 for p in plan.products if p.exported)
    return {
        "format_version": VIEW_VERSION,
        "counts": {
            "products": len(plan.products),
            "exported": exported,
            "held_back": len(plan.products) - exported,
            "without_image": sum(1 for p in plan.products if not p.has_image),
        },
        "collections": collections,
    }


def digest(view: dict[str, Any]) -> str:
    """A short fingerprint of ``view``: equal views (built by ``catalogue_view``, whose keys
    come in one order), equal digests."""
    text = json.dumps(view, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
