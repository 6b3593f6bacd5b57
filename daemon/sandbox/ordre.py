"""The ORDRE stand-in: collections, looks, listings and retailers the connector publishes,
and the orders retailers place (through the ``/_retailer`` endpoints the demo and tests use).

Every object has a ``version``; writes honour ``If-Match``. The showroom rules: a listing sits
in at most one look (domain.md §1.7), a GTIN on one listing, and nothing is deleted while
something else still points at it. ORDRE publishes no API: this API, the connector pushing the
catalogue to ORDRE and polling it for orders, the order statuses, the submission counter and
the field lengths are assumptions, listed in docs/sandbox-api.md ("Assumptions").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
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
    gtin_is_valid,
    invalid,
    json_response,
    no_content,
    not_found,
    paginate,
    parse_timestamp,
    read_json,
    read_object,
)
from daemon.sandbox.seed import ordre_tables
from daemon.sandbox.store import Table

P = "/api/v1"
R = "/_retailer"
STATUSES = ("draft", "submitted", "approved", "cancelled")
ADDRESS_FIELDS = ("company", "line1", "line2", "city", "region", "postcode", "country")
META = ("version", "created_at", "updated_at")
MAX_BATCH = 100


def gtin14(code: str) -> str:
    return code.strip().zfill(14)


class OrdreSandbox(Sandbox):
    name = "ordre"
    title = "ORDRE sandbox"

    def seed_tables(self, options: dict[str, Any]) -> tuple[dict[str, Table], dict[str, int]]:
        return ordre_tables(
            options["seed"], options["large"], options["populated"], options.get("brand", "demo")
        )

    def loaded(self) -> None:
        self.gtin_owner: dict[str, str] = {}
        for key, listing in self.store.table("listings").items():
            for size in listing["sizes"]:
                self.gtin_owner[gtin14(size["gtin"])] = key
        stamps = [o["updated_at"] for o in self.store.table("orders").values()]
        if stamps:
            self.clock.catch_up(max(stamps))  # keep (updated_at, id) increasing after a restart

    def api_routes(self) -> list[BaseRoute]:
        return [
            Route(f"{P}/collections", self.list_collections, methods=["GET"]),
            Route(f"{P}/collections", self.create_collection, methods=["POST"]),
            Route(f"{P}/collections/{{id}}", self.get_collection, methods=["GET"]),
            Route(f"{P}/collections/{{id}}", self.put_collection, methods=["PUT"]),
            Route(f"{P}/collections/{{id}}", self.patch_collection, methods=["PATCH"]),
            Route(f"{P}/collections/{{id}}", self.delete_collection, methods=["DELETE"]),
            Route(f"{P}/looks", self.list_looks, methods=["GET"]),
            Route(f"{P}/looks", self.create_look, methods=["POST"]),
            Route(f"{P}/looks/{{id}}", self.get_look, methods=["GET"]),
            Route(f"{P}/looks/{{id}}", self.put_look, methods=["PUT"]),
            Route(f"{P}/looks/{{id}}", self.patch_look, methods=["PATCH"]),
            Route(f"{P}/looks/{{id}}", self.delete_look, methods=["DELETE"]),
            Route(f"{P}/listings", self.list_listings, methods=["GET"]),
            Route(f"{P}/listings:batch", self.batch_listings, methods=["PUT"]),
            Route(f"{P}/listings/{{key:path}}", self.get_listing, methods=["GET"]),
            Route(f"{P}/listings/{{key:path}}", self.put_listing, methods=["PUT"]),
            Route(f"{P}/listings/{{key:path}}", self.delete_listing, methods=["DELETE"]),
            Route(f"{P}/customers", self.list_customers, methods=["GET"]),
            Route(f"{P}/customers/{{code:path}}", self.get_customer, methods=["GET"]),
            Route(f"{P}/customers/{{code:path}}", self.put_customer, methods=["PUT"]),
            Route(f"{P}/customers/{{code:path}}", self.delete_customer, methods=["DELETE"]),
            Route(f"{P}/orders", self.list_orders, methods=["GET"]),
            Route(f"{P}/orders/{{id}}", self.get_order, methods=["GET"]),
            Route(f"{P}/orders/{{id}}/approve", self.approve_order, methods=["POST"]),
        ]

    def extra_routes(self) -> list[BaseRoute]:
        return [
            Route(f"{R}/orders", self.retailer_submit, methods=["POST"]),
            Route(f"{R}/orders:raw", self.retailer_raw, methods=["POST"]),
            Route(f"{R}/orders/{{id}}", self.retailer_edit, methods=["PATCH"]),
            Route(f"{R}/orders/{{id}}/submit", self.retailer_resubmit, methods=["POST"]),
            Route(f"{R}/orders/{{id}}/cancel", self.retailer_cancel, methods=["POST"]),
        ]

    # versions ----------------------------------------------------------------
    def _save(
        self, table: str, key: str, content: dict[str, Any], current: dict[str, Any] | None
    ) -> tuple[dict[str, Any], str]:
        """Store ``content``; the version moves only when the content really changed."""
        if current is not None:
            if {k: v for k, v in current.items() if k not in META} == content:
                return current, "unchanged"
            obj = {
                **content,
                "version": current["version"] + 1,
                "created_at": current["created_at"],
                "updated_at": self.clock.tick(),
            }
            self.store.put(table, key, obj)
            return obj, "updated"
        now = self.clock.tick()
        obj = {**content, "version": 1, "created_at": now, "updated_at": now}
        self.store.put(table, key, obj)
        return obj, "created"

    def _get(self, table: str, key: str, what: str) -> dict[str, Any]:
        obj = self.store.get(table, key)
        if obj is None:
            raise not_found(f"{what} {key!r}")
        return dict(obj)

    async def _idempotent(
        self, request: Request, data: dict[str, Any], create: Callable[[], dict[str, Any]]
    ) -> Response:
        key = request.headers.get("idempotency-key")
        if key is None:
            obj = create()
            return json_response(obj, 201, obj["version"])
        if not key or len(key) > 200:
            raise bad_request("Idempotency-Key must be 1 to 200 characters")
        fingerprint = hashlib.sha256(
            json.dumps([request.method, request.url.path, data], sort_keys=True).encode()
        ).hexdigest()
        saved = self.store.get("idempotency", key)
        if saved is not None:
            if saved["fingerprint"] != fingerprint:
                raise ApiError(
                    422,
                    "invalid",
                    "this Idempotency-Key was used for another request",
                    {"errors": [{"field": "Idempotency-Key", "message": "reused"}]},
                )
            response = json_response(saved["body"], 201, saved["body"]["version"])
            response.headers["Idempotent-Replayed"] = "true"
            return response
        obj = create()
        self.store.put("idempotency", key, {"fingerprint": fingerprint, "body": obj})
        return json_response(obj, 201, obj["version"])

    # collections -------------------------------------------------------------
    async def list_collections(self, request: Request) -> Response:
        """Collections, sorted by position then id (paginated)."""
        rows = self.store.ordered("collections", by("position", "id"))
        return paginate(request, rows, changes=(self.store, "collections"))

    async def get_collection(self, request: Request) -> Response:
        """One collection."""
        obj = self._get("collections", request.path_params["id"], "collection")
        return json_response(obj, etag=obj["version"])

    async def create_collection(self, request: Request) -> Response:
        """Create a collection (Idempotency-Key accepted); 409 if the name exists."""
        data = await read_object(request)

        def create() -> dict[str, Any]:
            content = self._read_collection(data, None, partial=False)
            cid = f"col_{self.store.next_number('collection'):06d}"
            return self._save("collections", cid, {"id": cid, **content}, None)[0]

        return await self._idempotent(request, data, create)

    async def put_collection(self, request: Request) -> Response:
        """Replace a collection's name, position and description."""
        return await self._update_collection(request, partial=False)

    async def patch_collection(self, request: Request) -> Response:
        """Change some of a collection's fields."""
        return await self._update_collection(request, partial=True)

    async def _update_collection(self, request: Request, *, partial: bool) -> Response:
        cid = request.path_params["id"]
        current = self.store.get("collections", cid)
        _check_preconditions(request, current)
        if current is None:
            raise not_found(f"collection {cid!r}")
        content = self._read_collection(await read_object(request), current, partial=partial)
        obj, _ = self._save("collections", cid, {"id": cid, **content}, current)
        return json_response(obj, etag=obj["version"])

    def _read_collection(
        self, data: dict[str, Any], current: dict[str, Any] | None, *, partial: bool
    ) -> dict[str, Any]:
        body = Fields(data)
        base = current or {}

        def field(name: str, read: Callable[[], Any]) -> Any:
            return base[name] if partial and not body.has(name) else read()

        content = {
            "name": field("name", lambda: body.text("name", required=True, max_len=200)),
            "position": field("position", lambda: body.integer("position", required=True)),
            "description": field("description", lambda: body.text("description", max_len=2000)),
        }
        body.done()
        for other in self.store.table("collections").values():
            if other["id"] != base.get("id") and _same(other["name"], content["name"]):
                raise conflict(
                    f"a collection named {other['name']!r} exists", collection_id=other["id"]
                )
        return content

    async def delete_collection(self, request: Request) -> Response:
        """Delete a collection that has no looks."""
        cid = request.path_params["id"]
        current = self.store.get("collections", cid)
        _check_preconditions(request, current)
        if current is None:
            raise not_found(f"collection {cid!r}")
        looks = [
            lk["id"] for lk in self.store.table("looks").values() if lk["collection_id"] == cid
        ]
        if looks:
            raise conflict(
                f"collection {cid} still has {len(looks)} look(s); delete them first",
                look_ids=looks,
            )
        self.store.delete("collections", cid)
        return no_content()

    # looks -------------------------------------------------------------------
    async def list_looks(self, request: Request) -> Response:
        """Looks with their ordered product keys; filter collection_id (paginated)."""
        wanted = request.query_params.get("collection_id")
        rows = self.store.ordered("looks", by("collection_id", "position", "id"))

        def keep(look: dict[str, Any]) -> bool:
            return wanted is None or look["collection_id"] == wanted

        return paginate(request, rows, keep, changes=(self.store, "looks"))

    async def get_look(self, request: Request) -> Response:
        """One look."""
        obj = self._get("looks", request.path_params["id"], "look")
        return json_response(obj, etag=obj["version"])

    async def create_look(self, request: Request) -> Response:
        """Create a look in a collection (Idempotency-Key accepted)."""
        data = await read_object(request)

        def create() -> dict[str, Any]:
            content = self._read_look(data, None, partial=False)
            lid = f"look_{self.store.next_number('look'):06d}"
            return self._save("looks", lid, {"id": lid, **content}, None)[0]

        return await self._idempotent(request, data, create)

    async def put_look(self, request: Request) -> Response:
        """Replace a look (collection, name, position, product keys)."""
        return await self._update_look(request, partial=False)

    async def patch_look(self, request: Request) -> Response:
        """Change some of a look's fields."""
        return await self._update_look(request, partial=True)

    async def _update_look(self, request: Request, *, partial: bool) -> Response:
        lid = request.path_params["id"]
        current = self.store.get("looks", lid)
        _check_preconditions(request, current)
        if current is None:
            raise not_found(f"look {lid!r}")
        content = self._read_look(await read_object(request), current, partial=partial)
        obj, _ = self._save("looks", lid, {"id": lid, **content}, current)
        return json_response(obj, etag=obj["version"])

    def _read_look(
        self, data: dict[str, Any], current: dict[str, Any] | None, *, partial: bool
    ) -> dict[str, Any]:
        body = Fields(data)
        base = current or {}

        def field(name: str, read: Callable[[], Any]) -> Any:
            return base[name] if partial and not body.has(name) else read()

        content = {
            "collection_id": field(
                "collection_id", lambda: body.text("collection_id", required=True)
            ),
            "name": field("name", lambda: body.text("name", required=True, max_len=200)),
            "position": field("position", lambda: body.integer("position", required=True)),
            "product_keys": field("product_keys", lambda: _string_list(body, "product_keys")),
        }
        body.done()
        keys: list[str] = content["product_keys"]
        errors = []
        if content["collection_id"] not in self.store.table("collections"):
            errors.append(
                {"field": "collection_id", "message": f"no collection {content['collection_id']!r}"}
            )
        listings = self.store.table("listings")
        for i, key in enumerate(keys):
            if key not in listings:
                errors.append({"field": f"product_keys[{i}]", "message": f"no listing {key!r}"})
            elif key in keys[:i]:
                errors.append({"field": f"product_keys[{i}]", "message": f"{key!r} appears twice"})
        if errors:
            raise invalid(errors)
        for other in self.store.table("looks").values():
            if other["id"] == base.get("id"):
                continue
            if other["collection_id"] == content["collection_id"] and _same(
                other["name"], content["name"]
            ):
                raise conflict(
                    f"the collection already has a look named {other['name']!r}",
                    look_id=other["id"],
                )
            clash = sorted(set(keys) & set(other["product_keys"]))
            if clash:
                raise conflict(
                    f"{clash[0]} is already in look {other['id']} ({other['name']!r}); "
                    "remove it there first",
                    look_id=other["id"],
                    keys=clash,
                )
        return content

    async def delete_look(self, request: Request) -> Response:
        """Delete a look."""
        lid = request.path_params["id"]
        current = self.store.get("looks", lid)
        _check_preconditions(request, current)
        if current is None:
            raise not_found(f"look {lid!r}")
        self.store.delete("looks", lid)
        return no_content()

    # listings ----------------------------------------------------------------
    async def list_listings(self, request: Request) -> Response:
        """Product listings, sorted by key (paginated)."""
        rows = self.store.ordered("listings", by("key"))
        return paginate(request, rows, changes=(self.store, "listings"))

    async def get_listing(self, request: Request) -> Response:
        """One listing by key STYLE/FABRIC/COLOUR."""
        obj = self._get("listings", request.path_params["key"], "listing")
        return json_response(obj, etag=obj["version"])

    async def put_listing(self, request: Request) -> Response:
        """Create or replace one listing (upsert by key)."""
        key = request.path_params["key"]
        current = self.store.get("listings", key)
        _check_preconditions(request, current)
        body = Fields(await read_object(request))
        if body.has("key") and body.raw("key") != key:
            body.fail("key", f"must match the path ({key!r}) or be left out")
        content = _read_listing(body, key)
        body.done()
        self._check_gtins({key: content})
        obj, result = self._put_listing(key, content, current)
        return json_response(obj, 201 if result == "created" else 200, obj["version"])

    def _put_listing(
        self, key: str, content: dict[str, Any], current: dict[str, Any] | None
    ) -> tuple[dict[str, Any], str]:
        for size in (current or {}).get("sizes", []):
            self.gtin_owner.pop(gtin14(size["gtin"]), None)
        obj, result = self._save("listings", key, content, current)
        for size in obj["sizes"]:
            self.gtin_owner[gtin14(size["gtin"])] = key
        return obj, result

    def _check_gtins(self, batch: dict[str, dict[str, Any]]) -> None:
        """A GTIN may sit on one listing only, judged on the state after the whole batch."""
        claimed: dict[str, str] = {}
        for key, content in batch.items():
            for size in content["sizes"]:
                code = gtin14(size["gtin"])
                other = claimed.get(code)
                if other is None:
                    owner = self.gtin_owner.get(code)
                    other = (
                        owner if owner not in batch else None
                    )  # batch items speak for themselves
                if other is not None and other != key:
                    raise conflict(
                        f"GTIN {size['gtin']} already belongs to listing {other}",
                        gtin=size["gtin"],
                        key=other,
                    )
                claimed[code] = key

    async def batch_listings(self, request: Request) -> Response:
        """Upsert up to 100 listings at once, all or nothing."""
        body = Fields(await read_object(request))
        items = body.items("items", required=True, min_items=1)
        if len(items) > MAX_BATCH:
            body.fail("items", f"holds {len(items)} items; at most {MAX_BATCH} per batch")
        batch: dict[str, dict[str, Any]] = {}
        expected: dict[str, int | None] = {}
        for i, item in enumerate(items):
            key = item.text("key", required=True, max_len=200)
            expected[key] = item.integer("if_match", minimum=1) if item.has("if_match") else None
            if key in batch:
                item.fail("key", f"{key!r} appears twice in the batch")
            batch[key] = _read_listing(item, key)
            item.done()
            if body.errors:
                continue
            current = self.store.get("listings", key)
            want = expected[key]
            if want is not None and (current is None or current["version"] != want):
                raise ApiError(
                    412,
                    "precondition_failed",
                    f"items[{i}] ({key}): if_match {want} does not match",
                    {"index": i, "key": key, "current_version": current and current["version"]},
                )
        body.done()
        self._check_gtins(batch)
        results = []
        for key, content in batch.items():
            obj, result = self._put_listing(key, content, self.store.get("listings", key))
            results.append({"key": key, "result": result, "listing": obj})
        return JSONResponse({"items": results})

    async def delete_listing(self, request: Request) -> Response:
        """Delete a listing no look holds."""
        key = request.path_params["key"]
        current = self.store.get("listings", key)
        _check_preconditions(request, current)
        if current is None:
            raise not_found(f"listing {key!r}")
        for look in self.store.table("looks").values():
            if key in look["product_keys"]:
                raise conflict(
                    f"listing {key} is in look {look['id']} ({look['name']!r}); "
                    "remove it there first",
                    look_id=look["id"],
                )
        for size in current["sizes"]:
            self.gtin_owner.pop(gtin14(size["gtin"]), None)
        self.store.delete("listings", key)
        return no_content()

    # customers ---------------------------------------------------------------
    async def list_customers(self, request: Request) -> Response:
        """Retailers, sorted by account code (paginated)."""
        rows = self.store.ordered("customers", by("account_code"))
        return paginate(request, rows, changes=(self.store, "customers"))

    async def get_customer(self, request: Request) -> Response:
        """One retailer by account code."""
        obj = self._get("customers", request.path_params["code"], "customer")
        return json_response(obj, etag=obj["version"])

    async def put_customer(self, request: Request) -> Response:
        """Create or replace a retailer (upsert by account code)."""
        code = request.path_params["code"]
        current = self.store.get("customers", code)
        _check_preconditions(request, current)
        body = Fields(await read_object(request))
        content = {
            "account_code": code,
            "name": body.text("name", required=True, max_len=200),
            "currency": _currency(body, "currency", required=True),
            "delivery_address": _address(body.obj("delivery_address")),
            "accounts_address": _address(body.obj("accounts_address")),
            "contact_name": body.opt_text("contact_name", max_len=200),
            "contact_email": body.opt_text("contact_email", max_len=200),
        }
        if body.has("account_code") and body.raw("account_code") != code:
            body.fail("account_code", f"must match the path ({code!r}) or be left out")
        body.done()
        obj, result = self._save("customers", code, content, current)
        return json_response(obj, 201 if result == "created" else 200, obj["version"])

    async def delete_customer(self, request: Request) -> Response:
        """Delete a retailer (for tests; the connector never deletes retailers)."""
        code = request.path_params["code"]
        current = self.store.get("customers", code)
        _check_preconditions(request, current)
        if current is None:
            raise not_found(f"customer {code!r}")
        self.store.delete("customers", code)
        return no_content()

    # orders ------------------------------------------------------------------
    async def list_orders(self, request: Request) -> Response:
        """Orders sorted by (updated_at, id); filters status, updated_since (paginated)."""
        status = request.query_params.get("status")
        if status is not None and status not in STATUSES:
            raise bad_request(f"status must be one of {', '.join(STATUSES)}")
        since_text = request.query_params.get("updated_since")
        since = parse_timestamp(since_text) if since_text else None

        def keep(o: dict[str, Any]) -> bool:
            if since is not None and o["updated_at"] < since:
                return False
            return "raw_body" in o or status is None or o["status"] == status

        rows = self.store.ordered("orders", by("updated_at", "id"))
        return paginate(request, rows, keep, _shown, changes=(self.store, "orders"))

    async def get_order(self, request: Request) -> Response:
        """One order by its ORDRE id."""
        order = self._get("orders", request.path_params["id"], "order")
        if "raw_body" in order:
            return JSONResponse(order["raw_body"])
        return json_response(order, etag=order["version"])

    async def approve_order(self, request: Request) -> Response:
        """Approve a submitted order (brand side)."""
        oid = request.path_params["id"]
        current = self.store.get("orders", oid)
        _check_preconditions(request, current)
        order = self._order(oid)
        if order["status"] != "submitted":
            raise conflict(
                f"order {order['number']} is {order['status']}; only a submitted "
                "order can be approved",
                status=order["status"],
            )
        order["status"] = "approved"
        return self._store_order(order)

    def _order(self, oid: str) -> dict[str, Any]:
        order = self._get("orders", oid, "order")
        if "raw_body" in order:
            raise conflict(f"order {oid} was stored raw and cannot be changed")
        return order

    def _store_order(self, order: dict[str, Any], *, submitted: bool = False) -> Response:
        order["version"] += 1
        order["updated_at"] = self.clock.tick()
        if submitted:
            order["submitted_at"] = order["updated_at"]
        self.store.put("orders", order["id"], order)
        return json_response(order, etag=order["version"])

    # retailer ----------------------------------------------------------------
    async def retailer_submit(self, request: Request) -> Response:
        """Retailer: submit a new order (or save a draft)."""
        body = Fields(await read_object(request))
        retailer_fields = body.obj("retailer", required=True)
        retailer, customer = self._read_retailer(retailer_fields)
        order: dict[str, Any] = {
            "retailer": retailer,
            "po_number": "",
            "currency": (customer or {}).get("currency", "EUR"),
            "ship_window": {"start": None, "end": None},
            "delivery_address": (customer or {}).get("delivery_address"),
            "accounts_address": (customer or {}).get("accounts_address"),
            "comments": "",
        }
        status = body.choice("status", ("submitted", "draft"))
        self._read_edits(body, order, lines_required=True)
        body.done()
        number = self.store.next_number("order")
        order_number = self.store.next_number("order_number", start=10001)
        now = self.clock.tick()
        order = {
            "id": f"ord_{number:06d}",
            "number": f"ORD-{order_number}",
            "submission": 1 if status == "submitted" else 0,
            "status": status,
            **order,
            "created_at": now,
            "updated_at": now,
            "submitted_at": now if status == "submitted" else None,
            "version": 1,
        }
        self.store.put("orders", order["id"], order)
        return json_response(order, 201, order["version"])

    async def retailer_edit(self, request: Request) -> Response:
        """Retailer: edit an order without re-submitting it."""
        order = self._live_order(request.path_params["id"])
        body = Fields(await read_object(request))
        self._read_edits(body, order, lines_required=False)
        body.done()
        return self._store_order(order)

    async def retailer_resubmit(self, request: Request) -> Response:
        """Retailer: (edit and) submit again; the submission number goes up."""
        order = self._live_order(request.path_params["id"])
        body = Fields(await read_object(request, optional=True))
        self._read_edits(body, order, lines_required=False)
        body.done()
        order["submission"] += 1
        order["status"] = "submitted"
        return self._store_order(order, submitted=True)

    async def retailer_cancel(self, request: Request) -> Response:
        """Retailer: cancel an order."""
        order = self._order(request.path_params["id"])
        if order["status"] == "cancelled":
            return json_response(order, etag=order["version"])
        order["status"] = "cancelled"
        return self._store_order(order)

    async def retailer_raw(self, request: Request) -> Response:
        """Store any JSON verbatim as an order: the connector must survive what it cannot read."""
        data = await read_json(request)
        rid = f"raw_{self.store.next_number('raw_order'):06d}"
        self.store.put(
            "orders", rid, {"id": rid, "updated_at": self.clock.tick(), "raw_body": data}
        )
        return JSONResponse({"id": rid}, 201)

    def _live_order(self, oid: str) -> dict[str, Any]:
        order = self._order(oid)
        if order["status"] == "cancelled":
            raise conflict(f"order {order['number']} is cancelled", status="cancelled")
        return order

    def _read_retailer(self, fields: Fields | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
        if fields is None:
            return {"name": "", "account_code": None, "email": None}, None
        code = fields.opt_text("account_code", max_len=50)
        customer = self.store.get("customers", code) if code else None
        name = fields.opt_text("name", max_len=200)
        email = fields.opt_text("email", max_len=200)
        fields.done()
        if customer is not None:
            name = name if name is not None else customer["name"]
            email = email if fields.has("email") else customer["contact_email"]
        if not name:
            fields.fail("name", "is required unless account_code names an ORDRE customer")
        return {"name": name or "", "account_code": code, "email": email}, customer

    def _read_edits(self, body: Fields, order: dict[str, Any], *, lines_required: bool) -> None:
        if body.has("po_number"):
            order["po_number"] = body.text("po_number", max_len=100)
        if body.has("currency"):
            order["currency"] = _currency(body, "currency", required=True)
        if body.has("ship_window"):
            window = body.obj("ship_window")
            start = window.day("start") if window else None
            end = window.day("end") if window else None
            if window:
                window.done()
            order["ship_window"] = {"start": start, "end": end}
        for kind in ("delivery_address", "accounts_address"):
            if body.has(kind):
                order[kind] = _address(body.obj(kind))
        if body.has("comments"):
            order["comments"] = body.text("comments", max_len=2000)
        if lines_required or body.has("lines"):
            lines = body.items("lines", required=True, min_items=1)
            order["lines"] = [
                self._read_line(n, f, order["currency"]) for n, f in enumerate(lines, 1)
            ]

    def _read_line(self, line_no: int, f: Fields, currency: str) -> dict[str, Any]:
        by_barcode = f.has("barcode")
        by_name = any(f.has(k) for k in ("style", "colour", "size"))
        barcode = f.opt_text("barcode", max_len=50)
        style, colour, size = (
            f.text(k, required=by_name or not by_barcode, max_len=100)
            for k in ("style", "colour", "size")
        )
        quantity = f.integer("quantity", required=True, minimum=1)
        unit_price = f.money("unit_price", required=False)
        f.done()
        listing: dict[str, Any] | None = None
        if by_barcode and not by_name:
            owner = self.gtin_owner.get(gtin14(barcode)) if barcode else None
            listing = self.store.get("listings", owner) if owner else None
            if listing is None:
                f.fail(
                    "barcode",
                    f"no listing has GTIN {barcode!r}; send style/colour/size too "
                    "to store the line as sent",
                )
            else:
                style, colour = listing["style"], listing["colour"]
                size = next(
                    s["size"]
                    for s in listing["sizes"]
                    if gtin14(s["gtin"]) == gtin14(barcode or "")
                )
        else:
            listing = next(
                (
                    x
                    for x in self.store.table("listings").values()
                    if x["style"] == style
                    and x["colour"] == colour
                    and any(s["size"] == size for s in x["sizes"])
                ),
                None,
            )
            if not by_barcode:
                barcode = (
                    next((s["gtin"] for s in listing["sizes"] if s["size"] == size), None)
                    if listing
                    else None
                )
        if unit_price is None:
            price = next(
                (p for p in (listing or {}).get("prices", []) if p["currency"] == currency), None
            )
            if price is None:
                f.fail("unit_price", f"is required: no listing price in {currency} for this line")
            unit_price = price["wsp"] if price else "0.00"
        return {
            "line_no": line_no,
            "barcode": barcode,
            "style": style,
            "colour": colour,
            "size": size,
            "quantity": quantity,
            "unit_price": unit_price,
        }


# --------------------------------------------------------------------------- helpers


def _check_preconditions(request: Request, current: dict[str, Any] | None) -> None:
    if_match = request.headers.get("if-match")
    if if_match is not None:
        version = None if current is None else current["version"]
        text = if_match.strip()
        if text != "*":
            text = text.removeprefix("W/").strip('"')
            if not text.isdigit():
                raise bad_request(f'If-Match must be a quoted version like "3", not {if_match!r}')
        if current is None or (text != "*" and int(text) != version):
            raise ApiError(
                412,
                "precondition_failed",
                f"If-Match {if_match} does not match the current version {version}",
                {"current_version": version},
            )
    if request.headers.get("if-none-match", "").strip() == "*" and current is not None:
        raise ApiError(
            412,
            "precondition_failed",
            "the object already exists (If-None-Match: *)",
            {"current_version": current["version"]},
        )


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _string_list(body: Fields, name: str) -> list[str]:
    value = body.raw(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        body.fail(name, "must be a list of listing keys")
        return []
    return list(value)


def _currency(body: Fields, name: str, *, required: bool) -> str:
    value = body.text(name, required=required, default="EUR", max_len=3)
    if not (len(value) == 3 and value.isascii() and value.isalpha() and value.isupper()):
        body.fail(name, "must be an ISO 4217 code like EUR")
    return value


def _address(fields: Fields | None) -> dict[str, Any] | None:
    if fields is None:
        return None
    address = {name: fields.text(name, max_len=200) for name in ADDRESS_FIELDS}
    if not address["country"]:
        fields.fail("country", "is required")
    fields.done()
    return address


def _read_listing(body: Fields, key: str) -> dict[str, Any]:
    content: dict[str, Any] = {"key": key}
    for name in ("style", "fabric", "colour"):
        content[name] = body.text(name, required=True, max_len=50)
    content["description"] = body.text("description", max_len=2000)
    content["category"] = body.text("category", required=True, max_len=100)
    if not body.errors and key != f"{content['style']}/{content['fabric']}/{content['colour']}":
        body.fail("", f"key {key!r} must be style/fabric/colour")
    sizes: list[dict[str, str]] = []
    for item in body.items("sizes", required=True, min_items=1):
        size = item.text("size", required=True, max_len=30)
        gtin = item.text("gtin", required=True, max_len=14)
        item.done()
        if gtin and not gtin_is_valid(gtin):
            item.fail("gtin", f"{gtin!r} is not a valid GTIN-8/12/13/14 (digits and check digit)")
        if any(s["size"] == size for s in sizes):
            item.fail("size", f"size {size!r} appears twice")
        sizes.append({"size": size, "gtin": gtin})
    prices: list[dict[str, Any]] = []
    for item in body.items("prices"):
        price = {
            "currency": _currency(item, "currency", required=True),
            "wsp": item.money("wsp"),
            "rrp": item.money("rrp"),
        }
        item.done()
        if any(p["currency"] == price["currency"] for p in prices):
            item.fail("currency", f"{price['currency']} appears twice")
        prices.append(price)
    content["sizes"] = sizes
    content["prices"] = prices
    content["image_url"] = body.opt_text("image_url", max_len=1000)
    return content


def _shown(order: dict[str, Any]) -> Any:
    return order.get("raw_body", order)
