"""Re-submissions: each submission its own Zedonk order, the earlier one reported or
inactivated, and earlier orders a replaced or restored history does not record found in
Zedonk and reported. The sandboxes run as real servers on loopback."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orders_support
import pytest
from orders_support import barcodes, ledger, orders_per_ref, sales_orders, submit, write_connector
from test_orders import notifications, run

from daemon.clients import ZedonkClient
from daemon.sandbox import SandboxPair
from daemon.store.attention import attention
from daemon.store.history import History
from daemon.tree.settings import Settings

sandboxes, pair = orders_support.sandboxes, orders_support.pair  # fixtures


def resubmitted(
    tmp_path: Path,
    pair: SandboxPair,
    between: Callable[[Settings, dict[str, Any]], None] | None = None,
    **options: Any,
) -> tuple[Settings, dict[str, Any]]:
    """An order imported, then (after ``between``, given the settings and the ORDRE order)
    re-submitted on ORDRE with other lines, not imported yet."""
    settings = write_connector(tmp_path, pair, **options)
    a, b = barcodes(pair, 2)
    order = submit(pair, [{"barcode": a, "quantity": 1}])
    run(settings)
    if between is not None:
        between(settings, order)
    pair.ordre.resubmit_order(order["id"], {"lines": [{"barcode": b, "quantity": 3}]})
    return settings, order


def history_lost(settings: Settings, _order: dict[str, Any]) -> None:
    shutil.rmtree(settings.state_dir)
    orders_support.established(settings)


def inactivated_by_hand(pair: SandboxPair, connector_ref: str) -> None:
    with ZedonkClient(pair.zedonk.api_url, pair.zedonk.token) as zedonk:
        [earlier] = zedonk.find_sales_orders(connector_ref=connector_ref)
        zedonk.inactivate_sales_order(earlier.id)


@pytest.mark.parametrize("policy", ["report", "inactivate_previous"])
def test_a_resubmission_is_a_new_order_linked_to_the_first(
    tmp_path: Path, pair: SandboxPair, policy: str
) -> None:
    settings, order = resubmitted(tmp_path, pair, on_resubmit=policy)
    result = run(settings)
    assert result.counts["created"] == 1
    refs = orders_per_ref(pair)
    assert refs == {f"ordre:{order['id']}#1": 1, f"ordre:{order['id']}#2": 1}
    rows = ledger(settings)
    second = rows[f"{order['id']}#2"]
    assert second["previous_import_key"] == f"{order['id']}#1"
    active = {o.connector_ref: o.active for o in sales_orders(pair)}
    assert active[f"ordre:{order['id']}#2"] is True
    assert active[f"ordre:{order['id']}#1"] is (policy == "report")
    assert second["previous_inactivated"] == (policy == "inactivate_previous")


@pytest.mark.parametrize("policy", ["report", "inactivate_previous"])
def test_a_resubmission_after_the_history_was_replaced_reports_the_earlier_zedonk_order(
    tmp_path: Path, pair: SandboxPair, policy: str
) -> None:
    """The history that imported submission 1 is gone (deleted, moved, an old backup put
    back): the re-submission finds the earlier order by its connector reference and reports
    it; it is not inactivated, as this history holds no record of creating it."""
    settings = write_connector(tmp_path, pair, on_resubmit=policy)
    a, b = barcodes(pair, 2)
    order = submit(pair, [{"barcode": a, "quantity": 1}])
    other = submit(pair, [{"barcode": a, "quantity": 2}])
    run(settings)
    shutil.rmtree(settings.state_dir)
    orders_support.established(settings)
    pair.ordre.resubmit_order(order["id"], {"lines": [{"barcode": b, "quantity": 3}]})
    pair.ordre.resubmit_order(other["id"], {"lines": [{"barcode": b, "quantity": 4}]})
    inactivated_by_hand(pair, f"ordre:{other['id']}#1")  # already seen to by a person
    result = run(settings)
    assert (result.counts["created"], result.counts["reported"]) == (2, 1)
    zedonk_orders = {o.connector_ref: o for o in sales_orders(pair)}
    earlier = zedonk_orders[f"ordre:{order['id']}#1"]
    assert earlier.active
    second = f"{order['id']}#2"
    assert notifications(settings) == {f"order-resubmitted-untracked:{second}": "open"}
    with History.open(settings.state_dir) as history:
        [event] = history.query("SELECT * FROM events WHERE code LIKE 'order-resubmitted%'")
        items = {item.id: item for item in attention(history)}
    assert event["subject"] == second and earlier.number in event["message"]
    item = items[f"order:{order['number']}#2:inactivate-untracked"]
    assert item.kind == "inactivate_earlier" and earlier.number in item.what
    assert ledger(settings)[second]["previous_inactivated"] == 1  # nothing left to follow up
    assert run(settings).counts.get("reported") is None


def test_a_history_put_back_with_submission_1_reports_an_active_submission_2(
    tmp_path: Path, pair: SandboxPair
) -> None:
    """The backup holds submission 1, imported and inactivated when 2 came; 2's import is lost
    with the history put back. Submission 3 inactivates 1 as recorded, and reports 2, still
    active in Zedonk though this history never made it."""
    settings = write_connector(tmp_path, pair, on_resubmit="inactivate_previous")
    a, b = barcodes(pair, 2)
    order = submit(pair, [{"barcode": a, "quantity": 1}])
    run(settings)
    backup = tmp_path / "backup"
    shutil.copytree(settings.state_dir, backup)
    pair.ordre.resubmit_order(order["id"], {"lines": [{"barcode": b, "quantity": 2}]})
    run(settings)
    shutil.rmtree(settings.state_dir)
    shutil.copytree(backup, settings.state_dir)
    pair.ordre.resubmit_order(order["id"], {"lines": [{"barcode": b, "quantity": 3}]})
    result = run(settings)
    assert result.counts["created"] == 1, result
    active = {o.connector_ref: o for o in sales_orders(pair) if o.active}
    assert set(active) == {f"ordre:{order['id']}#2", f"ordre:{order['id']}#3"}
    assert set(notifications(settings)) == {f"order-resubmitted-untracked:{order['id']}#3"}
    with History.open(settings.state_dir) as history:
        [event] = history.query(
            "SELECT message FROM events WHERE code = 'order-resubmitted-untracked'"
        )
    assert active[f"ordre:{order['id']}#2"].number in event["message"]
    assert run(settings).counts.get("reported") is None


@pytest.mark.parametrize("status", [503, 400])
def test_a_failed_lookup_of_earlier_orders_is_tried_again_or_left_to_a_person(
    tmp_path: Path, pair: SandboxPair, status: int
) -> None:
    """Zedonk fails the search for a re-submission's earlier orders: a 503 is tried again by
    the next pass; a refusal, which trying again cannot help, asks a person to look."""
    settings, order = resubmitted(tmp_path, pair, history_lost)
    lookup = f"connector_ref_prefix=ordre:{order['id']}#"
    rule = {"method": "GET", "path_prefix": "/api/v1/sales-orders", "query_contains": lookup,
            "times": 4, "action": "error", "status": status}  # fmt: skip
    pair.zedonk.set_faults(rules=[rule])
    assert run(settings).counts["created"] == 1
    second = f"{order['id']}#2"
    with History.open(settings.state_dir) as history:
        codes = [r["code"] for r in history.query("SELECT code FROM events ORDER BY id")]
        items = {item.id for item in attention(history)}
    untracked = f"order:{order['number']}#2:inactivate-untracked"
    if status == 503:  # an outage, as any other: recorded, and the next pass asks again
        assert "zedonk-unavailable" in codes and untracked not in items
        assert ledger(settings)[second]["earlier_checked"] == -1  # one search failed
        pair.zedonk.set_faults(rules=[])
        assert run(settings).counts["reported"] == 1
        with History.open(settings.state_dir) as history:
            [event] = history.query(
                "SELECT message FROM events WHERE code = 'order-resubmitted-untracked'"
            )
        assert f"({order['id']}#1)" in event["message"]
    else:
        assert codes.count("order-resubmitted-untracked") == 1 and untracked in items
        assert ledger(settings)[second]["earlier_checked"] == 1
    assert orders_per_ref(pair) == {f"ordre:{order['id']}#1": 1, f"ordre:{second}": 1}
    assert run(settings).counts.get("reported") is None


def test_a_lookup_zedonk_keeps_failing_does_not_hold_back_the_recorded_earlier_order(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings, order = resubmitted(tmp_path, pair, on_resubmit="inactivate_previous")
    lookup = f"connector_ref_prefix=ordre:{order['id']}#"
    rule = {"method": "GET", "path_prefix": "/api/v1/sales-orders", "query_contains": lookup,
            "action": "error", "status": 500}  # fmt: skip
    pair.zedonk.set_faults(rules=[rule])
    result = run(settings)
    assert (result.result, result.counts["created"]) == ("failed", 1)  # the outage is shown
    active = {o.connector_ref: o.active for o in sales_orders(pair)}
    assert active == {f"ordre:{order['id']}#1": False, f"ordre:{order['id']}#2": True}
    row = ledger(settings)[f"{order['id']}#2"]
    assert (row["previous_inactivated"], row["earlier_checked"]) == (1, -1)


def test_earlier_orders_are_looked_for_a_settle_window_after_the_create(
    tmp_path: Path, pair: SandboxPair
) -> None:
    """The whole state directory is put back from a backup taken before submission 1 was
    imported, while Zedonk's search still hides 1: the re-submission's search for earlier
    orders waits a settle window after its own create, and then finds 1."""
    settings = write_connector(tmp_path, pair, settle_window="3s")
    orders_support.established(settings)
    a, b = barcodes(pair, 2)
    backup = tmp_path / "backup"
    shutil.copytree(settings.state_dir, backup)
    order = submit(pair, [{"barcode": a, "quantity": 1}])
    pair.zedonk.set_search_lag(2)
    run(settings)
    shutil.rmtree(settings.state_dir)
    shutil.copytree(backup, settings.state_dir)
    pair.ordre.resubmit_order(order["id"], {"lines": [{"barcode": b, "quantity": 3}]})
    first = run(settings)
    assert (first.counts["created"], first.counts.get("reported")) == (1, None)
    time.sleep(3.2)
    assert run(settings).counts["reported"] == 1
    with History.open(settings.state_dir) as history:
        items = {item.id for item in attention(history)}
    assert f"order:{order['number']}#2:inactivate-untracked" in items


def test_an_earlier_order_inactivated_by_hand_is_not_reported(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings, order = resubmitted(
        tmp_path, pair, lambda _, order: inactivated_by_hand(pair, f"ordre:{order['id']}#1")
    )
    result = run(settings)
    assert (result.counts["created"], result.counts.get("reported")) == (1, None)
    row = ledger(settings)[f"{order['id']}#2"]
    assert (row["previous_import_key"], row["previous_inactivated"]) == (f"{order['id']}#1", 1)
    assert notifications(settings) == {}


def test_searches_zedonk_keeps_failing_do_not_stop_the_others(
    tmp_path: Path, pair: SandboxPair
) -> None:
    """Zedonk fails the searches of two re-submissions for good: a pass stops after two
    failures in a row (an outage, as far as it can tell), and the next one searches the
    others first."""
    settings = write_connector(tmp_path, pair)
    a, b = barcodes(pair, 2)
    orders = [submit(pair, [{"barcode": a, "quantity": n}]) for n in (1, 2, 3)]
    run(settings)
    history_lost(settings, orders[0])
    for order in orders:
        pair.ordre.resubmit_order(order["id"], {"lines": [{"barcode": b, "quantity": 4}]})
    rules = [{"method": "GET", "path_prefix": "/api/v1/sales-orders", "action": "error",
              "query_contains": f"connector_ref_prefix=ordre:{order['id']}#", "status": 500}
             for order in orders[:2]]  # fmt: skip
    pair.zedonk.set_faults(rules=rules)
    first = run(settings)
    assert (first.result, first.counts.get("reported")) == ("failed", None)
    second = run(settings)
    assert (second.result, second.counts["reported"]) == ("failed", 1)
    rows = ledger(settings)
    checked = [rows[f"{order['id']}#2"]["earlier_checked"] for order in orders]
    assert checked == [-2, -2, 1]  # searched first in the second pass, the two after it
    assert set(notifications(settings)) >= {f"order-resubmitted-untracked:{orders[2]['id']}#2"}
