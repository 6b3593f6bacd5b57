"""The Zedonk stand-in: seasons, categories, users, currencies, products, customers and sales
orders.

Zedonk publishes no API, so what this server does beyond the documented Zedonk behaviour is an
assumption, listed in docs/sandbox-api.md ("Assumptions"): among them, that order create takes
no idempotency key, that an order carries a searchable (not unique) ``connector_ref`` a
connector can look a lost create up by, the field lengths below, and that a product is taken
only into an order of a season it is visible in (the strict reading of domain.md §1.1-1.2).

Searching and listing sales orders go through a search index that may trail the writes (the
search lag, ``/_admin/search-lag``): an order created less than the lag ago is left out of
every ``GET /sales-orders``, whatever the filters, while ``GET /sales-orders/{id}`` reads the
order itself and never lags.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from daemon.sandbox.base import Sandbox
from daemon.sandbox.common import (
    ApiError,
    Fields,
    bad_request,
    by,
    conflict,
    flag,
    gtin_key,
    not_found,
    paginate,
    parse_timestamp,
    read_object,
)
from daemon.sandbox.seed import zedonk_tables
from daemon.sandbox.store import Table

CURRENCIES = {"EUR": "Euro", "GBP": "Pound sterling", "USD": "US dollar"}
# Field lengths, in characters (an assumption: Zedonk documents only Style 50, Fabric 20 and
# Colour 30).
ORDER_REF_MAX = 100
CONNECTOR_REF_MAX = 200
COMMENTS_MAX = 2000
NAME_MAX = 200  # customer name, contact name and e-mail
ACCOUNT_CODE_MAX = 50
ADDRESS_TEXT_MAX = 200
COUNTRY_MAX = 60
ADDRESS_KINDS = ("delivery", "accounts", "store")
ADDRESS_TEXT = ("company", "line1", "line2", "city", "region", "postcode")
P = "/api/v1"


class ZedonkSandbox(Sandbox):
    name = "zedonk"
    title = "Zedonk sandbox"

    def seed_tables(self, options: dict[str, Any]) -> tuple[dict[str, Table], dict[str, int]]:
        return zedonk_tables(options["seed"], options["large"], options.get("brand", "demo"))

    def loaded(self) -> None:
        # Searches and listings of sales orders may lag behind a create, as a search index
        # would: an order shows there only from ``visible_from[id]`` (time.monotonic()) on.
        self.search_lag = 0.0
        self.visible_from: dict[str, float] = {}
        self.loaded_barcodes()

    def loaded_barcodes(self) -> None:
        """Index every SKU by its barcode (as a GTIN, leading zeros ignored)."""
        self.sku_by_barcode: dict[str, tuple[str, str, str]] = {}
        for product in self.store.table("products").values():
            for sku in product["skus"]:
                if sku["barcode"]:
                    key = gtin_key(sku["barcode"])
                    self.sku_by_barcode[key] = (product["id"], sku["size"], sku["barcode"])

    def summary(self) -> dict[str, int]:
        products = self.store.table("products")
        return {
            "seasons": len(self.store.table("seasons")),
            "categories": len(self.store.table("categories")),
            "users": len(self.store.table("users")),
            "products": len(products),
            "skus": sum(len(p["skus"]) for p in products.values()),
            "customers": len(self.store.table("customers")),
            "sales_orders": len(self.store.table("sales_orders")),
        }

    def api_routes(self) -> list[BaseRoute]:
        return [
            Route(f"{P}/seasons", self.list_seasons, methods=["GET"]),
            Route(f"{P}/categories", self.list_categories, methods=["GET"]),
            Route(f"{P}/users", self.list_users, methods=["GET"]),
            Route(f"{P}/currencies", self.list_currencies, methods=["GET"]),
            Route(f"{P}/products", self.list_products, methods=["GET"]),
            Route(f"{P}/products/{{id:path}}", self.get_product, methods=["GET"]),
            Route(f"{P}/customers", self.list_customers, methods=["GET"]),
            Route(f"{P}/customers", self.create_customer, methods=["POST"]),
            Route(f"{P}/customers/{{id}}", self.get_customer, methods=["GET"]),
            Route(f"{P}/customers/{{id}}/addresses", self.add_address, methods=["POST"]),
            Route(f"{P}/sales-orders", self.list_orders, methods=["GET"]),
            Route(f"{P}/sales-orders", self.create_order, methods=["POST"]),
            Route(f"{P}/sales-orders/{{id}}", self.get_order, methods=["GET"]),
            Route(f"{P}/sales-orders/{{id}}/inactivate", self.inactivate_order, methods=["POST"]),
        ]

    # reference data ----------------------------------------------------------
    async def list_seasons(self, request: Request) -> Response:
        """Seasons, sorted by start date (paginated)."""
        rows = self.store.ordered("seasons", by("starts_on", "code"))
        return paginate(request, rows, changes=(self.store, "seasons"))

    async def list_categories(self, request: Request) -> Response:
        """Product categories (paginated)."""
        rows = self.store.ordered("categories", by("name"))
        return paginate(request, rows, changes=(self.store, "categories"))

    async def list_users(self, request: Request) -> Response:
        """Users with their active flag (paginated)."""
        rows = self.store.ordered("users", by("username"))
        return paginate(request, rows, changes=(self.store, "users"))

    async def list_currencies(self, request: Request) -> Response:
        """The currencies customers and orders may use, by code (paginated)."""
        rows = [
            ((code,), {"code": code, "name": name}) for code, name in sorted(CURRENCIES.items())
        ]
        return paginate(request, rows)

    # products ----------------------------------------------------------------
    async def list_products(self, request: Request) -> Response:
        """Products with SKUs, prices, Image 1; filters season, category, q, active (paginated)."""
        season = request.query_params.get("season")
        category = request.query_params.get("category")
        q = request.query_params.get("q", "").casefold()
        active = flag(request, "active")

        def keep(p: dict[str, Any]) -> bool:
            return (
                (season is None or season in p["seasons"])
                and (category is None or p["category"] == category)
                and (not q or q in p["id"].casefold() or q in p["description"].casefold())
                and (active is None or p["active"] == active)
            )

        rows = self.store.ordered("products", by("id"))
        return paginate(request, rows, keep, changes=(self.store, "products"))

    async def get_product(self, request: Request) -> Response:
        """One product by its id STYLE/FABRIC/COLOUR."""
        pid = request.path_params["id"]
        product = self.store.get("products", pid)
        if product is None:
            raise not_found(f"product {pid!r}")
        return JSONResponse(product)

    # customers ---------------------------------------------------------------
    async def list_customers(self, request: Request) -> Response:
        """Customers; filters name, account_code, q, active (paginated)."""
        name = request.query_params.get("name")
        code = request.query_params.get("account_code")
        q = request.query_params.get("q", "").casefold()
        active = flag(request, "active")

        def keep(c: dict[str, Any]) -> bool:
            return (
                (name is None or _same_name(c["name"], name))
                and (code is None or c["account_code"] == code)
                and (not q or q in c["name"].casefold())
                and (active is None or c["active"] == active)
            )

        rows = self.store.ordered("customers", by("id"))
        return paginate(request, rows, keep, changes=(self.store, "customers"))

    async def get_customer(self, request: Request) -> Response:
        """One customer by id."""
        return JSONResponse(self._customer(request.path_params["id"]))

    def _customer(self, cid: str) -> dict[str, Any]:
        customer = self.store.get("customers", cid)
        if customer is None:
            raise not_found(f"customer {cid!r}")
        return dict(customer)

    async def create_customer(self, request: Request) -> Response:
        """Create a customer; 409 if the name (or account code) is taken."""
        body = Fields(await read_object(request))
        name = body.text("name", required=True, max_len=NAME_MAX)
        currency = body.choice("currency", CURRENCIES, required=True)
        code = body.opt_text("account_code", max_len=ACCOUNT_CODE_MAX)
        active = body.boolean("active", default=True)
        contact_name = body.opt_text("contact_name", max_len=NAME_MAX)
        contact_email = body.opt_text("contact_email", max_len=NAME_MAX)
        addresses = [_address(a) for a in body.items("addresses")]
        body.done()
        for other in self.store.table("customers").values():
            if _same_name(other["name"], name):
                raise _conflict(f"a customer named {other['name']!r} exists", other["id"])
            if code and other["account_code"] == code:
                raise _conflict(f"account code {code!r} belongs to {other['name']!r}", other["id"])
        now = self.clock.tick()
        cid = f"C{self.store.next_number('customer'):05d}"
        customer: dict[str, Any] = {
            "id": cid,
            "name": name.strip(),
            "account_code": code,
            "active": active,
            "currency": currency,
            "contact_name": contact_name,
            "contact_email": contact_email,
            "addresses": [],
            "created_at": now,
            "updated_at": now,
        }
        for address in addresses:
            self._attach(customer, address)
        self.store.put("customers", cid, customer)
        return JSONResponse(customer, 201, headers={"Location": f"{P}/customers/{cid}"})

    async def add_address(self, request: Request) -> Response:
        """Add an address to a customer."""
        customer = self._customer(request.path_params["id"])
        body = Fields(await read_object(request))
        address = _address(body, top=True)
        body.done()
        customer["addresses"] = list(customer["addresses"])
        self._attach(customer, address)
        customer["updated_at"] = self.clock.tick()
        self.store.put("customers", customer["id"], customer)
        return JSONResponse(customer, 201)

    def _attach(self, customer: dict[str, Any], address: dict[str, Any]) -> None:
        if "is_default" not in address:
            address["is_default"] = not any(
                a["kind"] == address["kind"] for a in customer["addresses"]
            )
        address = {"id": f"A{self.store.next_number('address'):05d}", **address}
        customer["addresses"].append(address)

    # sales orders ------------------------------------------------------------
    async def list_orders(self, request: Request) -> Response:
        """Sales orders; filters connector_ref, connector_ref_prefix, order_ref, customer_id,
        season, created_since, active (paginated). Orders the search index has not caught up
        with yet (the search lag) are left out."""
        params = request.query_params
        active = flag(request, "active")
        wanted = {
            k: params[k]
            for k in ("connector_ref", "order_ref", "customer_id", "season")
            if k in params
        }
        prefix = params.get("connector_ref_prefix")
        since = params.get("created_since")
        since_stamp = parse_timestamp(since) if since is not None else None

        now = time.monotonic()
        visible_from = self.visible_from

        def keep(o: dict[str, Any]) -> bool:
            if visible_from and visible_from.get(o["id"], 0.0) > now:
                return False
            return (
                all(o[k] == v for k, v in wanted.items())
                and (prefix is None or o["connector_ref"].startswith(prefix))
                and (since_stamp is None or o["created_at"] >= since_stamp)
                and (active is None or o["active"] == active)
            )

        rows = self.store.ordered("sales_orders", _by_number)
        return paginate(request, rows, keep, changes=(self.store, "sales_orders"))

    async def get_order(self, request: Request) -> Response:
        """One sales order by id (or by its SO number)."""
        return JSONResponse(self._order(request.path_params["id"]))

    def _order(self, key: str) -> dict[str, Any]:
        orders = self.store.table("sales_orders")
        order = orders.get(key) or next((o for o in orders.values() if o["number"] == key), None)
        if order is None:
            raise not_found(f"sales order {key!r}")
        return dict(order)

    async def inactivate_order(self, request: Request) -> Response:
        """Mark a sales order inactive (idempotent)."""
        order = self._order(request.path_params["id"])
        if order["active"]:
            order["active"] = False
            order["updated_at"] = self.clock.tick()
            self.store.put("sales_orders", order["id"], order)
        return JSONResponse(order)

    async def create_order(self, request: Request) -> Response:
        """Create a sales order (no idempotency key: look it up by connector_ref to recover)."""
        body = Fields(await read_object(request))
        order = self._read_order(body)
        now = self.clock.tick()
        number = self.store.next_number("sales_order")
        order.update(
            id=str(number), number=f"SO-{number:06d}", active=True, created_at=now, updated_at=now
        )
        self.store.put("sales_orders", order["id"], order)
        if self.search_lag:
            self.visible_from[order["id"]] = time.monotonic() + self.search_lag
        return JSONResponse(order, 201, headers={"Location": f"{P}/sales-orders/{order['id']}"})

    def admin_routes(self) -> list[BaseRoute]:
        return [
            *super().admin_routes(),
            Route("/_admin/search-lag", self.admin_search_lag, methods=["PUT"]),
            Route("/_admin/sales-orders", self.admin_sales_orders, methods=["GET"]),
            Route("/_admin/products/{id:path}/barcodes", self.admin_set_barcodes, methods=["PUT"]),
            Route("/_admin/products/{id:path}", self.admin_put_product, methods=["PUT"]),
            Route("/_admin/products/{id:path}", self.admin_edit_product, methods=["PATCH"]),
            Route("/_admin/products/{id:path}", self.admin_delete_product, methods=["DELETE"]),
            Route("/_admin/customers/{id}", self.admin_edit_customer, methods=["PATCH"]),
        ]

    async def admin_set_barcodes(self, request: Request) -> Response:
        """Change the barcodes of a product's sizes: ``{"barcodes": {"36": "506...", "38":
        null}}`` (null removes one). A barcode on another SKU is a 409, as in Zedonk."""
        pid = request.path_params["id"]
        product = self.store.get("products", pid)
        if product is None:
            raise not_found(f"product {pid!r}")
        body = Fields(await read_object(request))
        wanted = body.raw("barcodes")
        body.done()
        sizes = {sku["size"] for sku in product["skus"]}
        if not isinstance(wanted, dict) or not all(
            isinstance(v, str | None) for v in wanted.values()
        ):
            raise bad_request('barcodes must be an object {"<size>": "<barcode>" | null}')
        unknown = sorted(set(wanted) - sizes)
        if unknown:
            raise bad_request(f"{pid} has no size {', '.join(unknown)}")
        for size, code in wanted.items():
            owner = self.sku_by_barcode.get(gtin_key(code)) if code else None
            if owner is not None and owner[:2] != (pid, size):
                raise conflict(
                    f"barcode {code} is on {owner[0]} size {owner[1]}", product_id=owner[0]
                )
        product = dict(product)
        product["skus"] = [
            {**sku, "barcode": wanted.get(sku["size"], sku["barcode"])} for sku in product["skus"]
        ]
        product["updated_at"] = self.clock.tick()
        self.store.put("products", pid, product)
        self.loaded_barcodes()
        return JSONResponse(product)

    async def admin_put_product(self, request: Request) -> Response:
        """Create or replace a product, as Zedonk's product screens would: the body is a
        ``Product`` without ``id`` and ``updated_at`` (its style, fabric and colour must make
        the id in the path)."""
        pid = request.path_params["id"]
        body = Fields(await read_object(request))
        product: dict[str, Any] = {"id": pid}
        for name, most in (("style", 50), ("fabric", 20), ("colour", 30)):
            product[name] = body.text(name, required=True, max_len=most)
        if not body.errors and pid != f"{product['style']}/{product['fabric']}/{product['colour']}":
            body.fail("", f"{pid!r} must be style/fabric/colour")
        product.update(self._product_fields(body, partial=False))
        body.done()
        self._check_barcodes(pid, product["skus"])
        current = self.store.get("products", pid)
        product["updated_at"] = self.clock.tick()
        self.store.put("products", pid, product)
        self.loaded_barcodes()
        return JSONResponse(product, 200 if current else 201)

    async def admin_edit_product(self, request: Request) -> Response:
        """Change some of a product's fields (any of ``PUT``'s but its id's parts)."""
        pid = request.path_params["id"]
        current = self.store.get("products", pid)
        if current is None:
            raise not_found(f"product {pid!r}")
        body = Fields(await read_object(request))
        product = {**current, **self._product_fields(body, partial=True)}
        body.done()
        self._check_barcodes(pid, product["skus"])
        product["updated_at"] = self.clock.tick()
        self.store.put("products", pid, product)
        self.loaded_barcodes()
        return JSONResponse(product)

    async def admin_delete_product(self, request: Request) -> Response:
        """Delete a product (its barcodes are free again)."""
        pid = request.path_params["id"]
        if self.store.get("products", pid) is None:
            raise not_found(f"product {pid!r}")
        self.store.delete("products", pid)
        self.loaded_barcodes()
        return Response(status_code=204)

    def _product_fields(self, body: Fields, *, partial: bool) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if not partial or body.has("description"):
            fields["description"] = body.text("description", max_len=2000)
        if not partial or body.has("category"):
            fields["category"] = body.text("category", max_len=200)
        if not partial or body.has("seasons"):
            seasons = body.raw("seasons") or []
            known = self.store.table("seasons")
            if not isinstance(seasons, list) or not all(s in known for s in seasons):
                body.fail("seasons", "must be a list of season codes Zedonk has")
            fields["seasons"] = list(seasons) if isinstance(seasons, list) else []
        if not partial or body.has("skus"):
            skus = []
            for item in body.items("skus"):
                size = item.text("size", required=True, max_len=50)
                barcode = item.opt_text("barcode", max_len=50)
                item.done()
                skus.append({"size": size, "barcode": barcode})
            fields["skus"] = skus
        if not partial or body.has("prices"):
            prices = []
            for item in body.items("prices"):
                price = {
                    "season": item.text("season", required=True),
                    "currency": item.choice("currency", CURRENCIES, required=True),
                    "wsp": item.money("wsp"),
                    "rrp": item.money("rrp"),
                }
                item.done()
                prices.append(price)
            fields["prices"] = prices
        if not partial or body.has("image_1"):
            fields["image_1"] = body.opt_text("image_1", max_len=1000)
        for name, most in (("textile_content", 200), ("country_of_origin", 2)):
            if not partial or body.has(name):
                fields[name] = body.text(name, max_len=most)
        if not partial or body.has("active"):
            fields["active"] = body.boolean("active", default=True)
        return fields

    def _check_barcodes(self, pid: str, skus: list[dict[str, Any]]) -> None:
        """A barcode sits on one SKU (domain.md §5): 409 when one is on another product's."""
        for sku in skus:
            owner = self.sku_by_barcode.get(gtin_key(sku["barcode"])) if sku["barcode"] else None
            if owner is not None and owner[0] != pid:
                raise conflict(
                    f"barcode {sku['barcode']} is on {owner[0]} size {owner[1]}",
                    product_id=owner[0],
                )

    async def admin_edit_customer(self, request: Request) -> Response:
        """Change a customer's name, account code, currency, active flag or contact."""
        customer = self._customer(request.path_params["id"])
        body = Fields(await read_object(request))
        changes: dict[str, Any] = {}
        if body.has("name"):
            changes["name"] = body.text("name", required=True, max_len=NAME_MAX).strip()
        if body.has("account_code"):
            changes["account_code"] = body.opt_text("account_code", max_len=ACCOUNT_CODE_MAX)
        if body.has("currency"):
            changes["currency"] = body.choice("currency", CURRENCIES, required=True)
        if body.has("active"):
            changes["active"] = body.boolean("active", default=True)
        for name in ("contact_name", "contact_email"):
            if body.has(name):
                changes[name] = body.opt_text(name, max_len=NAME_MAX)
        body.done()
        for other in self.store.table("customers").values():
            if other["id"] == customer["id"]:
                continue
            if "name" in changes and _same_name(other["name"], changes["name"]):
                raise _conflict(f"a customer named {other['name']!r} exists", other["id"])
            code = changes.get("account_code")
            if code and other["account_code"] == code:
                raise _conflict(f"account code {code!r} belongs to {other['name']!r}", other["id"])
        customer.update(changes, updated_at=self.clock.tick())
        self.store.put("customers", customer["id"], customer)
        return JSONResponse(customer)

    async def admin_search_lag(self, request: Request) -> Response:
        """Sales orders created from now on stay out of every search and listing of sales
        orders for ``seconds`` (0 ends it); a reset ends it too. GET by id never lags."""
        body = await read_object(request)
        seconds = body.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise bad_request("seconds must be a number from 0 to 60")
        if not 0 <= seconds <= 60:
            raise bad_request("seconds must be a number from 0 to 60")
        self.search_lag = float(seconds)
        return JSONResponse({"seconds": self.search_lag})

    async def admin_sales_orders(self, request: Request) -> Response:
        """Every sales order as stored, by id, whatever the search lag: what Zedonk holds."""
        orders = [order for _, order in self.store.ordered("sales_orders", _by_number)]
        return JSONResponse({"items": orders})

    def _read_order(self, body: Fields) -> dict[str, Any]:
        store = self.store
        season = body.text("season", required=True)
        if season and season not in store.table("seasons"):
            body.fail("season", f"no season {season!r}")
        customer_id = body.text("customer_id", required=True)
        customer = store.get("customers", customer_id)
        if customer_id and customer is None:
            body.fail("customer_id", f"no customer {customer_id!r}")
        elif customer is not None and not customer["active"]:
            body.fail("customer_id", f"customer {customer['name']!r} is inactive")
        owner = body.text("owner", required=True)
        user = store.get("users", owner)
        if owner and (user is None or not user["active"]):
            body.fail("owner", f"{owner!r} is not an active user")
        order: dict[str, Any] = {
            "season": season,
            "customer_id": customer_id,
            "order_ref": body.text("order_ref", max_len=ORDER_REF_MAX),
            "connector_ref": body.text("connector_ref", max_len=CONNECTOR_REF_MAX),
            "owner": owner,
            "approved": body.boolean("approved", default=False),
            "currency": body.choice("currency", CURRENCIES, required=True),
            "delivery_start": body.day("delivery_start"),
            "delivery_end": body.day("delivery_end"),
            "comments": body.text("comments", max_len=COMMENTS_MAX),
        }
        start, end = order["delivery_start"], order["delivery_end"]
        if start and end and end < start:
            body.fail("delivery_end", "is before delivery_start")
        for kind in ("delivery", "accounts"):
            fields = body.obj(f"{kind}_address")
            if fields is None:
                order[f"{kind}_address"] = None
                continue
            address = _address(fields, kind=kind)
            address.pop("is_default", None)
            order[f"{kind}_address"] = address
        lines = [
            self._read_line(n, line, season)
            for n, line in enumerate(body.items("lines", required=True, min_items=1), 1)
        ]
        body.done()
        order["lines"] = lines
        order["total_quantity"] = sum(line["quantity"] for line in lines)
        total = sum((Decimal(line["unit_price"]) * line["quantity"] for line in lines), Decimal(0))
        order["total_value"] = f"{total:.2f}"
        return order

    def _read_line(self, line_no: int, line: Fields, season: str) -> dict[str, Any]:
        product_id = line.opt_text("product_id")
        size = line.opt_text("size")
        barcode = line.opt_text("barcode")
        quantity = line.integer("quantity", required=True, minimum=1)
        unit_price = line.money("unit_price")
        line.done()
        found: tuple[str, str, str] | None = None
        if barcode is not None:
            found = self.sku_by_barcode.get(gtin_key(barcode))
            if found is None:
                line.fail("barcode", f"no SKU has barcode {barcode!r}")
        if product_id is not None or size is not None:
            by_id = self._sku(line, product_id, size)
            if by_id and found and by_id[:2] != found[:2]:
                line.fail("barcode", f"{barcode!r} is not the barcode of {product_id} size {size}")
            found = found or by_id
        elif barcode is None:
            line.fail("", "needs a barcode, or a product_id and size")
        pid, sku_size, sku_barcode = found or ("", "", None)
        product = self.store.get("products", pid) if pid else None
        if product is not None and season and season not in product["seasons"]:
            # Products are seasonal (domain.md §1.1-1.2): the strict reading takes a product
            # only into an order of a season it is visible in.
            shown = ", ".join(product["seasons"]) or "no season"
            line.fail("product_id", f"{pid} is not visible in season {season} (only in {shown})")
        return {
            "line_no": line_no,
            "product_id": pid,
            "size": sku_size,
            "barcode": sku_barcode,
            "quantity": quantity,
            "unit_price": unit_price or "0.00",
        }

    def _sku(self, line: Fields, pid: str | None, size: str | None) -> tuple[str, str, Any] | None:
        if pid is None or size is None:
            line.fail("product_id" if pid is None else "size", "is required with the other")
            return None
        product = self.store.get("products", pid)
        if product is None:
            line.fail("product_id", f"no product {pid!r}")
            return None
        sku = next((s for s in product["skus"] if s["size"] == size), None)
        if sku is None:
            sizes = ", ".join(s["size"] for s in product["skus"])
            line.fail("size", f"{pid} has no size {size!r} (sizes: {sizes})")
            return None
        return pid, size, sku["barcode"]


def _by_number(order: dict[str, Any]) -> tuple[int]:
    return (int(order["id"]),)


def _same_name(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _conflict(message: str, existing_id: str) -> ApiError:
    return conflict(message, existing_id=existing_id)


def _address(fields: Fields, *, top: bool = False, kind: str | None = None) -> dict[str, Any]:
    address: dict[str, Any] = {}
    if kind is None:
        address["kind"] = fields.choice("kind", ADDRESS_KINDS, required=True)
    else:
        address["kind"] = kind
        fields.raw("kind")
    for name in ADDRESS_TEXT:
        address[name] = fields.text(name, max_len=200)
    address["country"] = fields.text("country", required=True, max_len=60)
    if fields.has("is_default"):
        address["is_default"] = fields.boolean("is_default", default=False)
    if not top:
        fields.done()
    return address
