"""Notices through a real SMTP server (aiosmtpd) and a real webhook server, both on loopback."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from daemon import __version__
from daemon.notify import Notifier
from daemon.store.history import History
from daemon.tree.secrets import TokenRef
from daemon.tree.settings import (
    CatalogueSettings,
    DaemonSettings,
    EmailSettings,
    ImportSettings,
    RemoteSettings,
    Settings,
    WebhookSettings,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


class Hook:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.received: list[tuple[dict[str, str], bytes]] = []  # headers and body as sent
        self.status = 204
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = self.rfile.read(length)
                hook.received.append((dict(self.headers.items()), body))
                hook.posts.append(json.loads(body))
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/s3cret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hook]:
    server = Hook()
    monkeypatch.setenv("TEST_WEBHOOK_URL", server.url)
    yield server
    server.close()


def settings(
    tmp_path: Path,
    *,
    smtp_port: int | None = None,
    webhook: bool = False,
    email: EmailSettings | None = None,
    signing: TokenRef | None = None,
) -> Settings:
    remote = RemoteSettings("http://127.0.0.1:9/api/v1", TokenRef(env="UNUSED"))
    return Settings(
        root=tmp_path,
        zedonk=remote,
        ordre=remote,
        import_=ImportSettings(
            "AW26", False, "sophie", ("submitted",), None, "{order_number}", "report"
        ),
        price_seasons=("AW26",),
        catalogue=CatalogueSettings(False, 10, 0.2),
        daemon=DaemonSettings(60, 600, 1, ("127.0.0.1", 0), 300),
        state_dir=tmp_path / "state",
        email=email
        or (
            None
            if smtp_port is None
            else EmailSettings(
                "127.0.0.1", smtp_port, False, "connector@brand.example", ("ops@brand.example",)
            )
        ),
        webhook=WebhookSettings(TokenRef(env="TEST_WEBHOOK_URL", kind="url"), signing)
        if webhook
        else None,
    )


def test_a_problem_is_sent_once_then_a_recovery_notice(
    tmp_path: Path, smtp: tuple[int, Inbox], hook: Hook
) -> None:
    port, inbox = smtp
    with History.open(tmp_path / "state") as history:
        notifier = Notifier(settings(tmp_path, smtp_port=port, webhook=True), history)
        for _ in range(3):  # three polls meet the same problem
            notifier.problem("remote-down:zedonk", "Zedonk unreachable", "connect refused")
        assert len(inbox.messages) == 1 and len(hook.posts) == 1
        message = inbox.messages[0]
        assert message["Subject"] == "[zedonk-ordre] problem: Zedonk unreachable"
        assert message["To"] == "ops@brand.example"
        assert "connect refused" in message.get_payload()
        assert hook.posts[0]["event"] == "problem" and hook.posts[0]["key"] == "remote-down:zedonk"
        [row] = history.query("SELECT * FROM notifications")
        assert row["seen_count"] == 3 and row["state"] == "open"

        notifier.resolved("remote-down:zedonk")
        notifier.resolved("remote-down:zedonk")  # already closed: nothing more
        assert len(inbox.messages) == 2 and len(hook.posts) == 2
        assert inbox.messages[1]["Subject"] == "[zedonk-ordre] resolved: Zedonk unreachable"
        assert hook.posts[1]["event"] == "resolved"

        # The same problem coming back is a new notice.
        notifier.problem("remote-down:zedonk", "Zedonk unreachable", "timeout")
        assert len(inbox.messages) == 3 and "timeout" in inbox.messages[2].get_payload()


def test_dedup_survives_a_restart(tmp_path: Path, smtp: tuple[int, Inbox]) -> None:
    port, inbox = smtp
    for _ in range(2):
        with History.open(tmp_path / "state") as history:
            Notifier(settings(tmp_path, smtp_port=port), history).problem("k", "t", "d")
    assert len(inbox.messages) == 1


def test_a_failed_channel_is_retried_and_recorded_without_raising(
    tmp_path: Path, hook: Hook
) -> None:
    dead_port = free_port()  # nothing listens here
    with History.open(tmp_path / "state") as history:
        notifier = Notifier(settings(tmp_path, smtp_port=dead_port, webhook=True), history)
        hook.status = 500
        notifier.problem("order-failed:o1#1", "Order ORD-1 failed", "no lines matched")
        failures = history.events(subject="order-failed:o1#1")
        assert {e["details"]["channel"] for e in failures} == {"email", "webhook"}
        assert all(e["code"] == "notification-failed" for e in failures)
        assert not any("s3cret" in json.dumps(e) for e in failures)  # the URL is a secret

        hook.status = 200
        notifier.problem("order-failed:o1#1", "Order ORD-1 failed", "no lines matched")
        assert len(hook.posts) == 2  # retried once the hook works
        notifier.problem("order-failed:o1#1", "Order ORD-1 failed", "no lines matched")
        assert len(hook.posts) == 2  # and not again


def test_no_recovery_notice_for_a_problem_never_announced(tmp_path: Path) -> None:
    with History.open(tmp_path / "state") as history:
        notifier = Notifier(settings(tmp_path), history)  # no channel configured
        notifier.problem("k", "t", "d")
        assert [p["key"] for p in notifier.open_problems()] == ["k"]
        notifier.resolved("k")
        assert notifier.open_problems() == []
        assert history.events(level="warning") == []


def test_an_unset_webhook_secret_is_recorded_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_WEBHOOK_URL", raising=False)
    with History.open(tmp_path / "state") as history:
        Notifier(settings(tmp_path, webhook=True), history).problem("k", "t", "d")
        [event] = history.events(subject="k")
        assert "TEST_WEBHOOK_URL" in event["message"]


def test_a_recovery_notice_that_failed_is_sent_later_on_that_channel_only(
    tmp_path: Path, smtp: tuple[int, Inbox], hook: Hook
) -> None:
    port, inbox = smtp
    with History.open(tmp_path / "state") as history:
        notifier = Notifier(settings(tmp_path, smtp_port=port, webhook=True), history)
        notifier.problem("remote-down:zedonk", "Zedonk unreachable", "connect refused")
        hook.status = 500
        notifier.resolved("remote-down:zedonk")  # the mail goes out, the webhook fails
        assert len(inbox.messages) == 2 and len(hook.posts) == 2

        hook.status = 200
        notifier.send_owed_recoveries()
        notifier.send_owed_recoveries()  # sent: not again
        assert [p["event"] for p in hook.posts] == ["problem", "resolved", "resolved"]
        assert len(inbox.messages) == 2  # the mail was not sent twice


# --------------------------------------------------------------------------- webhook identity


def test_a_webhook_notice_is_signed_timestamped_and_says_who_sent_it(
    tmp_path: Path, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_KEY", "whsec_5f2b9c0d8e7a")
    signing = TokenRef(env="TEST_WEBHOOK_KEY", kind="key")
    with History.open(tmp_path / "state") as history:
        notifier = Notifier(settings(tmp_path, webhook=True, signing=signing), history)
        notifier.problem("order-failed:o1#1", "ORD-1 not imported", "no lines matched")
    [(headers, body)] = hook.received
    assert headers["User-Agent"] == f"zedonk-ordre/{__version__}"
    timestamp = headers["X-Zedonk-Ordre-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    # What a receiver does (docs/service.md): HMAC-SHA256 over timestamp "." raw body.
    expected = hmac.new(b"whsec_5f2b9c0d8e7a", f"{timestamp}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(
        headers["X-Zedonk-Ordre-Signature"], f"sha256={expected.hexdigest()}"
    )
    assert json.loads(body)["key"] == "order-failed:o1#1"


def test_an_unsigned_webhook_notice_has_no_signature_header(tmp_path: Path, hook: Hook) -> None:
    with History.open(tmp_path / "state") as history:
        Notifier(settings(tmp_path, webhook=True), history).problem("k", "t", "d")
    [(headers, _)] = hook.received
    assert "X-Zedonk-Ordre-Signature" not in headers and "X-Zedonk-Ordre-Timestamp" in headers


def test_retailer_text_cannot_mention_a_channel_or_disguise_a_link(
    tmp_path: Path, hook: Hook
) -> None:
    po = "PO <!channel> <https://evil.example|Open invoice> @here & co"
    with History.open(tmp_path / "state") as history:
        Notifier(settings(tmp_path, webhook=True), history).problem("k", f"{po} failed", po)
    [post] = hook.posts
    text = post["text"]
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt;" in text and "&lt;https://evil.example|Open invoice&gt;" in text
    assert "&amp; co" in text and "@here" not in text and "@\u200bhere" in text
    assert post["title"] == f"{po} failed"  # the data fields stay as they are


def test_a_title_with_a_line_break_still_makes_one_subject_line(
    tmp_path: Path, smtp: tuple[int, Inbox]
) -> None:
    port, inbox = smtp
    with History.open(tmp_path / "state") as history:
        notifier = Notifier(settings(tmp_path, smtp_port=port), history)
        notifier.problem("k", "PO 12\nBcc: someone@else.example", "d")
    [message] = inbox.messages
    assert message["Subject"] == "[zedonk-ordre] problem: PO 12 Bcc: someone@else.example"
    assert message["Bcc"] is None


# --------------------------------------------------------------------------- SMTP over TLS


class TlsInbox(Inbox):
    """An inbox that logs people in, and notes whether each login came over TLS."""

    def __init__(self) -> None:
        super().__init__()
        self.logins: list[tuple[str, str, bool]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        tls = server.transport.get_extra_info("ssl_object") is not None
        self.logins.append((data.login.decode(), data.password.decode(), tls))
        return AuthResult(success=data.password == b"smtp-pass-4e1d")


@pytest.fixture
def test_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A test CA the connector trusts (through $SSL_CERT_FILE, as for a private mail CA), and
    the server's context with a certificate for 127.0.0.1 that it issued."""
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    return server


