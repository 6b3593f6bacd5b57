"""orders import | list | show | retry, through the command line, against the sandboxes."""

from __future__ import annotations

import email
import json
import socket
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import orders_support
import pytest
from aiosmtpd.controller import Controller
from orders_support import barcodes, ledger, orders_per_ref, submit, write_connector
from typer.testing import CliRunner

from daemon.cli import app
from daemon.errors import ExitCode
from daemon.sandbox import SandboxPair

sandboxes, pair = orders_support.sandboxes, orders_support.pair  # fixtures

UNKNOWN = {"barcode": "4006381333931", "style": "ML-999", "colour": "RED", "size": "M",
           "quantity": 1, "unit_price": "99.00"}  # fmt: skip


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_import_list_show_and_retry(tmp_path: Path, pair: SandboxPair) -> None:
    settings = write_connector(tmp_path, pair)
    root = str(settings.root)
    [good] = barcodes(pair, 1)
    ok = submit(pair, [{"barcode": good, "quantity": 2}], po_number="PO-1")
    bad = submit(pair, [UNKNOWN])

    imported = cli("orders", "import", "--once", "--root", root)
    assert imported.exit_code == 3, imported.output  # one failed
    assert "1 imported, 1 failed" in imported.output

    listed = cli("orders", "list", "--root", root)
    assert listed.exit_code == 0
    assert ok["number"] in listed.output and "created" in listed.output
    attention = json.loads(cli("orders", "list", "--status", "attention", "--format", "json",
                               "--root", root).output)  # fmt: skip
    assert attention["format_version"] == 2
    assert [i["import_key"] for i in attention["imports"]] == [f"{bad['id']}#1"]

    shown = cli("orders", "show", bad["number"], "--root", root)
    assert shown.exit_code == 0
    assert "state         failed" in shown.output
    assert "4006381333931" in shown.output and "unknown" in shown.output
    assert "1: 4006381333931  ML-999 RED M  1 x 99.00  left out" in shown.output
    details = json.loads(cli("orders", "show", f"{ok['id']}#1", "--format", "json",
                             "--root", root).output)["import"]  # fmt: skip
    assert details["state"] == "created" and details["order"]["po_number"] == "PO-1"

    still_bad = cli("orders", "retry", bad["number"], "--root", root)
    assert still_bad.exit_code == 3 and "failed" in still_bad.output
    pair.ordre.edit_order(bad["id"], {"lines": [{"barcode": good, "quantity": 1}]})
    fixed = cli("orders", "retry", bad["number"], "--root", root)
    assert fixed.exit_code == 0, fixed.output
    assert orders_per_ref(pair) == {f"ordre:{ok['id']}#1": 1, f"ordre:{bad['id']}#1": 1}
    runs_before = json.loads(cli("history", "--format", "json", "--root", root).output)["runs"]
    again = cli("orders", "retry", bad["number"], "--root", root)
    assert again.exit_code == 0, again.output
    so_number = ledger(settings)[f"{bad['id']}#1"]["zedonk_order_number"]
    assert f"already imported as Zedonk order {so_number}" in again.output
    runs_after = json.loads(cli("history", "--format", "json", "--root", root).output)["runs"]
    assert runs_after == runs_before  # no run, so none failed


def test_unknown_ids_and_states_are_clear_errors(tmp_path: Path, pair: SandboxPair) -> None:
    settings = write_connector(tmp_path, pair)
    root = str(settings.root)
    cli("orders", "import", "--once", "--root", root)
    missing = cli("orders", "show", "ORD-99999", "--root", root)
    assert missing.exit_code == 1 and "no import matches 'ORD-99999'" in missing.output
    wrong = cli("orders", "list", "--status", "lost", "--root", root)
    assert wrong.exit_code == ExitCode.USAGE and "unknown state lost" in wrong.output


def test_a_bad_order_owner_stops_the_command_before_any_order(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair, order_owner="intern")
    [good] = barcodes(pair, 1)
    submit(pair, [{"barcode": good, "quantity": 1}])
    result = cli("orders", "import", "--once", "--root", str(settings.root))
    assert result.exit_code == 1
    assert "import.order_owner 'intern' is an inactive Zedonk user" in result.output
    assert pair.zedonk.write_count() == 0 and ledger(settings) == {}


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


def test_a_failed_order_is_mailed_once_and_its_recovery_too(
    tmp_path: Path, pair: SandboxPair, smtp: tuple[int, Inbox]
) -> None:
    port, inbox = smtp
    settings = write_connector(tmp_path, pair)
    with (settings.root / "connector.yaml").open("a") as config:
        config.write(
            "notifications:\n  email:\n    smtp_host: 127.0.0.1\n"
            f"    smtp_port: {port}\n    sender: connector@brand.example\n"
            "    recipients: [ops@brand.example]\n"
        )
    root = str(settings.root)
    bad = submit(pair, [UNKNOWN])
    for _ in range(3):
        cli("orders", "import", "--once", "--root", root)
    assert [m["Subject"] for m in inbox.messages] == [
        f"[zedonk-ordre] problem: {bad['number']} not imported"
    ]
    body = inbox.messages[0].get_payload()
    assert "4006381333931" in body and f"orders retry {bad['id']}#1" in body

    [good] = barcodes(pair, 1)
    pair.ordre.edit_order(bad["id"], {"lines": [{"barcode": good, "quantity": 1}]})
    assert cli("orders", "retry", bad["id"], "--root", root).exit_code == 0
    assert inbox.messages[-1]["Subject"] == f"[zedonk-ordre] resolved: {bad['number']} not imported"
    assert len(inbox.messages) == 2
