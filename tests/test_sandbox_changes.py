"""The sandboxes' changed-since cursor over real sockets: a listing's sync token, what changed
after it (deletions and re-creations included), paging through changes, the 410 of a new
epoch, and the byte counts of the request log."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sandbox_harness import Sandboxes


def read_all(client: httpx.Client, path: str, limit: int = 40) -> tuple[list[Any], str]:
    """Every item of a listing and the sync token its last page gives."""
    items: list[Any] = []
    query: dict[str, Any] = {"limit": limit}
    while True:
        body = client.get(path, params=query).json()
        items += body["items"]
        if body["next_cursor"] is None:
            assert isinstance(body["sync_token"], str), body
            return items, body["sync_token"]
        assert body["sync_token"] is None, "only the last page names the point"
        query["cursor"] = body["next_cursor"]


def changes(
    client: httpx.Client, path: str, token: str, limit: int = 200
) -> tuple[list[Any], list[str], str]:
    """Every change after ``token``: items, deleted keys, the next token."""
    items: list[Any] = []
    deleted: list[str] = []
    query: dict[str, Any] = {"changed_since": token, "limit": limit}
    while True:
        answer = client.get(path, params=query)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["items"]
        deleted += body["deleted"]
        if body["next_cursor"] is None:
            return items, deleted, body["sync_token"]
        query["cursor"] = body["next_cursor"]


def test_nothing_changed_is_one_small_answer(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    _, token = read_all(client, "/products")
    answer = client.get("/products", params={"changed_since": token})
    assert answer.json() == {"items": [], "deleted": [], "next_cursor": None, "sync_token": token}
    assert len(answer.content) < 200


def test_zedonk_product_edits_deletes_and_recreations(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    before, token = read_all(client, "/products")
    by_id = {p["id"]: p for p in before}
    navy, camel = by_id["ML-101/WOOL/NAVY"], by_id["ML-101/WOOL/CAMEL"]
    sandbox.zedonk.edit_product(navy["id"], description="Reworked coat")
    sandbox.zedonk.delete_product(camel["id"])
    items, deleted, token2 = changes(client, "/products", token)
    assert [p["id"] for p in items] == [navy["id"]]
    assert items[0]["description"] == "Reworked coat"
    assert deleted == [camel["id"]]
    assert token2 != token

    # Re-created with the same id: live again, listed once, no longer deleted.
    body = {k: v for k, v in camel.items() if k not in ("id", "updated_at")}
    sandbox.zedonk.put_product(camel["id"], body)
    items, deleted, token3 = changes(client, "/products", token)
    assert sorted(p["id"] for p in items) == sorted([navy["id"], camel["id"]])
    assert deleted == []
    items, deleted, _ = changes(client, "/products", token2)
    assert ([p["id"] for p in items], deleted) == ([camel["id"]], [])
    assert changes(client, "/products", token3)[:2] == ([], [])

    # The first listing with every change since applied is the listing as now.
    items, deleted, _ = changes(client, "/products", token)
    for product in items:
        by_id[product["id"]] = product
    for pid in deleted:
        del by_id[pid]
    assert {p["id"]: p for p in read_all(client, "/products")[0]} == by_id


def test_changes_page_in_the_order_they_happened(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    products, token = read_all(client, "/products")
    edited = [p["id"] for p in products[:9]][::-1]
    for pid in edited:
        sandbox.zedonk.edit_product(pid, description=f"new {pid}")
    pages = []
    query: dict[str, Any] = {"changed_since": token, "limit": 4}
    while True:
        body = client.get("/products", params=query).json()
        pages.append([p["id"] for p in body["items"]])
        if body["next_cursor"] is None:
            break
        query["cursor"] = body["next_cursor"]
    assert [len(p) for p in pages] == [4, 4, 1]
    assert [pid for page in pages for pid in page] == edited


def test_a_change_while_a_listing_pages_is_in_the_changes_after_it(sandbox: Sandboxes) -> None:
    """The token names the point the listing began at, so an edit to a page already read
    is not lost."""
    client = sandbox.client("zedonk")
    first = client.get("/products", params={"limit": 20}).json()
    early = first["items"][0]["id"]
    sandbox.zedonk.edit_product(early, description="edited while paging")
    query: dict[str, Any] = {"limit": 200, "cursor": first["next_cursor"]}
    while True:
        body = client.get("/products", params=query).json()
        if body["next_cursor"] is None:
            break
        query["cursor"] = body["next_cursor"]
    items, _, _ = changes(client, "/products", body["sync_token"])
    assert [p["id"] for p in items] == [early]


@pytest.mark.parametrize(
    "path", ["/seasons", "/categories", "/users", "/products", "/customers", "/sales-orders"]
)
def test_every_zedonk_list_the_connector_reads_gives_a_token(sandbox: Sandboxes, path: str) -> None:
    client = sandbox.client("zedonk")
    _, token = read_all(client, path)
    assert changes(client, path, token)[:2] == ([], [])


def test_zedonk_customer_edit_is_a_change(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    _, token = read_all(client, "/customers")
    sandbox.zedonk.edit_customer("C00001", contact_name="Someone Else")
    items, deleted, _ = changes(client, "/customers", token)
    assert [(c["id"], c["contact_name"]) for c in items] == [("C00001", "Someone Else")]
    assert deleted == []


def test_ordre_lists_report_writes_and_deletions(sandbox: Sandboxes) -> None:
    client = sandbox.client("ordre")
    tokens = {path: read_all(client, path)[1] for path in ("/collections", "/looks", "/orders")}
    made = client.post("/collections", json={"name": "AW26", "position": 1}).json()
    look = client.post(
        "/looks", json={"collection_id": made["id"], "name": "Look 1", "position": 1}
    ).json()
    assert client.delete(f"/looks/{look['id']}").status_code == 204
    assert client.delete(f"/collections/{made['id']}").status_code == 204
    again = client.post("/collections", json={"name": "AW26", "position": 2}).json()
    items, deleted, _ = changes(client, "/collections", tokens["/collections"])
    assert ([c["id"] for c in items], deleted) == ([again["id"]], [made["id"]])
    items, deleted, _ = changes(client, "/looks", tokens["/looks"])
    assert (items, deleted) == ([], [look["id"]]), "created and deleted: only its deletion"

    order = sandbox.ordre.submit_order({"retailer": {"name": "New Shop"}, "lines": [
        {"barcode": "1234567890128", "style": "X", "colour": "Y", "size": "M", "quantity": 1,
         "unit_price": "1.00"}]})  # fmt: skip
    items, deleted, token = changes(client, "/orders", tokens["/orders"])
    assert ([o["id"] for o in items], deleted) == ([order["id"]], [])
    assert items[0] == client.get(f"/orders/{order['id']}").json()
    assert changes(client, "/orders", token)[:2] == ([], [])


def test_a_token_from_before_a_reset_is_expired(sandbox: Sandboxes) -> None:
    client = sandbox.client("ordre")
    _, token = read_all(client, "/listings")
    sandbox.ordre.reset()
    answer = client.get("/listings", params={"changed_since": token})
    assert answer.status_code == 410
    assert answer.json()["error"]["code"] == "sync_token_expired"


def test_a_listing_across_a_reset_names_the_old_epoch(sandbox: Sandboxes) -> None:
    """A reset while a listing pages: its token cannot stand for the new data."""
    client = sandbox.client("zedonk")
    first = client.get("/products", params={"limit": 50}).json()
    sandbox.zedonk.reset()
    last = client.get("/products", params={"limit": 200, "cursor": first["next_cursor"]}).json()
    while last["next_cursor"] is not None:
        last = client.get("/products", params={"limit": 200, "cursor": last["next_cursor"]}).json()
    assert client.get("/products", params={"changed_since": last["sync_token"]}).status_code == 410


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"changed_since": "not-a-token"}, "not a sync token"),
        ({"changed_since": "WzEsMl0"}, "not a sync token"),  # [1, 2]
        ({"changed_since": "{token}", "season": "AW26"}, "no other filter"),
        ({"changed_since": "{token}", "cursor": "WyJ4Il0"}, "not a cursor"),  # ["x"]
    ],
)
def test_bad_change_requests_are_a_400(
    sandbox: Sandboxes, query: dict[str, str], message: str
) -> None:
    client = sandbox.client("zedonk")
    _, token = read_all(client, "/products")
    params = {k: v.replace("{token}", token) for k, v in query.items()}
    answer = client.get("/products", params=params)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["error"]["message"]


def test_the_request_log_counts_bytes_both_ways(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    sandbox.zedonk.clear_requests()
    answer = client.get("/seasons")
    counters = sandbox.zedonk.counters()
    sent = answer.request
    request_bytes = (
        len(f"GET {sent.url.raw_path.decode()} HTTP/1.1\r\n")
        + 2
        + sum(len(k) + len(v) + 4 for k, v in sent.headers.raw)
    )
    assert counters["bytes_in"] == request_bytes
    head = len("HTTP/1.1 200 OK\r\n") + 2 + sum(len(k) + len(v) + 4 for k, v in answer.headers.raw)
    assert counters["bytes_out"] == head + int(answer.headers["content-length"])
