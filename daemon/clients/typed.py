"""Typed pages: the two bulk listings decoded from their bytes straight into structs, in C.

A plan over a large brand reads 20,000 of Zedonk's products and as many of ORDRE's listings.
Parsing each page into dicts and then reading each dict in Python took more of a plan's time
than anything else it does; msgspec decodes a page straight into the structs below, checking
each value's type as it parses, and ``product_of`` / ``listing_of`` only move the fields into
the model.

A struct accepts what the quick reader accepts (and so the careful one), or less, and maps it to
the same object (``tests/test_clients_typed.py`` holds it to that). Whatever it refuses (a value
of another type, a missing field, an amount that is not finite, a lone surrogate) costs a parse
with ``json`` and the reading item by item that every other listing gets (``read_pages``), so
a broken item is still reported by name and the rest of its page is still read.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Generic, TypeVar

import msgspec

from daemon.clients.fields import TypedItems, parse_json
from daemon.core.model import (
    Listing,
    ListingPrice,
    ListingSize,
    Price,
    Product,
    ProductId,
    Sku,
    assemble,
    new_tuple,
)

W = TypeVar("W")
T = TypeVar("T")


class _Page(msgspec.Struct, Generic[W], gc=False):
    """A page of a cursor-paginated listing (``daemon.clients.pages.walk``)."""

    items: list[W]
    next_cursor: str | int | None = None
    sync_token: str | None = None


class TypedReader(Generic[W, T]):
    """Decodes a listing's pages into ``item`` structs; ``convert`` maps one to the model, and
    raises ValueError for what the struct's types let through but the quick reader refuses."""

    def __init__(self, item: type[W], convert: Callable[[W], T]) -> None:
        self._decoder = msgspec.json.Decoder(_Page[item])  # type: ignore[valid-type]
        self.convert = convert

    def decode(self, raw: bytes) -> Any:
        """A page's body, its items as ``TypedItems``; parsed with ``json`` instead where the
        structs refuse it (raises ValueError when it is not JSON at all)."""
        try:
            page = self._decoder.decode(raw)
        except msgspec.MsgspecError:
            return parse_json(raw)
        items = TypedItems(page.items)
        items.raw = raw
        body: dict[str, Any] = {"items": items, "next_cursor": page.next_cursor}
        if page.sync_token is not None:
            body["sync_token"] = page.sync_token
        return body


def _finite(*amounts: Decimal) -> None:
    """Money is a number: NaN and infinities are refused, as ``quick_money`` refuses them."""
    for amount in amounts:
        if not amount.is_finite():
            raise ValueError(f"{amount} is not an amount")


# --------------------------------------------------------------------------- Zedonk's products


class _Sku(msgspec.Struct, gc=False):
    size: str
    barcode: str | None = None


class _Price(msgspec.Struct, gc=False):
    season: str
    currency: str
    wsp: Decimal
    rrp: Decimal


class ZedonkProduct(msgspec.Struct, gc=False):
    """A product as Zedonk sends it (the fields a plan reads; the others are skipped)."""

    style: str
    fabric: str
    colour: str
    seasons: list[str]
    skus: list[_Sku]
    description: str | None = None
    category: str | None = None
    prices: list[_Price] | None = None
    image_1: str | None = None
    active: bool | None = None


def product_of(wire: ZedonkProduct) -> Product:
    """The model's product, as ``daemon.clients.zedonk._product_quick`` reads it."""
    prices = wire.prices or ()
    for p in prices:
        _finite(p.wsp, p.rrp)
    return assemble(
        Product,
        {
            "id": new_tuple(ProductId, (wire.style, wire.fabric, wire.colour)),
            "description": wire.description or "",
            "category": wire.category or "",
            "seasons": tuple(wire.seasons),
            "skus": tuple([new_tuple(Sku, (s.size, s.barcode or None)) for s in wire.skus]),
            "prices": tuple(
                [new_tuple(Price, (p.season, p.currency, p.wsp, p.rrp)) for p in prices]
            ),
            "image_url": wire.image_1 or None,
            "active": wire.active is not False,  # missing or null: active
        },
    )


PRODUCTS: TypedReader[ZedonkProduct, Product] = TypedReader(ZedonkProduct, product_of)


# --------------------------------------------------------------------------- ORDRE's listings


class _Size(msgspec.Struct, gc=False):
    size: str
    gtin: str


class _ListingPrice(msgspec.Struct, gc=False):
    currency: str
    wsp: Decimal
    rrp: Decimal


class OrdreListing(msgspec.Struct, gc=False):
    """A listing as ORDRE sends it."""

    key: str
    style: str
    fabric: str
    colour: str
    sizes: list[_Size]
    version: int
    description: str | None = None
    category: str | None = None
    prices: list[_ListingPrice] | None = None
    image_url: str | None = None


def listing_of(wire: OrdreListing) -> Listing:
    """The model's listing, as ``daemon.clients.ordre._listing_quick`` reads it."""
    prices = wire.prices or ()
    for p in prices:
        _finite(p.wsp, p.rrp)
    return assemble(
        Listing,
        {
            "key": wire.key,
            "style": wire.style,
            "fabric": wire.fabric,
            "colour": wire.colour,
            "description": wire.description or "",
            "category": wire.category or "",
            "sizes": tuple([new_tuple(ListingSize, (s.size, s.gtin)) for s in wire.sizes]),
            "prices": tuple([new_tuple(ListingPrice, (p.currency, p.wsp, p.rrp)) for p in prices]),
            "image_url": wire.image_url or None,
            "version": str(wire.version),
        },
    )


LISTINGS: TypedReader[OrdreListing, Listing] = TypedReader(OrdreListing, listing_of)
