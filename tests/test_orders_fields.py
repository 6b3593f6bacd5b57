"""What ORDRE allows and Zedonk does not take, and orders worth a second look: long POs and other
fields shortened by one rule, currencies and 0.00 prices held or warned about, re-submissions
told apart, products not visible in the import season. Through the command line, against both
sandboxes on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import orders_support
import pytest
from orders_support import (
    barcodes,
    cli,
    known_retailer,
    ledger,
    orders_per_ref,
    sales_orders,
    submit,
    write_connector,
)

from daemon.clients import ZedonkClient
from daemon.clients.zedonk import ORDER_LIMITS
from daemon.core.model import SalesOrder
from daemon.sandbox import SandboxPair
from daemon.store.history import History
from daemon.tree.settings import Settings

sandboxes, pair = orders_support.sandboxes, orders_support.pair  # fixtures


def zedonk_order(pair: SandboxPair, key: str) -> SalesOrder:
    [order] = [o for o in sales_orders(pair) if o.connector_ref == f"ordre:{key}"]
    return order


def warnings_of(settings: Settings, key: str) -> list[tuple[str, str]]:
    with History.open(settings.state_dir) as history:
        found = history.events(subject=key, level="warning")
    return [(e["code"], e["message"]) for e in reversed(found)]


# ------------------------------------------------------------------ Zedonk's limits


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("order_ref", ORDER_LIMITS.order_ref),
        ("connector_ref", ORDER_LIMITS.connector_ref),
        ("comments", ORDER_LIMITS.comments),
        ("country", ORDER_LIMITS.address_country),
        ("city", ORDER_LIMITS.address_text),
    ],
)
def test_the_declared_limits_are_what_zedonk_takes(
    pair: SandboxPair, field: str, limit: int
) -> None:
    """The connector's declared limits hold: the limit passes, one more is refused."""
    [good] = barcodes(pair, 1)
    customer = known_retailer(pair)

    def create(length: int) -> httpx.Response:
        body: dict[str, Any] = {
            "season": "AW26", "customer_id": customer.id, "owner": "sophie", "currency": "EUR",
            "lines": [{"barcode": good, "quantity": 1, "unit_price": "1.00"}],
        }  # fmt: skip
        if field in ("country", "city"):
            address = {"company": "X", "city": "Y", "country": "DK"}
            body["delivery_address"] = {**address, field: "x" * length}
        else:
            body[field] = "x" * length
        return httpx.post(
            f"{pair.zedonk.api_url}/sales-orders",
            json=body,
            headers={"Authorization": f"Bearer {pair.zedonk.token}"},
            trust_env=False,
        )

    assert create(limit).status_code == 201
    refused = create(limit + 1)
    assert refused.status_code == 422
    assert f"must be at most {limit} characters" in refused.text


# ------------------------------------------------------------------ long fields


