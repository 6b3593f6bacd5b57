"""Exactly-once corner cases of the order import, against both sandboxes on loopback."""

from __future__ import annotations

import email
import socket
import time
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import Any

import orders_support
from aiosmtpd.controller import Controller
from orders_support import (
    barcodes,
    known_retailer,
    ledger,
    orders_per_ref,
    run_cli,
    sales_orders,
    submit,
    write_connector,
)
from test_notify import Clock, send

from daemon.clients import ZedonkClient
from daemon.core.model import SalesOrder, SalesOrderLine
from daemon.notify import Notifier
from daemon.notify.drain import RETRY_BASE
from daemon.orders import ImportResult, import_details, import_orders
from daemon.sandbox import SandboxPair
from daemon.store.history import History
from daemon.tree.settings import Settings

sandboxes, pair = orders_support.sandboxes, orders_support.pair  # fixtures

CREATE = "/api/v1/sales-orders"
UNKNOWN = {"barcode": "4006381333931", "style": "ML-999", "colour": "RED", "size": "M",
           "quantity": 1, "unit_price": "99.00"}  # fmt: skip


def run(settings: Settings) -> ImportResult:
    with History.open(settings.state_dir) as history:
        return import_orders(
            settings, history, trigger="test", notifier=Notifier(settings, history)
        )


def store_in_zedonk(pair: SandboxPair, key: str, barcode: str) -> None:
    """What Zedonk did before its 2xx answer was spoiled: it stored the order."""
    with ZedonkClient(pair.zedonk.api_url, pair.zedonk.token) as zedonk:
        product, size = next(
            (p, s.size) for p in zedonk.products() for s in p.skus if s.barcode == barcode
        )
        zedonk.create_sales_order(
            SalesOrder(
                season="AW26",
                customer_id=known_retailer(pair).id,
                order_ref="as stored",
                connector_ref=f"ordre:{key}",
                owner="sophie",
                approved=False,
                currency="EUR",
                lines=(SalesOrderLine(product.id, size, barcode, 1, product.prices[0].wsp),),
            )
        )


def test_an_unreadable_2xx_answer_to_a_create_is_resolved_by_lookup(
    tmp_path: Path, pair: SandboxPair
) -> None:
    # A 2xx means Zedonk stored the order; an answer we cannot read leaves the outcome
    # unknown. Recording it as "failed, not imported" loses track of a real Zedonk order.
    settings = write_connector(tmp_path, pair)
    [good] = barcodes(pair, 1)
    order = submit(pair, [{"barcode": good, "quantity": 1}])
    key = f"{order['id']}#1"
    pair.zedonk.set_faults(rules=[{"method": "POST", "path_prefix": CREATE, "times": 1,
                                   "action": "malformed"}])  # fmt: skip
    first = run(settings)
    assert ledger(settings)[key]["state"] == "unresolved", first
    store_in_zedonk(pair, key, good)

    second = run(settings)
    assert second.counts["recovered"] == 1, second
    assert ledger(settings)[key]["state"] == "created"
    assert orders_per_ref(pair) == {f"ordre:{key}": 1}


