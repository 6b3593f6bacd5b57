"""The ORDRE client: collections, looks, listings and customers as the connector publishes them,
and the orders retailers submit.

Every ORDRE object carries a version; ``.version`` holds it as a string ("3") and writes take it
back as ``if_match``. Creates by POST carry an ``Idempotency-Key`` (one per call unless the
caller passes its own), so ORDRE replays the first answer when a retry repeats a create.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal, TypeVar

from daemon.clients.base import ApiClient, OnBroken, query, seg
from daemon.clients.fields import (
    BrokenItem,
    Fields,
    fast_path,
    quick_ident,
    quick_int,
    quick_list,
    quick_money,
    quick_opt_day,
    quick_opt_moment,
    quick_opt_obj,
    quick_opt_text,
    quick_text,
    quick_text_in,
    quick_text_or,
    read_all,
    read_each,
)
from daemon.clients.typed import LISTINGS, ORDRE_CUSTOMERS
from daemon.core.bodies import collection_body, customer_body, listing_body, look_body
from daemon.core.limits import NameRule, OrdreLimits
from daemon.core.model import (
    Address,
    AddressKind,
    Listing,
    ListingPrice,
    ListingSize,
    OrdreCollection,
    OrdreCustomer,
    OrdreLook,
    OrdreOrder,
    OrdreOrderLine,
)
from daemon.errors import BadResponse

# What ORDRE refuses, declared once: the plan receives it, and schemas/catalogue.schema.json
# carries the same numbers for validate and editors (tests/test_limits.py holds them equal).
ORDRE_LIMITS = OrdreLimits(
    collection_name=200,
    look_name=200,
    collection_description=2000,
    # A collection name is unique in the showroom, a look name in its collection; ORDRE
    # compares names trimmed and case-folded, with no Unicode normalisation.
    names=NameRule(trim=True, casefold=True, normalisation=None),
    listing_batch=100,
    listing_description=2000,
    listing_category=100,
    listing_size=30,
    listing_image_url=1000,
)
BATCH_MAX = ORDRE_LIMITS.listing_batch  # listings per PUT /listings:batch
BatchResult = Literal["created", "updated", "unchanged"]
BATCH_RESULTS: dict[str, BatchResult] = {r: r for r in ("created", "updated", "unchanged")}
T = TypeVar("T")


@dataclass(frozen=True)
class ListingWritten:
    """One item of a batch upsert: what ORDRE did with it, and the listing as stored."""

    key: str
    result: BatchResult
    listing: Listing


class OrdreClient(ApiClient):
    """ORDRE's connector API (``/api/v1``); see ``ApiClient`` for the options.

    Every ``if_match`` takes a ``.version`` as read ("3"); None writes unconditionally.
    """

    remote = "ordre"

    # ------------------------------------------------------------------ collections

    def collections(self, *, on_broken: OnBroken = None) -> Iterator[OrdreCollection]:
        return self._list("/collections", _collection, on_broken=on_broken)

    def create_collection(
        self, collection: OrdreCollection, *, idempotency_key: str | None = None
    ) -> OrdreCollection:
        return self._create(
            "/collections", collection_body(collection), _collection, idempotency_key
        )

    def update_collection(
        self, collection: OrdreCollection, *, if_match: str | None = None
    ) -> OrdreCollection:
        """Replace name, position and description of ``collection.id``."""
        path = f"/collections/{seg(collection.id)}"
        body = collection_body(collection)
        return self._call("PUT", path, _collection, body, if_match=_etag(if_match))

    def delete_collection(self, collection_id: str, *, if_match: str | None = None) -> None:
        """Refused with ``Conflict`` while the collection still has looks."""
        self.session.delete(f"/collections/{seg(collection_id)}", if_match=_etag(if_match))

    # ------------------------------------------------------------------ looks

    def looks(
        self, *, collection_id: str | None = None, on_broken: OnBroken = None
    ) -> Iterator[OrdreLook]:
        filters = query(collection_id=collection_id or None)
        return self._list("/looks", _look, filters, on_broken=on_broken)

    def create_look(self, look: OrdreLook, *, idempotency_key: str | None = None) -> OrdreLook:
        return self._create("/looks", look_body(look), _look, idempotency_key)

    def update_look(self, look: OrdreLook, *, if_match: str | None = None) -> OrdreLook:
        """Replace collection, name, position and the ordered product keys of ``look.id``."""
        path = f"/looks/{seg(look.id)}"
        return self._call("PUT", path, _look, look_body(look), if_match=_etag(if_match))

    def set_look_products(
        self, look_id: str, product_keys: Sequence[str], *, if_match: str | None = None
    ) -> OrdreLook:
        """Set only the look's products, in display order (a PATCH: repeating it is safe)."""
        body = {"product_keys": list(product_keys)}
        path = f"/looks/{seg(look_id)}"
        return self._call("PATCH", path, _look, body, if_match=_etag(if_match), idempotent=True)

    def delete_look(self, look_id: str, *, if_match: str | None = None) -> None:
        self.session.delete(f"/looks/{seg(look_id)}", if_match=_etag(if_match))

    # ------------------------------------------------------------------ listings

    def listings(self, *, on_broken: OnBroken = None) -> Iterator[Listing]:
        return self._list("/listings", _listing, on_broken=on_broken, id_key="key")

    def get_listing(self, key: str) -> Listing:
        return self._call("GET", f"/listings/{seg(key)}", _listing)

    def upsert_listing(
        self, listing: Listing, *, if_match: str | None = None, create_only: bool = False
    ) -> Listing:
        """Create or replace the listing ``listing.key``.

        ``if_match`` makes it conditional on the version last seen; ``create_only`` makes it
        fail with ``Conflict`` if the listing already exists.
        """
        return self._call(
            "PUT",
            f"/listings/{seg(listing.key)}",
            _listing,
            listing_body(listing),
            if_match=_etag(if_match),
            if_none_match="*" if create_only else None,
        )

    def upsert_listings(
        self, listings: Sequence[Listing], *, if_match: Mapping[str, str] | None = None
    ) -> list[ListingWritten]:
        """Upsert up to ``BATCH_MAX`` listings in one all-or-nothing request.

        ``if_match`` maps a key to the version last seen; keys not in it are written
        unconditionally. On any invalid item or version mismatch nothing is written and the
        error (``RemoteError``/``Conflict``) names the item.
        """
        if not listings:
            return []
        if len(listings) > BATCH_MAX:
            raise ValueError(f"at most {BATCH_MAX} listings per batch, got {len(listings)}")
        versions = if_match or {}
        items = []
        for listing in listings:
            item = {"key": listing.key, **listing_body(listing)}
            if listing.key in versions:
                item["if_match"] = _version_number(versions[listing.key])
            items.append(item)
        results = self._call("PUT", "/listings:batch", _batch_items, {"items": items})
        where = "PUT /listings:batch"
        written = list(read_each(results, _written, remote=self.remote, where=where, id_key="key"))
        if [w.key for w in written] != [listing.key for listing in listings]:
            raise BadResponse(f"{where}: results do not match the items sent", remote=self.remote)
        return written

    def delete_listing(self, key: str, *, if_match: str | None = None) -> None:
        """Refused with ``Conflict`` while a look holds the listing."""
        self.session.delete(f"/listings/{seg(key)}", if_match=_etag(if_match))

    # ------------------------------------------------------------------ customers

    def customers(self, *, on_broken: OnBroken = None) -> Iterator[OrdreCustomer]:
        return self._list("/customers", _customer, on_broken=on_broken, id_key="account_code")

    def get_customer(self, account_code: str) -> OrdreCustomer:
        return self._call("GET", f"/customers/{seg(account_code)}", _customer)

    def upsert_customer(
        self, customer: OrdreCustomer, *, if_match: str | None = None, create_only: bool = False
    ) -> OrdreCustomer:
        return self._call(
            "PUT",
            f"/customers/{seg(customer.account_code)}",
            _customer,
            customer_body(customer),
            if_match=_etag(if_match),
            if_none_match="*" if create_only else None,
        )

    # ------------------------------------------------------------------ orders

    def orders(
        self,
        statuses: Iterable[str] | None = None,
        updated_since: datetime | None = None,
        *,
        last: dict[str, Any] | None = None,
    ) -> Iterator[OrdreOrder | BrokenItem]:
        """Orders by ``(updated_at, id)``, oldest change first, from ``updated_since`` on
        (inclusive). ``last`` receives the last page's ``sync_token``, where the changes after
        this listing start (``lists.order_changes``), once the listing is read to its end.

        A malformed order does not stop the listing: it comes out as a ``BrokenItem`` (with
        the order's id when it has one) so the caller can record it as failed and go on.
        An order that changes while the listing runs may come out twice.
        """
        wanted = None if statuses is None else set(statuses)
        filters = query(
            status=next(iter(wanted)) if wanted is not None and len(wanted) == 1 else None,
            updated_since=_timestamp(updated_since) if updated_since is not None else None,
        )
        raws = self.session.paginate(
            "/orders", params={"limit": self.page_size, **filters}, last=last
        )
        for order in read_all(raws, _order, where="GET /orders"):
            if isinstance(order, BrokenItem) or wanted is None or order.status in wanted:
                yield order

    def get_order(self, order_id: str) -> OrdreOrder:
        return self._call("GET", f"/orders/{seg(order_id)}", _order)

    def approve_order(self, order_id: str, *, if_match: str | None = None) -> OrdreOrder:
        """Mark a submitted order approved. A lost answer raises ``OutcomeUnknown``."""
        path = f"/orders/{seg(order_id)}/approve"
        return self._call("POST", path, _order, if_match=_etag(if_match))

    def _create(self, path: str, body: Any, read: Callable[[Fields], T], key: str | None) -> T:
        """A POST create; the idempotency key makes a retry replay the first answer."""
        return self._call("POST", path, read, body, idempotency_key=key or uuid.uuid4().hex)


