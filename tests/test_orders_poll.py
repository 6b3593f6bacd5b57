"""Cheap order polls against both sandboxes: an idle poll is one small request (ORDRE's order
changes since the last poll), changes after it are imported, and a token ORDRE no longer
serves falls back to the listing by cursor."""

from __future__ import annotations

from pathlib import Path

import orders_support
from orders_support import barcodes, ledger, sales_orders, submit, write_connector

from daemon.notify import Notifier
from daemon.orders import ImportResult, import_orders
from daemon.sandbox import SandboxPair
from daemon.store.history import History
from daemon.store.ledger.base import SYNC_KEY
from daemon.tree.settings import Settings

sandboxes, pair = orders_support.sandboxes, orders_support.pair  # fixtures

IDLE_BYTES = 2048  # an idle poll, both ways, headers included


def run(settings: Settings) -> ImportResult:
    with History.open(settings.state_dir) as history:
        return import_orders(
            settings, history, trigger="test", notifier=Notifier(settings, history)
        )


def connector_requests(pair: SandboxPair) -> list[dict[str, object]]:
    logged = [*pair.zedonk.requests(), *pair.ordre.requests()]
    return [e for e in logged if e["actor"] == "connector"]


def test_an_idle_poll_is_one_small_request(tmp_path: Path, pair: SandboxPair) -> None:
    settings = write_connector(tmp_path, pair)
    [good] = barcodes(pair, 1)
    submit(pair, [{"barcode": good, "quantity": 1}])
    assert run(settings).counts["created"] == 1
    assert run(settings).result == "no-orders"  # the first quiet pass of the day audits Zedonk
    for _ in range(2):
        pair.zedonk.clear_requests()
        pair.ordre.clear_requests()
        idle = run(settings)
        assert idle.result == "no-orders", idle
        [asked] = connector_requests(pair)
        assert (asked["method"], asked["path"]) == ("GET", "/api/v1/orders")
        assert "changed_since=" in str(asked["query"])
        counters = pair.ordre.counters()
        assert counters["bytes_in"] + counters["bytes_out"] <= IDLE_BYTES, counters
        assert pair.zedonk.counters()["requests"] == 0


def test_changes_after_the_token_are_imported_and_reported(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    a, b = barcodes(pair, 2)
    run(settings)  # nothing yet: the token is set from the listing
    first = submit(pair, [{"barcode": a, "quantity": 1}])
    assert run(settings).counts["created"] == 1
    second = submit(pair, [{"barcode": b, "quantity": 2}], po_number="PO-2")
    pair.ordre.edit_order(first["id"], {"po_number": "PO-edited"})
    result = run(settings)
    assert (result.counts["created"], result.counts["reported"]) == (1, 1), result
    rows = ledger(settings)
    assert rows[f"{second['id']}#1"]["state"] == "created"
    assert len(sales_orders(pair)) == 2


def test_a_token_ordre_no_longer_serves_falls_back_to_the_cursor(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    [good] = barcodes(pair, 1)
    run(settings)
    with History.open(settings.state_dir) as history:
        token = history.get_state(SYNC_KEY)["token"]
    pair.ordre.reset()  # a new epoch: the token is expired
    submit(pair, [{"barcode": good, "quantity": 3}])
    pair.ordre.clear_requests()
    assert run(settings).counts["created"] == 1
    queries = [str(e["query"]) for e in connector_requests(pair) if e["path"] == "/api/v1/orders"]
    assert any("changed_since=" in q for q in queries)  # asked, refused with 410
    assert any("updated_since=" in q or q.startswith("limit=") for q in queries)
    with History.open(settings.state_dir) as history:
        assert history.get_state(SYNC_KEY)["token"] not in (None, token)
