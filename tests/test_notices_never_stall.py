"""No notifier failure of any kind fails or delays an import or a reconcile.

Each kind of broken channel is a real server on loopback: a webhook URL that cannot be used,
a refused connection, a TLS certificate the connector does not trust, a webhook and an SMTP
server that accept a connection and never answer. The drainer meets each one within its
deadline and records it; the passes never meet them at all. The daemon test puts a webhook
that answers after its timeout and five failed orders before a good order: the good order is
created within the poll interval all the same.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orders_support
import pytest
import trustme
from orders_support import barcodes, ledger, run_cli, submit, write_connector
from sandbox_harness import Sandboxes
from test_notify import Clock, Hook, drainer, hook, settings  # noqa: F401  (the hook fixture)
from test_service import wait_until
from test_service_daemon import Daemon, daemon, started, submit_order  # noqa: F401

from daemon.notify import Notifier
from daemon.orders import import_orders
from daemon.sandbox import SandboxPair
from daemon.store.history import History
from daemon.tree.settings import EmailSettings

sandboxes, pair = orders_support.sandboxes, orders_support.pair  # fixtures

UNKNOWN = {"barcode": "4006381333931", "style": "ML-999", "colour": "RED", "size": "M",
           "quantity": 1, "unit_price": "99.00"}  # fmt: skip
DEADLINE = 1.0  # seconds one attempt may take in these tests


class Silent:
    """A TCP server that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


class UntrustedTls:
    """An HTTPS webhook whose certificate comes from a CA the connector does not trust."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def broken(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Points the webhook (``TEST_WEBHOOK_URL``) or the mail server (``smtp_port``) at one
    kind of broken channel; yields the channel."""
    kind: str = request.param
    closers: list[Callable[[], None]] = []
    channel = "webhook"
    if kind == "unparseable URL":
        monkeypatch.setenv("TEST_WEBHOOK_URL", "http://[::1/hook")
    elif kind == "refused connection":
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setenv("TEST_WEBHOOK_URL", f"http://127.0.0.1:{probe.getsockname()[1]}/h")
        probe.close()  # nothing listens there now
    elif kind == "TLS error":
        tls = UntrustedTls()
        closers.append(tls.close)
        monkeypatch.setenv("TEST_WEBHOOK_URL", f"https://127.0.0.1:{tls.port}/hook")
    else:  # a server that never answers
        silent = Silent()
        closers.append(silent.close)
        monkeypatch.setenv("TEST_WEBHOOK_URL", f"http://127.0.0.1:{silent.port}/hook")
        monkeypatch.setenv("TEST_SMTP_PORT", str(silent.port))
        channel = "email" if kind == "SMTP server that hangs" else "webhook"
    yield channel
    for close in closers:
        close()


KINDS = [
    "unparseable URL",
    "refused connection",
    "TLS error",
    "webhook that hangs",
    "SMTP server that hangs",
]


@pytest.mark.parametrize("broken", KINDS, indirect=True)
def test_each_broken_channel_is_met_within_the_deadline_and_recorded(
    broken: str, tmp_path: Path
) -> None:
    port = int(os.environ.get("TEST_SMTP_PORT", "9"))
    email = EmailSettings("127.0.0.1", port, False, "c@brand.example", ("ops@brand.example",))
    config = settings(tmp_path, webhook=broken == "webhook", email=email)
    with History.open(tmp_path / "state") as history:
        Notifier(config, history).problem("order-failed:o1#1", "ORD-1 not imported", "d")
        started_at = time.monotonic()
        done = drainer(config, history, Clock(), deadline=DEADLINE).round(broken, group_now=True)
        took = time.monotonic() - started_at
        [event] = history.events(subject="order-failed:o1#1")
    assert took < DEADLINE + 2, took
    assert done.error is not None and done.sent == 0 and done.waiting == 1
    assert event["code"] == "notification-failed" and event["details"]["channel"] == broken
    assert "[::1" not in event["message"]  # the URL is a secret: never quoted


