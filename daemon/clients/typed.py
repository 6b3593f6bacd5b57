"""Typed pages: the bulk listings decoded from their bytes straight into structs, in C.

A plan over a large brand reads 20,000 of Zedonk's products, as many of ORDRE's listings, and
both remotes' customers. Parsing each page into dicts and then reading each dict in Python
took more of a plan's time than anything else it does; msgspec decodes a page straight into
the structs below, checking each value's type as it parses, and the ``..._of`` functions only
move the fields into the model.

A struct accepts what the quick reader accepts (and so the careful one; ORDRE's customers
have only the careful one), or less, and maps it to the same object
(``tests/test_clients_typed.py`` holds it to that). Whatever it refuses (a value of another
type, a missing field, an amount that is not finite, a lone surrogate, bytes that are not
UTF-8) costs a parse with ``json`` and the reading item by item that every other listing gets
(``read_pages``), so a broken item is still reported by name, the rest of its page is still
read, and a page that is not JSON fails with json's error. One leniency is left: an integer
of more than 4,300 digits in a field no struct names is skipped, where ``json`` refuses it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import msgspec

from daemon.clients.fields import TypedItems, is_money, parse_json
from daemon.core.model import (
    Address,
    AddressKind,
    Customer,
    Listing,
    ListingPrice,
    ListingSize,
    OrdreCustomer,
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
            if not raw.isascii():
                # json refuses a page with bytes that are not UTF-8 anywhere in it; msgspec
                # only where it reads, and it skips the fields no struct names.
                raw.decode()
            page = self._decoder.decode(raw)
        except (msgspec.MsgspecError, ValueError, ArithmeticError, RecursionError):
            return parse_json(raw)  # the error, if any, is json's, as for any other answer
        items = TypedItems(page.items)
        items.raw = raw
        body: dict[str, Any] = {"items": items, "next_cursor": page.next_cursor}
        if page.sync_token is not None:
            body["sync_token"] = page.sync_token
        return body


def _check_amounts(prices: Sequence[Price | ListingPrice]) -> None:
    """Money is a number: NaN and the infinities, which msgspec reads as Decimals, are
    refused as ``quick_money`` refuses them, and so is an amount too large to be a price
    (``is_money``). Raises ValueError; the page is then read as json reads it, and the readers
    name the item."""
    for p in prices:
        if not (is_money(p.wsp) and is_money(p.rrp)):
            raise ValueError("an amount is not a number")


# --------------------------------------------------------------------------- Zedonk's products


class ZedonkProduct(msgspec.Struct, gc=False):
    """A product as Zedonk sends it (the fields a plan reads; the others are skipped). Its
    sizes and prices are decoded straight into the model's ``Sku`` and ``Price``."""

    style: str
    fabric: str
    colour: str
    seasons: tuple[str, ...]
    skus: tuple[Sku, ...]
    description: str | None = None
    category: str | None = None
    prices: tuple[Price, ...] | None = None
    image_1: str | None = None
    active: bool | None = None


def product_of(wire: ZedonkProduct) -> Product:
    """The model's product, as ``daemon.clients.zedonk._product_quick`` reads it."""
    prices = wire.prices or ()
    _check_amounts(prices)
    return Product(
        new_tuple(ProductId, (wire.style, wire.fabric, wire.colour)),
        wire.description or "",
        wire.category or "",
        wire.seasons,
        wire.skus,
        prices,
        wire.image_1 or None,
        wire.active is not False,  # missing or null: active
    )


PRODUCTS: TypedReader[ZedonkProduct, Product] = TypedReader(ZedonkProduct, product_of)


# --------------------------------------------------------------------------- ORDRE's listings


class OrdreListing(msgspec.Struct, gc=False):
    """A listing as ORDRE sends it. Its sizes and prices are decoded straight into the
    model's ``ListingSize`` and ``ListingPrice``."""

    key: str
    style: str
    fabric: str
    colour: str
    sizes: tuple[ListingSize, ...]
    version: int
    description: str | None = None
    category: str | None = None
    prices: tuple[ListingPrice, ...] | None = None
    image_url: str | None = None


