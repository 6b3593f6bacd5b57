"""Notices through a real SMTP server (aiosmtpd) and a real webhook server, both on loopback."""

from __future__ import annotations

import email
import json
import socket
import threading
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from daemon.notify import Notifier
from daemon.store.history import History
from daemon.tree.settings import (
    CatalogueSettings,
    DaemonSettings,
    EmailSettings,
    ImportSettings,
    RemoteSettings,
    Settings,
    TokenRef,
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
        self.status = 204
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                hook.posts.append(json.loads(self.rfile.read(length)))
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


def settings(tmp_path: Path, *, smtp_port: int | None = None, webhook: bool = False) -> Settings:
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
        email=None
        if smtp_port is None
        else EmailSettings(
            "127.0.0.1", smtp_port, False, "connector@brand.example", ("ops@brand.example",)
        ),
        webhook=WebhookSettings(TokenRef(env="TEST_WEBHOOK_URL")) if webhook else None,
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
