"""Notices through a real SMTP server (aiosmtpd) and a real webhook server, both on loopback:
owed in the outbox, grouped and sent by the drainer, with its back-off and stable ids."""

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
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from daemon import __version__
from daemon.notify import Drainer, Notifier, Round
from daemon.notify.digest import Notice, Section, compose, digest_text
from daemon.notify.drain import RETRY_BASE, RETRY_FOR
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
    """A webhook receiver: records each POST as it arrives, then answers ``status`` after
    ``delay`` seconds (a slow receiver)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.received: list[tuple[dict[str, str], bytes]] = []  # headers and body as sent
        self.status = 204
        self.delay = 0.0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = self.rfile.read(length)
                hook.received.append((dict(self.headers.items()), body))
                hook.posts.append(json.loads(body))
                time.sleep(hook.delay)
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # a slow answer must not hold the test's end
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


class Clock:
    """The drainer's clock: the real time, moved forward by hand (back-off and expiry
    without waiting)."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead

    def advance(self, seconds: float) -> None:
        self.ahead += timedelta(seconds=seconds)


def drainer(
    settings: Settings, history: History, clock: Clock | None = None, **kwargs: Any
) -> Drainer:
    return Drainer(lambda: settings, history, quiet=0, clock=clock or Clock(), **kwargs)


def send(settings: Settings, history: History, clock: Clock | None = None) -> dict[str, Round]:
    """What the command line does after a pass: group everything owed and send it."""
    return drainer(settings, history, clock).drain_now(within=5)


def test_a_problem_is_sent_once_then_a_recovery_notice(
    tmp_path: Path, smtp: tuple[int, Inbox], hook: Hook
) -> None:
    port, inbox = smtp
    with History.open(tmp_path / "state") as history:
        config = settings(tmp_path, smtp_port=port, webhook=True)
        notifier = Notifier(config, history)
        for _ in range(3):  # three polls meet the same problem
            notifier.problem("remote-down:zedonk", "Zedonk unreachable", "connect refused")
            send(config, history)
        assert len(inbox.messages) == 1 and len(hook.posts) == 1
        message = inbox.messages[0]
        assert message["Subject"] == "[zedonk-ordre] problem: Zedonk unreachable"
        assert message["To"] == "ops@brand.example"
        assert "connect refused" in message.get_payload()
        assert hook.posts[0]["event"] == "problem" and hook.posts[0]["key"] == "remote-down:zedonk"
        # One notice: the delivery's id is the notice's, in the header, the body, the mail.
        notice_id = hook.posts[0]["id"]
        assert [n["id"] for n in hook.posts[0]["notices"]] == [notice_id]
        assert hook.received[0][0]["X-Zedonk-Ordre-Id"] == notice_id
        assert message["X-Zedonk-Ordre-Id"] == notice_id and notice_id in message["Message-ID"]
        [row] = history.query("SELECT * FROM notifications")
        assert row["seen_count"] == 3 and row["state"] == "open"

        notifier.resolved("remote-down:zedonk")
        notifier.resolved("remote-down:zedonk")  # already closed: nothing more
        send(config, history)
        assert len(inbox.messages) == 2 and len(hook.posts) == 2
        assert inbox.messages[1]["Subject"] == "[zedonk-ordre] resolved: Zedonk unreachable"
        assert hook.posts[1]["event"] == "resolved" and hook.posts[1]["id"] != notice_id

        # The same problem coming back is a new notice.
        notifier.problem("remote-down:zedonk", "Zedonk unreachable", "timeout")
        send(config, history)
        assert len(inbox.messages) == 3 and "timeout" in inbox.messages[2].get_payload()


def test_owing_a_notice_sends_nothing_and_never_waits_for_a_channel(
    tmp_path: Path, hook: Hook
) -> None:
    hook.delay = 3.0  # a receiver that would hold a sender up
    with History.open(tmp_path / "state") as history:
        config = settings(tmp_path, webhook=True)
        started = time.monotonic()
        for n in range(20):
            Notifier(config, history).problem(f"order-failed:o{n}#1", f"ORD-{n} failed", "d")
        assert time.monotonic() - started < 1.0
        assert hook.posts == []
        [(count,)] = history.conn.execute("SELECT COUNT(*) FROM outbox").fetchall()
        assert count == 20


