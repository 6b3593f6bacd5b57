"""The Zedonk client: reads products, customers, seasons and users; creates customers and orders.

Zedonk takes no idempotency key, so a create whose answer is lost raises ``OutcomeUnknown``
and is never sent again here: the caller looks the object up (``find_sales_order``,
``find_customer_by_name``) and creates it again only if the lookup finds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx

from daemon.clients.fields import BrokenItem, Fields, read_each, read_one
from daemon.clients.http import HttpSession, RetryPolicy
from daemon.errors import Conflict
from daemon.model import (
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
)

MAX_PAGE = 200  # the documented maximum page size
OnBroken = Callable[[BrokenItem], None] | None
ADDRESS_KINDS: dict[str, AddressKind] = {
    "delivery": "delivery",
    "accounts": "accounts",
    "store": "store",
}


class ZedonkClient:
    """Zedonk's connector API (``/api/v1``). Use as a context manager, or call ``close()``."""

    remote = "zedonk"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        deadline: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        page_size: int = MAX_PAGE,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be 1 to {MAX_PAGE}, got {page_size}")
        self.page_size = page_size
        self.session = HttpSession(
            self.remote,
            base_url,
            token,
            http=http,
            transport=transport,
            timeout=timeout,
            deadline=deadline,
            retry=retry,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"ZedonkClient(base_url={self.session.base_url!r})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ZedonkClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reference data

    def seasons(self) -> list[Season]:
        """Every season, oldest first."""
        return list(self._list("/seasons", _season, id_key="code"))

    def categories(self) -> list[str]:
        return list(self._list("/categories", lambda f: f.text("name"), id_key="name"))

    def users(self) -> list[User]:
        return list(self._list("/users", _user, id_key="username"))

    # ------------------------------------------------------------------ products

    def products(
        self,
        *,
        season: str | None = None,
        category: str | None = None,
        active: bool | None = None,
        on_broken: OnBroken = None,
    ) -> Iterator[Product]:
        """Every product (optionally filtered), sorted by id, fetched page by page."""
        query = _query(season=season, category=category, active=active)
        return self._list("/products", _product, query, on_broken)

    def get_product(self, product_id: ProductId | str) -> Product:
        path = f"/products/{_seg(str(product_id))}"
        return read_one(self.session.get(path).body, _product, remote=self.remote, where=path)

    # ------------------------------------------------------------------ customers

    def customers(
        self,
        *,
        name: str | None = None,
        account_code: str | None = None,
        active: bool | None = None,
        on_broken: OnBroken = None,
    ) -> Iterator[Customer]:
        query = _query(name=name, account_code=account_code, active=active)
        return self._list("/customers", _customer, query, on_broken)

    def get_customer(self, customer_id: str) -> Customer:
        path = f"/customers/{_seg(customer_id)}"
        return read_one(self.session.get(path).body, _customer, remote=self.remote, where=path)

    def find_customer_by_name(self, name: str) -> Customer | None:
        """The customer with this name (Zedonk compares names case-insensitively), or None."""
        return next(self.customers(name=name), None)

    def create_customer(self, customer: Customer) -> Customer:
        """Create a customer (``customer.id`` is ignored) and return it as Zedonk stored it.

        Raises ``Conflict`` when the name or account code is taken, and ``OutcomeUnknown``
        when the answer was lost: then ``find_customer_by_name`` tells whether it exists.
        """
        body: dict[str, Any] = {
            "name": customer.name,
            "currency": customer.currency,
            "account_code": customer.account_code,
            "active": customer.active,
            "contact_name": customer.contact_name,
            "contact_email": customer.contact_email,
            "addresses": [_address_body(a) for a in customer.addresses],
        }
        where = "POST /customers"
        reply = self.session.post("/customers", body)
        return read_one(reply.body, _customer, remote=self.remote, where=where)

    def add_customer_address(self, customer_id: str, address: Address) -> Customer:
        """Add an address; returns the whole customer. Not retried on a lost answer."""
        path = f"/customers/{_seg(customer_id)}/addresses"
        reply = self.session.post(path, _address_body(address))
        return read_one(reply.body, _customer, remote=self.remote, where=f"POST {path}")

    # ------------------------------------------------------------------ sales orders

    def create_sales_order(self, order: SalesOrder) -> SalesOrder:
        """Create a sales order and return it with its Zedonk ``id`` and ``number``.

        Raises ``OutcomeUnknown`` when it cannot tell whether Zedonk stored the order:
        resolve that with ``find_sales_order(order.connector_ref)`` before creating again.
        """
        reply = self.session.post("/sales-orders", _sales_order_body(order))
        return read_one(reply.body, _sales_order, remote=self.remote, where="POST /sales-orders")

    def get_sales_order(self, order_id: str) -> SalesOrder:
        """By id (or by number)."""
        path = f"/sales-orders/{_seg(order_id)}"
        return read_one(self.session.get(path).body, _sales_order, remote=self.remote, where=path)

    def find_sales_orders(
        self,
        *,
        order_ref: str | None = None,
        connector_ref: str | None = None,
        customer_id: str | None = None,
        active: bool | None = None,
    ) -> Iterator[SalesOrder]:
        """Sales orders matching every given filter exactly, inactive ones included unless
        ``active`` says otherwise."""
        query = _query(
            order_ref=order_ref, connector_ref=connector_ref, customer_id=customer_id, active=active
        )
        return self._list("/sales-orders", _sales_order, query)

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
        """Mark an order inactive. Zedonk documents this as idempotent, so it is retried."""
        path = f"/sales-orders/{_seg(order_id)}/inactivate"
        reply = self.session.post(path, idempotent=True)
        return read_one(reply.body, _sales_order, remote=self.remote, where=f"POST {path}")

    # ------------------------------------------------------------------ plumbing

    def _list(
        self,
        path: str,
        read: Callable[[Fields], Any],
        query: dict[str, Any] | None = None,
        on_broken: OnBroken = None,
        id_key: str = "id",
    ) -> Iterator[Any]:
        raws = self.session.paginate(path, params={"limit": self.page_size, **(query or {})})
        return read_each(
            raws, read, remote=self.remote, where=f"GET {path}", on_broken=on_broken, id_key=id_key
        )


# --------------------------------------------------------------------------- mapping


def _seg(text: str) -> str:
    """One path segment: ids may hold slashes or spaces."""
    return quote(text, safe="")


def _query(**values: str | bool | None) -> dict[str, str]:
    return {
        key: ("true" if value else "false") if isinstance(value, bool) else value
        for key, value in values.items()
        if value is not None
    }


def _season(f: Fields) -> Season:
    return Season(code=f.text("code"), name=f.text("name"), starts_on=f.day("starts_on"))


def _user(f: Fields) -> User:
    return User(username=f.text("username"), name=f.text_or("name"), active=f.flag("active"))


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
        textile_content=f.text_or("textile_content"),
        country_of_origin=f.text_or("country_of_origin"),
        active=f.flag("active", default=True),
    )


def _address(f: Fields, kind: str | None = None) -> Address:
    found = ADDRESS_KINDS.get(kind or f.text("kind"))
    if found is None:
        raise f.problem("kind", "expected delivery, accounts or store")
    return Address(
        kind=found,
        company=f.text_or("company"),
        line1=f.text_or("line1"),
        line2=f.text_or("line2"),
        city=f.text_or("city"),
        region=f.text_or("region"),
        postcode=f.text_or("postcode"),
        country=f.text_or("country"),
        is_default=f.flag("is_default", default=False),
    )


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
    return {
        "kind": address.kind,
        "company": address.company,
        "line1": address.line1,
        "line2": address.line2,
        "city": address.city,
        "region": address.region,
        "postcode": address.postcode,
        "country": address.country,
        "is_default": address.is_default,
    }


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
                "unit_price": line.unit_price,
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