def test_a_po_of_the_longest_length_ordre_allows_is_imported_with_a_warning(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    root = str(settings.root)
    [good] = barcodes(pair, 1)
    po = "PO-" + "".join(str(i % 10) for i in range(97))  # 100 characters: ORDRE's most
    long = submit(pair, [{"barcode": good, "quantity": 1}], po_number=po,
                  comments="Deliver to the back door")  # fmt: skip
    short = submit(pair, [{"barcode": good, "quantity": 1}], po_number="PO-1")
    imported = cli("orders", "import", "--once", "--root", root)
    assert imported.exit_code == 0, imported.output

    key = f"{long['id']}#1"
    order = zedonk_order(pair, key)
    assert len(order.order_ref) == ORDER_LIMITS.order_ref
    kept = ORDER_LIMITS.order_ref - len(f"{long['number']} + ") - 1
    assert order.order_ref == f"{long['number']} + {po[:kept]}…"  # the order number whole
    assert order.comments == f"Deliver to the back door\n\nPO: {po}"  # the full PO kept
    assert warnings_of(settings, key) == [
        (
            "order-reference-shortened",
            f"{long['number']}: the order reference would be {len(long['number']) + 3 + 100} "
            f"characters, Zedonk takes 100; the reference holds its first {kept} characters of "
            "the PO, and the full PO is in the order's comments",
        )
    ]
    # Other orders keep the seed's "order number + PO" rule, comments untouched.
    other = zedonk_order(pair, f"{short['id']}#1")
    assert (other.order_ref, other.comments) == (f"{short['number']} + PO-1", "")
    assert warnings_of(settings, f"{short['id']}#1") == []
    with History.open(settings.state_dir) as history:
        rows = history.query("SELECT key, title FROM notifications")
    assert {r["key"]: r["title"] for r in rows} == {
        f"order-warnings:{key}": f"{long['number']} imported with 1 warning(s)"
    }
    # A retry of it, as before the fix, is no failure either.
    again = cli("orders", "retry", key, "--root", root)
    assert again.exit_code == 0 and "already imported" in again.output


def test_a_country_and_comments_longer_than_zedonk_takes_are_shortened_the_same_way(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    root = str(settings.root)
    [good] = barcodes(pair, 1)
    country = "The United Kingdom of Great Britain and Northern Ireland, England"  # 65
    comments = "c" * 2000  # ORDRE's most
    delivery = {"company": "Atelier Nord", "line1": "1 High St", "city": "London",
                "postcode": "N1", "country": country}  # fmt: skip
    order = submit(pair, [{"barcode": good, "quantity": 1}], delivery_address=delivery,
                   comments=comments)  # fmt: skip
    imported = cli("orders", "import", "--once", "--root", root)
    assert imported.exit_code == 0, imported.output
    key = f"{order['id']}#1"
    made = zedonk_order(pair, key)
    assert made.delivery_address is not None
    assert made.delivery_address.country == country[:59] + "…"
    note = f"Delivery country: {country}"
    assert made.comments.endswith(f"…\n\n{note}")
    assert len(made.comments) == ORDER_LIMITS.comments
    assert [code for code, _ in warnings_of(settings, key)] == [
        "order-country-shortened",
        "order-comments-shortened",
    ]
    # The history keeps the retailer's comments whole.
    shown = cli("orders", "show", key, "--format", "json", "--root", root)
    assert json.loads(shown.output)["import"]["order"]["comments"] == comments


# ------------------------------------------------------------------ currencies and prices


def test_a_currency_zedonk_lacks_is_refused_before_anything_is_created(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    root = str(settings.root)
    [good] = barcodes(pair, 1)
    order = submit(pair, [{"barcode": good, "quantity": 1, "unit_price": "9000"}],
                   retailer={"name": "Tokyo Select"}, currency="JPY")  # fmt: skip
    writes = pair.zedonk.write_count()
    imported = cli("orders", "import", "--once", "--root", root)
    assert imported.exit_code == 3, imported.output
    assert pair.zedonk.write_count() == writes  # no customer, no order
    listed = cli("orders", "list", "--status", "failed", "--root", root)
    assert order["number"] in listed.output
    assert "the order is in JPY, which Zedonk does not have (it has EUR, GBP, USD)" in (
        listed.output
    )


def test_an_order_in_another_currency_than_its_customer_is_held_until_accepted(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)  # on_currency_mismatch: hold, the default
    root = str(settings.root)
    [good] = barcodes(pair, 1)
    customer = known_retailer(pair)
    assert customer.currency == "EUR"
    usd = submit(pair, [{"barcode": good, "quantity": 1, "unit_price": "500.00"}],
                 currency="USD")  # fmt: skip
    key = f"{usd['id']}#1"
    held = cli("orders", "import", "--once", "--root", root)
    assert held.exit_code == 3, held.output
    assert "1 held for review" in held.output
    row = ledger(settings)[key]
    assert row["state"] == "needs_attention"
    message = f"{usd['number']}: the order is in USD, but the customer's currency in Zedonk is EUR"
    assert row["last_error"] == f"held for review: {message}"
    assert orders_per_ref(pair) == {}
    attention = cli("orders", "list", "--status", "attention", "--root", root)
    assert usd["number"] in attention.output and "held for review" in attention.output

    still = cli("orders", "retry", key, "--root", root)  # nothing changed: held again
    assert still.exit_code == 3 and "needs_attention" in still.output
    accepted = cli("orders", "retry", key, "--accept", "--root", root)
    assert accepted.exit_code == 0, accepted.output
    assert zedonk_order(pair, key).currency == "USD"
    assert warnings_of(settings, key)[-1] == ("order-currency-mismatch", message)


def test_a_held_order_corrected_in_ordre_is_imported_by_the_next_pass(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    root = str(settings.root)
    [good] = barcodes(pair, 1)
    usd = submit(pair, [{"barcode": good, "quantity": 1, "unit_price": "500.00"}],
                 currency="USD")  # fmt: skip
    key = f"{usd['id']}#1"
    assert cli("orders", "import", "--once", "--root", root).exit_code == 3
    assert ledger(settings)[key]["state"] == "needs_attention"
    pair.ordre.edit_order(usd["id"], {"currency": "EUR"})  # the retailer corrects it
    again = cli("orders", "import", "--once", "--root", root)
    assert again.exit_code == 0, again.output
    assert ledger(settings)[key]["state"] == "created"
    assert zedonk_order(pair, key).currency == "EUR"
    assert warnings_of(settings, key)[-1][0] == "order-held"  # only the first pass's hold


def test_a_line_priced_zero_is_held_or_warned_about_as_set(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    root = str(settings.root)
    a, b = barcodes(pair, 2)
    free = submit(pair, [{"barcode": a, "quantity": 1},
                         {"barcode": b, "quantity": 1, "unit_price": "0.00"}])  # fmt: skip
    key = f"{free['id']}#1"
    assert cli("orders", "import", "--once", "--root", root).exit_code == 3
    row = ledger(settings)[key]
    assert row["state"] == "needs_attention"
    assert f"{free['number']} line 2 (" in row["last_error"]
    assert row["last_error"].endswith("): unit price 0.00")

    write_connector(tmp_path, pair, on_zero_price="warn")
    retried = cli("orders", "retry", key, "--root", root)
    assert retried.exit_code == 0, retried.output
    made = zedonk_order(pair, key)
    assert [str(x.unit_price) for x in made.lines][1] == "0.00"
    [message] = [m for code, m in warnings_of(settings, key) if code == "order-zero-price"]
    assert message.startswith(f"{free['number']} line 2 (")


# ------------------------------------------------------------------ re-submissions


def test_resubmissions_are_told_apart_on_the_zedonk_order(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    root = str(settings.root)
    [good] = barcodes(pair, 1)
    order = submit(pair, [{"barcode": good, "quantity": 1}], po_number="PO-3",
                   comments="Rush")  # fmt: skip
    assert cli("orders", "import", "--once", "--root", root).exit_code == 0
    for quantity in (2, 3):
        pair.ordre.resubmit_order(order["id"], {"lines": [{"barcode": good, "quantity": quantity}]})
        assert cli("orders", "import", "--once", "--root", root).exit_code == 0
    made = [zedonk_order(pair, f"{order['id']}#{n}") for n in (1, 2, 3)]
    assert {o.order_ref for o in made} == {f"{order['number']} + PO-3"}  # the seed's rule
    assert [o.comments for o in made] == [
        "Rush",
        f"Rush\n\nORDRE submission 2 of {order['number']}",
        f"Rush\n\nORDRE submission 3 of {order['number']}",
    ]


def test_the_submission_placeholder_puts_it_in_the_reference(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(
        tmp_path, pair, order_reference='"{order_number}/{submission} + {po_number}"'
    )
    root = str(settings.root)  # loading the settings has checked the template
    [good] = barcodes(pair, 1)
    order = submit(pair, [{"barcode": good, "quantity": 1}], po_number="PO-3")
    assert cli("orders", "import", "--once", "--root", root).exit_code == 0
    pair.ordre.resubmit_order(order["id"], {})
    assert cli("orders", "import", "--once", "--root", root).exit_code == 0
    refs = [zedonk_order(pair, f"{order['id']}#{n}").order_ref for n in (1, 2)]
    assert refs == [f"{order['number']}/1 + PO-3", f"{order['number']}/2 + PO-3"]


# ------------------------------------------------------------------ season and fixes


def aw25_only_barcode(pair: SandboxPair) -> tuple[str, str, str, str]:
    """(barcode, style, colour, size) of a product visible in AW25 only."""
    with ZedonkClient(pair.zedonk.api_url, pair.zedonk.token) as zedonk:
        for product in zedonk.products(season="AW25"):
            if product.seasons == ("AW25",) and product.active:
                sku = next(s for s in product.skus if s.barcode and len(s.barcode) == 13)
                return sku.barcode or "", product.id.style, product.id.colour, sku.size
    raise AssertionError("the seed has an AW25-only product")


def test_a_product_not_visible_in_the_import_season_is_left_out_clearly(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    root = str(settings.root)
    [good] = barcodes(pair, 1)
    barcode, style, colour, size = aw25_only_barcode(pair)
    old = {"barcode": barcode, "style": style, "colour": colour, "size": size,
           "quantity": 1, "unit_price": "200.00"}  # fmt: skip
    order = submit(pair, [{"barcode": good, "quantity": 1}, old])
    imported = cli("orders", "import", "--once", "--root", root)
    assert imported.exit_code == 3, imported.output  # imported with a line left out
    key = f"{order['id']}#1"
    assert ledger(settings)[key]["state"] == "partial"
    assert len(zedonk_order(pair, key).lines) == 1
    shown = cli("orders", "show", key, "--root", root)
    assert f"line 2: barcode {barcode}" in shown.output and "-> season" in shown.output
    assert "is not visible in season AW26 in Zedonk (it is in AW25)" in shown.output


def test_fixing_a_barcode_and_a_customer_in_zedonk_then_retry_imports(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    root = str(settings.root)
    [good] = barcodes(pair, 1)
    unknown = "4006381333931"  # valid, on no Zedonk SKU
    lines = [{"barcode": unknown, "style": "ML-101", "colour": "NAVY", "size": "36",
              "quantity": 1, "unit_price": "300.00"}]  # fmt: skip
    by_barcode = submit(pair, lines)
    customer = known_retailer(pair)
    pair.zedonk.edit_customer(customer.id, active=False)
    inactive = submit(pair, [{"barcode": good, "quantity": 1}],
                      retailer={"account_code": customer.account_code})  # fmt: skip
    assert cli("orders", "import", "--once", "--root", root).exit_code == 3
    rows = ledger(settings)
    assert {rows[f"{o['id']}#1"]["state"] for o in (by_barcode, inactive)} == {"failed"}

    pair.zedonk.edit_customer(customer.id, active=True)  # a person fixes Zedonk's data
    with ZedonkClient(pair.zedonk.api_url, pair.zedonk.token) as zedonk:
        size36 = next(s for s in zedonk.get_product("ML-101/WOOL/NAVY").skus if s.size == "36")
    pair.zedonk.set_barcodes("ML-101/WOOL/NAVY", {"36": unknown})
    for order in (by_barcode, inactive):
        retried = cli("orders", "retry", f"{order['id']}#1", "--root", root)
        assert retried.exit_code == 0, retried.output
    made = zedonk_order(pair, f"{by_barcode['id']}#1")
    assert [(str(x.product_id), x.size, x.barcode) for x in made.lines] == [
        ("ML-101/WOOL/NAVY", "36", unknown)
    ]
    assert size36.barcode != unknown
