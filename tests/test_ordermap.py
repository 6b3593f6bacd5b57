from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgspec import structs

from daemon.clients.zedonk import ORDER_LIMITS
from daemon.core import gtin
from daemon.core.model import Address, Customer, OrdreOrder, OrdreOrderLine, Product, ProductId, Sku
from daemon.core.ordercopy import content_fingerprint, ledger_copy, order_from_json, order_to_json
from daemon.core.ordermap import (
    ImportTarget,
    NoLinesMatched,
    OrderMappingError,
    SkuIndex,
    Triage,
    addresses_to_add,
    connector_ref,
    map_lines,
    map_order,
    match_customer,
    new_customer,
    order_reference,
    triage,
)
from daemon.errors import ConfigError

EAN = "5061234500013"  # valid EAN-13
UPC = "036000291452"  # valid UPC-A
BAD_CHECK = "5061234500017"

COAT = Product(
    id=ProductId("ML-101", "WOOL", "NAVY"),
    description="Double-faced wool coat",
    category="Coats",
    seasons=("AW26",),
    skus=(Sku("36", EAN), Sku("38", "0" + UPC), Sku("40", None), Sku("42", BAD_CHECK)),
)
TARGET = ImportTarget("AW26", "sophie", False, "{order_number} + {po_number}", ORDER_LIMITS)
DELIVERY = Address("delivery", "Atelier Nord", "Strandgade 12", "", "Copenhagen", "", "1401", "DK")
ACCOUNTS = Address("accounts", "Atelier Nord ApS", "Box 9", "", "Copenhagen", "", "1000", "DK")


def line(no: int, barcode: str | None, qty: int = 2, price: str = "310.00") -> OrdreOrderLine:
    return OrdreOrderLine(no, barcode, "ML-101", "NAVY", "36", qty, Decimal(price))


def order(**changes: object) -> OrdreOrder:
    base = OrdreOrder(
        id="ord_000003",
        number="ORD-10003",
        submission=2,
        status="submitted",
        po_number="PO-77",
        retailer_name="Atelier Nord",
        retailer_account_code="ATN001",
        currency="GBP",
        lines=(line(1, EAN), line(2, UPC, 1, "99.95")),
        ship_start=date(2026, 7, 1),
        ship_end=date(2026, 8, 31),
        delivery_address=DELIVERY,
        accounts_address=ACCOUNTS,
        buyer_email="buying@ateliernord.example",
        comments="Pack by style",
        created_at=datetime(2026, 6, 1, 9, 0, tzinfo=UTC),
        updated_at=datetime(2026, 6, 2, 9, 0, tzinfo=UTC),
        submitted_at=datetime(2026, 6, 2, 9, 0, tzinfo=UTC),
        version="4",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def customer(id: str, name: str, code: str | None, active: bool = True) -> Customer:
    return Customer(id, name, code, active, "EUR", addresses=(DELIVERY,))


# ------------------------------------------------------------------ order reference


@pytest.mark.parametrize(
    ("template", "number", "po", "expected"),
    [
        ("{order_number} + {po_number}", "ORD-1", "PO-7", "ORD-1 + PO-7"),
        ("{order_number} + {po_number}", "ORD-1", "", "ORD-1"),
        ("{order_number} + {po_number}", "ORD-1", "   ", "ORD-1"),
        ("{po_number} / {order_number}", "ORD-1", "", "ORD-1"),
        ("ORDRE {order_number} ({po_number})", "ORD-1", "PO-7", "ORDRE ORD-1 (PO-7"),
        ("{order_number}", "ORD-1", "PO-7", "ORD-1"),
    ],
)
def test_order_reference(template: str, number: str, po: str, expected: str) -> None:
    # A literal after the last field is kept as written: ")" follows the PO here.
    if template.endswith(")"):
        expected += ")"
    assert order_reference(template, order_number=number, po_number=po) == expected


def test_unknown_template_field_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"\{customer\}"):
        order_reference("{customer}", order_number="1", po_number="")
    with pytest.raises(ConfigError, match="not a valid template"):
        order_reference("{order_number", order_number="1", po_number="")


@given(
    number=st.text(alphabet="ORD-0123456789", min_size=1, max_size=12).filter(str.strip),
    po=st.text(alphabet=" PO-xyz0123456789+", max_size=12),
)
def test_default_template_never_dangles(number: str, po: str) -> None:
    ref = order_reference("{order_number} + {po_number}", order_number=number, po_number=po)
    assert not ref.endswith("+") or po.strip().endswith("+")
    assert ref.startswith(number.strip())
    assert (" + " in ref) == bool(po.strip())


# ------------------------------------------------------------------ lines


def test_lines_match_by_canonical_gtin_upc_and_ean_forms() -> None:
    skus = SkuIndex([COAT])
    lines, left_out = map_lines([line(1, "0" + EAN), line(2, UPC), line(3, "00" + UPC)], skus)
    assert left_out == ()
    assert [(str(x.product_id), x.size) for x in lines] == [
        ("ML-101/WOOL/NAVY", "36"),
        ("ML-101/WOOL/NAVY", "38"),
        ("ML-101/WOOL/NAVY", "38"),
    ]
    # The barcode on the Zedonk line is Zedonk's own form.
    assert lines[1].barcode == "0" + UPC