def test_dedup_survives_a_restart(tmp_path: Path, smtp: tuple[int, Inbox]) -> None:
    port, inbox = smtp
    for _ in range(2):
        with History.open(tmp_path / "state") as history:
            config = settings(tmp_path, smtp_port=port)
            Notifier(config, history).problem("k", "t", "d")
            send(config, history)
    assert len(inbox.messages) == 1


def test_a_storm_from_one_pass_is_one_digest_per_channel_with_a_cap(
    tmp_path: Path, smtp: tuple[int, Inbox], hook: Hook
) -> None:
    port, inbox = smtp
    with History.open(tmp_path / "state") as history:
        config = settings(tmp_path, smtp_port=port, webhook=True)
        notifier = Notifier(config, history)
        run_id = history.start_run("import", "timer")
        for n in range(60):
            notifier.problem(
                f"order-failed:o{n}#1", f"ORD-{n} not imported", f"why {n}", run_id=run_id
            )
        notifier.problem("remote-down:zedonk", "Zedonk unreachable", "refused")
        notifier.resolved("remote-down:zedonk", run_id=run_id)
        clock = Clock()
        drains = drainer(config, history, clock)
        drains.round("webhook")
        assert hook.posts == []  # the pass is still running: it may owe more
        history.finish_run(run_id, "partial")
        drains.round("webhook")
        drains.round("email")
    [post] = hook.posts
    [mail] = inbox.messages
    assert post["event"] == "digest" and post["key"] is None
    assert post["title"] == "61 problems, 1 resolved"
    assert len(post["notices"]) == 20 and post["more"] == 42
    assert [n["title"] for n in post["notices"][:2]] == ["ORD-0 not imported", "ORD-1 not imported"]
    assert "... and 41 more" in post["details"] and "1 not listed here" in post["details"]
    assert "\u2026 and 41 more" in post["text"]
    assert mail["Subject"] == "[zedonk-ordre] 61 problems, 1 resolved"
    body = mail.get_payload()
    assert "ORD-19 not imported" in body and "ORD-20 not imported" not in body
    assert f"digest id: {post['id']}" not in body  # each channel makes its own digest
    assert mail["X-Zedonk-Ordre-Id"] in body


def test_a_slow_webhook_gets_the_same_delivery_again_with_the_same_id(
    tmp_path: Path, hook: Hook
) -> None:
    """At least once: an answer that comes after the deadline counts as not sent, and the
    retry carries the same id and body, so the receiver can drop it."""
    hook.delay = 3.0
    with History.open(tmp_path / "state") as history:
        config = settings(tmp_path, webhook=True)
        for n in range(3):
            Notifier(config, history).problem(f"order-failed:o{n}#1", f"ORD-{n} failed", "d")
        clock = Clock()
        drains = drainer(config, history, clock, deadline=1.0)
        started = time.monotonic()
        first = drains.round("webhook", group_now=True)
        assert time.monotonic() - started < 2.5  # the deadline, not the receiver, ended it
        assert first.error is not None and "no answer in time" in first.error
        assert first.waiting == 3  # notices
        assert drains.round("webhook").sent == 0  # backing off: not again at once
        hook.delay = 0.0
        clock.advance(RETRY_BASE)
        assert drains.round("webhook").sent == 1
        [event] = history.events(level="warning")
        assert event["code"] == "notification-failed"
        assert "digest of 3 notices" in event["message"] and "next try in 15s" in event["message"]
    (headers1, body1), (headers2, body2) = hook.received
    assert headers1["X-Zedonk-Ordre-Id"] == headers2["X-Zedonk-Ordre-Id"] == hook.posts[0]["id"]
    assert body1 == body2


