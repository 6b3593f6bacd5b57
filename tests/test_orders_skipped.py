"""Every submission the import sees and does not import is recorded with its reason, and none is
lost to the cursor: orders approved in ORDRE before a poll, statuses not imported (yet),
cancellations before any poll, submissions made before go-live and re-submissions after it.
Through the command line, against both sandboxes on loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orders_support
from orders_support import (
    barcodes,
    cli,
    ledger,
    orders_per_ref,
    submit,
    write_connector,
)

from daemon.sandbox import SandboxPair
from daemon.store.history import History

sandboxes, pair = orders_support.sandboxes, orders_support.pair  # fixtures


def approve(pair: SandboxPair, order_id: str) -> None:
    """The brand approves the order in ORDRE."""
    answer = httpx.post(
        f"{pair.ordre.api_url}/orders/{order_id}/approve",
        headers={"Authorization": f"Bearer {pair.ordre.token}"},
        trust_env=False,
    )
    answer.raise_for_status()


def skipped(root: str) -> dict[str, dict[str, Any]]:
    listed = cli("orders", "list", "--status", "skipped", "--format", "json", "--root", root)
    assert listed.exit_code == 0, listed.output
    return {row["import_key"]: row for row in json.loads(listed.output)["imports"]}


def test_the_default_statuses_import_an_order_approved_before_the_poll(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair, statuses=None)  # the default
    assert settings.import_.statuses == ("submitted", "approved")
    [good] = barcodes(pair, 1)
    order = submit(pair, [{"barcode": good, "quantity": 1}])
    approve(pair, order["id"])
    imported = cli("orders", "import", "--once", "--root", str(settings.root))
    assert imported.exit_code == 0, imported.output
    assert orders_per_ref(pair) == {f"ordre:{order['id']}#1": 1}


def test_an_order_in_a_status_not_imported_is_recorded_and_imported_once_listed(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair, statuses="[submitted]")
    root = str(settings.root)
    [good] = barcodes(pair, 1)
    order = submit(pair, [{"barcode": good, "quantity": 1}])
    approve(pair, order["id"])
    key = f"{order['id']}#1"
    first = cli("orders", "import", "--once", "--root", root)
    assert first.exit_code == 0, first.output
    assert "1 skipped" in first.output
    row = skipped(root)[key]
    assert row["skipped_for"] == "status"
    assert row["last_error"].startswith(
        "approved in ORDRE, and import.statuses lists only submitted: it is imported once it "
        "is in one of them"
    )
    text = cli("orders", "list", "--status", "skipped", "--root", root).output
    assert order["number"] in text and "approved in ORDRE" in text
    assert orders_per_ref(pair) == {}

    # The cursor has moved past it; listing approved now still imports it.
    write_connector(tmp_path, pair, statuses="[submitted, approved]")
    later = cli("orders", "import", "--once", "--root", root)
    assert later.exit_code == 0, later.output
    assert ledger(settings)[key]["state"] == "created"
    assert orders_per_ref(pair) == {f"ordre:{key}": 1}


def test_a_submission_waiting_for_approval_is_imported_once_approved(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair, statuses="[approved]")
    root = str(settings.root)
    [good] = barcodes(pair, 1)
    order = submit(pair, [{"barcode": good, "quantity": 1}])
    key = f"{order['id']}#1"
    assert cli("orders", "import", "--once", "--root", root).exit_code == 0
    assert skipped(root)[key]["last_error"].startswith("submitted in ORDRE")
    approve(pair, order["id"])
    assert cli("orders", "import", "--once", "--root", root).exit_code == 0
    assert ledger(settings)[key]["state"] == "created"
    assert skipped(root) == {}


def test_an_order_cancelled_before_any_poll_is_listed_as_skipped(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    root = str(settings.root)
    [good] = barcodes(pair, 1)
    order = submit(pair, [{"barcode": good, "quantity": 1}])
    pair.ordre.cancel_order(order["id"])
    assert cli("orders", "import", "--once", "--root", root).exit_code == 0
    row = skipped(root)[f"{order['id']}#1"]
    assert (row["skipped_for"], row["last_error"]) == (
        "cancelled",
        "cancelled in ORDRE before it was imported",
    )
    assert orders_per_ref(pair) == {}


def test_go_live_skips_earlier_submissions_and_a_later_resubmission_is_imported(
    tmp_path: Path, pair: SandboxPair
) -> None:
    go_live = (datetime.now(UTC) + timedelta(days=1)).date()
    settings = write_connector(tmp_path, pair, go_live=go_live.isoformat())
    root = str(settings.root)
    [good] = barcodes(pair, 1)
    order = submit(pair, [{"barcode": good, "quantity": 1}], po_number="PO-OLD")
    pair.ordre.advance_clock(2 * 86400)  # go-live has passed
    approve(pair, order["id"])  # changed after go-live: the import sees it
    first = cli("orders", "import", "--once", "--root", root)
    assert first.exit_code == 0, first.output
    row = skipped(root)[f"{order['id']}#1"]
    assert (row["skipped_for"], row["last_error"]) == (
        "go-live",
        f"submitted before go-live ({go_live})",
    )
    assert orders_per_ref(pair) == {}

    # The retailer re-submits after go-live: the change reaches Zedonk, and a person is asked
    # to check the order that may have been keyed in by hand before go-live.
    pair.ordre.resubmit_order(order["id"], {"lines": [{"barcode": good, "quantity": 5}]})
    second = cli("orders", "import", "--once", "--root", root)
    assert second.exit_code == 0, second.output
    key = f"{order['id']}#2"
    assert ledger(settings)[key]["state"] == "created"
    assert orders_per_ref(pair) == {f"ordre:{key}": 1}
    with History.open(settings.state_dir) as history:
        [notice] = history.query(
            "SELECT title, details FROM notifications WHERE key = ?", (f"order-resubmitted:{key}",)
        )
    assert notice["title"] == f"{order['number']} re-submitted"
    assert f"created in ORDRE before go-live ({go_live})" in notice["details"]
    assert "keyed in Zedonk by hand before go-live: check" in notice["details"]
    # Told once: the next pass has nothing left to follow up.
    assert cli("orders", "import", "--once", "--root", root).exit_code == 0
    with History.open(settings.state_dir) as history:
        events = history.query("SELECT * FROM events WHERE code LIKE 'order-resubmitted%'")
    assert len(events) == 1