# --------------------------------------------------------------------------- mapping


def _etag(version: str | None) -> str | None:
    """ORDRE's If-Match form of a version: a quoted number (``"3"``)."""
    if version is None or version == "*" or version.startswith(('"', "W/")):
        return version
    return f'"{version}"'


def _version_number(version: str) -> int:
    text = version.removeprefix("W/").strip('"')
    if not text.isdigit():
        raise ValueError(f"{version!r} is not an ORDRE version")
    return int(text)


def _timestamp(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("updated_since needs a time zone")
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _version(f: Fields) -> str:
    return str(f.integer("version"))


def _collection(f: Fields) -> OrdreCollection:
    return OrdreCollection(
        id=f.ident("id"),
        name=f.text("name"),
        position=f.integer("position"),
        description=f.text_or("description"),
        version=_version(f),
    )


def _look(f: Fields) -> OrdreLook:
    return OrdreLook(
        id=f.ident("id"),
        collection_id=f.ident("collection_id"),
        name=f.text("name"),
        position=f.integer("position"),
        product_keys=f.texts("product_keys", required=False),
        version=_version(f),
    )


# Listings of one style share their prices, and every pass reads every price: one object for
# each price as sent, kept by the three strings that make it (see _listing_quick).
_prices: dict[tuple[Any, ...], ListingPrice] = {}


def _quick_listing_price(key: tuple[Any, ...]) -> ListingPrice:
    """A price from its raw currency, wsp and rrp, kept when all three are strings (a string
    equals only a string, so a kept one is found again only for strings)."""
    currency, wsp, rrp = key
    price = ListingPrice(quick_text(currency), quick_money(wsp), quick_money(rrp))
    if type(wsp) is str and type(rrp) is str:
        if len(_prices) >= 1 << 14:
            _prices.clear()
        _prices[key] = price
    return price


def _listing_quick(raw: dict[str, Any]) -> Listing:
    """``_listing`` by plain dict access, its checks written out: every pass reads every
    listing."""
    sizes = []
    for s in quick_list(raw["sizes"]):
        size, gtin = s["size"], s["gtin"]
        if type(size) is not str or type(gtin) is not str:
            raise TypeError
        sizes.append(ListingSize(size, gtin))
    return Listing(
        key=quick_text(raw["key"]),
        style=quick_text(raw["style"]),
        fabric=quick_text(raw["fabric"]),
        colour=quick_text(raw["colour"]),
        description=quick_text_or(raw.get("description")),
        category=quick_text_or(raw.get("category")),
        sizes=tuple(sizes),
        prices=tuple(
            [
                _prices.get(key) or _quick_listing_price(key)
                for key in [
                    (p["currency"], p["wsp"], p["rrp"])
                    for p in quick_list(raw.get("prices"), required=False)
                ]
            ]
        ),
        image_url=quick_opt_text(raw.get("image_url")),
        version=str(quick_int(raw["version"])),
    )


@fast_path(_listing_quick, typed=LISTINGS)
def _listing(f: Fields) -> Listing:
    return Listing(
        key=f.text("key"),
        style=f.text("style"),
        fabric=f.text("fabric"),
        colour=f.text("colour"),
        description=f.text_or("description"),
        category=f.text_or("category"),
        sizes=tuple(ListingSize(s.text("size"), s.text("gtin")) for s in f.objects("sizes")),
        prices=tuple(
            ListingPrice(p.text("currency"), p.money("wsp"), p.money("rrp"))
            for p in f.objects("prices", required=False)
        ),
        image_url=f.opt_text("image_url"),
        version=_version(f),
    )


def _batch_items(f: Fields) -> list[Any]:
    return f.items("items")


def _written(f: Fields) -> ListingWritten:
    result = BATCH_RESULTS.get(f.text("result"))
    if result is None:
        raise f.problem("result", "expected created, updated or unchanged")
    return ListingWritten(key=f.text("key"), result=result, listing=_listing(f.obj("listing")))


def _address(f: Fields | None, kind: AddressKind) -> Address | None:
    if f is None:
        return None
    f.text("country")  # ORDRE's addresses always name a country; the rest may be missing
    return Address.from_fields(kind, f.text_or)


@fast_path(None, typed=ORDRE_CUSTOMERS)  # type: ignore[arg-type]  # T is not inferred from None
def _customer(f: Fields) -> OrdreCustomer:
    return OrdreCustomer(
        account_code=f.text("account_code"),
        name=f.text("name"),
        currency=f.text("currency"),
        delivery_address=_address(f.opt_obj("delivery_address"), "delivery"),
        accounts_address=_address(f.opt_obj("accounts_address"), "accounts"),
        contact_email=f.opt_text("contact_email"),
        contact_name=f.opt_text("contact_name"),
        version=_version(f),
    )


def _quick_address(raw: Any, kind: AddressKind) -> Address | None:
    found = quick_opt_obj(raw)
    if found is None:
        return None
    quick_text(found["country"])  # as in _address
    return Address.from_fields(kind, partial(quick_text_in, found))


def _order_quick(raw: dict[str, Any]) -> OrdreOrder:
    """``_order`` by plain dict access: every listed order is read on every pass."""
    retailer = raw["retailer"]
    if type(retailer) is not dict:
        raise TypeError
    window = quick_opt_obj(raw.get("ship_window"))
    return OrdreOrder(
        id=quick_ident(raw["id"]),
        number=quick_text(raw["number"]),
        submission=quick_int(raw["submission"]),
        status=quick_text(raw["status"]),
        po_number=quick_text_or(raw.get("po_number")),
        retailer_name=quick_text(retailer["name"]),
        retailer_account_code=quick_opt_text(retailer.get("account_code")),
        buyer_email=quick_opt_text(retailer.get("email")),
        currency=quick_text(raw["currency"]),
        ship_start=quick_opt_day(window.get("start")) if window is not None else None,
        ship_end=quick_opt_day(window.get("end")) if window is not None else None,
        delivery_address=_quick_address(raw.get("delivery_address"), "delivery"),
        accounts_address=_quick_address(raw.get("accounts_address"), "accounts"),
        comments=quick_text_or(raw.get("comments")),
        created_at=quick_opt_moment(raw.get("created_at")),
        updated_at=quick_opt_moment(raw.get("updated_at")),
        submitted_at=quick_opt_moment(raw.get("submitted_at")),
        version=str(quick_int(raw["version"])),
        lines=tuple(
            [
                OrdreOrderLine(
                    line_no=quick_int(line["line_no"]),
                    barcode=quick_opt_text(line.get("barcode")),
                    style=quick_text_or(line.get("style")),
                    colour=quick_text_or(line.get("colour")),
                    size=quick_text_or(line.get("size")),
                    quantity=quick_int(line["quantity"]),
                    unit_price=quick_money(line["unit_price"]),
                )
                for line in quick_list(raw["lines"])
            ]
        ),
    )


@fast_path(_order_quick)
def _order(f: Fields) -> OrdreOrder:
    retailer = f.obj("retailer")
    window = f.opt_obj("ship_window")
    return OrdreOrder(
        id=f.ident("id"),
        number=f.text("number"),
        submission=f.integer("submission"),
        status=f.text("status"),
        po_number=f.text_or("po_number"),
        retailer_name=retailer.text("name"),
        retailer_account_code=retailer.opt_text("account_code"),
        buyer_email=retailer.opt_text("email"),
        currency=f.text("currency"),
        ship_start=window.opt_day("start") if window else None,
        ship_end=window.opt_day("end") if window else None,
        delivery_address=_address(f.opt_obj("delivery_address"), "delivery"),
        accounts_address=_address(f.opt_obj("accounts_address"), "accounts"),
        comments=f.text_or("comments"),
        created_at=f.opt_moment("created_at"),
        updated_at=f.opt_moment("updated_at"),
        submitted_at=f.opt_moment("submitted_at"),
        version=_version(f),
        lines=tuple(
            OrdreOrderLine(
                line_no=line.integer("line_no"),
                barcode=line.opt_text("barcode"),
                style=line.text_or("style"),
                colour=line.text_or("colour"),
                size=line.text_or("size"),
                quantity=line.integer("quantity"),
                unit_price=line.money("unit_price"),
            )
            for line in f.objects("lines")
        ),
    )
