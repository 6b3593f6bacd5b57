"""The typed pages (``daemon.clients.typed``) read what the quick readers read, never more.

A page of products or listings is decoded from its bytes straight into structs; where the
structs refuse it, the page is parsed with ``json`` and read as every other page is. Here the
same bytes go both ways: well-formed items, and items with a field removed or replaced by any
JSON value. Where the typed path maps an item, the quick reader must map it to the same object.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.clients import ordre, zedonk
from daemon.clients.fields import BrokenItem, Fields, TypedItems, parse_json, read_pages
from daemon.clients.typed import (
    LISTINGS,
    ORDRE_CUSTOMERS,
    PRODUCTS,
    ZEDONK_CUSTOMERS,
    TypedReader,
)
from daemon.errors import BadResponse
from tests.test_clients_mapping import LISTING, ORDRE_ADDRESS, PRODUCT, Recorder
from tests.test_clients_mapping import zedonk as zedonk_client
from tests.test_clients_quick import FULL_CUSTOMER, SLIPS, TRICKY, json_values, mutate, paths

RETAILER: dict[str, Any] = {
    "account_code": "ATN001",
    "name": "Atelier Nord",
    "currency": "EUR",
    "delivery_address": ORDRE_ADDRESS,
    "accounts_address": {**ORDRE_ADDRESS, "line2": None, "region": "Hovedstaden"},
    "contact_name": "Ingrid Berg",
    "contact_email": None,
    "version": 4,
}


def _careful_retailer(raw: Any) -> Any:
    return ordre._customer(Fields(raw))  # ORDRE's customers have no quick reader


# Each typed reader, and the reader it must agree with: the quick one, or the careful one.
TYPED: dict[str, tuple[dict[str, Any], TypedReader[Any, Any], Callable[[Any], Any]]] = {
    "product": (PRODUCT, PRODUCTS, zedonk._product_quick),
    "listing": (LISTING, LISTINGS, ordre._listing_quick),
    "customer": (FULL_CUSTOMER, ZEDONK_CUSTOMERS, zedonk._customer_quick),
    "retailer": (RETAILER, ORDRE_CUSTOMERS, _careful_retailer),
}


def page_bytes(*items: Any, **beside: Any) -> bytes:
    """A page as a remote sends it; amounts held as Decimal are sent as JSON numbers."""

    def number(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        raise TypeError(value)

    return json.dumps(
        {"items": list(items), "next_cursor": None, **beside}, default=number
    ).encode()


def typed_or_slip(reader: TypedReader[Any, Any], raw: bytes) -> list[Any] | None:
    """What the typed path maps a one-item page to; None where it hands the page on."""
    items = reader.decode(raw)["items"]
    if type(items) is not TypedItems:
        return None
    try:
        return [reader.convert(item) for item in items]
    except SLIPS:
        return None


def quick_or_slip(quick: Callable[[Any], Any], raw: bytes) -> Any:
    try:
        return [quick(item) for item in parse_json(raw)["items"]]
    except SLIPS:
        return SLIPS


@pytest.mark.parametrize("kind", sorted(TYPED))
def test_typed_and_quick_agree_on_well_formed_items(kind: str) -> None:
    raw, reader, quick = TYPED[kind]
    page = page_bytes(raw, raw)
    mapped = typed_or_slip(reader, page)
    assert mapped is not None and len(mapped) == 2
    assert mapped == quick_or_slip(quick, page)


@pytest.mark.parametrize("kind", sorted(TYPED))
def test_typed_is_never_more_lenient_anywhere(kind: str) -> None:
    """Every field removed, and every field replaced by each tricky value."""
    raw, reader, quick = TYPED[kind]
    compared = handed_on = 0
    for path in paths(raw):
        for changed in [mutate(raw, path, None, True)] + [
            mutate(raw, path, value, False) for value in [*TRICKY, "2026-07-01", 10**30]
        ]:
            page = page_bytes(changed)
            mapped = typed_or_slip(reader, page)
            if mapped is None:
                handed_on += 1
                continue
            assert quick_or_slip(quick, page) == mapped, (path, changed)
            compared += 1
    assert compared > 10 and handed_on > 30  # both ways were taken


@pytest.mark.parametrize("kind", sorted(TYPED))
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_typed_is_never_more_lenient(kind: str, data: st.DataObject) -> None:
    raw, reader, quick = TYPED[kind]
    path = data.draw(st.sampled_from(paths(raw)))
    changed = mutate(raw, path, data.draw(json_values), data.draw(st.booleans()))
    try:
        page = page_bytes(changed)
    except (TypeError, ValueError):
        return  # not JSON a remote could send
    mapped = typed_or_slip(reader, page)
    if mapped is not None:
        assert quick_or_slip(quick, page) == mapped


def test_a_page_the_structs_refuse_is_parsed_with_json() -> None:
    """A lone surrogate is JSON that msgspec refuses: the page is read the plain way."""
    page = b'{"items": [{"name": "\\ud800"}], "next_cursor": "7"}'
    body = PRODUCTS.decode(page)
    assert type(body["items"]) is list and body["next_cursor"] == "7"
    with pytest.raises(ValueError):
        PRODUCTS.decode(b'{"items": [')


def test_the_cursor_and_sync_token_reach_the_walk() -> None:
    body = LISTINGS.decode(page_bytes(LISTING, next_cursor=None, sync_token="t-9"))
    assert body["sync_token"] == "t-9" and body["next_cursor"] is None
    assert type(body["items"]) is TypedItems and len(body["items"]) == 1


@pytest.mark.parametrize(
    ("wsp", "says"),
    [
        ("NaN", "a finite amount"),
        ("123456789012345678901234567890.00", "at most 20 digits before the point"),
        ("1e21", "at most 20 digits before the point"),
    ],
)
def test_one_broken_item_is_reported_and_the_rest_of_its_page_read(wsp: str, says: str) -> None:
    """A price that is not a number, or too large to be a price, maps in no struct: the page
    goes the careful way, which names the item and reads the others."""
    good = copy.deepcopy(PRODUCT)
    other = {**copy.deepcopy(PRODUCT), "style": "ML-999"}
    bad = {**copy.deepcopy(PRODUCT), "id": "ML-5/W/N", "style": "ML-5"}
    bad["prices"] = [{**bad["prices"][0], "wsp": wsp}]
    page = PRODUCTS.decode(page_bytes(good, bad, other))
    assert type(page["items"]) is TypedItems  # "NaN" is a Decimal to msgspec: the convert slips
    broken: list[BrokenItem] = []
    read = list(
        read_pages(
            [page["items"]],
            zedonk._product,
            remote="zedonk",
            where="GET /products",
            on_broken=broken.append,
        )
    )
    assert [p.id.style for p in read] == [PRODUCT["style"], "ML-999"]
    assert [b.id for b in broken] == ["ML-5/W/N"] and "wsp" in broken[0].reason
    assert says in broken[0].reason


def test_an_empty_barcode_is_read_as_missing_by_the_readers_that_say_so() -> None:
    """The model's sizes are decoded straight into ``Sku``, whose barcode is never "": a page
    with one is handed to the readers, which read it as no barcode, and its other products as
    the structs would."""
    empty = copy.deepcopy(PRODUCT)
    empty["skus"] = [{"size": "36", "barcode": ""}, *PRODUCT["skus"][1:]]
    page = page_bytes(PRODUCT, empty)
    body = PRODUCTS.decode(page)
    assert type(body["items"]) is not TypedItems
    read = list(read_pages([body["items"]], zedonk._product, remote="zedonk", where="GET"))
    assert [sku.barcode for sku in read[1].skus] == [None, None]
    assert read[0] == typed_or_slip(PRODUCTS, page_bytes(PRODUCT))[0]  # type: ignore[index]


def test_a_page_json_cannot_read_again_is_a_bad_response() -> None:
    """Where a struct slips and the page's bytes are not JSON to ``json`` after all, the
    listing fails as a bad answer, never with a traceback."""
    items = TypedItems([object()])  # no struct: the convert slips
    items.raw = b'{"items": [NaN'
    with pytest.raises(BadResponse, match="GET /products: answer is not valid JSON"):
        list(read_pages([items], zedonk._product, remote="zedonk", where="GET /products"))


def _products_answering(body: bytes) -> list[Any]:
    def products(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    with zedonk_client(Recorder({("GET", "/products"): products})) as client:
        return list(client.products())


def _with_unknown(value: bytes) -> bytes:
    """A page of one good product that carries ``value`` in a field no reader names."""
    item = json.dumps(PRODUCT).encode()
    return b'{"items": [' + item[:-1] + b', "extra": ' + value + b'}], "next_cursor": null}'


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (b'"\xff\xfe"', "'utf-8' codec can't decode byte 0xff"),  # not UTF-8, never read
        (b"[" * 3000 + b"]" * 3000, "recursion"),  # nested deeper than json goes
    ],
)
def test_a_page_that_is_not_json_fails_wherever_the_fault_is(value: bytes, says: str) -> None:
    """msgspec skips the fields no struct names; a page is still refused as json refuses it."""
    with pytest.raises(BadResponse, match="GET /products: answer is not valid JSON") as caught:
        _products_answering(_with_unknown(value))
    assert says in str(caught.value)
    assert _products_answering(_with_unknown(b'"plain"'))[0].id.style == PRODUCT["style"]


def test_an_amount_past_pythons_digit_limit_is_a_bad_answer_not_a_crash() -> None:
    page = json.dumps({"items": [PRODUCT], "next_cursor": None}).replace('"310.00"', "9" * 5000, 1)
    assert "9" * 5000 in page
    with pytest.raises(BadResponse, match="answer is not valid JSON"):
        _products_answering(page.encode())