def test_left_out_lines_carry_their_reason_and_details() -> None:
    skus = SkuIndex([COAT])
    unknown = "4006381333931"  # valid, not on any SKU
    _, left_out = map_lines(
        [line(1, None), line(2, "50612345X0013"), line(3, BAD_CHECK), line(4, unknown)], skus
    )
    assert [(x.line_no, x.reason) for x in left_out] == [
        (1, "missing"),
        (2, "malformed"),
        (3, "check-digit"),
        (4, "unknown"),
    ]
    assert left_out[3].barcode == unknown and left_out[3].style == "ML-101"
    assert "line 4" in left_out[3].message and unknown in left_out[3].message


def test_a_gtin_on_two_skus_is_left_out_as_ambiguous() -> None:
    twin = structs.replace(COAT, id=ProductId("ML-102", "WOOL", "BLACK"), skus=(Sku("36", EAN),))
    _, left_out = map_lines([line(1, EAN)], SkuIndex([COAT, twin]))
    assert [x.reason for x in left_out] == ["ambiguous"]
    assert "ML-102/WOOL/BLACK" in left_out[0].message


def test_zedonk_skus_with_invalid_barcodes_are_not_indexed() -> None:
    assert len(SkuIndex([COAT])) == 2  # 40 has none, 42 has a wrong check digit


# ------------------------------------------------------------------ the order


def test_map_order_carries_prices_currency_window_addresses_and_comments() -> None:
    mapped = map_order(
        order(), import_key="ord_000003#2", customer_id="C1", skus=SkuIndex([COAT]), target=TARGET
    )
    so = mapped.order
    assert not mapped.partial
    assert (so.season, so.owner, so.approved, so.customer_id) == ("AW26", "sophie", False, "C1")
    assert so.order_ref == "ORD-10003 + PO-77"
    assert so.connector_ref == "ordre:ord_000003#2" == connector_ref("ord_000003#2")
    assert so.currency == "GBP"
    assert [x.unit_price for x in so.lines] == [Decimal("310.00"), Decimal("99.95")]
    assert [x.quantity for x in so.lines] == [2, 1]
    assert (so.delivery_start, so.delivery_end) == (date(2026, 7, 1), date(2026, 8, 31))
    assert so.delivery_address == DELIVERY and so.accounts_address == ACCOUNTS
    # A re-submission says so on the Zedonk order, after the retailer's comments.
    assert so.comments == "Pack by style\n\nORDRE submission 2 of ORD-10003"
    assert mapped.warnings == ()


def test_map_order_with_some_lines_left_out_is_partial() -> None:
    o = order(lines=(line(1, EAN), line(2, None)))
    mapped = map_order(o, import_key="k", customer_id="C1", skus=SkuIndex([COAT]), target=TARGET)
    assert mapped.partial and len(mapped.order.lines) == 1
    assert mapped.left_out[0].line_no == 2


def test_no_matching_line_means_no_order() -> None:
    o = order(lines=(line(1, None), line(2, BAD_CHECK)))
    with pytest.raises(NoLinesMatched) as caught:
        map_order(o, import_key="k", customer_id="C1", skus=SkuIndex([COAT]), target=TARGET)
    assert caught.value.code == "no-lines"
    assert [x.reason for x in caught.value.left_out] == ["missing", "check-digit"]


def test_a_ship_window_ending_before_it_starts_is_an_error() -> None:
    o = order(ship_start=date(2026, 9, 1), ship_end=date(2026, 8, 1))
    with pytest.raises(OrderMappingError, match="ends") as caught:
        map_order(o, import_key="k", customer_id="C1", skus=SkuIndex([COAT]), target=TARGET)
    assert caught.value.code == "ship-window"


# ------------------------------------------------------------------ customers


def test_customer_matches_by_account_code_first() -> None:
    customers = [customer("C1", "Atelier Nord", None), customer("C2", "Other name", "ATN001")]
    match = match_customer(order(), customers)
    assert (match.customer and match.customer.id, match.matched_by) == ("C2", "account_code")


def test_customer_matches_by_trimmed_case_insensitive_name() -> None:
    customers = [customer("C1", "  atelier NORD ", None), customer("C2", "Atelier Nordic", None)]
    match = match_customer(order(retailer_account_code=None), customers)
    assert (match.customer and match.customer.id, match.matched_by) == ("C1", "name")
    # Falls back to the name when the account code is unknown to Zedonk.
    assert match_customer(order(retailer_account_code="NEW9"), customers).matched_by == "name"


def test_customer_name_must_match_not_loosely() -> None:
    customers = [customer("C2", "Atelier Nord Ltd", None), customer("C3", "Atelier Nordic", None)]
    assert match_customer(order(retailer_account_code=None), customers).customer is None