def test_a_failing_channel_backs_off_alone_and_keeps_its_order(
    tmp_path: Path, smtp: tuple[int, Inbox], hook: Hook
) -> None:
    port, inbox = smtp
    hook.status = 500
    with History.open(tmp_path / "state") as history:
        config = settings(tmp_path, smtp_port=port, webhook=True)
        notifier = Notifier(config, history)
        clock = Clock()
        drains = drainer(config, history, clock)
        notifier.problem("a", "first", "d")
        assert drains.round("webhook", group_now=True).error == "webhook: HTTP 500"
        assert drains.round("email", group_now=True).sent == 1  # the other channel goes on
        notifier.problem("b", "second", "d")
        hook.status = 204
        behind = drains.round("webhook", group_now=True)
        assert (behind.sent, behind.waiting) == (0, 2)  # "second" waits behind "first"
        assert drains.round("email", group_now=True).sent == 1
        clock.advance(RETRY_BASE)
        assert drains.round("webhook").sent == 2
    assert [p["title"] for p in hook.posts] == ["first", "first", "second"]
    assert len(inbox.messages) == 2


def test_what_is_owed_while_a_channel_fails_goes_out_as_one_digest_once_it_works(
    tmp_path: Path, hook: Hook
) -> None:
    hook.status = 500
    with History.open(tmp_path / "state") as history:
        config = settings(tmp_path, webhook=True)
        notifier = Notifier(config, history)
        clock = Clock()
        drains = drainer(config, history, clock)
        notifier.problem("remote-down:zedonk", "Zedonk unreachable", "refused")
        drains.round("webhook")
        for n in range(3):  # three passes while the webhook fails, one problem each
            run_id = history.start_run("import", "timer")
            notifier.problem(f"order-failed:o{n}#1", f"ORD-{n} failed", "d", run_id=run_id)
            history.finish_run(run_id, "partial")
            assert drains.round("webhook").waiting == 1 + n + 1
        hook.status = 204
        clock.advance(RETRY_BASE)
        done = drains.round("webhook")
        assert (done.sent, done.waiting) == (2, 0)
    assert [p["event"] for p in hook.posts] == ["problem", "problem", "digest"]
    assert [n["key"] for n in hook.posts[2]["notices"]] == [
        f"order-failed:o{n}#1" for n in range(3)
    ]


def test_a_delivery_failing_for_days_is_given_up_and_recorded(tmp_path: Path, hook: Hook) -> None:
    hook.status = 503
    with History.open(tmp_path / "state") as history:
        config = settings(tmp_path, webhook=True)
        Notifier(config, history).problem("order-failed:o1#1", "ORD-1 failed", "d")
        clock = Clock()
        drains = drainer(config, history, clock)
        drains.round("webhook", group_now=True)
        clock.advance(RETRY_FOR.total_seconds() + 1)
        assert drains.round("webhook").waiting == 0
        [expired] = history.events(level="error")
        assert (
            expired["code"] == "notification-expired" and expired["subject"] == "order-failed:o1#1"
        )
        assert "HTTP 503" in expired["message"]
    assert len(hook.posts) == 1


def test_no_recovery_notice_for_a_problem_never_announced(tmp_path: Path) -> None:
    with History.open(tmp_path / "state") as history:
        notifier = Notifier(settings(tmp_path), history)  # no channel configured
        notifier.problem("k", "t", "d")
        assert [p["key"] for p in notifier.open_problems()] == ["k"]
        notifier.resolved("k")
        assert notifier.open_problems() == []
        assert history.query("SELECT * FROM outbox") == []
        assert history.events(level="warning") == []


def test_notices_owed_with_no_channel_are_not_sent_once_one_is_set(
    tmp_path: Path, hook: Hook
) -> None:
    with History.open(tmp_path / "state") as history:
        Notifier(settings(tmp_path), history).problem("old", "from before the webhook", "d")
        config = settings(tmp_path, webhook=True)
        Notifier(config, history).problem("new", "after", "d")
        send(config, history)
    assert [p["key"] for p in hook.posts] == ["new"]


