"""Order notices survive a crash."""

from __future__ import annotations

import socket
from pathlib import Path

import orders_support
from aiosmtpd.controller import Controller
from orders_support import ledger, run_cli, submit, write_connector
from test_orders_review import UNKNOWN, Inbox

from daemon.sandbox import SandboxPair
from daemon.tree.settings import Settings

sandboxes, pair = orders_support.sandboxes, orders_support.pair  # fixtures


def with_mail(settings: Settings) -> tuple[Settings, int]:
    """The connector with e-mail notices to a port nothing listens on yet."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    with (settings.root / "connector.yaml").open("a") as config:
        config.write(
            "notifications:\n  email:\n    smtp_host: 127.0.0.1\n"
            f"    smtp_port: {port}\n    sender: connector@brand.example\n"
            "    recipients: [ops@brand.example]\n"
        )
    return orders_support.load_settings(settings.root), port


def test_a_notice_owed_when_the_import_dies_is_sent_by_the_next_pass(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings, port = with_mail(write_connector(tmp_path, pair))
    bad = submit(pair, [UNKNOWN])
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        died = run_cli(settings, "orders", "import", "--once", crash_at="before_notice")
        assert died.returncode == -9, died.stderr
        assert ledger(settings)[f"{bad['id']}#1"]["state"] == "failed"  # committed, not told
        assert inbox.messages == []
        done = run_cli(settings, "orders", "import", "--once")
        assert done.returncode in (0, 3), done.stderr
    finally:
        controller.stop()
    assert [m["Subject"] for m in inbox.messages] == [
        f"[zedonk-ordre] problem: {bad['number']} not imported"
    ]