def mail_settings(port: int, *, tls: bool = False, starttls: bool = False) -> EmailSettings:
    return EmailSettings(
        "127.0.0.1",
        port,
        starttls,
        "connector@brand.example",
        ("ops@brand.example",),
        username="connector",
        password=TokenRef(env="TEST_SMTP_PASSWORD", kind="password"),
        tls=tls,
    )


@pytest.mark.parametrize("mode", ["tls", "starttls"])
def test_the_smtp_login_goes_over_tls(
    mode: str, tmp_path: Path, test_ca: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "smtp-pass-4e1d")
    inbox, port = TlsInbox(), free_port()
    if mode == "tls":  # implicit TLS, SMTPS
        controller = Controller(
            inbox, hostname="127.0.0.1", port=port, ssl_context=test_ca,
            authenticator=inbox, auth_require_tls=False,  # the whole connection is TLS
        )  # fmt: skip
    else:
        controller = Controller(
            inbox, hostname="127.0.0.1", port=port, tls_context=test_ca,
            require_starttls=True, authenticator=inbox,
        )  # fmt: skip
    controller.start()
    try:
        email = mail_settings(port, tls=mode == "tls", starttls=mode == "starttls")
        with History.open(tmp_path / "state") as history:
            Notifier(settings(tmp_path, email=email), history).problem("k", "t", "d")
            assert history.events(level="warning") == []
    finally:
        controller.stop()
    assert inbox.logins == [("connector", "smtp-pass-4e1d", True)]
    assert len(inbox.messages) == 1


def test_the_smtp_password_is_never_sent_without_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a server that would take a login in clear text never gets one."""
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "smtp-pass-4e1d")
    inbox, port = TlsInbox(), free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=inbox, auth_require_tls=False
    )
    controller.start()
    try:
        with History.open(tmp_path / "state") as history:
            Notifier(settings(tmp_path, email=mail_settings(port)), history).problem("k", "t", "d")
            [event] = history.events(subject="k")
    finally:
        controller.stop()
    assert inbox.logins == [] and inbox.messages == []
    assert "without TLS" in event["message"]
