"""The Zedonk client: reads products, customers, seasons and users; creates customers and orders.

Zedonk takes no idempotency key, so a create whose answer is lost raises ``OutcomeUnknown``
and is never sent again here: the caller looks the object up (``find_sales_order``,
``find_customer_by_name``) and creates it again only if the lookup finds nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from daemon.clients.base import ApiClient, OnBroken, query, seg
from daemon.clients.fields import (
    Fields,
    fast_path,
    quick_flag,
    quick_ident,
    quick_int,
    quick_list,
    quick_money,
    quick_opt_day,
    quick_opt_text,
    quick_text,
    quick_text_in,
    quick_text_or,
)
from daemon.clients.typed import PRODUCTS, ZEDONK_CUSTOMERS
from daemon.core.limits import NameRule, ZedonkLimits
from daemon.core.model import (
    Address,
    AddressKind,
    Customer,
    Price,
    Product,
    ProductId,
    SalesOrder,
    SalesOrderLine,
    Season,
    Sku,
    User,
    new_tuple,
)
from daemon.core.orderfit import FieldLimits
from daemon.errors import Conflict

# What Zedonk holds, declared once: a product id's parts as Zedonk limits them at creation
# (schemas/catalogue.schema.json's product id patterns carry the same lengths), and how the
# season codes and usernames that connector.yaml names must match Zedonk's: exactly.
ZEDONK_LIMITS = ZedonkLimits(
    style=50,
    fabric=20,
    colour=30,
    seasons=NameRule(trim=False, casefold=False),
    usernames=NameRule(trim=False, casefold=False),
)

# What Zedonk's fields take, in characters, where the order import writes them
# (docs/sandbox-api.md, "Assumptions": the sandbox's limits, since Zedonk publishes none). The
# import fits ORDRE's longer values into them (daemon.core.orderfit).
ORDER_LIMITS = FieldLimits(
    order_ref=100,
    connector_ref=200,
    comments=2000,
    address_text=200,
    address_country=60,
    customer_name=200,
    account_code=50,
    contact=200,
)

ADDRESS_KINDS: dict[str, AddressKind] = {
    "delivery": "delivery",
    "accounts": "accounts",
    "store": "store",
}


class ZedonkClient(ApiClient):
    """Zedonk's connector API (``/api/v1``); see ``ApiClient`` for the options."""

    remote = "zedonk"

    # ------------------------------------------------------------------ reference data

    def seasons(self) -> list[Season]:
        """Every season, oldest first."""
        return list(self._list("/seasons", _season, id_key="code"))

    def categories(self) -> list[str]:
        return list(self._list("/categories", lambda f: f.text("name"), id_key="name"))

    def users(self) -> list[User]:
        return list(self._list("/users", _user, id_key="username"))

    def currencies(self) -> list[str]:
        """The codes of the currencies Zedonk has (``EUR``...): an order or customer in any
        other is refused."""
        return list(self._list("/currencies", lambda f: f.text("code"), id_key="code"))

    # ------------------------------------------------------------------ products

    def products(
        self,
        *,
        season: str | None = None,
        category: str | None = None,
        active: bool | None = None,
        on_broken: OnBroken = None,
    ) -> Iterator[Product]:
        """Every product (optionally filtered), sorted by id, fetched page by page.

        A malformed product raises ``BadResponse`` unless ``on_broken`` collects it.
        """
        filters = query(season=season, category=category, active=active)
        return self._list("/products", _product, filters, on_broken=on_broken)

    def get_product(self, product_id: ProductId | str) -> Product:
        return self._call("GET", f"/products/{seg(str(product_id))}", _product)

    # ------------------------------------------------------------------ customers

    def customers(
        self,
        *,
        name: str | None = None,
        account_code: str | None = None,
        active: bool | None = None,
        on_broken: OnBroken = None,
    ) -> Iterator[Customer]:
        filters = query(name=name, account_code=account_code, active=active)
        return self._list("/customers", _customer, filters, on_broken=on_broken)

    def get_customer(self, customer_id: str) -> Customer:
        return self._call("GET", f"/customers/{seg(customer_id)}", _customer)

    def find_customer_by_name(self, name: str) -> Customer | None:
        """The customer with this name (Zedonk compares names case-insensitively), or None."""
        return next(self.customers(name=name), None)

    def create_customer(self, customer: Customer) -> Customer:
        """Create a customer (``customer.id`` is ignored) and return it as Zedonk stored it.

        Raises ``Conflict`` when the name or account code is taken, and ``OutcomeUnknown``
        when the answer was lost: then ``find_customer_by_name`` tells whether it exists.
        """
        body = {
            "name": customer.name,
            "currency": customer.currency,
            "account_code": customer.account_code,
            "active": customer.active,
            "contact_name": customer.contact_name,
            "contact_email": customer.contact_email,
            "addresses": [_address_body(a) for a in customer.addresses],
        }
        return self._call("POST", "/customers", _customer, body)

    def add_customer_address(self, customer_id: str, address: Address) -> Customer:
        """Add an address; returns the whole customer. A lost answer raises OutcomeUnknown."""
        path = f"/customers/{seg(customer_id)}/addresses"
        return self._call("POST", path, _customer, _address_body(address))

    # ------------------------------------------------------------------ sales orders

    def create_sales_order(self, order: SalesOrder) -> SalesOrder:
        """Create a sales order and return it with its Zedonk ``id`` and ``number``.

        Raises ``OutcomeUnknown`` when it cannot tell whether Zedonk stored the order:
        resolve that with ``find_sales_order(order.connector_ref)`` before creating again.
        """
        return self._call("POST", "/sales-orders", _sales_order, _sales_order_body(order))

    def get_sales_order(self, order_id: str) -> SalesOrder:
        """By id (or by number)."""
        return self._call("GET", f"/sales-orders/{seg(order_id)}", _sales_order)

    def find_sales_orders(
        self,
        *,
        order_ref: str | None = None,
        connector_ref: str | None = None,
        customer_id: str | None = None,
        active: bool | None = None,
        season: str | None = None,
        connector_ref_prefix: str | None = None,
        created_since: datetime | None = None,
    ) -> Iterator[SalesOrder]:
        """Sales orders matching every given filter, sorted by id and fetched page by page
        (200 a page); inactive ones too unless ``active`` says otherwise.

        ``order_ref``, ``connector_ref``, ``customer_id`` and ``season`` match exactly,
        ``connector_ref_prefix`` the start of the connector reference, and ``created_since``
        (timezone-aware) orders created at or after it. Every search and listing of sales
        orders may trail Zedonk's writes by a few seconds (a search index); ``get_sales_order``
        reads the order itself."""
        filters = query(
            order_ref=order_ref,
            connector_ref=connector_ref,
            customer_id=customer_id,
            active=active,
            season=season,
            connector_ref_prefix=connector_ref_prefix,
            created_since=None if created_since is None else _stamp(created_since),
        )
        return self._list("/sales-orders", _sales_order, filters)

    def find_sales_order(self, connector_ref: str) -> SalesOrder | None:
        """The one order carrying this connector reference (active or not), or None.

        Raises ``Conflict`` when several orders carry it: a duplicate someone must resolve.
        """
        if not connector_ref:
            raise ValueError("a connector reference is needed to find an order")
        found = list(self.find_sales_orders(connector_ref=connector_ref))
        if len(found) > 1:
            numbers = ", ".join(o.number or o.id for o in found)
            raise Conflict(
                f"{len(found)} sales orders carry connector reference {connector_ref!r}: {numbers}",
                remote=self.remote,
                hint="keep one and inactivate the others in Zedonk",
            )
        return found[0] if found else None

    def inactivate_sales_order(self, order_id: str) -> SalesOrder:
        """Mark an order inactive. Idempotent (an assumption: docs/sandbox-api.md), so it is
        retried."""
        path = f"/sales-orders/{seg(order_id)}/inactivate"
        return self._call("POST", path, _sales_order, idempotent=True)


