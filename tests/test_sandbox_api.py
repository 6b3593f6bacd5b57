"""The sandbox servers over real sockets: auth, pagination, seed, Zedonk resources, OpenAPI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_harness import Sandboxes

from daemon.sandbox.base import DEFAULT_SEED
from daemon.sandbox.common import gtin_is_valid
from daemon.sandbox.seed import zedonk_tables

DOC = Path(__file__).parent.parent / "docs" / "sandbox-api.md"


def all_items(client: httpx.Client, path: str, limit: int = 7, **params: Any) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = client.get(path, params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


# --------------------------------------------------------------------------- auth


@pytest.mark.parametrize("remote", ["zedonk", "ordre"])
def test_wrong_or_missing_token_gets_json_401(sandbox: Sandboxes, remote: Any) -> None:
    wrong = sandbox.client(remote, token="not-the-token")
    answer = wrong.get("/customers")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["error"]["code"] == "unauthorized"
    bare = httpx.get(sandbox.remote(remote).api_url + "/customers", trust_env=False)
    assert bare.status_code == 401
    assert sandbox.client(remote).get("/customers").status_code == 200


def test_tokens_do_not_cross_between_api_and_admin(sandbox: Sandboxes) -> None:
    base = sandbox.zedonk.url
    connector = {"Authorization": f"Bearer {sandbox.zedonk_token}"}
    admin = {"Authorization": f"Bearer {sandbox.admin_token}"}
    assert httpx.get(f"{base}/_admin/counters", headers=connector).status_code == 401
    assert httpx.get(f"{base}/api/v1/seasons", headers=admin).status_code == 401
    assert httpx.get(f"{base}/_admin/counters", headers=admin).status_code == 200
    other = {"Authorization": f"Bearer {sandbox.ordre_token}"}
    assert httpx.get(f"{base}/api/v1/seasons", headers=other).status_code == 401


def test_open_endpoints_need_no_token(sandbox: Sandboxes) -> None:
    assert httpx.get(sandbox.zedonk.url + "/healthz").json() == {"status": "ok", "server": "zedonk"}
    assert httpx.get(sandbox.ordre.url + "/openapi.json").status_code == 200


def test_unknown_route_and_method_use_the_error_shape(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    missing = client.get("/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong_method = client.delete("/seasons")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


# --------------------------------------------------------------------------- pagination


def test_pages_cover_every_product_once_in_id_order(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    ids = [p["id"] for p in all_items(client, "/products", limit=9)]
    assert ids == sorted(ids)
    assert len(ids) == len(set(ids)) == sandbox.zedonk.state()["products"]


def test_filtered_pages_hold_the_matches_in_id_order(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    everything = all_items(client, "/products", limit=200)
    cases: list[tuple[dict[str, str], Any]] = [
        ({"season": "AW25"}, lambda p: "AW25" in p["seasons"]),
        ({"category": "Coats"}, lambda p: p["category"] == "Coats"),
        ({"active": "false"}, lambda p: not p["active"]),
        ({"q": "no such product"}, lambda p: False),
    ]
    for params, matches in cases:
        wanted = [p["id"] for p in everything if matches(p)]
        assert [p["id"] for p in all_items(client, "/products", limit=3, **params)] == wanted
    inactive = client.get("/products", params={"active": "false", "limit": 1}).json()
    assert len(inactive["items"]) == 1
    assert inactive["next_cursor"] is None, "a full last page has no next page"


def test_limit_out_of_range_is_a_400_not_a_clamp(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    for limit in ("0", "201", "abc", "-1"):
        answer = client.get("/products", params={"limit": limit})
        assert answer.status_code == 400, limit
        assert answer.json()["error"]["code"] == "bad_request"
    assert len(client.get("/products", params={"limit": 200}).json()["items"]) <= 200
    assert len(client.get("/products").json()["items"]) == 50


def test_bad_cursor_is_a_400(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    assert client.get("/products", params={"cursor": "%%%"}).status_code == 400
    assert client.get("/products", params={"cursor": "WzFd"}).status_code == 400  # [1]


def test_cursor_survives_inserts_before_it(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    first = client.get("/customers", params={"limit": 10}).json()
    create = client.post("/customers", json={"name": "Aaa First", "currency": "EUR"})
    assert create.status_code == 201
    second = client.get("/customers", params={"limit": 10, "cursor": first["next_cursor"]})
    seen = [c["id"] for c in first["items"]] + [c["id"] for c in second.json()["items"]]
    assert len(seen) == len(set(seen)) == 20


# --------------------------------------------------------------------------- seed


def test_demo_seed_meets_its_minimums(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    products = all_items(client, "/products", limit=200)
    assert len(products) >= 80
    assert sum(len(p["skus"]) for p in products) >= 300
    assert {s for p in products for s in p["seasons"]} == {"AW25", "SS26", "AW26"}
    categories = {"Coats", "Knitwear", "Dresses", "Trousers", "Shirts", "Accessories"}
    assert {p["category"] for p in products} == categories
    assert [c["name"] for c in all_items(client, "/categories")] == sorted(categories)
    seasons = all_items(client, "/seasons")
    assert [s["code"] for s in seasons] == ["AW25", "SS26", "AW26"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", s["starts_on"]) for s in seasons)
    users = {u["username"]: u["active"] for u in all_items(client, "/users")}
    assert users == {"sophie": True, "marc": True, "intern": False}
    customers = all_items(client, "/customers", limit=200)
    assert len(customers) >= 25
    assert any(c["account_code"] is None for c in customers)
    assert any(not c["active"] for c in customers)
    kinds = [{a["kind"] for a in c["addresses"]} for c in customers]
    assert any("delivery" not in k for k in kinds) and any("accounts" not in k for k in kinds)
    assert len({c["currency"] for c in customers}) == 3
    assert len({a["country"] for c in customers for a in c["addresses"]}) >= 8


FIXED = {
    "ML-101/WOOL/NAVY": ("Coats", "Double-faced wool coat"),
    "ML-101/WOOL/CAMEL": ("Coats", "Double-faced wool coat"),
    "ML-102/WOOL/BLACK": ("Coats", "Belted wrap coat"),
    "ML-205/CASH/BLACK": ("Knitwear", "Cashmere crew-neck"),
    "ML-205/CASH/ECRU": ("Knitwear", "Cashmere crew-neck"),
    "ML-205/CASH/GREY": ("Knitwear", "Cashmere crew-neck"),
    "ML-230/CASH/GREY": ("Knitwear", "Cashmere cardigan"),
    "ML-230/CASH/OAT": ("Knitwear", "Cashmere cardigan"),
    "ML-310/SILK/IVORY": ("Dresses", "Bias-cut silk slip dress"),
    "ML-310/SILK/BLACK": ("Dresses", "Bias-cut silk slip dress"),
    "ML-420/WOOL/CHARCOAL": ("Trousers", "Pleated wool trouser"),
    "ML-510/COTTON/WHITE": ("Shirts", "Poplin shirt"),
    "ML-510/COTTON/BLUE": ("Shirts", "Poplin shirt"),
    "ML-610/LEATHER/BLACK": ("Accessories", "Leather tote"),
}


@pytest.mark.parametrize("pid", sorted(FIXED))
def test_catalogue_products_exist_as_the_example_expects(sandbox_pair: Any, pid: str) -> None:
    answer = httpx.get(
        f"{sandbox_pair.zedonk.api_url}/products/{pid}",
        headers={"Authorization": f"Bearer {sandbox_pair.zedonk.token}"},
    )
    assert answer.status_code == 200
    product = answer.json()
    assert (product["category"], product["description"]) == FIXED[pid]
    assert product["seasons"] == ["AW26"]
    assert f"{product['style']}/{product['fabric']}/{product['colour']}" == pid
    assert {p["currency"] for p in product["prices"]} == {"EUR", "GBP", "USD"}
    assert product["active"] is True


def test_seed_has_the_documented_flaws(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    products = {p["id"]: p for p in all_items(client, "/products", limit=200)}
    ml102 = {s["size"]: s["barcode"] for s in products["ML-102/WOOL/BLACK"]["skus"]}
    assert ml102["36"] is None
    assert products["ML-610/LEATHER/BLACK"]["image_1"] is None
    assert products["ML-101/WOOL/NAVY"]["image_1"].startswith("https://")
    barcodes = [(p, s["barcode"]) for p in products.values() for s in p["skus"] if s["barcode"]]
    # One barcode type per Zedonk system (domain.md §5): the demo brand's is EAN-13.
    assert {len(b) for _, b in barcodes} == {13}, "EAN-13 only"
    bad = [p for p, b in barcodes if not gtin_is_valid(b)]
    assert bad and any("AW25" in p["seasons"] for p in bad)
    assert len({b for _, b in barcodes}) == len(barcodes), "barcodes are unique"
    prices = [x for p in products.values() for x in p["prices"]]
    assert any(x["wsp"] == "0.00" for x in prices)
    assert all(re.fullmatch(r"\d+\.\d\d", x[k]) for x in prices for k in ("wsp", "rrp"))
    assert any(not p["active"] for p in products.values())


def test_seed_is_deterministic_and_depends_on_the_seed() -> None:
    assert json.dumps(zedonk_tables(7)) == json.dumps(zedonk_tables(7))
    assert json.dumps(zedonk_tables(7)) != json.dumps(zedonk_tables(8))


def test_reset_with_another_seed_reseeds_and_back(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    before = client.get("/products", params={"limit": 200}).json()["items"]
    try:
        sandbox.zedonk.reset(seed=99)
        other = client.get("/products", params={"limit": 200}).json()["items"]
        assert other != before
    finally:
        sandbox.zedonk.reset(seed=DEFAULT_SEED)
    assert client.get("/products", params={"limit": 200}).json()["items"] == before


# --------------------------------------------------------------------------- Zedonk


def test_product_filters(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    coats = all_items(client, "/products", category="Coats", season="AW26")
    assert coats and all(p["category"] == "Coats" and "AW26" in p["seasons"] for p in coats)
    cashmere = all_items(client, "/products", q="cashmere")
    assert {"ML-205/CASH/GREY", "ML-230/CASH/OAT"} <= {p["id"] for p in cashmere}
    inactive = all_items(client, "/products", active="false")
    assert inactive and not any(p["active"] for p in inactive)
    encoded = client.get("/products/ML-101%2FWOOL%2FNAVY")
    assert encoded.status_code == 200 and encoded.json()["id"] == "ML-101/WOOL/NAVY"
    assert client.get("/products/ML-999/WOOL/NAVY").json()["error"]["code"] == "not_found"


def test_customer_create_rejects_a_taken_name(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    body = {
        "name": "Nouvelle Vague",
        "currency": "EUR",
        "account_code": "NVV900",
        "contact_email": "buy@nv.example",
        "addresses": [{"kind": "delivery", "line1": "1 rue X", "city": "Nice", "country": "FR"}],
    }
    created = client.post("/customers", json=body)
    assert created.status_code == 201
    customer = created.json()
    assert created.headers["location"].endswith(customer["id"])
    assert customer["addresses"][0]["is_default"] is True
    again = client.post("/customers", json={**body, "name": "  nouvelle VAGUE "})
    assert again.status_code == 409
    assert again.json()["error"]["details"]["existing_id"] == customer["id"]
    seeded = client.post("/customers", json={"name": "Atelier Nord", "currency": "EUR"})
    assert seeded.status_code == 409
    found = client.get("/customers", params={"name": "nouvelle vague"}).json()["items"]
    assert [c["id"] for c in found] == [customer["id"]]


def test_customer_create_validates_every_field(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    answer = client.post("/customers", json={"name": "", "currency": "JPY", "colour": "red"})
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.json()["error"]["details"]["errors"]}
    assert fields == {"name", "currency", "colour"}
    assert client.post("/customers", content=b"{nope").status_code == 400


def test_address_is_added_to_a_customer(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    answer = client.post(
        "/customers/C00001/addresses",
        json={"kind": "delivery", "company": "Atelier Nord", "line1": "Pier 4", "city": "Aarhus",
              "country": "DK"},
    )  # fmt: skip
    assert answer.status_code == 201
    delivery = [a for a in answer.json()["addresses"] if a["kind"] == "delivery"]
    assert delivery[-1]["line1"] == "Pier 4"
    assert delivery[-1]["is_default"] is (len(delivery) == 1)
    assert (
        client.post(
            "/customers/C99999/addresses", json={"kind": "store", "country": "DK"}
        ).status_code
        == 404
    )


def order_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "season": "AW26",
        "customer_id": "C00001",
        "order_ref": "PO-77",
        "connector_ref": "ordre:ord_000001#1",
        "owner": "sophie",
        "approved": False,
        "currency": "EUR",
        "delivery_start": "2026-07-01",
        "delivery_end": "2026-08-31",
        "delivery_address": {"company": "Atelier Nord", "line1": "Strandgade 12", "country": "DK"},
        "lines": [
            {"product_id": "ML-101/WOOL/NAVY", "size": "38", "quantity": 2, "unit_price": "310"},
            {"barcode": "5061234000018", "quantity": 1, "unit_price": "310.00"},
        ],
    }
    return {**body, **overrides}


def test_sales_order_create_get_search_inactivate(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    created = client.post("/sales-orders", json=order_body())
    assert created.status_code == 201, created.text
    order = created.json()
    assert re.fullmatch(r"SO-\d{6}", order["number"])
    assert order["lines"][0]["barcode"] == "5061234000032"
    assert order["lines"][1]["product_id"] == "ML-101/WOOL/NAVY"
    assert order["lines"][1]["size"] == "34"
    assert order["lines"][0]["unit_price"] == "310.00"
    assert (order["total_quantity"], order["total_value"]) == (3, "930.00")
    assert order["delivery_address"]["kind"] == "delivery"
    assert client.get(f"/sales-orders/{order['id']}").json() == order
    assert client.get(f"/sales-orders/{order['number']}").json()["id"] == order["id"]
    # no idempotency: the same body twice makes two orders, both found by connector_ref
    client.post("/sales-orders", json=order_body())
    found = client.get("/sales-orders", params={"connector_ref": "ordre:ord_000001#1"}).json()
    assert len(found["items"]) == 2
    by_po = client.get("/sales-orders", params={"order_ref": "PO-77", "active": "true"}).json()
    assert len(by_po["items"]) == 2
    off = client.post(f"/sales-orders/{order['id']}/inactivate")
    assert off.status_code == 200 and off.json()["active"] is False
    assert client.post(f"/sales-orders/{order['id']}/inactivate").json()["active"] is False
    left = client.get("/sales-orders", params={"order_ref": "PO-77", "active": "true"}).json()
    assert len(left["items"]) == 1


def test_the_us_brand_issues_upc_a_only_and_keeps_the_demo_brands_ids(
    sandbox: Sandboxes,
) -> None:
    client = sandbox.client("zedonk")
    demo = {p["id"]: p for p in all_items(client, "/products", limit=200)}
    sandbox.zedonk.reset(brand="us")
    try:
        us = {p["id"]: p for p in all_items(client, "/products", limit=200)}
        customers = all_items(client, "/customers", limit=200)
    finally:
        sandbox.zedonk.reset(brand="demo")
    assert us.keys() == demo.keys()
    assert [p["description"] for p in us.values()] == [p["description"] for p in demo.values()]
    codes = [s["barcode"] for p in us.values() for s in p["skus"] if s["barcode"]]
    assert {len(b) for b in codes} == {12}, "UPC-A only"
    assert len(customers) == len(all_items(client, "/customers", limit=200))


def test_sales_order_matches_upc_a_in_any_gtin_form(sandbox: Sandboxes) -> None:
    sandbox.zedonk.reset(brand="us")
    try:
        client = sandbox.client("zedonk")
        product = client.get("/products/ML-510/COTTON/BLUE").json()
        upc = product["skus"][0]["barcode"]
        assert len(upc) == 12
        answer = client.post("/sales-orders", json=order_body(lines=[
            {"barcode": "00" + upc, "quantity": 1, "unit_price": "80.00"}]))  # fmt: skip
        assert answer.status_code == 201, answer.text
        assert answer.json()["lines"][0]["barcode"] == upc
    finally:
        sandbox.zedonk.reset(brand="demo")


def test_an_order_takes_only_products_visible_in_its_season(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    products = all_items(client, "/products", limit=200, season="AW25")
    aw25_only = next(p for p in products if p["seasons"] == ["AW25"] and p["active"])
    sku = next(s for s in aw25_only["skus"] if s["barcode"] and gtin_is_valid(s["barcode"]))
    answer = client.post("/sales-orders", json=order_body(lines=[
        {"barcode": sku["barcode"], "quantity": 1, "unit_price": "80.00"}]))  # fmt: skip
    assert answer.status_code == 422
    assert answer.json()["error"]["details"]["errors"] == [
        {
            "field": "lines[0].product_id",
            "message": f"{aw25_only['id']} is not visible in season AW26 (only in AW25)",
        }
    ]
    in_aw25 = order_body(season="AW25", lines=[
        {"barcode": sku["barcode"], "quantity": 1, "unit_price": "80.00"}])  # fmt: skip
    assert client.post("/sales-orders", json=in_aw25).status_code == 201


def test_currencies_are_listed(sandbox: Sandboxes) -> None:
    listed = all_items(sandbox.client("zedonk"), "/currencies")
    assert [c["code"] for c in listed] == ["EUR", "GBP", "USD"]


def test_admin_edits_a_products_barcodes_and_a_customers_details(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    admin = sandbox.admin_client("zedonk")
    new = "4006381333931"
    changed = admin.put("/_admin/products/ML-101/WOOL/NAVY/barcodes",
                        json={"barcodes": {"36": new, "38": None}})  # fmt: skip
    assert changed.status_code == 200, changed.text
    skus = {
        s["size"]: s["barcode"] for s in client.get("/products/ML-101/WOOL/NAVY").json()["skus"]
    }
    assert (skus["36"], skus["38"]) == (new, None)
    ordered = client.post("/sales-orders", json=order_body(lines=[
        {"barcode": new, "quantity": 1, "unit_price": "80.00"}]))  # fmt: skip
    assert ordered.json()["lines"][0]["size"] == "36"
    taken = admin.put("/_admin/products/ML-101/WOOL/CAMEL/barcodes",
                      json={"barcodes": {"36": new}})  # fmt: skip
    assert taken.status_code == 409 and "ML-101/WOOL/NAVY size 36" in taken.text
    assert admin.put("/_admin/products/ML-101/WOOL/NAVY/barcodes",
                     json={"barcodes": {"99": new}}).status_code == 400  # fmt: skip

    customer = client.get("/customers/C00001").json()
    changes = {"name": "Atelier Nord ApS", "currency": "GBP", "active": False}
    edited = admin.patch("/_admin/customers/C00001", json=changes)
    assert edited.status_code == 200, edited.text
    now = client.get("/customers/C00001").json()
    assert (now["name"], now["currency"], now["active"]) == ("Atelier Nord ApS", "GBP", False)
    assert now["account_code"] == customer["account_code"]
    clash = admin.patch("/_admin/customers/C00001", json={"name": "maison verte"})
    assert clash.status_code == 409


def line(**fields: Any) -> dict[str, Any]:
    return {"lines": [{"product_id": "ML-101/WOOL/NAVY", "size": "38", "quantity": 1,
                       "unit_price": "1", **fields}]}  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"season": "SS99"}, "season"),
        ({"customer_id": "C99999"}, "customer_id"),
        ({"owner": "intern"}, "owner"),
        ({"currency": "JPY"}, "currency"),
        ({"lines": []}, "lines"),
        ({"lines": [{"barcode": "0000000000000", "quantity": 1}]}, "lines[0].barcode"),
        (line(size="XXL"), "lines[0].size"),
        (line(quantity=0), "lines[0].quantity"),
        (line(unit_price="1.234"), "lines[0].unit_price"),
        (line(unit_price="123456789012345678901234567890.00"), "lines[0].unit_price"),
        (line(barcode="5061234000018"), "lines[0].barcode"),
        ({"delivery_end": "2026-06-01"}, "delivery_end"),
    ],
)
def test_sales_order_rejects_bad_content_and_stores_nothing(
    sandbox: Sandboxes, overrides: dict[str, Any], field: str
) -> None:
    client = sandbox.client("zedonk")
    answer = client.post("/sales-orders", json=order_body(**overrides))
    assert answer.status_code == 422, answer.text
    assert field in {e["field"] for e in answer.json()["error"]["details"]["errors"]}
    assert client.get("/sales-orders").json()["items"] == []


def test_inactive_customer_cannot_order(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    inactive = client.get("/customers", params={"active": "false"}).json()["items"][0]
    answer = client.post("/sales-orders", json=order_body(customer_id=inactive["id"]))
    assert answer.status_code == 422
    assert "inactive" in answer.json()["error"]["message"]


# --------------------------------------------------------------------------- OpenAPI


@pytest.mark.parametrize("remote", ["zedonk", "ordre"])
def test_openapi_lists_every_route_and_each_one_answers(sandbox: Sandboxes, remote: Any) -> None:
    handle = sandbox.remote(remote)
    spec = httpx.get(handle.url + "/openapi.json").json()
    assert spec["openapi"] == "3.1.0"
    assert spec["paths"]
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    served = {
        (m, re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", r.path))
        for r in handle.sandbox.routes
        for m in (r.methods or set()) - {"HEAD"}
    }
    assert documented == served
    doc = DOC.read_text()
    client = sandbox.admin_client(remote)  # closed by the fixture; each probe sets its token
    for method, path in documented:
        probe = re.sub(r"\{\w+\}", "x", path)
        token = handle.token if path.startswith("/api/") else handle.admin_token
        if path in ("/_admin/reset",):
            continue
        answer = client.request(method, probe, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code not in (405, 500), (method, path, answer.text)
        if answer.status_code == 404:
            assert answer.json()["error"]["message"].startswith("no "), (method, path)
            assert not answer.json()["error"]["message"].startswith("no route"), (method, path)
        short = path.removeprefix("/api/v1")
        assert short.split("{")[0].rstrip("/") in doc, f"{method} {path} is not in the doc"
    operation_ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
