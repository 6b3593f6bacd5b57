"""Contract tests: both clients against the sandbox servers running as real uvicorn servers.

Faults are switched on through the sandbox's admin API (docs/sandbox-api.md section 5), so
every failure here crosses a real socket.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from decimal import Decimal
from typing import Any

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
    SalesOrder,
    SalesOrderLine,
)
from daemon.errors import (
    AuthError,
    BadResponse,
    Conflict,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    TransientError,
)
from daemon.sandbox import SandboxPair

FAST = RetryPolicy(attempts=4, budget=20.0, backoff_base=0.01, backoff_max=0.05)


@pytest.fixture
def pair(sandbox_pair: SandboxPair) -> SandboxPair:
    """Both sandboxes (shared with the session), reset to the seed for this test."""
    sandbox_pair.reset()
    return sandbox_pair


class Sleeps(list[float]):
    """Records each wait instead of sleeping, so Retry-After tests run at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def zedonk(pair: Any, **kwargs: Any) -> ZedonkClient:
    kwargs.setdefault("retry", FAST)
    return ZedonkClient(pair.zedonk.api_url, pair.zedonk.token, **kwargs)


def ordre(pair: Any, **kwargs: Any) -> OrdreClient:
    kwargs.setdefault("retry", FAST)
    return OrdreClient(pair.ordre.api_url, pair.ordre.token, **kwargs)


def hits(server: Any, method: str, path: str) -> int:
    """How many connector requests the server logged for one route."""
    return sum(
        1
        for entry in server.requests()
        if entry["method"] == method and entry["path"] == "/api/v1" + path
    )


# --------------------------------------------------------------------------- auth, paging