def test_an_unset_webhook_secret_is_recorded_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_WEBHOOK_URL", raising=False)
    with History.open(tmp_path / "state") as history:
        config = settings(tmp_path, webhook=True)
        Notifier(config, history).problem("k", "t", "d")
        [done] = send(config, history).values()
        assert done.error is not None and "TEST_WEBHOOK_URL" in done.error
        [event] = history.events(subject="k")
        assert "TEST_WEBHOOK_URL" in event["message"]


def test_a_recovery_notice_that_failed_is_sent_later_on_that_channel_only(
    tmp_path: Path, smtp: tuple[int, Inbox], hook: Hook
) -> None:
    port, inbox = smtp
    with History.open(tmp_path / "state") as history:
        config = settings(tmp_path, smtp_port=port, webhook=True)
        notifier = Notifier(config, history)
        clock = Clock()
        notifier.problem("remote-down:zedonk", "Zedonk unreachable", "connect refused")
        send(config, history, clock)
        hook.status = 500
        notifier.resolved("remote-down:zedonk")  # the mail goes out, the webhook fails
        send(config, history, clock)
        assert len(inbox.messages) == 2 and len(hook.posts) == 2

        hook.status = 200
        clock.advance(RETRY_BASE)
        send(config, history, clock)
        send(config, history, clock)  # sent: not again
        assert [p["event"] for p in hook.posts] == ["problem", "resolved", "resolved"]
        assert len(inbox.messages) == 2  # the mail was not sent twice


def test_a_digest_has_room_for_a_header_above_the_notices() -> None:
    notices = [
        Notice(f"n{n}", f"order-failed:o{n}#1", "problem", f"ORD-{n} failed", "why", "t")
        for n in range(2)
    ]
    header = [Section("Waiting for a person (1)", ("- ORD-9: two Zedonk orders carry it",))]
    text = digest_text(compose("d1", notices, host="h", at="t", header=header))
    assert text.index("Waiting for a person (1):") < text.index("Problems (2):")
    assert "- ORD-9: two Zedonk orders carry it" in text


# --------------------------------------------------------------------------- webhook identity


def test_a_webhook_notice_is_signed_timestamped_and_says_who_sent_it(
    tmp_path: Path, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_KEY", "whsec_5f2b9c0d8e7a")
    signing = TokenRef(env="TEST_WEBHOOK_KEY", kind="key")
    with History.open(tmp_path / "state") as history:
        config = settings(tmp_path, webhook=True, signing=signing)
        Notifier(config, history).problem("order-failed:o1#1", "ORD-1 not imported", "no lines")
        send(config, history)
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
        config = settings(tmp_path, webhook=True)
        Notifier(config, history).problem("k", "t", "d")
        send(config, history)
    [(headers, _)] = hook.received
    assert "X-Zedonk-Ordre-Signature" not in headers and "X-Zedonk-Ordre-Timestamp" in headers


def test_retailer_text_cannot_mention_a_channel_or_disguise_a_link(
    tmp_path: Path, hook: Hook
) -> None:
    po = "PO <!channel> <https://evil.example|Open invoice> @here & co"
    with History.open(tmp_path / "state") as history:
        config = settings(tmp_path, webhook=True)
        Notifier(config, history).problem("k", f"{po} failed", po)
        send(config, history)
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
        config = settings(tmp_path, smtp_port=port)
        Notifier(config, history).problem("k", "PO 12\nBcc: someone@else.example", "d")
        send(config, history)
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
            config = settings(tmp_path, email=email)
            Notifier(config, history).problem("k", "t", "d")
            send(config, history)
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
            config = settings(tmp_path, email=mail_settings(port))
            Notifier(config, history).problem("k", "t", "d")
            send(config, history)
            [event] = history.events(subject="k")
    finally:
        controller.stop()
    assert inbox.logins == [] and inbox.messages == []
    assert "without TLS" in event["message"]