def test_ambiguous_customers_are_an_error_not_a_guess() -> None:
    by_name = [customer("C1", "Atelier Nord", None), customer("C2", "ATELIER NORD", None)]
    with pytest.raises(OrderMappingError, match="C1, C2") as caught:
        match_customer(order(retailer_account_code=None), by_name)
    assert caught.value.code == "customer-ambiguous"
    by_code = [customer("C1", "A", "ATN001"), customer("C2", "B", "ATN001")]
    with pytest.raises(OrderMappingError, match="account code"):
        match_customer(order(), by_code)


def test_inactive_or_conflicting_customers_are_errors() -> None:
    with pytest.raises(OrderMappingError) as caught:
        match_customer(order(), [customer("C1", "X", "ATN001", active=False)])
    assert caught.value.code == "customer-inactive"
    with pytest.raises(OrderMappingError) as caught:
        match_customer(order(), [customer("C1", "Atelier Nord", "OTHER")])
    assert caught.value.code == "customer-conflict"


def test_new_customer_takes_the_orders_addresses() -> None:
    assert match_customer(order(), []).matched_by == "new"
    created = new_customer(order(retailer_name="  Atelier Nord "), ORDER_LIMITS)
    assert (created.id, created.name, created.account_code) == ("", "Atelier Nord", "ATN001")
    assert created.currency == "GBP" and created.contact_email == "buying@ateliernord.example"
    assert [(a.kind, a.is_default) for a in created.addresses] == [
        ("delivery", True),
        ("accounts", True),
    ]


def test_only_new_delivery_and_accounts_addresses_are_added() -> None:
    known = customer("C1", "Atelier Nord", "ATN001")  # has DELIVERY already
    shouted = replace(DELIVERY, city="COPENHAGEN ")  # same place, other case/spacing
    added = addresses_to_add(known, order(delivery_address=shouted))
    assert [a.kind for a in added] == ["accounts"]
    moved = replace(DELIVERY, line1="Vesterbrogade 1")
    assert [a.line1 for a in addresses_to_add(known, order(delivery_address=moved))] == [
        "Vesterbrogade 1",
        "Box 9",
    ]


# ------------------------------------------------------------------ triage and the ledger copy


def test_triage() -> None:
    statuses = ("submitted", "approved")
    assert triage(order(), statuses=statuses, go_live=None) is Triage.IMPORT
    assert (
        triage(order(status="draft", submission=0), statuses=statuses, go_live=None)
        is Triage.IGNORE
    )
    cancelled = order(status="cancelled")
    assert triage(cancelled, statuses=statuses, go_live=None) is Triage.SKIP_CANCELLED
    assert triage(order(), statuses=("approved",), go_live=None) is Triage.SKIP_STATUS
    # Go-live is about when the submission was made (2026-06-02), not the draft (06-01).
    assert triage(order(), statuses=statuses, go_live=date(2026, 6, 2)) is Triage.IMPORT
    assert triage(order(), statuses=statuses, go_live=date(2026, 6, 3)) is Triage.SKIP_GO_LIVE


def test_order_json_round_trip_and_fingerprint() -> None:
    o = order()
    assert order_from_json(order_to_json(o)) == o
    approved = replace(o, status="approved", version="5", updated_at=datetime.now(UTC))
    assert content_fingerprint(approved) == content_fingerprint(o)
    edited = replace(o, lines=(line(1, EAN, qty=5),))
    assert content_fingerprint(edited) != content_fingerprint(o)
    with pytest.raises(ValueError, match="damaged"):
        order_from_json({"id": "x"})


@given(
    status=st.sampled_from(["submitted", "approved", "cancelled"]),
    version=st.none() | st.text(max_size=5),
    po_number=st.text(max_size=8),
    comments=st.none() | st.text(max_size=20),
    lines=st.lists(
        st.builds(line, st.integers(1, 99), st.sampled_from([EAN, None, "x\u00e9\"1"]),
                  qty=st.integers(0, 10**6)),
        max_size=4,
    ),
)  # fmt: skip
def test_the_ledger_copy_is_the_order_and_its_fingerprint(
    status: str, version: str | None, po_number: str, comments: str | None, lines: list[Any]
) -> None:
    o = replace(
        order(status=status),
        version=version,
        po_number=po_number,
        comments=comments,
        lines=tuple(lines),
    )
    text, fingerprint = ledger_copy(o)
    assert json.loads(text) == order_to_json(o)
    assert order_from_json(json.loads(text)) == o
    assert fingerprint == content_fingerprint(o) == content_fingerprint(json.loads(text))


@given(barcode=st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_upc_and_ean_forms_index_alike(barcode: str) -> None:
    upc = barcode + str(gtin.check_digit(barcode))
    product = structs.replace(COAT, skus=(Sku("36", upc),))
    lines, left_out = map_lines([line(1, "0" + upc), line(2, "00" + upc)], SkuIndex([product]))
    assert left_out == () and len(lines) == 2