@pytest.mark.parametrize("broken", KINDS, indirect=True)
def test_an_import_pass_never_meets_a_broken_channel(
    broken: str, tmp_path: Path, pair: SandboxPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_connector(tmp_path, pair)
    with (config.root / "connector.yaml").open("a") as file:
        if broken == "webhook":
            file.write("notifications:\n  webhook:\n    url: {env: TEST_WEBHOOK_URL}\n")
        else:
            file.write(
                "notifications:\n  email:\n    smtp_host: 127.0.0.1\n"
                f"    smtp_port: {os.environ['TEST_SMTP_PORT']}\n"
                "    sender: c@brand.example\n    recipients: [ops@brand.example]\n"
            )
    with monkeypatch.context() as readable:  # validate refuses a URL it cannot read
        readable.setenv("TEST_WEBHOOK_URL", "http://127.0.0.1:9/hook")
        config = orders_support.load_settings(config.root)
    [good] = barcodes(pair, 1)
    for _ in range(5):
        submit(pair, [UNKNOWN])
    order = submit(pair, [{"barcode": good, "quantity": 1}])
    with History.open(config.state_dir) as history:
        started_at = time.monotonic()
        result = import_orders(config, history, trigger="test", notifier=Notifier(config, history))
        took = time.monotonic() - started_at
        owed = history.query("SELECT * FROM outbox")
    assert result.counts["failed"] == 5 and result.counts["created"] == 1, result
    assert ledger(config)[f"{order['id']}#1"]["state"] == "created"
    assert took < DEADLINE * 3, took  # far less than one attempt on the broken channel
    assert len(owed) == 5  # owed, for the drainer


def test_the_command_line_sends_after_the_pass_within_a_bound(
    tmp_path: Path, pair: SandboxPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    silent = Silent()
    monkeypatch.setenv("HOOK_URL", f"http://127.0.0.1:{silent.port}/h")
    try:
        config = write_connector(tmp_path, pair)
        with (config.root / "connector.yaml").open("a") as file:
            file.write("notifications:\n  webhook:\n    url: {env: HOOK_URL}\n")
        submit(pair, [UNKNOWN])
        started_at = time.monotonic()
        done = run_cli(config, "orders", "import", "--once")
        took = time.monotonic() - started_at
    finally:
        silent.close()
    assert done.returncode == 3, done.stderr  # the failed order, not the notice
    assert "notices: 1 not sent by webhook yet (webhook: no answer in time" in done.stderr
    assert took < 30, took  # one attempt (10 s without an answer), not one per order


# --------------------------------------------------------------------------- the daemon


def test_a_slow_webhook_and_failed_orders_never_delay_a_good_order(
    daemon: Callable[..., Daemon],  # noqa: F811
    sandbox: Sandboxes,
    hook: Hook,  # noqa: F811
) -> None:
    hook.delay = 12.0  # the webhook answers after its 10 s timeout
    d = daemon()
    doc = (d.root / "connector.yaml").read_text()
    (d.root / "connector.yaml").write_text(
        doc + "notifications:\n  webhook:\n    url: {env: HOOK_URL}\n"
    )
    started(d, HOOK_URL=hook.url)
    retailer = submit_order_retailer(sandbox)  # ORDRE knows the retailers once reconciled
    for n in range(5):
        sandbox.submit_order(retailer=retailer, po_number=f"PO-BAD-{n}", lines=[UNKNOWN])
    good = submit_order(sandbox, "PO-GOOD")  # behind the five failures
    submitted = time.monotonic()
    assert wait_until(lambda: created(d, good), timeout=30), d.logs()
    assert time.monotonic() - submitted < 1 + 3  # poll_interval (1 s) and a pass

    def failing() -> list[dict[str, Any]]:  # the pass may still be finishing its run
        return [r for r in d.runs("import") if (r["summary"] or {}).get("failed")]

    assert wait_until(lambda: sum(r["summary"]["failed"] for r in failing()) == 5), failing()
    failing_runs = failing()
    assert all(seconds(r) < 3 for r in failing_runs), failing_runs  # no pass waited for it

    assert wait_until(lambda: len(hook.posts) == 1, timeout=30), d.logs()
    [digest] = hook.posts  # the five failures as one digest; the drainer now waits on it
    assert digest["event"] == "digest" and len(digest["notices"]) == 5, digest
    later = submit_order(sandbox, "PO-LATER")  # while the webhook holds its attempt
    submitted = time.monotonic()
    assert wait_until(lambda: created(d, later), timeout=30), d.logs()
    assert time.monotonic() - submitted < 1 + 3
    assert len(hook.posts) == 1  # still the one slow attempt: no post per pass
    assert d.stop() == 0, d.logs()


def created(d: Daemon, order: dict[str, Any]) -> bool:
    key = f"{order['id']}#{order['submission']}"
    sql = "SELECT 1 FROM imports WHERE import_key = ? AND state = 'created'"
    return bool(d.query(sql, (key,)))


def submit_order_retailer(sandbox: Sandboxes) -> dict[str, Any]:
    customers = sandbox.client("ordre").get("/customers", params={"limit": 1}).json()["items"]
    return {"account_code": customers[0]["account_code"]}


def seconds(run: dict[str, Any]) -> float:
    started_at = datetime.fromisoformat(run["started_at"])
    return (datetime.fromisoformat(run["finished_at"]) - started_at).total_seconds()


def test_a_vanished_catalogue_is_an_error_and_a_notice_and_an_empty_one_is_refused(
    daemon: Callable[..., Daemon],  # noqa: F811
    sandbox: Sandboxes,
    hook: Hook,  # noqa: F811
) -> None:
    d = daemon()
    doc = (d.root / "connector.yaml").read_text()
    (d.root / "connector.yaml").write_text(
        doc + "notifications:\n  webhook:\n    url: {env: HOOK_URL}\n"
    )
    started(d, HOOK_URL=hook.url)
    kept = sandbox.client("ordre").get("/collections").json()["items"]
    assert kept
    backup = d.root.parent / "catalogue-backup"
    shutil.copytree(d.root / "catalogue", backup)

    shutil.rmtree(d.root / "catalogue")  # rm -rf catalogue while the daemon runs
    assert wait_until(lambda: d.runs()[-1]["result"] == "invalid", timeout=30), d.logs()
    [run] = d.runs()[-1:]
    errors = d.query("SELECT code FROM events WHERE run_id = ? AND level = 'error'", (run["id"],))
    assert [e["code"] for e in errors] == ["catalogue-missing"]
    assert wait_until(lambda: any(p["key"] == "catalogue-invalid" for p in hook.posts), 30)

    (d.root / "catalogue").mkdir()  # back, but empty
    assert wait_until(lambda: d.runs()[-1]["result"] == "failed", timeout=30), d.logs()
    [run] = d.runs()[-1:]
    assert "would delete all of them" in run["error"]
    assert wait_until(lambda: any(p["key"] == "deletes-refused" for p in hook.posts), 30)
    assert sandbox.client("ordre").get("/collections").json()["items"] == kept

    shutil.rmtree(d.root / "catalogue")
    shutil.copytree(backup, d.root / "catalogue")
    assert wait_until(lambda: d.runs()[-1]["result"] in ("ok", "no-changes"), timeout=30)
    resolved = lambda: {  # noqa: E731
        n["key"] for p in hook.posts for n in p["notices"] if n["event"] == "resolved"
    }
    assert wait_until(lambda: resolved() >= {"deletes-refused", "catalogue-invalid"}, 30), (
        hook.posts
    )
    assert d.stop() == 0, d.logs()
