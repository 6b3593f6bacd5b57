"""The order import against both sandboxes as real servers on loopback."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orders_support
import pytest
from orders_support import (
    barcodes,
    known_retailer,
    ledger,
    orders_per_ref,
    sales_orders,
    submit,
    write_connector,
)

from daemon.clients import ZedonkClient
from daemon.errors import ConfigError
from daemon.notify import Notifier
from daemon.orders import (
    ImportResult,
    check_import_settings,
    find_import,
    import_details,
    import_orders,
    list_imports,
    retry_import,
)
from daemon.sandbox import SandboxPair
from daemon.store.history import History
from daemon.store.ledger.base import CURSOR_KEY, SYNC_KEY
from daemon.tree.settings import Settings

sandboxes, pair = orders_support.sandboxes, orders_support.pair  # fixtures

UNKNOWN = "4006381333931"  # a valid GTIN that no Zedonk SKU has


def run(settings: Settings) -> ImportResult:
    with History.open(settings.state_dir) as history:
        return import_orders(
            settings, history, trigger="test", notifier=Notifier(settings, history)
        )


def notifications(settings: Settings) -> dict[str, str]:
    with History.open(settings.state_dir) as history:
        rows = history.query("SELECT key, state FROM notifications")
    return {r["key"]: r["state"] for r in rows}


def test_each_submission_becomes_one_zedonk_order(tmp_path: Path, pair: SandboxPair) -> None:
    # A GBP order for a EUR customer is imported as sent, with a warning, when so set.
    settings = write_connector(tmp_path, pair, on_currency_mismatch="warn")
    a, b = barcodes(pair, 2)
    customer = known_retailer(pair)
    first = submit(pair, [{"barcode": a, "quantity": 2}], po_number="PO-77")
    second = submit(
        pair,
        [{"barcode": b, "quantity": 1, "unit_price": "123.45"}],
        po_number="",
        currency="GBP",
        ship_window={"start": "2026-07-01", "end": "2026-08-31"},
        comments="Pack by style",
    )

    result = run(settings)
    assert (result.result, result.counts["created"]) == ("ok", 2), result

    by_ref = {o.connector_ref: o for o in sales_orders(pair)}
    one = by_ref[f"ordre:{first['id']}#1"]
    two = by_ref[f"ordre:{second['id']}#1"]
    assert one.order_ref == f"{first['number']} + PO-77"
    assert two.order_ref == second["number"]  # no dangling " + "
    assert (one.season, one.owner, one.approved, one.customer_id) == (
        "AW26",
        "sophie",
        False,
        customer.id,
    )
    assert (two.currency, two.lines[0].unit_price) == ("GBP", Decimal("123.45"))
    assert (two.delivery_start, two.delivery_end) == (date(2026, 7, 1), date(2026, 8, 31))
    assert two.comments == "Pack by style"
    delivery = next(a for a in customer.addresses if a.kind == "delivery")
    assert two.delivery_address is not None and two.delivery_address.same_place(delivery)
    rows = ledger(settings)
    assert {r["state"] for r in rows.values()} == {"created"}
    assert rows[f"{first['id']}#1"]["zedonk_order_number"] == one.number
    with History.open(settings.state_dir) as history:
        warned = history.events(subject=f"{second['id']}#1", level="warning")
    assert [e["code"] for e in warned] == ["order-currency-mismatch"]
    assert warned[0]["message"] == (
        f"{second['number']}: the order is in GBP, but the customer's currency in Zedonk is EUR"
    )

    # Nothing new: the next pass writes nothing.
    writes = pair.zedonk.write_count()
    again = run(settings)
    assert again.result == "no-orders"
    assert pair.zedonk.write_count() == writes


def test_unknown_barcodes_are_left_out_and_reported(tmp_path: Path, pair: SandboxPair) -> None:
    settings = write_connector(tmp_path, pair)
    [good] = barcodes(pair, 1)
    order = submit(
        pair,
        [
            {"barcode": good, "quantity": 2},
            {"barcode": UNKNOWN, "style": "ML-999", "colour": "RED", "size": "M", "quantity": 1,
             "unit_price": "99.00"},
            {"barcode": None, "style": "ML-998", "colour": "BLUE", "size": "S", "quantity": 1,
             "unit_price": "10.00"},
        ],
    )  # fmt: skip
    result = run(settings)
    assert (result.result, result.counts["partial"]) == ("partial", 1)
    [so] = sales_orders(pair)
    assert len(so.lines) == 1
    key = f"{order['id']}#1"
    with History.open(settings.state_dir) as history:
        details = import_details(history, key)
    assert details["state"] == "partial" and details["lines_imported"] == 1
    assert [(x["line_no"], x["barcode"], x["reason"]) for x in details["left_out_lines"]] == [
        (2, UNKNOWN, "unknown"),
        (3, None, "missing"),
    ]
    assert details["left_out_lines"][0]["style"] == "ML-999"
    assert notifications(settings) == {f"lines-left-out:{key}": "open"}
    run(settings)
    assert notifications(settings) == {f"lines-left-out:{key}": "open"}  # not twice


def test_no_matching_line_fails_then_retry_imports_it(tmp_path: Path, pair: SandboxPair) -> None:
    settings = write_connector(tmp_path, pair)
    bad = {"barcode": UNKNOWN, "style": "ML-999", "colour": "RED", "size": "M", "quantity": 1,
           "unit_price": "99.00"}  # fmt: skip
    order = submit(pair, [bad])
    key = f"{order['id']}#1"
    result = run(settings)
    assert (result.result, result.counts["failed"]) == ("partial", 1)
    assert sales_orders(pair) == []
    with History.open(settings.state_dir) as history:
        assert [r["import_key"] for r in list_imports(history, states=("attention",))] == [key]
        assert find_import(history, order["number"]) == key
    assert notifications(settings)[f"order-failed:{key}"] == "open"

    # The retailer fixes the line in ORDRE (same submission); retry imports it.
    [good] = barcodes(pair, 1)
    pair.ordre.edit_order(order["id"], {"lines": [{"barcode": good, "quantity": 1}]})
    with History.open(settings.state_dir) as history:
        retried = retry_import(settings, history, key, notifier=Notifier(settings, history))
    assert retried.result == "ok", retried
    assert orders_per_ref(pair) == {f"ordre:{key}": 1}
    assert ledger(settings)[key]["state"] == "created"
    assert notifications(settings)[f"order-failed:{key}"] == "resolved"


def test_a_new_retailer_becomes_one_customer(tmp_path: Path, pair: SandboxPair) -> None:
    settings = write_connector(tmp_path, pair)
    a, b = barcodes(pair, 2)
    retailer = {"name": "Studio Nuovo", "account_code": None, "email": "buy@nuovo.example"}
    address = {"company": "Studio Nuovo", "line1": "Via Roma 1", "line2": "", "city": "Torino",
               "region": "", "postcode": "10121", "country": "IT"}  # fmt: skip
    for barcode in (a, b):  # two orders from the same new retailer in one poll
        submit(pair, [{"barcode": barcode, "quantity": 1}], retailer=retailer,
               delivery_address=address, accounts_address=address)  # fmt: skip
    result = run(settings)
    assert result.counts["created"] == 2 and result.counts["customers_created"] == 1
    with ZedonkClient(pair.zedonk.api_url, pair.zedonk.token) as zedonk:
        matches = list(zedonk.customers(name="Studio Nuovo"))
    assert len(matches) == 1
    assert {a.kind for a in matches[0].addresses} >= {"delivery", "accounts"}
    assert {o.customer_id for o in sales_orders(pair)} == {matches[0].id}


def test_new_addresses_are_added_to_the_customer(tmp_path: Path, pair: SandboxPair) -> None:
    settings = write_connector(tmp_path, pair)
    [good] = barcodes(pair, 1)
    customer = known_retailer(pair)
    moved = {"company": customer.name, "line1": "Vesterbrogade 1", "line2": "",
             "city": "Copenhagen", "region": "", "postcode": "1620", "country": "DK"}  # fmt: skip
    submit(pair, [{"barcode": good, "quantity": 1}], delivery_address=moved)
    run(settings)
    with ZedonkClient(pair.zedonk.api_url, pair.zedonk.token) as zedonk:
        customer = zedonk.get_customer(customer.id)
    delivery = [a.line1 for a in customer.addresses if a.kind == "delivery"]
    assert "Vesterbrogade 1" in delivery


def test_edits_and_cancellations_after_import_are_reported_once(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    a, b = barcodes(pair, 2)
    order = submit(pair, [{"barcode": a, "quantity": 1}])
    run(settings)
    pair.ordre.edit_order(order["id"], {"lines": [{"barcode": b, "quantity": 9}]})
    first = run(settings)
    second = run(settings)
    assert (first.counts.get("reported"), second.counts.get("reported")) == (1, None)
    pair.ordre.cancel_order(order["id"])
    assert run(settings).counts.get("reported") == 1
    assert run(settings).counts.get("reported") is None
    [so] = sales_orders(pair)
    assert so.lines[0].quantity == 1 and so.active  # nothing applied
    key = f"{order['id']}#1"
    with History.open(settings.state_dir) as history:
        kinds = [r["kind"] for r in import_details(history, key)["reports"]]
    assert kinds == ["edited", "cancelled"]
    assert {k.split(":")[0] for k in notifications(settings)} == {"order-edited", "order-cancelled"}


def test_orders_created_before_go_live_are_skipped(tmp_path: Path, pair: SandboxPair) -> None:
    settings = write_connector(tmp_path, pair, go_live="2099-01-01")
    [good] = barcodes(pair, 1)
    submit(pair, [{"barcode": good, "quantity": 1}])
    result = run(settings)
    assert result.counts.get("created") is None
    assert sales_orders(pair) == []


def test_a_malformed_order_fails_alone(tmp_path: Path, pair: SandboxPair) -> None:
    settings = write_connector(tmp_path, pair)
    [good] = barcodes(pair, 1)
    submit(pair, [{"barcode": good, "quantity": 1}])
    raw_id = pair.ordre.post_raw_order({"id": "broken-1", "submission": 1, "lines": "oops"})
    submit(pair, [{"barcode": good, "quantity": 2}])
    result = run(settings)
    assert (result.counts["created"], result.counts["failed"]) == (2, 1), result
    assert len(sales_orders(pair)) == 2
    rows = ledger(settings)
    assert rows["broken-1#1"]["state"] == "failed"
    assert "cannot be read" in rows["broken-1#1"]["last_error"]
    assert notifications(settings) == {"order-failed:broken-1#1": "open"}
    assert raw_id
    assert run(settings).counts.get("failed") is None  # reported once


def test_a_lost_create_answer_is_resolved_by_lookup(tmp_path: Path, pair: SandboxPair) -> None:
    settings = write_connector(tmp_path, pair)
    [good] = barcodes(pair, 1)
    order = submit(pair, [{"barcode": good, "quantity": 1}])
    rule = {"method": "POST", "path_prefix": "/api/v1/sales-orders", "times": 1,
            "action": "lose_response"}  # fmt: skip
    pair.zedonk.set_faults(rules=[rule])
    first = run(settings)
    assert first.counts["unresolved"] == 1
    key = f"{order['id']}#1"
    assert ledger(settings)[key]["state"] == "unresolved"
    assert orders_per_ref(pair) == {f"ordre:{key}": 1}  # Zedonk stored it

    second = run(settings)
    assert second.counts["recovered"] == 1
    assert orders_per_ref(pair) == {f"ordre:{key}": 1}  # looked up, not created again
    assert ledger(settings)[key]["state"] == "created"
    posts = [
        r for r in pair.zedonk.requests()
        if r["method"] == "POST" and r["path"] == "/api/v1/sales-orders"
    ]  # fmt: skip
    assert len(posts) == 1


def test_a_pass_stopped_with_two_creates_on_the_wire_records_both(
    tmp_path: Path, pair: SandboxPair
) -> None:
    """The second order is on the wire, held by Zedonk, when the first is refused for good:
    the pass stops, but still confirms the second once Zedonk stores it."""
    settings = write_connector(tmp_path, pair)
    first, second = (
        f"{submit(pair, [{'barcode': c, 'quantity': 1}])['id']}#1" for c in barcodes(pair, 2)
    )
    creates = {"method": "POST", "path_prefix": "/api/v1/sales-orders"}
    pair.zedonk.set_faults(
        rules=[
            {**creates, "body_contains": f"ordre:{second}", "action": "delay", "ms": 700},
            {**creates, "body_contains": f"ordre:{first}", "action": "error", "status": 429,
             "retry_after": 0},
        ]
    )  # fmt: skip
    stopped = run(settings)
    assert stopped.result == "failed" and "429" in stopped.message
    assert (stopped.counts["created"], stopped.counts["waiting"]) == (1, 1)
    rows = ledger(settings)
    assert (rows[first]["state"], rows[second]["state"]) == ("pending", "created")
    assert orders_per_ref(pair) == {f"ordre:{second}": 1}

    pair.zedonk.clear_faults()
    assert run(settings).counts["created"] == 1
    assert orders_per_ref(pair) == {f"ordre:{k}": 1 for k in (first, second)}


@pytest.mark.parametrize("status", [500, 503, 429])
def test_storms_of_errors_end_with_every_order_once(
    tmp_path: Path, pair: SandboxPair, status: int
) -> None:
    settings = write_connector(tmp_path, pair)
    codes = barcodes(pair, 4)
    keys = [f"{submit(pair, [{'barcode': c, 'quantity': 1}])['id']}#1" for c in codes]
    pair.zedonk.set_faults(seed=status, error_rates={str(status): 0.5}, retry_after=0)
    pair.ordre.set_faults(seed=status, error_rates={str(status): 0.3}, retry_after=0)
    for _ in range(12):
        run(settings)
    pair.zedonk.clear_faults()
    pair.ordre.clear_faults()
    run(settings)
    run(settings)
    assert orders_per_ref(pair) == {f"ordre:{k}": 1 for k in keys}
    assert {r["state"] for r in ledger(settings).values()} == {"created"}


def test_ordre_down_for_a_while_then_everything_is_imported(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    codes = barcodes(pair, 3)
    keys = [f"{submit(pair, [{'barcode': c, 'quantity': 1}])['id']}#1" for c in codes]
    pair.ordre.set_faults(rules=[{"action": "drop"}])  # every connector call to ORDRE fails
    down = run(settings)
    assert down.result == "failed" and "ordre" in down.message
    assert notifications(settings) == {"remote-down:ordre": "open"}
    with History.open(settings.state_dir, read_only=True) as history:
        [notice] = history.query("SELECT title FROM notifications")
    assert notice["title"] == "ORDRE unreachable"  # the showroom's name as ORDRE writes it
    pair.ordre.clear_faults()
    up = run(settings)
    assert up.counts["created"] == 3
    assert orders_per_ref(pair) == {f"ordre:{k}": 1 for k in keys}
    assert notifications(settings) == {"remote-down:ordre": "resolved"}


def test_start_up_checks_season_and_owner(tmp_path: Path, pair: SandboxPair) -> None:
    with ZedonkClient(pair.zedonk.api_url, pair.zedonk.token) as zedonk:
        check_import_settings(write_connector(tmp_path, pair), zedonk)
        for changes, words in (
            ({"season": "SS99"}, "not a Zedonk season"),
            ({"order_owner": "nobody"}, "not a Zedonk user"),
            ({"order_owner": "intern"}, "inactive"),
        ):
            with pytest.raises(ConfigError, match=words):
                check_import_settings(write_connector(tmp_path, pair, **changes), zedonk)


def test_bad_settings_fail_the_pass_before_any_order_is_touched(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair, order_owner="intern")
    [good] = barcodes(pair, 1)
    submit(pair, [{"barcode": good, "quantity": 1}])
    result = run(settings)
    assert result.result == "failed" and "inactive" in result.message
    assert pair.zedonk.write_count() == 0
    assert {r["state"] for r in ledger(settings).values()} == {"pending"}


def test_a_resubmission_supersedes_a_failed_submission(tmp_path: Path, pair: SandboxPair) -> None:
    settings = write_connector(tmp_path, pair)
    bad = {"barcode": UNKNOWN, "style": "ML-999", "colour": "RED", "size": "M", "quantity": 1,
           "unit_price": "99.00"}  # fmt: skip
    order = submit(pair, [bad])
    run(settings)
    assert notifications(settings) == {f"order-failed:{order['id']}#1": "open"}
    [good] = barcodes(pair, 1)
    pair.ordre.resubmit_order(order["id"], {"lines": [{"barcode": good, "quantity": 1}]})
    assert run(settings).counts["created"] == 1
    rows = ledger(settings)
    assert rows[f"{order['id']}#1"]["state"] == "skipped"
    assert rows[f"{order['id']}#1"]["last_error"] == "superseded by submission 2"
    assert rows[f"{order['id']}#2"]["state"] == "created"
    assert notifications(settings) == {f"order-failed:{order['id']}#1": "resolved"}
    assert orders_per_ref(pair) == {f"ordre:{order['id']}#2": 1}


def test_an_order_dated_ahead_does_not_carry_the_cursor_past_orders_to_come(
    tmp_path: Path, pair: SandboxPair
) -> None:
    """ORDRE's clock ahead of this one, or a wrong date on one order: once ORDRE ends its
    change token and the import lists orders by the cursor, it still finds those since."""
    settings = write_connector(tmp_path, pair)
    orders_support.established(settings)
    a, b = barcodes(pair, 2)
    ahead = {**submit(pair, [{"barcode": a, "quantity": 1}])}
    ahead |= {"id": "ord-ahead", "number": "ORD-AHEAD", "updated_at": "2099-01-01T00:00:00Z"}
    pair.ordre.post_raw_order(ahead)
    run(settings)
    with History.open(settings.state_dir) as history:
        cursor = datetime.fromisoformat(str(history.get_state(CURSOR_KEY)))
        assert cursor <= datetime.now(UTC)
        with history.transaction() as conn:  # as after a 410: list by the cursor
            conn.execute("DELETE FROM state WHERE key = ?", (SYNC_KEY,))
    later = submit(pair, [{"barcode": b, "quantity": 2}])
    run(settings)
    assert f"{later['id']}#1" in ledger(settings)
    assert ledger(settings)[f"{later['id']}#1"]["state"] == "created"


@pytest.mark.parametrize("fault", ["error", "drop"])
def test_a_create_in_doubt_then_resubmitted_is_superseded_not_created_late(
    tmp_path: Path, pair: SandboxPair, fault: str
) -> None:
    """Submission 1's create fails without an answer Zedonk stored it, and the retailer
    re-submits: once 1 has settled as not in Zedonk, it is skipped, as a failed one is; the
    re-submission is the order, and no earlier order is left for a person to inactivate."""
    settings = write_connector(tmp_path, pair, settle_window="1s")
    orders_support.established(settings)
    a, b = barcodes(pair, 2)
    order = submit(pair, [{"barcode": a, "quantity": 1}])
    rule: dict[str, Any] = {"method": "POST", "path_prefix": "/api/v1/sales-orders",
                            "times": 1, "action": fault}  # fmt: skip
    if fault == "error":
        rule["status"] = 503
    pair.zedonk.set_faults(rules=[rule])
    run(settings)
    first, second = f"{order['id']}#1", f"{order['id']}#2"
    assert ledger(settings)[first]["attempts"] == 1
    assert ledger(settings)[first]["state"] != "created"
    pair.ordre.resubmit_order(order["id"], {"lines": [{"barcode": b, "quantity": 3}]})
    run(settings)
    assert ledger(settings)[second]["state"] == "created"
    time.sleep(1.2)  # the settle window of submission 1's create
    run(settings)
    rows = ledger(settings)
    assert (rows[first]["state"], rows[first]["skipped_for"]) == ("skipped", "superseded")
    assert orders_per_ref(pair) == {f"ordre:{second}": 1}
    assert rows[second]["previous_inactivated"] == 1  # nothing earlier is in Zedonk


def test_a_resubmission_waits_to_be_linked_until_the_earlier_create_settles(
    tmp_path: Path, pair: SandboxPair
) -> None:
    """Submission 1 reached Zedonk but its answer was lost, and Zedonk's search does not show
    it yet when the re-submission is created: the link waits, and once 1 is found the earlier
    order is reported for a person to inactivate."""
    settings = write_connector(tmp_path, pair, settle_window="2s")
    orders_support.established(settings)
    a, b = barcodes(pair, 2)
    order = submit(pair, [{"barcode": a, "quantity": 1}])
    rule = {"method": "POST", "path_prefix": "/api/v1/sales-orders", "times": 1,
            "action": "lose_response"}  # fmt: skip
    pair.zedonk.set_faults(rules=[rule])
    pair.zedonk.set_search_lag(1.5)
    run(settings)
    first, second = f"{order['id']}#1", f"{order['id']}#2"
    pair.ordre.resubmit_order(order["id"], {"lines": [{"barcode": b, "quantity": 3}]})
    run(settings)
    rows = ledger(settings)
    assert rows[first]["state"] == "unresolved"  # not found yet, its window still open
    assert rows[second]["state"] == "created"
    assert (rows[second]["previous_import_key"], rows[second]["previous_inactivated"]) == (None, 0)
    time.sleep(2.2)
    run(settings)
    rows = ledger(settings)
    assert rows[first]["state"] == "created"  # found in Zedonk: it was there all along
    assert rows[second]["previous_import_key"] == first
    assert notifications(settings).get(f"order-resubmitted:{second}") == "open"
