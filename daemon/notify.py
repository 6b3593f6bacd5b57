"""Error notices by e-mail (SMTP) and webhook, sent once per problem, with a recovery notice.

A problem has a stable key (``order-failed:ord_000003#2``, ``remote-down:zedonk``, ...).
``problem()`` sends a notice the first time a key opens and stays quiet while it stays open,
however often the poll meets it again; ``resolved()`` closes it and sends a recovery notice
when the problem had been announced. The state lives in the history (``notifications``), so a
restart does not repeat a notice either.

A channel that fails is retried the next time the same problem is met; a failure to notify is
recorded in the history and never breaks the caller.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import httpx

from daemon.config import EmailSettings, Settings, WebhookSettings
from daemon.errors import ZedonkOrdreError
from daemon.history import History, utcnow

log = logging.getLogger("daemon.notify")

SEND_TIMEOUT = 10.0  # seconds, per channel
CHANNELS = ("email", "webhook")


class NotifyError(ZedonkOrdreError):
    """A notice could not be delivered on one channel."""


class Notifier:
    """Sends the notices of one connector; safe to share between threads."""

    def __init__(self, settings: Settings, history: History) -> None:
        self.email: EmailSettings | None = settings.email
        self.webhook: WebhookSettings | None = settings.webhook
        self.history = history
        self.host = socket.gethostname()

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(
            name
            for name, configured in zip(CHANNELS, (self.email, self.webhook), strict=True)
            if configured is not None
        )

    def problem(self, key: str, title: str, details: str) -> None:
        """Announce ``key`` once while it is open; later calls only count it."""
        now = utcnow()
        with self.history.transaction() as conn:
            row = conn.execute("SELECT * FROM notifications WHERE key = ?", (key,)).fetchone()
            if row is None or row["state"] == "resolved":
                conn.execute(
                    "INSERT INTO notifications (key, title, details, state, opened_at,"
                    " last_seen_at) VALUES (?, ?, ?, 'open', ?, ?) ON CONFLICT(key) DO UPDATE SET"
                    " title = excluded.title, details = excluded.details, state = 'open',"
                    " opened_at = excluded.opened_at, last_seen_at = excluded.last_seen_at,"
                    " seen_count = 1, email_sent_at = NULL, webhook_sent_at = NULL,"
                    " resolved_at = NULL, recovery_sent_at = NULL",
                    (key, title, details, now, now),
                )
                pending = self.channels
            else:
                conn.execute(
                    "UPDATE notifications SET last_seen_at = ?, seen_count = seen_count + 1"
                    " WHERE key = ?",
                    (now, key),
                )
                pending = tuple(c for c in self.channels if row[f"{c}_sent_at"] is None)
        if pending:
            self._deliver(key, "problem", title, details, pending)

    def resolved(self, key: str) -> None:
        """Close ``key``; send a recovery notice if its problem had been announced."""
        with self.history.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM notifications WHERE key = ? AND state = 'open'", (key,)
            ).fetchone()
            if row is None:
                return
            conn.execute(
                "UPDATE notifications SET state = 'resolved', resolved_at = ? WHERE key = ?",
                (utcnow(), key),
            )
        announced = tuple(c for c in self.channels if row[f"{c}_sent_at"] is not None)
        if announced:
            details = f"Resolved: {row['title']}\n\nThe problem was:\n{row['details']}"
            self._deliver(key, "resolved", row["title"], details, announced)

    def open_problems(self) -> list[dict[str, Any]]:
        """Problems not resolved yet, oldest first (for ``status`` and the activity page)."""
        return self.history.query(
            "SELECT * FROM notifications WHERE state = 'open' ORDER BY opened_at"
        )

    # ------------------------------------------------------------------ delivery

    def _deliver(
        self, key: str, event: str, title: str, details: str, channels: tuple[str, ...]
    ) -> None:
        for channel in channels:
            try:
                if channel == "email":
                    self._send_email(key, event, title, details)
                else:
                    self._send_webhook(key, event, title, details)
            except ZedonkOrdreError as exc:  # NotifyError, or a secret that cannot be read
                log.warning("%s notice for %s not sent by %s: %s", event, key, channel, exc)
                self.history.record_event(
                    "warning",
                    "notification-failed",
                    f"the {event} notice for {key} was not sent by {channel}: {exc.message}",
                    subject=key,
                    details={"channel": channel, "event": event},
                )
                continue
            column = f"{channel}_sent_at" if event == "problem" else "recovery_sent_at"
            with self.history.transaction() as conn:
                conn.execute(
                    f"UPDATE notifications SET {column} = ? WHERE key = ?", (utcnow(), key)
                )

    def _send_email(self, key: str, event: str, title: str, details: str) -> None:
        settings = self.email
        assert settings is not None
        message = EmailMessage()
        label = "problem" if event == "problem" else "resolved"
        message["Subject"] = f"[zedonk-ordre] {label}: {title}"
        message["From"] = settings.sender
        message["To"] = ", ".join(settings.recipients)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.host)
        message["X-Zedonk-Ordre-Key"] = key
        message.set_content(f"{details}\n\n--\nzedonk-ordre on {self.host}\nproblem key: {key}\n")
        try:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SEND_TIMEOUT) as smtp:
                if settings.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.username and settings.password is not None:
                    smtp.login(settings.username, settings.password.resolve())
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(
                f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(exc).__name__}: {exc}"
            ) from None

    def _send_webhook(self, key: str, event: str, title: str, details: str) -> None:
        settings = self.webhook
        assert settings is not None
        url = settings.url.resolve()  # it carries a secret: never logged or recorded
        label = "problem" if event == "problem" else "resolved"
        payload = {
            "source": "zedonk-ordre",
            "event": event,
            "key": key,
            "title": title,
            "details": details,
            "host": self.host,
            "at": utcnow(),
            "text": f"zedonk-ordre {label}: {title}\n{details}",  # what chat webhooks show
        }
        try:
            response = httpx.post(url, json=payload, timeout=SEND_TIMEOUT, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise NotifyError(f"webhook: {type(exc).__name__}") from None
        if not 200 <= response.status_code < 300:
            raise NotifyError(f"webhook: HTTP {response.status_code}")