def test_pagination_reads_every_product_page_by_page(pair: Any) -> None:
    with zedonk(pair, page_size=7) as client:
        products = list(client.products())
    total = pair.zedonk.state()["products"]
    assert total >= 80
    assert len(products) == total
    assert len({p.id for p in products}) == total
    assert hits(pair.zedonk, "GET", "/products") == -(-total // 7)
    assert sum(len(p.skus) for p in products) == pair.zedonk.state()["skus"]


def test_reference_data(pair: Any) -> None:
    with zedonk(pair) as client:
        seasons = client.seasons()
        users = client.users()
        categories = client.categories()
        customers = list(client.customers())
    assert [s.code for s in seasons] == ["AW25", "SS26", "AW26"]
    assert {u.username: u.active for u in users}["intern"] is False
    assert len(categories) == 6
    assert len(customers) >= 25


def test_a_wrong_token_is_an_auth_error_that_hides_the_token(
    pair: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-token-0123456789"
    client = ZedonkClient(pair.zedonk.api_url, wrong, retry=FAST)
    with client, pytest.raises(AuthError) as caught:
        client.seasons()
    assert caught.value.status == 401
    assert wrong not in str(caught.value) and wrong not in (caught.value.hint or "")
    assert wrong not in repr(client) and wrong not in caplog.text
    assert hits(pair.zedonk, "GET", "/seasons") == 1  # never retried


# --------------------------------------------------------------------------- retries


def test_429_with_retry_after_is_waited_out(pair: Any) -> None:
    pair.zedonk.set_faults(
        {
            "rules": [
                {
                    "path_prefix": "/api/v1/seasons",
                    "times": 1,
                    "action": "error",
                    "status": 429,
                    "retry_after": 2,
                }
            ]
        }
    )
    sleeps = Sleeps()
    with zedonk(pair, sleep=sleeps) as client:
        assert len(client.seasons()) == 3
    assert sleeps == [2.0]
    assert hits(pair.zedonk, "GET", "/seasons") == 2


def test_the_real_rate_limit_is_honoured(pair: Any) -> None:
    pair.ordre.set_rate_limit(limit=2, window_seconds=1)
    started = time.monotonic()
    with ordre(pair) as client:
        for _ in range(3):
            assert list(client.collections()) == []
    assert time.monotonic() - started >= 0.5  # the third call waited for the next window


def test_rate_limit_beyond_the_budget_gives_up(pair: Any) -> None:
    pair.ordre.set_rate_limit(limit=1, window_seconds=600)
    with ordre(pair, retry=RetryPolicy(attempts=3, budget=5.0)) as client:
        list(client.collections())
        with pytest.raises(RateLimited) as caught:
            list(client.collections())
    assert caught.value.retry_after is not None and caught.value.retry_after > 5


def test_a_5xx_then_success_is_retried_for_reads(pair: Any) -> None:
    pair.ordre.set_faults(
        {
            "rules": [
                {
                    "method": "GET",
                    "path_prefix": "/api/v1/listings",
                    "times": 2,
                    "action": "error",
                    "status": 502,
                }
            ]
        }
    )
    with ordre(pair) as client:
        assert list(client.listings()) == []
    assert hits(pair.ordre, "GET", "/listings") == 3


def test_a_dropped_connection_on_a_read_is_retried(pair: Any) -> None:
    pair.zedonk.set_faults(
        {"rules": [{"method": "GET", "path_prefix": "/api/v1/users", "times": 1, "action": "drop"}]}
    )
    with zedonk(pair) as client:
        assert len(client.users()) == 3


def test_a_slow_drip_hits_the_deadline(pair: Any) -> None:
    pair.zedonk.set_faults(
        {
            "rules": [
                {
                    "method": "GET",
                    "path_prefix": "/api/v1/products",
                    "action": "drip",
                    "bytes_per_second": 200,
                }
            ]
        }
    )
    client = zedonk(pair, timeout=1.0, deadline=1.5, retry=RetryPolicy(attempts=1))
    started = time.monotonic()
    with client, pytest.raises(TransientError, match="too slowly"):
        list(client.products())
    assert time.monotonic() - started < 4.0


def test_malformed_json_is_a_bad_response(pair: Any) -> None:
    pair.ordre.set_faults(
        {"rules": [{"path_prefix": "/api/v1/customers", "times": 1, "action": "malformed"}]}
    )
    with ordre(pair) as client, pytest.raises(BadResponse, match="GET /customers"):
        list(client.customers())
    assert hits(pair.ordre, "GET", "/customers") == 1


# --------------------------------------------------------------------------- Zedonk writes


def first_order_line(client: ZedonkClient) -> SalesOrderLine:
    product = next(p for p in client.products(season="AW26", active=True) if p.skus)
    sku = next(s for s in product.skus if s.barcode)
    price = next(p.wsp for p in product.prices if p.currency == "EUR")
    return SalesOrderLine(product.id, sku.size, sku.barcode or "", 2, price)


def new_order(client: ZedonkClient, connector_ref: str) -> SalesOrder:
    customer = next(c for c in client.customers(active=True))
    owner = next(u.username for u in client.users() if u.active)
    return SalesOrder(
        season="AW26",
        customer_id=customer.id,
        order_ref="PO-77",
        connector_ref=connector_ref,
        owner=owner,
        approved=False,
        currency="EUR",
        lines=(first_order_line(client),),
        comments="contract test",
    )


def test_create_get_find_and_inactivate_a_sales_order(pair: Any) -> None:
    with zedonk(pair) as client:
        order = new_order(client, "ordre:ord_1#1")
        created = client.create_sales_order(order)
        assert created.id and created.number.startswith("SO-")
        assert replace(created, id="", number="") == order
        assert client.get_sales_order(created.id) == created
        assert client.find_sales_order("ordre:ord_1#1") == created
        assert client.find_sales_order("ordre:ord_1#2") is None
        assert [o.id for o in client.find_sales_orders(order_ref="PO-77")] == [created.id]
        inactive = client.inactivate_sales_order(created.id)
        assert inactive.active is False
        assert client.inactivate_sales_order(created.id).active is False
        with pytest.raises(NotFound):
            client.get_sales_order("999999")


def test_a_lost_create_answer_is_outcome_unknown_and_the_lookup_finds_it(pair: Any) -> None:
    with zedonk(pair) as client:
        order = new_order(client, "ordre:ord_7#1")
        pair.zedonk.set_faults(
            {
                "rules": [
                    {
                        "method": "POST",
                        "path_prefix": "/api/v1/sales-orders",
                        "times": 1,
                        "action": "lose_response",
                    }
                ]
            }
        )
        with pytest.raises(OutcomeUnknown):
            client.create_sales_order(order)
        assert hits(pair.zedonk, "POST", "/sales-orders") == 1  # sent once, never blindly again
        found = client.find_sales_order("ordre:ord_7#1")
    assert found is not None and found.lines[0].barcode == order.lines[0].barcode
    assert pair.zedonk.state()["sales_orders"] == 1


def test_a_5xx_on_create_is_outcome_unknown_and_the_lookup_finds_nothing(pair: Any) -> None:
    with zedonk(pair) as client:
        order = new_order(client, "ordre:ord_8#1")
        pair.zedonk.set_faults(
            {
                "rules": [
                    {
                        "method": "POST",
                        "path_prefix": "/api/v1/sales-orders",
                        "times": 1,
                        "action": "error",
                        "status": 503,
                    }
                ]
            }
        )
        with pytest.raises(OutcomeUnknown):
            client.create_sales_order(order)
        assert client.find_sales_order("ordre:ord_8#1") is None
        client.create_sales_order(order)  # resolved: not stored, so create it now
        assert client.find_sales_order("ordre:ord_8#1") is not None
    assert pair.zedonk.state()["sales_orders"] == 1


def test_an_invalid_order_names_the_problem(pair: Any) -> None:
    with zedonk(pair) as client:
        order = replace(new_order(client, "ordre:x#1"), season="XX99")
        with pytest.raises(Exception) as caught:
            client.create_sales_order(order)
    assert "season" in str(caught.value)
    assert not isinstance(caught.value, OutcomeUnknown)


def test_customer_create_conflict_and_lookup(pair: Any) -> None:
    new = Customer(
        id="",
        name="Contract Test Boutique",
        account_code="CTB001",
        active=True,
        currency="GBP",
        addresses=(Address(kind="store", line1="1 High St", city="Bath", country="GB"),),
        contact_email="buy@ctb.example",
    )
    with zedonk(pair) as client:
        created = client.create_customer(new)
        assert created.id and created.name == new.name and created.currency == "GBP"
        with pytest.raises(Conflict):
            client.create_customer(replace(new, name="contract test boutique", account_code=None))
        assert client.find_customer_by_name("Contract Test Boutique") == created
        assert client.find_customer_by_name("No Such Shop") is None
        delivery = Address(kind="delivery", line1="2 Low St", city="Bath", country="GB")
        updated = client.add_customer_address(created.id, delivery)
        assert any(a.kind == "delivery" and a.same_place(delivery) for a in updated.addresses)
        assert client.get_customer(created.id) == updated


# --------------------------------------------------------------------------- ORDRE writes


LISTING = Listing(
    key="ML-901/WOOL/NAVY",
    style="ML-901",
    fabric="WOOL",
    colour="NAVY",
    description="Test coat",
    category="Coats",
    sizes=(ListingSize("36", "05061234500013"), ListingSize("38", "5061234500020")),
    prices=(ListingPrice("EUR", Decimal("310"), Decimal("775.5")),),
)


def test_listing_upsert_versions_and_if_match_conflicts(pair: Any) -> None:
    with ordre(pair) as client:
        created = client.upsert_listing(LISTING, create_only=True)
        assert created.version == "1"
        assert structs.replace(created, version="") == structs.replace(
            LISTING, prices=(ListingPrice("EUR", Decimal("310.00"), Decimal("775.50")),)
        )
        with pytest.raises(Conflict):
            client.upsert_listing(LISTING, create_only=True)
        changed = client.upsert_listing(structs.replace(LISTING, description="New"), if_match="1")
        assert changed.version == "2"
        with pytest.raises(Conflict) as caught:
            client.upsert_listing(structs.replace(LISTING, description="Stale"), if_match="1")
        assert caught.value.status == 412
        with pytest.raises(Conflict):
            client.delete_listing(LISTING.key, if_match="1")
        assert [(x.key, x.version) for x in client.listings()] == [(LISTING.key, "2")]
        client.delete_listing(LISTING.key, if_match=changed.version)
        assert list(client.listings()) == []


def test_batch_upsert_is_all_or_nothing(pair: Any) -> None:
    other = structs.replace(
        LISTING,
        key="ML-902/SILK/RED",
        style="ML-902",
        fabric="SILK",
        colour="RED",
        sizes=(ListingSize("M", "4006381333931"),),
    )
    with ordre(pair) as client:
        written = client.upsert_listings([LISTING, other])
        assert [(w.key, w.result) for w in written] == [
            (LISTING.key, "created"),
            (other.key, "created"),
        ]
        again = client.upsert_listings(
            [structs.replace(LISTING, description="v2"), other],
            if_match={other.key: "1", LISTING.key: "1"},
        )
        assert [w.result for w in again] == ["updated", "unchanged"]
        with pytest.raises(Conflict):
            client.upsert_listings(
                [
                    structs.replace(LISTING, description="v3"),
                    structs.replace(other, description="x"),
                ],
                if_match={LISTING.key: "1"},
            )
        assert client.get_listing(LISTING.key).description == "v2"


def test_collections_and_looks(pair: Any) -> None:
    with ordre(pair) as client:
        client.upsert_listing(LISTING)
        col = client.create_collection(OrdreCollection(name="AW26", position=1))
        assert col.id and col.version == "1"
        look = client.create_look(OrdreLook(col.id, "Look 1", 1, (LISTING.key,)))
        assert look.product_keys == (LISTING.key,)
        moved = client.update_look(replace(look, position=2), if_match=look.version)
        assert moved.position == 2 and moved.version == "2"
        emptied = client.set_look_products(look.id, [], if_match=moved.version)
        assert emptied.product_keys == ()
        with pytest.raises(Conflict):
            client.update_look(replace(look, name="Stale"), if_match=look.version)
        with pytest.raises(Conflict):
            client.delete_collection(col.id)  # it still has a look
        renamed = client.update_collection(replace(col, name="Autumn 26"), if_match=col.version)
        assert renamed.name == "Autumn 26"
        assert [c.name for c in client.collections()] == ["Autumn 26"]
        assert [lk.id for lk in client.looks(collection_id=col.id)] == [look.id]
        client.delete_look(look.id, if_match=emptied.version)
        client.delete_collection(col.id, if_match=renamed.version)
        assert list(client.collections()) == []


def test_a_lost_create_answer_is_replayed_by_idempotency_key(pair: Any) -> None:
    pair.ordre.set_faults(
        {
            "rules": [
                {
                    "method": "POST",
                    "path_prefix": "/api/v1/collections",
                    "times": 1,
                    "action": "lose_response",
                }
            ]
        }
    )
    with ordre(pair) as client:
        created = client.create_collection(OrdreCollection(name="SS27", position=2))
        assert [c.id for c in client.collections()] == [created.id]
    assert hits(pair.ordre, "POST", "/collections") == 2


def test_customer_upsert(pair: Any) -> None:
    customer = OrdreCustomer(
        account_code="ATN001",
        name="Atelier Nord",
        currency="EUR",
        delivery_address=Address(kind="delivery", line1="Strandgade 12", country="DK"),
        contact_email="buying@ateliernord.example",
    )
    with ordre(pair) as client:
        stored = client.upsert_customer(customer, create_only=True)
        assert replace(stored, version="") == customer
        again = client.upsert_customer(customer, if_match=stored.version)
        assert again.version == stored.version  # nothing changed
        with pytest.raises(Conflict):
            client.upsert_customer(replace(customer, name="Other"), if_match="99")
        assert list(client.customers()) == [stored]


# --------------------------------------------------------------------------- ORDRE orders


def publish(client: OrdreClient) -> None:
    client.upsert_listing(LISTING)
    client.upsert_customer(
        OrdreCustomer(account_code="ATN001", name="Atelier Nord", currency="EUR")
    )


def test_orders_map_resubmissions_and_a_broken_order_does_not_stop_the_rest(pair: Any) -> None:
    with ordre(pair) as client:
        publish(client)
        first = pair.ordre.submit_order(
            {
                "retailer": {"account_code": "ATN001"},
                "po_number": "PO-1",
                "lines": [{"barcode": "05061234500013", "quantity": 3}],
            }
        )
        pair.ordre.post_raw_order({"id": 42, "status": "submitted", "lines": "nonsense"})
        second = pair.ordre.submit_order(
            {
                "retailer": {"name": "Walk-in", "account_code": None, "email": "w@x.example"},
                "lines": [
                    {
                        "barcode": None,
                        "style": "ML-901",
                        "colour": "NAVY",
                        "size": "40",
                        "quantity": 1,
                        "unit_price": "99.00",
                    }
                ],
            }
        )
        items = list(client.orders(statuses=["submitted"]))
        good = [o for o in items if not isinstance(o, BrokenItem)]
        broken = [o for o in items if isinstance(o, BrokenItem)]
        assert [o.id for o in good] == [first["id"], second["id"]]
        assert len(broken) == 1 and broken[0].raw["lines"] == "nonsense"
        order = good[0]
        assert (order.submission, order.status, order.po_number) == (1, "submitted", "PO-1")
        assert order.retailer_account_code == "ATN001"
        assert order.lines[0].quantity == 3 and order.lines[0].unit_price == Decimal("310.00")
        assert good[1].retailer_account_code is None and good[1].lines[0].barcode is None

        since = order.updated_at
        pair.ordre.resubmit_order(first["id"], {"po_number": "PO-1b"})
        changed = [o for o in client.orders(updated_since=since) if not isinstance(o, BrokenItem)]
        again = next(o for o in changed if o.id == first["id"])
        assert again.submission == 2 and again.import_key == f"{first['id']}#2"
        assert client.get_order(first["id"]) == again

        pair.ordre.cancel_order(second["id"])
        statuses = {o.id: o.status for o in client.orders() if not isinstance(o, BrokenItem)}
        assert statuses[second["id"]] == "cancelled"
        assert second["id"] not in {
            o.id for o in client.orders(statuses=["submitted"]) if not isinstance(o, BrokenItem)
        }


def test_a_stalled_create_times_out_as_outcome_unknown(pair: Any) -> None:
    pair.zedonk.set_faults(
        {
            "rules": [
                {
                    "method": "POST",
                    "path_prefix": "/api/v1/customers",
                    "times": 1,
                    "action": "lose_response",
                    "mode": "stall",
                    "stall_seconds": 3,
                }
            ]
        }
    )
    new = Customer(id="", name="Stalled Shop", account_code=None, active=True, currency="EUR")
    with zedonk(pair, timeout=0.5, deadline=1.0) as client:
        with pytest.raises(OutcomeUnknown):
            client.create_customer(new)
        found = client.find_customer_by_name("Stalled Shop")
    assert found is not None and found.name == "Stalled Shop"


def test_reads_get_through_random_errors(pair: Any) -> None:
    pair.ordre.set_faults({"seed": 3, "error_rates": {"503": 0.3, "502": 0.2}, "retry_after": 0})
    with ordre(pair, retry=RetryPolicy(attempts=12, backoff_base=0.001, backoff_max=0.01)) as c:
        assert list(c.collections()) == []
        assert list(c.listings()) == []
    statuses = [e["status"] for e in pair.ordre.requests()]
    assert statuses.count(200) == 2
    assert any(s in (502, 503) for s in statuses)
