"""Plain domain objects shared by every room.

The clients map each remote system's JSON to these at the edge; resolve, plan and the order
import work only with them. Money is ``Decimal``; style codes, colours and barcodes are
strings (a barcode as sent may be missing or malformed, so it is never an int).

A plan over a large brand holds 20,000 products and as many listings, with about 100,000
sizes and 60,000 prices among them, so those are lighter than the frozen dataclasses here:
``Product`` and ``Listing`` and their sizes and prices are frozen msgspec structs, immutable
too, built, compared, hashed and freed in C; the clients' typed pages decode sizes and prices
straight into them (``daemon.clients.typed``). A product's id is a named tuple. Change one
with ``msgspec.structs.replace``, not ``dataclasses.replace``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, NamedTuple, TypeVar

import msgspec

T = TypeVar("T")

# A named tuple made from a tuple of its fields, without the Python-level ``__new__`` (three
# times faster), where the fields are already known good: ``new_tuple(ProductId, (s, f, c))``.
new_tuple: Callable[[type[T], tuple[Any, ...]], T] = tuple.__new__  # type: ignore[assignment]

_new_object = object.__new__
_set_attribute = object.__setattr__


def assemble(cls: type[T], fields: dict[str, Any]) -> T:
    """``cls(**fields)`` for one of the frozen dataclasses here, given every field by name
    (``fields`` becomes the object's own), without running ``__init__``: a third of the time,
    for the readers and the resolve that make tens of thousands per pass. None of these
    classes checks anything in ``__init__``, so the object is the same."""
    obj = _new_object(cls)
    _set_attribute(obj, "__dict__", fields)
    return obj


# --------------------------------------------------------------------------- Zedonk

# Text that is never empty where missing is None. Only decoding checks it: a page the clients'
# typed structs decode (``daemon.clients.typed``) refuses "", and is read by the readers that
# map "" to None.
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class ProductId(NamedTuple):
    """Zedonk identifies a product by style + fabric + colour (sizes are SKUs beneath it).

    Its one readable form is ``STYLE/FABRIC/COLOUR``, e.g. ``AW25-101/WOOL/NAVY``; ids sort
    by style, then fabric, then colour.
    """

    style: str
    fabric: str
    colour: str

    def __str__(self) -> str:
        return "/".join(self)

    @classmethod
    def parse(cls, text: str) -> ProductId:
        parts = text.split("/")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise ValueError(f"{text!r} is not a product id of the form STYLE/FABRIC/COLOUR")
        style, fabric, colour = (p.strip() for p in parts)
        return cls(style, fabric, colour)


@dataclass(frozen=True)
class Season:
    code: str  # e.g. "AW25"
    name: str  # e.g. "Autumn Winter 25"
    starts_on: date  # orders seasons: the most recent season is the one that starts last


@dataclass(frozen=True)
class User:
    username: str
    name: str
    active: bool


class Sku(msgspec.Struct, frozen=True, gc=False):
    size: str
    # As stored in Zedonk: may be missing (None, never "") or invalid.
    barcode: NonEmpty | None = None


class Price(msgspec.Struct, frozen=True, gc=False):
    season: str
    currency: str  # ISO 4217, e.g. "EUR"
    wsp: Decimal  # wholesale
    rrp: Decimal  # recommended retail


class Product(msgspec.Struct, frozen=True, gc=False):
    id: ProductId
    description: str
    category: str
    seasons: tuple[str, ...]  # season codes the product is visible in
    skus: tuple[Sku, ...]  # one per size, in size-run order
    prices: tuple[Price, ...] = ()
    image_url: str | None = None  # Zedonk's "Image 1"; None when missing
    active: bool = True


AddressKind = Literal["delivery", "accounts", "store"]


@dataclass(frozen=True)
class Address:
    kind: AddressKind
    company: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postcode: str = ""
    country: str = ""  # ISO 3166 alpha-2
    is_default: bool = False

    @classmethod
    def from_fields(
        cls, kind: AddressKind, field: Callable[[str], str], *, is_default: bool = False
    ) -> Address:
        """An address of ``kind`` whose place fields ``field(name)`` reads, by the names of
        ``place()``: the one way an address is built from a remote's or a file's fields."""
        return cls(
            kind=kind,
            company=field("company"),
            line1=field("line1"),
            line2=field("line2"),
            city=field("city"),
            region=field("region"),
            postcode=field("postcode"),
            country=field("country"),
            is_default=is_default,
        )

    def place(self) -> dict[str, str]:
        """The fields that say where it is (not its kind or default flag), by name."""
        return {
            "company": self.company,
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "region": self.region,
            "postcode": self.postcode,
            "country": self.country,
        }

    def same_place(self, other: Address) -> bool:
        """Whether two addresses name the same place, whatever their kind or case."""

        def norm(a: Address) -> tuple[str, ...]:
            return tuple(" ".join(v.split()).casefold() for v in a.place().values())

        return norm(self) == norm(other)


@dataclass(frozen=True)
class Customer:
    """A Zedonk customer (for ORDRE: a retailer)."""

    id: str  # Zedonk's own id
    name: str  # unique in Zedonk
    account_code: str | None
    active: bool
    currency: str
    addresses: tuple[Address, ...] = ()
    contact_email: str | None = None  # the default contact's e-mail
    contact_name: str | None = None


@dataclass(frozen=True)
class SalesOrderLine:
    product_id: ProductId
    size: str
    barcode: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class SalesOrder:
    """A Zedonk sales order. ``id`` and ``number`` are empty until Zedonk creates it."""

    season: str
    customer_id: str
    order_ref: str
    connector_ref: str  # searchable key that carries the import key, for recovery
    owner: str  # Zedonk username
    approved: bool
    currency: str
    lines: tuple[SalesOrderLine, ...]
    delivery_start: date | None = None
    delivery_end: date | None = None
    delivery_address: Address | None = None
    accounts_address: Address | None = None
    comments: str = ""
    active: bool = True
    id: str = ""
    number: str = ""


# --------------------------------------------------------------------------- ORDRE


class ListingSize(msgspec.Struct, frozen=True, gc=False):
    size: str
    gtin: str  # canonical GTIN-14


class ListingPrice(msgspec.Struct, frozen=True, gc=False):
    currency: str
    wsp: Decimal
    rrp: Decimal


class Listing(msgspec.Struct, frozen=True, gc=False):
    """A product as ORDRE shows it. ``key`` is the Zedonk product id in readable form."""

    key: str
    style: str
    fabric: str
    colour: str
    description: str
    category: str
    sizes: tuple[ListingSize, ...]
    prices: tuple[ListingPrice, ...]
    image_url: str | None = None
    version: str = ""  # ORDRE's ETag; empty for desired state


@dataclass(frozen=True)
class OrdreCollection:
    name: str
    position: int
    description: str = ""
    id: str = ""
    version: str = ""


@dataclass(frozen=True)
class OrdreLook:
    collection_id: str
    name: str
    position: int
    product_keys: tuple[str, ...] = ()  # listing keys in display order
    id: str = ""
    version: str = ""


@dataclass(frozen=True)
class OrdreCustomer:
    """A retailer as the connector exports it to ORDRE, keyed by Zedonk account code."""

    account_code: str
    name: str
    currency: str
    delivery_address: Address | None = None
    accounts_address: Address | None = None
    contact_email: str | None = None
    contact_name: str | None = None
    version: str = ""


# What the connector writes on ORDRE for the catalogue: a plan action's payload.
CatalogueObject = Listing | OrdreCustomer | OrdreCollection | OrdreLook


@dataclass(frozen=True)
class OrdreOrderLine:
    line_no: int
    barcode: str | None  # as sent: may be missing, malformed or unknown
    style: str
    colour: str
    size: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class OrdreOrder:
    id: str  # ORDRE's id: stable across re-submissions
    number: str  # the order number people see
    submission: int  # goes up each time the retailer re-submits
    status: str  # "draft" | "submitted" | "approved" | "cancelled", as ORDRE sends it
    po_number: str  # free text, not unique, may be empty
    retailer_name: str
    retailer_account_code: str | None
    currency: str
    lines: tuple[OrdreOrderLine, ...]
    ship_start: date | None = None
    ship_end: date | None = None
    delivery_address: Address | None = None
    accounts_address: Address | None = None
    buyer_email: str | None = None
    comments: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    submitted_at: datetime | None = None
    version: str = ""

    @property
    def import_key(self) -> str:
        """One Zedonk order per ORDRE submission: id plus submission number."""
        return f"{self.id}#{self.submission}"
