"""The ORDRE sandbox over real sockets: versions and If-Match, showroom rules, batch upsert,
and the retailer order flows."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sandbox_harness import Sandboxes

from daemon.sandbox import SandboxError


def listing(
    key: str = "ML-101/WOOL/NAVY", gtin: str = "05061234000018", **extra: Any
) -> dict[str, Any]:
    style, fabric, colour = key.split("/")
    body = {
        "style": style,
        "fabric": fabric,
        "colour": colour,
        "description": "Double-faced wool coat",
        "category": "Coats",
        "sizes": [{"size": "36", "gtin": gtin}],
        "prices": [{"currency": "EUR", "wsp": "310", "rrp": "775.00"}],
        "image_url": None,
    }
    return {**body, **extra}


@pytest.fixture
def ordre(sandbox: Sandboxes) -> httpx.Client:
    return sandbox.client("ordre")


def test_ordre_starts_empty(sandbox: Sandboxes, ordre: httpx.Client) -> None:
    for path in ("/collections", "/looks", "/listings", "/customers", "/orders"):
        page = ordre.get(path).json()
        assert (page["items"], page["next_cursor"]) == ([], None)
        assert isinstance(page["sync_token"], str), "the last page says where changes start"


def test_listing_upsert_versions_and_etag(ordre: httpx.Client) -> None:
    created = ordre.put("/listings/ML-101/WOOL/NAVY", json=listing())
    assert created.status_code == 201
    assert created.headers["etag"] == '"1"'
    assert created.json()["prices"][0]["wsp"] == "310.00"
    same = ordre.put(
        "/listings/ML-101/WOOL/NAVY",
        json=listing(prices=[{"currency": "EUR", "wsp": "310.00", "rrp": "775"}]),
    )
    assert same.status_code == 200
    assert same.json()["version"] == 1, "a write that changes nothing keeps the version"
    changed = ordre.put("/listings/ML-101/WOOL/NAVY", json=listing(description="New"))
    assert changed.json()["version"] == 2
    assert ordre.get("/listings/ML-101%2FWOOL%2FNAVY").headers["etag"] == '"2"'


def test_listings_list_follows_every_write(ordre: httpx.Client) -> None:
    def keys() -> list[str]:
        return [x["key"] for x in ordre.get("/listings").json()["items"]]

    first, second = "ML-100/WOOL/NAVY", "ML-200/WOOL/NAVY"
    ordre.put(f"/listings/{second}", json=listing(second, "05061234000025"))
    assert keys() == [second]
    ordre.put(f"/listings/{first}", json=listing(first, "05061234000018"))
    assert keys() == [first, second]
    ordre.put(f"/listings/{second}", json=listing(second, "05061234000025", description="New"))
    assert ordre.get("/listings").json()["items"][1]["description"] == "New"
    assert ordre.delete(f"/listings/{first}").status_code == 204
    assert keys() == [second]


def test_if_match_mismatch_is_412_and_nothing_changes(ordre: httpx.Client) -> None:
    ordre.put("/listings/ML-101/WOOL/NAVY", json=listing())
    stale = ordre.put(
        "/listings/ML-101/WOOL/NAVY", json=listing(description="X"), headers={"If-Match": '"9"'}
    )
    assert stale.status_code == 412
    assert stale.json()["error"] == {
        "code": "precondition_failed",
        "message": stale.json()["error"]["message"],
        "details": {"current_version": 1},
    }
    assert ordre.get("/listings/ML-101/WOOL/NAVY").json()["description"] != "X"
    fresh = ordre.put(
        "/listings/ML-101/WOOL/NAVY", json=listing(description="X"), headers={"If-Match": '"1"'}
    )
    assert fresh.status_code == 200 and fresh.json()["version"] == 2
    assert ordre.delete("/listings/ML-101/WOOL/NAVY", headers={"If-Match": "1"}).status_code == 412
    missing = ordre.put(
        "/listings/ML-9/A/B", json=listing("ML-9/A/B", "4006381333931"), headers={"If-Match": "*"}
    )
    assert missing.status_code == 412
    assert missing.json()["error"]["details"]["current_version"] is None
    exists = ordre.put("/listings/ML-101/WOOL/NAVY", json=listing(), headers={"If-None-Match": "*"})
    assert exists.status_code == 412
    assert (
        ordre.delete("/listings/ML-101/WOOL/NAVY", headers={"If-Match": '"2"'}).status_code == 204
    )


def test_listing_validation(ordre: httpx.Client) -> None:
    bad = listing(sizes=[{"size": "36", "gtin": "5061234000019"}, {"size": "36", "gtin": "abc"}])
    answer = ordre.put("/listings/ML-101/WOOL/NAVY", json=bad)
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.json()["error"]["details"]["errors"]}
    assert {"sizes[0].gtin", "sizes[1].gtin", "sizes[1].size"} <= fields
    wrong_key = ordre.put("/listings/ML-101/WOOL/CAMEL", json=listing())
    assert wrong_key.status_code == 422


def test_a_gtin_belongs_to_one_listing(ordre: httpx.Client) -> None:
    assert ordre.put("/listings/ML-101/WOOL/NAVY", json=listing()).status_code == 201
    clash = ordre.put("/listings/ML-101/WOOL/CAMEL", json=listing("ML-101/WOOL/CAMEL"))
    assert clash.status_code == 409
    assert clash.json()["error"]["details"] == {"gtin": "05061234000018", "key": "ML-101/WOOL/NAVY"}
    # the same GTIN written as EAN-13 is the same GTIN
    ean = ordre.put(
        "/listings/ML-101/WOOL/CAMEL", json=listing("ML-101/WOOL/CAMEL", "5061234000018")
    )
    assert ean.status_code == 409


def test_batch_upsert_is_all_or_nothing(sandbox: Sandboxes, ordre: httpx.Client) -> None:
    items = [
        {"key": k, **listing(k, g)}
        for k, g in [
            ("ML-101/WOOL/NAVY", "05061234000018"),
            ("ML-101/WOOL/CAMEL", "05061234000063"),
        ]
    ]
    before = sandbox.write_count("ordre")
    first = ordre.put("/listings:batch", json={"items": items})
    assert first.status_code == 200, first.text
    assert [r["result"] for r in first.json()["items"]] == ["created", "created"]
    assert sandbox.write_count("ordre") == before + 1, "one batch is one write"
    items[1] = {**items[1], "description": "Changed", "if_match": 1}
    second = ordre.put("/listings:batch", json={"items": items})
    assert [r["result"] for r in second.json()["items"]] == ["unchanged", "updated"]
    assert second.json()["items"][1]["listing"]["version"] == 2
    stale = [{**items[0], "description": "Nope"}, {**items[1], "if_match": 1}]
    refused = ordre.put("/listings:batch", json={"items": stale})
    assert refused.status_code == 412
    assert refused.json()["error"]["details"] == {
        "index": 1,
        "key": "ML-101/WOOL/CAMEL",
        "current_version": 2,
    }
    assert ordre.get("/listings/ML-101/WOOL/NAVY").json()["description"] != "Nope"
    invalid = ordre.put("/listings:batch", json={"items": [items[0], {"key": "ML-1/A/B"}]})
    assert invalid.status_code == 422
    too_many = [{"key": f"ML-{i}/A/B", **listing(f"ML-{i}/A/B")} for i in range(101)]
    assert ordre.put("/listings:batch", json={"items": too_many}).status_code == 422


def test_batch_may_move_a_gtin_between_its_own_items(ordre: httpx.Client) -> None:
    ordre.put("/listings/ML-101/WOOL/NAVY", json=listing())
    moved = [
        {"key": "ML-101/WOOL/NAVY", **listing(gtin="05061234000063")},
        {"key": "ML-101/WOOL/CAMEL", **listing("ML-101/WOOL/CAMEL", "05061234000018")},
    ]
    assert ordre.put("/listings:batch", json={"items": moved}).status_code == 200
    clash = [{"key": "ML-1/A/B", **listing("ML-1/A/B", "05061234000018")}]
    assert ordre.put("/listings:batch", json={"items": clash}).status_code == 409


def test_collections_and_looks_follow_the_showroom_rules(ordre: httpx.Client) -> None:
    for key, gtin in (
        ("ML-101/WOOL/NAVY", "05061234000018"),
        ("ML-101/WOOL/CAMEL", "05061234000063"),
    ):
        ordre.put(f"/listings/{key}", json=listing(key, gtin))
    col = ordre.post("/collections", json={"name": "Autumn Winter 26", "position": 1}).json()
    assert (
        ordre.post("/collections", json={"name": "autumn winter 26", "position": 2}).status_code
        == 409
    )
    look = {
        "collection_id": col["id"],
        "name": "Look 1",
        "position": 1,
        "product_keys": ["ML-101/WOOL/NAVY"],
    }
    look1 = ordre.post("/looks", json=look)
    assert look1.status_code == 201 and look1.headers["etag"] == '"1"'
    look1_id = look1.json()["id"]
    taken = ordre.post("/looks", json={**look, "name": "Look 2"})
    assert taken.status_code == 409
    assert taken.json()["error"]["details"]["look_id"] == look1_id
    assert ordre.post("/looks", json={**look, "product_keys": []}).status_code == 409, "same name"
    unknown = ordre.post("/looks", json={**look, "name": "Look 3", "product_keys": ["ML-7/X/Y"]})
    assert unknown.status_code == 422
    assert ordre.delete("/listings/ML-101/WOOL/NAVY").status_code == 409
    assert ordre.delete(f"/collections/{col['id']}").status_code == 409
    patched = ordre.patch(
        f"/looks/{look1_id}",
        json={"product_keys": ["ML-101/WOOL/CAMEL", "ML-101/WOOL/NAVY"]},
        headers={"If-Match": '"1"'},
    )
    assert patched.status_code == 200
    assert patched.json()["product_keys"] == ["ML-101/WOOL/CAMEL", "ML-101/WOOL/NAVY"]
    assert patched.json()["name"] == "Look 1" and patched.json()["version"] == 2
    assert (
        ordre.get("/looks", params={"collection_id": col["id"]}).json()["items"][0]["id"]
        == look1_id
    )
    assert ordre.delete(f"/looks/{look1_id}").status_code == 204
    assert ordre.delete(f"/collections/{col['id']}").status_code == 204


def test_create_with_idempotency_key_replays(ordre: httpx.Client) -> None:
    body = {"name": "SS27", "position": 2}
    first = ordre.post("/collections", json=body, headers={"Idempotency-Key": "abc"})
    again = ordre.post("/collections", json=body, headers={"Idempotency-Key": "abc"})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len(ordre.get("/collections").json()["items"]) == 1
    other = ordre.post(
        "/collections", json={**body, "position": 3}, headers={"Idempotency-Key": "abc"}
    )
    assert other.status_code == 422


def test_customers_upsert_by_account_code(ordre: httpx.Client) -> None:
    body = {
        "name": "Atelier Nord",
        "currency": "EUR",
        "delivery_address": {"line1": "Strandgade 12", "city": "Copenhagen", "country": "DK"},
    }
    created = ordre.put("/customers/ATN001", json=body)
    assert created.status_code == 201
    assert created.json()["delivery_address"]["company"] == ""
    assert created.json()["accounts_address"] is None
    assert ordre.put("/customers/ATN001", json=body).json()["version"] == 1
    assert ordre.put("/customers/ATN001", json={**body, "currency": "eur"}).status_code == 422
    assert ordre.put("/customers/ATN001", json={**body, "account_code": "OTHER"}).status_code == 422


# --------------------------------------------------------------------------- retailer


@pytest.fixture
def published(sandbox: Sandboxes, ordre: httpx.Client) -> Sandboxes:
    ordre.put(
        "/listings/ML-101/WOOL/NAVY",
        json=listing(
            sizes=[
                {"size": "36", "gtin": "05061234000018"},
                {"size": "38", "gtin": "05061234000025"},
            ]
        ),
    )
    ordre.put(
        "/customers/ATN001",
        json={
            "name": "Atelier Nord",
            "currency": "EUR",
            "contact_email": "buying@ateliernord.example",
        },
    )
    return sandbox


def test_submit_fills_lines_and_retailer(published: Sandboxes) -> None:
    order = published.submit_order(
        retailer={"account_code": "ATN001"},
        po_number="PO-77",
        ship_window={"start": "2026-07-01", "end": "2026-08-31"},
        lines=[
            {"barcode": "5061234000025", "quantity": 2},
            {"style": "ML-101", "colour": "NAVY", "size": "36", "quantity": 1},
            {
                "barcode": "1234567890128",
                "style": "ML-999",
                "colour": "RED",
                "size": "M",
                "quantity": 1,
                "unit_price": "99",
            },
            {"barcode": None, "style": "ML-101", "colour": "NAVY", "size": "38", "quantity": 1},
        ],
    )
    assert order["number"] == "ORD-10001" and order["id"] == "ord_000001"
    assert (order["submission"], order["status"], order["version"]) == (1, "submitted", 1)
    assert order["retailer"] == {
        "name": "Atelier Nord",
        "account_code": "ATN001",
        "email": "buying@ateliernord.example",
    }
    assert order["submitted_at"] == order["created_at"] == order["updated_at"]
    assert order["ship_window"] == {"start": "2026-07-01", "end": "2026-08-31"}
    lines = order["lines"]
    assert [x["line_no"] for x in lines] == [1, 2, 3, 4]
    assert (lines[0]["barcode"], lines[0]["size"], lines[0]["unit_price"]) == (
        "5061234000025",
        "38",
        "310.00",
    )
    assert (lines[1]["barcode"], lines[1]["style"], lines[1]["colour"]) == (
        "05061234000018",
        "ML-101",
        "NAVY",
    )
    assert (lines[2]["barcode"], lines[2]["unit_price"]) == ("1234567890128", "99.00")
    assert (lines[3]["barcode"], lines[3]["unit_price"]) == (None, "310.00")


def test_submit_rejects_what_it_cannot_place(published: Sandboxes) -> None:
    with pytest.raises(SandboxError, match="422"):
        published.submit_order(
            retailer={"name": "X"}, lines=[{"barcode": "4006381333931", "quantity": 1}]
        )
    with pytest.raises(SandboxError, match="422"):
        published.submit_order(
            retailer={"account_code": "NOPE"},
            lines=[{"style": "A", "colour": "B", "size": "C", "quantity": 1}],
        )
    with pytest.raises(SandboxError, match="422"):
        published.submit_order(retailer={"name": "X"}, lines=[])


def test_edit_resubmit_cancel(published: Sandboxes, ordre: httpx.Client) -> None:
    order = published.submit_order(
        retailer={"name": "Walk-in Store", "email": None},
        lines=[{"barcode": "05061234000018", "quantity": 1}],
    )
    assert order["retailer"]["account_code"] is None
    edited = published.edit_order(order["id"], comments="pack by style")
    assert (edited["submission"], edited["submitted_at"]) == (1, order["submitted_at"])
    assert edited["updated_at"] > order["updated_at"] and edited["version"] == 2
    again = published.resubmit_order(
        order["id"], lines=[{"barcode": "05061234000018", "quantity": 5}]
    )
    assert (again["submission"], again["status"]) == (2, "submitted")
    assert again["submitted_at"] == again["updated_at"] > edited["updated_at"]
    assert again["lines"][0]["quantity"] == 5
    approved = ordre.post(
        f"/orders/{order['id']}/approve", headers={"If-Match": f'"{again["version"]}"'}
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert ordre.post(f"/orders/{order['id']}/approve").status_code == 409
    cancelled = published.cancel_order(order["id"])
    assert cancelled["status"] == "cancelled"
    with pytest.raises(SandboxError, match="409"):
        published.edit_order(order["id"], comments="too late")
    assert ordre.get(f"/orders/{order['id']}").json() == cancelled


def test_draft_then_first_submit(published: Sandboxes) -> None:
    draft = published.submit_order(
        retailer={"account_code": "ATN001"},
        status="draft",
        lines=[{"barcode": "05061234000018", "quantity": 1}],
    )
    assert (draft["submission"], draft["status"], draft["submitted_at"]) == (0, "draft", None)
    sent = published.resubmit_order(draft["id"])
    assert (sent["submission"], sent["status"]) == (1, "submitted")


def test_orders_list_sorted_by_update_and_filtered(
    published: Sandboxes, ordre: httpx.Client
) -> None:
    line = [{"barcode": "05061234000018", "quantity": 1}]
    a = published.submit_order(retailer={"account_code": "ATN001"}, lines=line)
    b = published.submit_order(retailer={"account_code": "ATN001"}, lines=line)
    c = published.submit_order(retailer={"account_code": "ATN001"}, lines=line, status="draft")
    published.edit_order(a["id"], po_number="PO-A2")  # a moves to the end
    listed = [o["id"] for o in ordre.get("/orders").json()["items"]]
    assert listed == [b["id"], c["id"], a["id"]]
    submitted = [
        o["id"] for o in ordre.get("/orders", params={"status": "submitted"}).json()["items"]
    ]
    assert submitted == [b["id"], a["id"]]
    since = ordre.get("/orders", params={"updated_since": c["updated_at"]}).json()["items"]
    assert [o["id"] for o in since] == [c["id"], a["id"]], "updated_since is inclusive"
    offset = c["updated_at"].replace("Z", "+00:00")
    assert len(ordre.get("/orders", params={"updated_since": offset}).json()["items"]) == 2
    assert ordre.get("/orders", params={"updated_since": "yesterday"}).status_code == 400
    assert ordre.get("/orders", params={"status": "shipped"}).status_code == 400
    paged, cursor = [], None
    while True:
        page = ordre.get(
            "/orders", params={"limit": 1, **({"cursor": cursor} if cursor else {})}
        ).json()
        paged += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == listed


def test_clock_advance_moves_timestamps(published: Sandboxes) -> None:
    line = [{"barcode": "05061234000018", "quantity": 1}]
    before = published.submit_order(retailer={"name": "A"}, lines=line)
    published.ordre.advance_clock(86400 * 2)
    after = published.submit_order(retailer={"name": "A"}, lines=line)
    assert after["created_at"][:10] > before["created_at"][:10]


def test_raw_order_is_listed_verbatim(published: Sandboxes, ordre: httpx.Client) -> None:
    good = published.submit_order(
        retailer={"name": "A"}, lines=[{"barcode": "05061234000018", "quantity": 1}]
    )
    raw_id = published.post_raw_order({"id": 17, "lines": "not a list"})
    items = ordre.get("/orders", params={"status": "submitted"}).json()["items"]
    assert items == [good, {"id": 17, "lines": "not a list"}]
    assert ordre.get(f"/orders/{raw_id}").json() == {"id": 17, "lines": "not a list"}
    assert ordre.post(f"/orders/{raw_id}/approve").status_code == 409