def listing_of(wire: OrdreListing) -> Listing:
    """The model's listing, as ``daemon.clients.ordre._listing_quick`` reads it."""
    prices = wire.prices or ()
    _check_amounts(prices)
    return Listing(
        wire.key,
        wire.style,
        wire.fabric,
        wire.colour,
        wire.description or "",
        wire.category or "",
        wire.sizes,
        prices,
        wire.image_url or None,
        str(wire.version),
    )


LISTINGS: TypedReader[OrdreListing, Listing] = TypedReader(OrdreListing, listing_of)


# --------------------------------------------------------------------------- customers


class _ZedonkAddress(msgspec.Struct, gc=False):
    kind: AddressKind  # any other kind is refused as the page is decoded
    is_default: bool | None = None
    company: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postcode: str | None = None
    country: str | None = None


class ZedonkCustomer(msgspec.Struct, gc=False):
    """A customer as Zedonk sends it."""

    id: str | int
    name: str
    active: bool
    currency: str
    account_code: str | None = None
    addresses: list[_ZedonkAddress] | None = None
    contact_email: str | None = None
    contact_name: str | None = None


class _OrdreAddress(msgspec.Struct, gc=False):
    country: str  # ORDRE's addresses always name a country; the rest may be missing
    company: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postcode: str | None = None


class OrdreCustomerWire(msgspec.Struct, gc=False):
    """A retailer as ORDRE sends it."""

    account_code: str
    name: str
    currency: str
    version: int
    delivery_address: _OrdreAddress | None = None
    accounts_address: _OrdreAddress | None = None
    contact_email: str | None = None
    contact_name: str | None = None


def _address(
    wire: _ZedonkAddress | _OrdreAddress, kind: AddressKind, is_default: bool = False
) -> Address:
    return assemble(
        Address,
        {
            "kind": kind,
            "company": wire.company or "",
            "line1": wire.line1 or "",
            "line2": wire.line2 or "",
            "city": wire.city or "",
            "region": wire.region or "",
            "postcode": wire.postcode or "",
            "country": wire.country or "",
            "is_default": is_default,
        },
    )


def customer_of(wire: ZedonkCustomer) -> Customer:
    """The model's customer, as ``daemon.clients.zedonk._customer_quick`` reads it."""
    ident = wire.id
    if type(ident) is int:
        ident = str(ident)
    elif not ident:
        raise ValueError("an id is never empty")
    return assemble(
        Customer,
        {
            "id": ident,
            "name": wire.name,
            "account_code": wire.account_code or None,
            "active": wire.active,
            "currency": wire.currency,
            "addresses": tuple(
                [_address(a, a.kind, a.is_default is True) for a in wire.addresses or ()]
            ),
            "contact_email": wire.contact_email or None,
            "contact_name": wire.contact_name or None,
        },
    )


def retailer_of(wire: OrdreCustomerWire) -> OrdreCustomer:
    """The model's retailer, as ``daemon.clients.ordre._customer`` reads it."""
    delivery, accounts = wire.delivery_address, wire.accounts_address
    return assemble(
        OrdreCustomer,
        {
            "account_code": wire.account_code,
            "name": wire.name,
            "currency": wire.currency,
            "delivery_address": None if delivery is None else _address(delivery, "delivery"),
            "accounts_address": None if accounts is None else _address(accounts, "accounts"),
            "contact_email": wire.contact_email or None,
            "contact_name": wire.contact_name or None,
            "version": str(wire.version),
        },
    )


ZEDONK_CUSTOMERS: TypedReader[ZedonkCustomer, Customer] = TypedReader(ZedonkCustomer, customer_of)
ORDRE_CUSTOMERS: TypedReader[OrdreCustomerWire, OrdreCustomer] = TypedReader(
    OrdreCustomerWire, retailer_of
)
