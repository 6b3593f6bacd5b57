"""ORDRE's write bodies for the catalogue objects: one definition per shape (pure).

The ORDRE client sends them; the plan compares and diffs them, shows them in
``plan --format json``, and keeps them in plan files and in the history's journal. They are
canonical, so that equal objects have equal bodies: money with two decimal places, prices by
currency, and an empty optional text (image URL, contact) as null.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from daemon.core.model import (
    Address,
    CatalogueObject,
    Listing,
    OrdreCollection,
    OrdreCustomer,
    OrdreLook,
)


def money(value: Decimal) -> str:
    """Money as ORDRE writes it: a decimal string with two places."""
    return str(Decimal(value).quantize(Decimal("0.01")))


def listing_body(listing: Listing) -> dict[str, Any]:
    """``PUT /listings/{key}`` (the key is in the path, or beside the body in a batch)."""
    return {
        "style": listing.style,
        "fabric": listing.fabric,
        "colour": listing.colour,
        "description": listing.description,
        "category": listing.category,
        "sizes": [{"size": s.size, "gtin": s.gtin} for s in listing.sizes],
        "prices": [
            {"currency": p.currency, "wsp": money(p.wsp), "rrp": money(p.rrp)}
            for p in sorted(listing.prices, key=lambda p: p.currency)
        ],
        "image_url": listing.image_url or None,
    }


def address_body(address: Address | None) -> dict[str, str] | None:
    """A customer's address: where it is (its kind is the field that holds it)."""
    return None if address is None else address.place()


def customer_body(customer: OrdreCustomer) -> dict[str, Any]:
    """``PUT /customers/{account_code}``."""
    return {
        "name": customer.name,
        "currency": customer.currency,
        "delivery_address": address_body(customer.delivery_address),
        "accounts_address": address_body(customer.accounts_address),
        "contact_name": customer.contact_name or None,
        "contact_email": customer.contact_email or None,
    }


def collection_body(collection: OrdreCollection) -> dict[str, Any]:
    """``POST /collections`` and ``PUT /collections/{id}``."""
    return {
        "name": collection.name,
        "position": collection.position,
        "description": collection.description,
    }


def look_body(look: OrdreLook) -> dict[str, Any]:
    """``POST /looks`` and ``PUT /looks/{id}``: the product keys in display order."""
    return {
        "collection_id": look.collection_id,
        "name": look.name,
        "position": look.position,
        "product_keys": list(look.product_keys),
    }


def body_of(written: CatalogueObject) -> dict[str, Any]:
    """The write body of any catalogue object."""
    if isinstance(written, Listing):
        return listing_body(written)
    if isinstance(written, OrdreCustomer):
        return customer_body(written)
    if isinstance(written, OrdreCollection):
        return collection_body(written)
    return look_body(written)