# --------------------------------------------------------------------------- mapping


def _stamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as Zedonk writes its times."""
    if moment.tzinfo is None:
        raise ValueError("a time zone is needed: Zedonk compares times in UTC")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _season(f: Fields) -> Season:
    return Season(code=f.text("code"), name=f.text("name"), starts_on=f.day("starts_on"))


def _user(f: Fields) -> User:
    return User(username=f.text("username"), name=f.text_or("name"), active=f.flag("active"))


# Colours of a style share their prices, and every pass reads every price: one object for each
# price as sent, kept by the four strings that make it (see _product_quick).
_prices: dict[tuple[Any, ...], Price] = {}


def _quick_price(key: tuple[Any, ...]) -> Price:
    """A price from its raw season, currency, wsp and rrp, kept when all four are strings (a
    string equals only a string, so a kept one is found again only for strings)."""
    season, currency, wsp, rrp = key
    price = Price(quick_text(season), quick_text(currency), quick_money(wsp), quick_money(rrp))
    if type(wsp) is str and type(rrp) is str:
        if len(_prices) >= 1 << 14:
            _prices.clear()
        _prices[key] = price
    return price


def _product_quick(raw: dict[str, Any]) -> Product:
    """``_product`` by plain dict access, its checks written out: every pass reads every
    product."""
    active = raw.get("active")
    if active is None:
        active = True
    elif type(active) is not bool:
        raise TypeError
    skus = []
    for s in quick_list(raw["skus"]):
        size, barcode = s["size"], s.get("barcode")
        if type(size) is not str or (barcode is not None and type(barcode) is not str):
            raise TypeError
        skus.append(Sku(size, barcode or None))
    seasons = quick_list(raw["seasons"])
    for season in seasons:
        if type(season) is not str:
            raise TypeError
    return Product(
        id=new_tuple(
            ProductId,
            (quick_text(raw["style"]), quick_text(raw["fabric"]), quick_text(raw["colour"])),
        ),
        description=quick_text_or(raw.get("description")),
        category=quick_text_or(raw.get("category")),
        seasons=tuple(seasons),
        skus=tuple(skus),
        prices=tuple(
            [
                _prices.get(key) or _quick_price(key)
                for key in [
                    (p["season"], p["currency"], p["wsp"], p["rrp"])
                    for p in quick_list(raw.get("prices"), required=False)
                ]
            ]
        ),
        image_url=quick_opt_text(raw.get("image_1")),
        active=active,
    )


@fast_path(_product_quick, typed=PRODUCTS)
def _product(f: Fields) -> Product:
    return Product(
        id=ProductId(f.text("style"), f.text("fabric"), f.text("colour")),
        description=f.text_or("description"),
        category=f.text_or("category"),
        seasons=f.texts("seasons"),
        skus=tuple(Sku(s.text("size"), s.opt_text("barcode")) for s in f.objects("skus")),
        prices=tuple(
            Price(p.text("season"), p.text("currency"), p.money("wsp"), p.money("rrp"))
            for p in f.objects("prices", required=False)
        ),
        image_url=f.opt_text("image_1"),
        active=f.flag("active", default=True),
    )


def _address(f: Fields, kind: str | None = None) -> Address:
    found = ADDRESS_KINDS.get(kind or f.text("kind"))
    if found is None:
        raise f.problem("kind", "expected delivery, accounts or store")
    return Address.from_fields(found, f.text_or, is_default=f.flag("is_default", default=False))


def _customer_quick(raw: dict[str, Any]) -> Customer:
    """``_customer`` by plain dict access: every plan reads every customer."""
    addresses = []
    for address in quick_list(raw.get("addresses"), required=False):
        if type(address) is not dict:
            raise TypeError
        default = address.get("is_default")
        addresses.append(
            Address.from_fields(
                ADDRESS_KINDS[address["kind"]],
                functools.partial(quick_text_in, address),
                is_default=False if default is None else quick_flag(default),
            )
        )
    return Customer(
        id=quick_ident(raw["id"]),
        name=quick_text(raw["name"]),
        account_code=quick_opt_text(raw.get("account_code")),
        active=quick_flag(raw["active"]),
        currency=quick_text(raw["currency"]),
        addresses=tuple(addresses),
        contact_email=quick_opt_text(raw.get("contact_email")),
        contact_name=quick_opt_text(raw.get("contact_name")),
    )


@fast_path(_customer_quick, typed=ZEDONK_CUSTOMERS)
def _customer(f: Fields) -> Customer:
    return Customer(
        id=f.ident("id"),
        name=f.text("name"),
        account_code=f.opt_text("account_code"),
        active=f.flag("active"),
        currency=f.text("currency"),
        addresses=tuple(_address(a) for a in f.objects("addresses", required=False)),
        contact_email=f.opt_text("contact_email"),
        contact_name=f.opt_text("contact_name"),
    )


def _address_body(address: Address) -> dict[str, Any]:
    return {"kind": address.kind, **address.place(), "is_default": address.is_default}


def _sales_order_body(order: SalesOrder) -> dict[str, Any]:
    def address(a: Address | None, kind: str) -> dict[str, Any] | None:
        return None if a is None else {**_address_body(a), "kind": kind}

    return {
        "season": order.season,
        "customer_id": order.customer_id,
        "order_ref": order.order_ref,
        "connector_ref": order.connector_ref,
        "owner": order.owner,
        "approved": order.approved,
        "currency": order.currency,
        "delivery_start": order.delivery_start,
        "delivery_end": order.delivery_end,
        "delivery_address": address(order.delivery_address, "delivery"),
        "accounts_address": address(order.accounts_address, "accounts"),
        "comments": order.comments,
        "lines": [
            {
                "product_id": str(line.product_id),
                "size": line.size,
                "barcode": line.barcode,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),  # exact, as _encode would send it
            }
            for line in order.lines
        ],
    }


def _product_id(f: Fields, key: str) -> ProductId:
    text = f.text(key)
    try:
        return ProductId.parse(text)
    except ValueError as exc:
        raise f.problem(key, str(exc)) from None


def _quick_order_address(raw: Any, kind: AddressKind) -> Address | None:
    if raw is None:
        return None
    if type(raw) is not dict:
        raise TypeError
    default = raw.get("is_default")
    return Address.from_fields(
        kind,
        functools.partial(quick_text_in, raw),
        is_default=False if default is None else quick_flag(default),
    )


# An answer names the same few products line after line (ProductId is immutable).
_product_id_of = functools.lru_cache(maxsize=1 << 12)(ProductId.parse)


def _sales_order_quick(raw: dict[str, Any]) -> SalesOrder:
    """``_sales_order`` by plain dict access: every create's answer is read."""
    return SalesOrder(
        id=quick_ident(raw["id"]),
        number=quick_text_or(raw.get("number")),
        season=quick_text(raw["season"]),
        customer_id=quick_ident(raw["customer_id"]),
        order_ref=quick_text_or(raw.get("order_ref")),
        connector_ref=quick_text_or(raw.get("connector_ref")),
        owner=quick_text_or(raw.get("owner")),
        approved=quick_flag(raw["approved"]),
        active=quick_flag(raw["active"]),
        currency=quick_text(raw["currency"]),
        delivery_start=quick_opt_day(raw.get("delivery_start")),
        delivery_end=quick_opt_day(raw.get("delivery_end")),
        delivery_address=_quick_order_address(raw.get("delivery_address"), "delivery"),
        accounts_address=_quick_order_address(raw.get("accounts_address"), "accounts"),
        comments=quick_text_or(raw.get("comments")),
        lines=tuple(
            [
                SalesOrderLine(
                    product_id=_product_id_of(quick_text(line["product_id"])),
                    size=quick_text(line["size"]),
                    barcode=quick_text_or(line.get("barcode")),
                    quantity=quick_int(line["quantity"]),
                    unit_price=quick_money(line["unit_price"]),
                )
                for line in quick_list(raw["lines"])
            ]
        ),
    )


@fast_path(_sales_order_quick)
def _sales_order(f: Fields) -> SalesOrder:
    delivery = f.opt_obj("delivery_address")
    accounts = f.opt_obj("accounts_address")
    return SalesOrder(
        id=f.ident("id"),
        number=f.text_or("number"),
        season=f.text("season"),
        customer_id=f.ident("customer_id"),
        order_ref=f.text_or("order_ref"),
        connector_ref=f.text_or("connector_ref"),
        owner=f.text_or("owner"),
        approved=f.flag("approved"),
        active=f.flag("active"),
        currency=f.text("currency"),
        delivery_start=f.opt_day("delivery_start"),
        delivery_end=f.opt_day("delivery_end"),
        delivery_address=_address(delivery, "delivery") if delivery else None,
        accounts_address=_address(accounts, "accounts") if accounts else None,
        comments=f.text_or("comments"),
        lines=tuple(
            SalesOrderLine(
                product_id=_product_id(line, "product_id"),
                size=line.text("size"),
                barcode=line.text_or("barcode"),
                quantity=line.integer("quantity"),
                unit_price=line.money("unit_price"),
            )
            for line in f.objects("lines")
        ),
    )