def test_a_resubmission_links_an_earlier_submission_that_resolves_later(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(
        tmp_path, pair, on_resubmit="inactivate_previous", settle_window="2s"
    )
    orders_support.established(settings)
    a, b = barcodes(pair, 2)
    order = submit(pair, [{"barcode": a, "quantity": 1}])
    first, second = f"{order['id']}#1", f"{order['id']}#2"
    # Pass 1: Zedonk stores submission 1 but the answer is lost, and its search lags.
    pair.zedonk.set_faults(rules=[{"method": "POST", "path_prefix": CREATE, "times": 1,
                                   "action": "lose_response"}])  # fmt: skip
    pair.zedonk.set_search_lag(1.5)
    run(settings)
    assert ledger(settings)[first]["state"] == "unresolved"
    # Pass 2: the retailer has re-submitted; submission 1 is still settling, 2 is created.
    pair.ordre.resubmit_order(order["id"], {"lines": [{"barcode": b, "quantity": 3}]})
    run(settings)
    rows = ledger(settings)
    assert (rows[first]["state"], rows[second]["state"]) == ("unresolved", "created")
    # Pass 3: submission 1 is found. Both orders are in Zedonk now, so the re-submission
    # must still replace the first one.
    time.sleep(2.2)
    run(settings)
    rows = ledger(settings)
    assert rows[first]["state"] == "created"
    assert orders_per_ref(pair) == {f"ordre:{first}": 1, f"ordre:{second}": 1}
    assert rows[second]["previous_import_key"] == first
    active = {o.connector_ref: o.active for o in sales_orders(pair)}
    assert active == {f"ordre:{first}": False, f"ordre:{second}": True}


def test_show_and_retry_of_an_unknown_import_are_clean_errors(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    run(settings)  # the history exists
    for command in ("show", "retry"):
        done = run_cli(settings, "orders", command, "no-such-order#1")
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert "no import matches 'no-such-order#1'" in done.stderr, (command, done.stderr)
        assert "Traceback" not in done.stderr + done.stdout


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def test_a_failed_order_notice_is_sent_once_the_mail_server_answers(
    tmp_path: Path, pair: SandboxPair
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    settings = write_connector(tmp_path, pair)
    with (settings.root / "connector.yaml").open("a") as config:
        config.write(
            "notifications:\n  email:\n    smtp_host: 127.0.0.1\n"
            f"    smtp_port: {port}\n    sender: connector@brand.example\n"
            "    recipients: [ops@brand.example]\n"
        )
    settings = orders_support.load_settings(settings.root)
    bad = submit(pair, [UNKNOWN])
    clock = Clock()
    assert run(settings).counts["failed"] == 1
    with History.open(settings.state_dir) as history:
        [down] = send(settings, history, clock).values()  # the mail server is down
    assert down.error is not None and down.waiting == 1
    assert ledger(settings)[f"{bad['id']}#1"]["state"] == "failed"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for _ in range(2):
            run(settings)
            clock.advance(RETRY_BASE)  # the channel's back-off is over
            with History.open(settings.state_dir) as history:
                send(settings, history, clock)
    finally:
        controller.stop()
    assert [m["Subject"] for m in inbox.messages] == [
        f"[zedonk-ordre] problem: {bad['number']} not imported"
    ]


def an_hour_after(pair: SandboxPair, stamp: str) -> None:
    """Move ORDRE's clock to an hour after ``stamp`` (its stamps never go backwards)."""
    now = datetime.fromisoformat(pair.ordre.advance_clock(0))
    behind = (datetime.fromisoformat(stamp) - now).total_seconds()
    pair.ordre.advance_clock(max(0.0, behind) + 3600)


def notices(settings: Settings) -> set[str]:
    with History.open(settings.state_dir) as history:
        return {r["key"] for r in history.query("SELECT key FROM notifications")}


def test_an_order_cancelled_while_its_create_is_unresolved_is_not_created(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    a, b = barcodes(pair, 2)
    order = submit(pair, [{"barcode": a, "quantity": 1}])
    key = f"{order['id']}#1"
    pair.zedonk.fail_next("POST", CREATE, status=503)  # outcome unknown: Zedonk has nothing
    run(settings)
    assert ledger(settings)[key]["state"] == "unresolved"
    cancelled = pair.ordre.cancel_order(order["id"])
    an_hour_after(pair, cancelled["updated_at"])  # later orders move the cursor well past it
    later = submit(pair, [{"barcode": b, "quantity": 1}])
    run(settings)
    run(settings)
    assert orders_per_ref(pair) == {f"ordre:{later['id']}#1": 1}
    assert ledger(settings)[key]["state"] == "skipped"


def test_a_cancellation_seen_before_an_unresolved_create_is_found_is_reported(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    a, b = barcodes(pair, 2)
    order = submit(pair, [{"barcode": a, "quantity": 1}])
    key = f"{order['id']}#1"
    pair.zedonk.set_faults(rules=[{"method": "POST", "path_prefix": CREATE, "times": 1,
                                   "action": "lose_response"}])  # fmt: skip
    run(settings)
    assert ledger(settings)[key]["state"] == "unresolved"
    cancelled = pair.ordre.cancel_order(order["id"])
    an_hour_after(pair, cancelled["updated_at"])
    submit(pair, [{"barcode": b, "quantity": 1}])
    run(settings)
    run(settings)
    assert ledger(settings)[key]["state"] == "created"
    assert f"order-cancelled:{key}" in notices(settings)
    with History.open(settings.state_dir) as history:
        kinds = [r["kind"] for r in import_details(history, key)["reports"]]
    assert kinds == ["cancelled"]


def test_an_edit_seen_while_a_create_is_unresolved_is_reported(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    a, b = barcodes(pair, 2)
    order = submit(pair, [{"barcode": a, "quantity": 1}])
    key = f"{order['id']}#1"
    pair.zedonk.fail_next("POST", CREATE, status=503)  # outcome unknown: Zedonk has nothing
    run(settings)
    assert ledger(settings)[key]["state"] == "unresolved"
    edited = pair.ordre.edit_order(order["id"], {"lines": [{"barcode": b, "quantity": 9}]})
    an_hour_after(pair, edited["updated_at"])  # the edit falls behind the cursor
    submit(pair, [{"barcode": a, "quantity": 2}])
    run(settings)
    run(settings)
    assert ledger(settings)[key]["state"] == "created"
    [so] = [o for o in sales_orders(pair) if o.connector_ref == f"ordre:{key}"]
    assert [line.quantity for line in so.lines] == [1]  # the submission as first read
    with History.open(settings.state_dir) as history:
        kinds = [r["kind"] for r in import_details(history, key)["reports"]]
    assert kinds == ["edited"]
    assert any(k.startswith(f"order-edited:{key}:") for k in notices(settings))


def test_a_lost_customer_create_answer_still_makes_one_customer(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    a, b = barcodes(pair, 2)
    retailer = {"name": "Atelier Perdu", "account_code": None, "email": "buy@perdu.example"}
    for barcode in (a, b):  # two orders from the same new retailer in one poll
        submit(pair, [{"barcode": barcode, "quantity": 1}], retailer=retailer)
    pair.zedonk.set_faults(rules=[{"method": "POST", "path_prefix": "/api/v1/customers",
                                   "times": 1, "action": "lose_response"}])  # fmt: skip
    run(settings)
    run(settings)
    with ZedonkClient(pair.zedonk.api_url, pair.zedonk.token) as zedonk:
        matches = list(zedonk.customers(name="Atelier Perdu"))
    assert len(matches) == 1
    assert len(orders_per_ref(pair)) == 2 and set(orders_per_ref(pair).values()) == {1}
    assert {o.customer_id for o in sales_orders(pair)} == {matches[0].id}


def test_a_stored_order_that_cannot_be_read_is_held_and_the_others_are_imported(
    tmp_path: Path, pair: SandboxPair
) -> None:
    # A ledger row whose copy of the order no longer reads (a damaged file, an older layout)
    # must not stop every pass at it, and must never be created from a guess.
    settings = write_connector(tmp_path, pair)
    run(settings)  # creates the ledger
    with History.open(settings.state_dir) as history, history.transaction() as conn:
        conn.execute(
            "INSERT INTO imports (import_key, ordre_id, ordre_number, submission, connector_ref,"
            " state, payload, payload_sha256, attempts, first_seen_at, updated_at)"
            " VALUES ('gone#1', 'gone', 'ORD-GONE', 1, 'ordre:gone#1', 'sending',"
            " '{\"id\": \"gone\"', 'x', 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"
        )
    [good] = barcodes(pair, 1)
    order = submit(pair, [{"barcode": good, "quantity": 2}])
    key = f"{order['id']}#1"

    result = run(settings)

    rows = ledger(settings)
    assert rows["gone#1"]["state"] == "needs_attention"
    assert "cannot be read" in rows["gone#1"]["last_error"]
    assert rows[key]["state"] == "created", result
    assert orders_per_ref(pair) == {f"ordre:{key}": 1}
