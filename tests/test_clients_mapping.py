"""API JSON to domain objects and back, for both clients (httpx.MockTransport).

The JSON here is copied from docs/sandbox-api.md, not from the sandbox code, so a mapping
mistake cannot hide on both sides.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from msgspec import structs

from daemon.clients import BrokenItem, OrdreClient, RetryPolicy, ZedonkClient
from daemon.core.model import (
    Address,
    Customer,
    Listing,
    ListingPrice,
    ListingSize,
    OrdreCollection,
    OrdreCustomer,
    OrdreLook,
    ProductId,
    SalesOrder,
    SalesOrderLine,
)
from daemon.errors import BadResponse, Conflict, OutcomeUnknown

TOKEN = "zedonk-secret-token-1234"
Handler = Callable[[httpx.Request], httpx.Response]

PRODUCT = {
    "id": "ML-101/WOOL/NAVY",
    "style": "ML-101",
    "fabric": "WOOL",
    "colour": "NAVY",
    "description": "Double-faced wool coat",
    "category": "Coats",
    "seasons": ["AW26"],
    "skus": [{"size": "36", "barcode": "5061234500017"}, {"size": "38", "barcode": None}],
    "prices": [{"season": "AW26", "currency": "EUR", "wsp": "310.00", "rrp": "775.00"}],
    "image_1": "https://images.maisonlune.example/ML-101-WOOL-NAVY-1.jpg",
    "textile_content": "90% wool, 10% cashmere",
    "country_of_origin": "PT",
    "active": True,
    "updated_at": "2026-11-27T06:11:13.123Z",
}

ADDRESS = {
    "id": "A00031",
    "kind": "delivery",
    "company": "Atelier Nord",
    "line1": "Strandgade 12",
    "line2": "",
    "city": "Copenhagen",
    "region": "",
    "postcode": "1401",
    "country": "DK",
    "is_default": True,
}

CUSTOMER = {
    "id": "C00012",
    "name": "Atelier Nord",
    "account_code": "ATN001",
    "active": True,
    "currency": "EUR",
    "contact_name": "Ingrid Berg",
    "contact_email": "buying@ateliernord.example",
    "addresses": [ADDRESS],
    "created_at": "2026-11-27T06:11:13.123Z",
    "updated_at": "2026-11-27T06:11:13.123Z",
}

ORDRE_ADDRESS = {
    "company": "Atelier Nord",
    "line1": "Strandgade 12",
    "line2": "",
    "city": "Copenhagen",
    "region": "",
    "postcode": "1401",
    "country": "DK",
}

ORDER = {
    "id": "ord_000003",
    "number": "ORD-10003",
    "submission": 2,
    "status": "submitted",
    "po_number": "PO-77",
    "retailer": {"name": "Atelier Nord", "account_code": "ATN001", "email": None},
    "currency": "EUR",
    "ship_window": {"start": "2026-07-01", "end": None},
    "delivery_address": ORDRE_ADDRESS,
    "accounts_address": None,
    "comments": "",
    "created_at": "2026-11-27T06:11:13.123Z",
    "updated_at": "2026-11-27T07:00:00.000Z",
    "submitted_at": "2026-11-27T07:00:00.000Z",
    "version": 4,
    "lines": [
        {
            "line_no": 1,
            "barcode": "05061234500017",
            "style": "ML-101",
            "colour": "NAVY",
            "size": "36",
            "quantity": 3,
            "unit_price": "310.00",
        },
        {
            "line_no": 2,
            "barcode": None,
            "style": "ML-999",
            "colour": "RED",
            "size": "M",
            "quantity": 1,
            "unit_price": "99.00",
        },
    ],
}

LISTING = {
    "key": "ML-101/WOOL/NAVY",
    "style": "ML-101",
    "fabric": "WOOL",
    "colour": "NAVY",
    "description": "Double-faced wool coat",
    "category": "Coats",
    "sizes": [{"size": "36", "gtin": "05061234500017"}],
    "prices": [{"currency": "EUR", "wsp": "310.00", "rrp": "775.00"}],
    "image_url": None,
    "version": 3,
    "created_at": "2026-11-27T06:11:13.123Z",
    "updated_at": "2026-11-27T06:11:13.123Z",
}


def page(*items: Any, cursor: str | None = None) -> httpx.Response:
    return httpx.Response(200, json={"items": list(items), "next_cursor": cursor})


class Recorder:
    """Routes requests to canned answers and keeps every request it saw."""

    def __init__(self, routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]]):
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.raw_path.decode().split("?")[0].removeprefix("/api/v1")
        return self.routes[(request.method, path)](request)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def zedonk(recorder: Recorder) -> ZedonkClient:
    return ZedonkClient(
        "http://zedonk.test/api/v1",
        TOKEN,
        transport=httpx.MockTransport(recorder),
        retry=RetryPolicy(attempts=3),
        sleep=lambda s: None,
    )


def ordre(recorder: Recorder) -> OrdreClient:
    return OrdreClient(
        "http://ordre.test/api/v1",
        TOKEN,
        transport=httpx.MockTransport(recorder),
        retry=RetryPolicy(attempts=3),
        sleep=lambda s: None,
    )


def always(response: httpx.Response) -> Handler:
    return lambda request: response


# --------------------------------------------------------------------------- Zedonk


def test_products_map_to_the_model_across_pages() -> None:
    second = {**PRODUCT, "id": "ML-102/SILK/RED", "style": "ML-102", "fabric": "SILK"}
    second |= {"colour": "RED", "image_1": None, "prices": []}

    def products(request: httpx.Request) -> httpx.Response:
        assert request.url.params["limit"] == "200"
        if request.url.params.get("cursor") == "p2":
            return page(second)
        return page(PRODUCT, cursor="p2")

    with zedonk(Recorder({("GET", "/products"): products})) as client:
        found = list(client.products())
    assert [str(p.id) for p in found] == ["ML-101/WOOL/NAVY", "ML-102/SILK/RED"]
    coat = found[0]
    assert coat.id == ProductId("ML-101", "WOOL", "NAVY")
    assert coat.seasons == ("AW26",)
    assert [(s.size, s.barcode) for s in coat.skus] == [("36", "5061234500017"), ("38", None)]
    assert coat.prices[0].wsp == Decimal("310.00") and coat.prices[0].rrp == Decimal("775.00")
    assert coat.image_url.endswith("NAVY-1.jpg") if coat.image_url else False
    assert coat.category == "Coats" and coat.active
    # What no plan compares is not kept (a listing has no textile content or origin).
    assert not hasattr(coat, "textile_content") and not hasattr(coat, "country_of_origin")
    assert found[1].image_url is None and found[1].prices == ()


def test_a_broken_item_pages_before_the_end_fails_the_listing_and_the_client_closes() -> None:
    """The page reader ahead of the caller stops when the caller raised without closing the
    listing: closing the client used to wait for it for ever."""
    broken = {**PRODUCT, "skus": [{"size": "36", "barcode": 5061234500017}]}

    def products(request: httpx.Request) -> httpx.Response:
        at = int(request.url.params.get("cursor", "0"))
        return page(broken if at == 0 else PRODUCT, cursor=str(at + 1) if at < 5 else None)

    outcome: list[BaseException] = []

    def read_then_close() -> None:
        try:
            with zedonk(Recorder({("GET", "/products"): products})) as client:
                list(client.products())
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=read_then_close, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "closing the client hung"
    assert [type(e) for e in outcome] == [BadResponse]


def test_product_filters_go_into_the_query() -> None:
    recorder = Recorder({("GET", "/products"): always(page())})
    list(zedonk(recorder).products(season="AW26", active=True))
    params = recorder.requests[0].url.params
    assert (params["season"], params["active"]) == ("AW26", "true")
    assert "category" not in params


def test_a_malformed_product_is_a_bad_response_naming_it() -> None:
    broken = {**PRODUCT, "skus": [{"size": "36", "barcode": 5061234500017}]}
    recorder = Recorder({("GET", "/products"): always(page(broken))})
    with pytest.raises(BadResponse) as caught:
        list(zedonk(recorder).products())
    assert str(caught.value) == (
        "zedonk: GET /products: item id=ML-101/WOOL/NAVY: skus[0].barcode: "
        "expected a string or null, got 5061234500017"
    )


def test_on_broken_collects_malformed_products_and_carries_on() -> None:
    broken = {**PRODUCT, "id": "X/Y/Z", "prices": [{"season": "AW26", "wsp": 1.5}]}
    recorder = Recorder({("GET", "/products"): always(page(broken, PRODUCT))})
    seen: list[BrokenItem] = []
    found = list(zedonk(recorder).products(on_broken=seen.append))
    assert [str(p.id) for p in found] == ["ML-101/WOOL/NAVY"]
    assert [b.id for b in seen] == ["X/Y/Z"]
    assert "prices[0].currency: missing" in seen[0].reason


def test_seasons_users_categories() -> None:
    recorder = Recorder(
        {
            ("GET", "/seasons"): always(
                page({"code": "AW26", "name": "Autumn Winter 26", "starts_on": "2026-02-01"})
            ),
            ("GET", "/users"): always(
                page({"username": "intern", "name": "I", "email": "i@x", "active": False})
            ),
            ("GET", "/categories"): always(page({"name": "Coats"}, {"name": "Knitwear"})),
        }
    )
    client = zedonk(recorder)
    assert client.seasons()[0].starts_on == date(2026, 2, 1)
    assert client.users()[0].active is False
    assert client.categories() == ["Coats", "Knitwear"]


def test_customer_maps_addresses_and_contact() -> None:
    recorder = Recorder({("GET", "/customers/C00012"): always(httpx.Response(200, json=CUSTOMER))})
    customer = zedonk(recorder).get_customer("C00012")
    assert customer.account_code == "ATN001"
    assert customer.contact_email == "buying@ateliernord.example"
    assert customer.addresses == (
        Address(
            kind="delivery",
            company="Atelier Nord",
            line1="Strandgade 12",
            city="Copenhagen",
            postcode="1401",
            country="DK",
            is_default=True,
        ),
    )


def test_create_customer_sends_the_documented_body() -> None:
    recorder = Recorder({("POST", "/customers"): always(httpx.Response(201, json=CUSTOMER))})
    new = Customer(
        id="",
        name="Atelier Nord",
        account_code="ATN001",
        active=True,
        currency="EUR",
        addresses=(Address(kind="delivery", line1="Strandgade 12", country="DK"),),
    )
    created = zedonk(recorder).create_customer(new)
    assert created.id == "C00012"
    body = recorder.body()
    assert set(body) == {
        "name",
        "currency",
        "account_code",
        "active",
        "contact_name",
        "contact_email",
        "addresses",
    }
    assert body["addresses"][0]["kind"] == "delivery"
    assert "id" not in body["addresses"][0]


def test_customer_name_taken_is_a_conflict() -> None:
    error = {"code": "conflict", "message": "name taken", "details": {"existing_id": "C1"}}
    recorder = Recorder(
        {("POST", "/customers"): always(httpx.Response(409, json={"error": error}))}
    )
    with pytest.raises(Conflict, match="name taken"):
        zedonk(recorder).create_customer(
            Customer(id="", name="Atelier Nord", account_code=None, active=True, currency="EUR")
        )


def test_find_customer_by_name_queries_by_exact_name() -> None:
    recorder = Recorder({("GET", "/customers"): always(page())})
    assert zedonk(recorder).find_customer_by_name("Atelier Nord") is None
    assert recorder.requests[0].url.params["name"] == "Atelier Nord"


SALES_ORDER = SalesOrder(
    season="AW26",
    customer_id="C00012",
    order_ref="PO-77",
    connector_ref="ordre:ord_000003#2",
    owner="sophie",
    approved=False,
    currency="EUR",
    delivery_start=date(2026, 7, 1),
    delivery_address=Address(kind="store", company="Atelier Nord", country="DK"),
    lines=(
        SalesOrderLine(
            ProductId.parse("ML-101/WOOL/NAVY"), "38", "5061234500024", 2, Decimal("310")
        ),
    ),
)


def created_order(request: httpx.Request) -> httpx.Response:
    sent = json.loads(request.content)
    lines = [{"line_no": i + 1, **line} for i, line in enumerate(sent["lines"])]
    answer = {**sent, "id": "1003", "number": "SO-001003", "active": True, "lines": lines}
    return httpx.Response(201, json=answer)


def test_create_sales_order_round_trips() -> None:
    recorder = Recorder({("POST", "/sales-orders"): created_order})
    created = zedonk(recorder).create_sales_order(SALES_ORDER)
    body = recorder.body()
    assert body["lines"] == [
        {
            "product_id": "ML-101/WOOL/NAVY",
            "size": "38",
            "barcode": "5061234500024",
            "quantity": 2,
            "unit_price": "310",
        }
    ]
    assert body["delivery_start"] == "2026-07-01" and body["delivery_end"] is None
    assert body["delivery_address"]["kind"] == "delivery"
    assert "active" not in body and "id" not in body  # unknown fields are rejected (422)
    assert (created.id, created.number) == ("1003", "SO-001003")
    assert created.lines == SALES_ORDER.lines
    assert created.delivery_start == date(2026, 7, 1)
    assert created.connector_ref == "ordre:ord_000003#2"


def test_create_sales_order_is_never_retried_on_a_5xx() -> None:
    recorder = Recorder({("POST", "/sales-orders"): always(httpx.Response(503))})
    with pytest.raises(OutcomeUnknown):
        zedonk(recorder).create_sales_order(SALES_ORDER)
    assert len(recorder.requests) == 1


def stored_order() -> Any:
    """SALES_ORDER as Zedonk answers it after a create."""
    recorder = Recorder({("POST", "/sales-orders"): created_order})
    zedonk(recorder).create_sales_order(SALES_ORDER)
    return created_order(recorder.requests[0]).json()


def test_find_sales_order_by_connector_ref() -> None:
    recorder = Recorder({("GET", "/sales-orders"): always(page(stored_order()))})
    found = zedonk(recorder).find_sales_order("ordre:ord_000003#2")
    assert found is not None and found.number == "SO-001003"
    assert recorder.requests[0].url.params["connector_ref"] == "ordre:ord_000003#2"


def test_two_orders_with_one_connector_ref_are_reported_as_a_conflict() -> None:
    twin = {**stored_order(), "id": "1004", "number": "SO-001004"}
    recorder = Recorder({("GET", "/sales-orders"): always(page(stored_order(), twin))})
    with pytest.raises(Conflict, match="SO-001003, SO-001004"):
        zedonk(recorder).find_sales_order("ordre:ord_000003#2")


# --------------------------------------------------------------------------- ORDRE


def test_orders_map_and_a_broken_one_is_yielded_not_raised() -> None:
    raw = {"id": "raw_000001", "lines": "nonsense"}
    no_id = ["not an order"]
    recorder = Recorder({("GET", "/orders"): always(page(ORDER, raw, no_id))})
    since = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    items = list(ordre(recorder).orders(statuses=["submitted"], updated_since=since))
    params = recorder.requests[0].url.params
    assert (params["status"], params["updated_since"]) == ("submitted", "2026-11-27T08:00:00.000Z")
    order, broken, nameless = items
    assert not isinstance(order, BrokenItem)
    assert order.import_key == "ord_000003#2"
    assert (order.retailer_name, order.retailer_account_code, order.buyer_email) == (
        "Atelier Nord",
        "ATN001",
        None,
    )
    assert (order.ship_start, order.ship_end) == (date(2026, 7, 1), None)
    assert order.delivery_address is not None and order.delivery_address.country == "DK"
    assert order.accounts_address is None
    assert order.updated_at == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    assert order.version == "4"
    assert [line.barcode for line in order.lines] == ["05061234500017", None]
    assert order.lines[0].unit_price == Decimal("310.00")
    assert isinstance(broken, BrokenItem) and broken.id == "raw_000001"
    assert broken.raw == raw
    assert broken.reason == "GET /orders: item id=raw_000001: retailer: missing"
    assert isinstance(nameless, BrokenItem) and nameless.id is None


def test_orders_with_several_statuses_filter_on_our_side() -> None:
    approved = {**ORDER, "id": "ord_2", "status": "approved"}
    cancelled = {**ORDER, "id": "ord_3", "status": "cancelled"}
    recorder = Recorder({("GET", "/orders"): always(page(ORDER, approved, cancelled))})
    got = list(ordre(recorder).orders(statuses=["submitted", "approved"]))
    assert [o.id for o in got] == ["ord_000003", "ord_2"]
    assert "status" not in recorder.requests[0].url.params


def test_orders_refuse_a_naive_timestamp() -> None:
    recorder = Recorder({("GET", "/orders"): always(page())})
    with pytest.raises(ValueError, match="time zone"):
        list(ordre(recorder).orders(updated_since=datetime(2026, 1, 1)))


def test_listing_maps_versions_and_keys_travel_encoded() -> None:
    recorder = Recorder(
        {
            ("GET", "/listings/ML-101%2FWOOL%2FNAVY"): always(
                httpx.Response(200, json=LISTING, headers={"ETag": '"3"'})
            ),
        }
    )
    listing = ordre(recorder).get_listing("ML-101/WOOL/NAVY")
    assert listing.version == "3"
    assert listing.sizes == (ListingSize("36", "05061234500017"),)
    assert listing.prices == (ListingPrice("EUR", Decimal("310.00"), Decimal("775.00")),)


def desired_listing() -> Listing:
    return Listing(
        key="ML-101/WOOL/NAVY",
        style="ML-101",
        fabric="WOOL",
        colour="NAVY",
        description="Double-faced wool coat",
        category="Coats",
        sizes=(ListingSize("36", "05061234500017"),),
        prices=(ListingPrice("EUR", Decimal("310.00"), Decimal("775.00")),),
    )


def test_upsert_listing_sends_if_match_as_a_quoted_version() -> None:
    recorder = Recorder(
        {("PUT", "/listings/ML-101%2FWOOL%2FNAVY"): always(httpx.Response(200, json=LISTING))}
    )
    client = ordre(recorder)
    client.upsert_listing(desired_listing(), if_match="2")
    client.upsert_listing(desired_listing(), create_only=True)
    first, second = recorder.requests
    assert first.headers["If-Match"] == '"2"' and "If-None-Match" not in first.headers
    assert second.headers["If-None-Match"] == "*" and "If-Match" not in second.headers
    assert recorder.body() == {
        "style": "ML-101",
        "fabric": "WOOL",
        "colour": "NAVY",
        "description": "Double-faced wool coat",
        "category": "Coats",
        "sizes": [{"size": "36", "gtin": "05061234500017"}],
        "prices": [{"currency": "EUR", "wsp": "310.00", "rrp": "775.00"}],
        "image_url": None,
    }


def test_batch_upsert_carries_if_match_per_item() -> None:
    def batch(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["items"]
        return httpx.Response(
            200,
            json={
                "items": [
                    {"key": i["key"], "result": "updated", "listing": {**LISTING, "key": i["key"]}}
                    for i in items
                ]
            },
        )

    recorder = Recorder({("PUT", "/listings:batch"): batch})
    other = structs.replace(desired_listing(), key="ML-102/SILK/RED")
    written = ordre(recorder).upsert_listings(
        [desired_listing(), other], if_match={"ML-101/WOOL/NAVY": '"3"'}
    )
    sent = recorder.body()["items"]
    assert sent[0]["if_match"] == 3 and "if_match" not in sent[1]
    assert [(w.key, w.result) for w in written] == [
        ("ML-101/WOOL/NAVY", "updated"),
        ("ML-102/SILK/RED", "updated"),
    ]
    with pytest.raises(ValueError, match="at most 100"):
        ordre(recorder).upsert_listings([desired_listing()] * 101)


def test_create_collection_carries_an_idempotency_key_and_is_retried() -> None:
    answers = iter(
        [
            httpx.Response(502),
            httpx.Response(
                201,
                json={
                    "id": "col_000001",
                    "name": "AW26",
                    "position": 1,
                    "description": "",
                    "version": 1,
                },
            ),
        ]
    )
    recorder = Recorder({("POST", "/collections"): lambda r: next(answers)})
    created = ordre(recorder).create_collection(OrdreCollection(name="AW26", position=1))
    assert created == OrdreCollection(name="AW26", position=1, id="col_000001", version="1")
    keys = [r.headers["Idempotency-Key"] for r in recorder.requests]
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0]


def test_look_update_and_product_membership() -> None:
    look = {
        "id": "look_000004",
        "collection_id": "col_000001",
        "name": "Look 1",
        "position": 1,
        "product_keys": ["ML-101/WOOL/NAVY"],
        "version": 2,
    }
    recorder = Recorder(
        {
            ("PUT", "/looks/look_000004"): always(httpx.Response(200, json=look)),
            ("PATCH", "/looks/look_000004"): always(httpx.Response(200, json=look)),
        }
    )
    client = ordre(recorder)
    updated = client.update_look(
        OrdreLook("col_000001", "Look 1", 1, ("ML-101/WOOL/NAVY",), id="look_000004"),
        if_match="1",
    )
    assert updated.product_keys == ("ML-101/WOOL/NAVY",) and updated.version == "2"
    client.set_look_products("look_000004", ["ML-101/WOOL/NAVY"], if_match="2")
    assert recorder.body(0) == {
        "collection_id": "col_000001",
        "name": "Look 1",
        "position": 1,
        "product_keys": ["ML-101/WOOL/NAVY"],
    }
    assert recorder.body(1) == {"product_keys": ["ML-101/WOOL/NAVY"]}
    assert recorder.requests[1].headers["If-Match"] == '"2"'


def test_customer_upsert_drops_address_kind() -> None:
    answer = {
        "account_code": "ATN001",
        "name": "Atelier Nord",
        "currency": "EUR",
        "delivery_address": ORDRE_ADDRESS,
        "accounts_address": None,
        "contact_name": None,
        "contact_email": None,
        "version": 1,
    }
    recorder = Recorder({("PUT", "/customers/ATN001"): always(httpx.Response(201, json=answer))})
    customer = OrdreCustomer(
        account_code="ATN001",
        name="Atelier Nord",
        currency="EUR",
        delivery_address=Address(kind="delivery", company="Atelier Nord", country="DK"),
    )
    stored = ordre(recorder).upsert_customer(customer)
    assert recorder.body()["delivery_address"] == {
        "company": "Atelier Nord",
        "line1": "",
        "line2": "",
        "city": "",
        "region": "",
        "postcode": "",
        "country": "DK",
    }
    assert stored.version == "1"
    assert stored.delivery_address is not None and stored.delivery_address.line1 == "Strandgade 12"


def test_client_reprs_hide_the_token() -> None:
    recorder = Recorder({})
    for client in (zedonk(recorder), ordre(recorder)):
        assert TOKEN not in repr(client) and TOKEN not in repr(client.session)
        assert "base_url" in repr(client)


def test_a_wrong_shape_in_one_object_names_the_endpoint_and_field() -> None:
    answer = {**CUSTOMER, "addresses": [{**ADDRESS, "kind": "warehouse"}]}
    recorder = Recorder({("GET", "/customers/C00012"): always(httpx.Response(200, json=answer))})
    with pytest.raises(BadResponse) as caught:
        zedonk(recorder).get_customer("C00012")
    assert str(caught.value) == (
        "zedonk: GET /customers/C00012: addresses[0].kind: expected delivery, accounts or store"
    )
