"""Error notices by e-mail (SMTP) and webhook, sent once per problem, with a recovery notice.

A problem has a stable key (``order-failed:ord_000003#2``, ``remote-down:zedonk``, ...).
``problem()`` sends a notice the first time a key opens and stays quiet while it stays open,
however often the poll meets it again; ``resolved()`` closes it and sends a recovery notice
when the problem had been announced. The state lives in the history (``notifications``), so a
restart does not repeat a notice either.

A channel that fails is retried the next time the same problem is met (a recovery notice by
``send_owed_recoveries()``); a failure to notify is recorded in the history and never breaks
the caller. ``owe()`` records a notice inside the caller's transaction, so that it is not lost
if the process dies between that commit and ``send_owed()``.

No secret reaches a notice (every text passes ``daemon.redact``). E-mail logs in only over
TLS (implicit, or STARTTLS). A webhook notice says who sent it: ``User-Agent:
zedonk-ordre/<version>``, an ``X-Zedonk-Ordre-Timestamp`` and, with a signing secret, an
HMAC-SHA256 ``X-Zedonk-Ordre-Signature`` over ``timestamp + "." + body`` (docs/service.md
shows a receiver's check). Its ``text``, which chat services display, is escaped by Slack's
rules, since titles and details carry retailers' text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import smtplib
import socket
import sqlite3
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import httpx

from daemon import __version__, redact
from daemon.core.words import printable
from daemon.errors import ZedonkOrdreError
from daemon.store.history import History, utcnow
from daemon.tree.settings import EmailSettings, Settings, WebhookSettings

log = logging.getLogger(__name__)

SEND_TIMEOUT = 10.0  # seconds, per channel
CHANNELS = ("email", "webhook")
SIGNATURE_HEADER = "X-Zedonk-Ordre-Signature"  # "sha256=" + hex HMAC of timestamp "." body
TIMESTAMP_HEADER = "X-Zedonk-Ordre-Timestamp"  # Unix seconds when the notice was sent
_MENTION = re.compile(r"@(channel|here|all|everyone)\b", re.IGNORECASE)


def chat_text(text: str) -> str:
    """``text`` safe for a chat channel's incoming webhook (Slack, and those that read
    Slack's payload: Mattermost, Rocket.Chat): ``&``, ``<`` and ``>`` become entities, as
    Slack's message formatting rules ask, so that a retailer's PO cannot mention a channel
    (``<!channel>``) or disguise a link (``<https://...|label>``); bare ``@channel``,
    ``@here``, ``@all`` and ``@everyone`` get a zero-width space after the ``@`` so that
    chats reading them bare notify no one; control characters are shown escaped."""
    text = printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub("@\u200b\\1", text)


def sign(key: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256, keyed with ``key``,
    of ``timestamp``, a dot and the body's bytes as sent."""
    digest = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def _subject_line(text: str) -> str:
    """One line for a Subject header: line breaks in a title (from a PO, say) would end it."""
    return printable(" ".join(text.split()))


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
        with self.history.transaction() as conn:
            self.owe(conn, key, title, details)
        self.send_owed(key)

    def owe(self, conn: sqlite3.Connection, key: str, title: str, details: str) -> None:
        """``problem()``'s record alone, inside the caller's transaction: the notice is owed
        from the moment the change it reports commits, so a crash before ``send_owed(key)``
        leaves it for the next ``send_owed`` rather than losing it."""
        now = utcnow()
        row = conn.execute("SELECT state FROM notifications WHERE key = ?", (key,)).fetchone()
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
        else:
            conn.execute(
                "UPDATE notifications SET last_seen_at = ?, seen_count = seen_count + 1"
                " WHERE key = ?",
                (now, key),
            )

    def send_owed(self, key: str) -> None:
        """Send the notice of open problem ``key`` on every channel that has not sent it."""
        rows = self.history.query(
            "SELECT * FROM notifications WHERE key = ? AND state = 'open'", (key,)
        )
        if not rows:
            return
        row = rows[0]
        pending = tuple(c for c in self.channels if row[f"{c}_sent_at"] is None)
        if pending:
            self._deliver(key, "problem", row["title"], row["details"], pending)

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
        self._send_recovery(row)

    def send_owed_recoveries(self) -> None:
        """Send the recovery notices a channel failed to send before, oldest first; stop at
        the first that still fails (try again later, not once per problem)."""
        owed = self.history.query(
            "SELECT * FROM notifications WHERE state = 'resolved' AND recovery_sent_at IS NULL"
            " AND (email_sent_at IS NOT NULL OR webhook_sent_at IS NOT NULL)"
            " ORDER BY resolved_at"
        )
        for row in owed:
            if not self._send_recovery(row):
                return

    def _send_recovery(self, row: dict[str, Any]) -> bool:
        """The recovery notice on every channel that announced the problem and has not sent
        it yet (for a resolved problem, a channel's ``*_sent_at`` is cleared once it has).
        True when none is owed any more."""
        announced = tuple(c for c in self.channels if row[f"{c}_sent_at"] is not None)
        if not announced:
            return True
        details = f"Resolved: {row['title']}\n\nThe problem was:\n{row['details']}"
        return self._deliver(row["key"], "resolved", row["title"], details, announced)

    def unsent(self, key: str) -> tuple[str, ...]:
        """The channels that have not sent the notice of problem ``key`` (which must exist)."""
        [row] = self.history.query("SELECT * FROM notifications WHERE key = ?", (key,))
        return tuple(c for c in self.channels if row[f"{c}_sent_at"] is None)

    def open_problems(self) -> list[dict[str, Any]]:
        """Problems not resolved yet, oldest first (for ``status`` and the activity page)."""
        return self.history.query(
            "SELECT * FROM notifications WHERE state = 'open' ORDER BY opened_at"
        )

    # ------------------------------------------------------------------ delivery

    def _deliver(
        self, key: str, event: str, title: str, details: str, channels: tuple[str, ...]
    ) -> bool:
        """Send on each channel; True when every one of them sent it."""
        title, details = redact.redact(title), redact.redact(details)
        sent = True
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
                sent = False
                continue
            with self.history.transaction() as conn:
                if event == "problem":
                    conn.execute(
                        f"UPDATE notifications SET {channel}_sent_at = ? WHERE key = ?",
                        (utcnow(), key),
                    )
                else:  # no recovery owed on this channel any more; all sent: done
                    conn.execute(
                        f"UPDATE notifications SET {channel}_sent_at = NULL WHERE key = ?", (key,)
                    )
                    conn.execute(
                        "UPDATE notifications SET recovery_sent_at = ? WHERE key = ? AND"
                        " email_sent_at IS NULL AND webhook_sent_at IS NULL",
                        (utcnow(), key),
                    )
        return sent

    def _send_email(self, key: str, event: str, title: str, details: str) -> None:
        settings = self.email
        assert settings is not None
        message = EmailMessage()
        label = "problem" if event == "problem" else "resolved"
        message["Subject"] = _subject_line(f"[zedonk-ordre] {label}: {title}")
        message["From"] = settings.sender
        message["To"] = ", ".join(settings.recipients)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.host)
        message["X-Zedonk-Ordre-Key"] = _subject_line(key)
        message.set_content(f"{details}\n\n--\nzedonk-ordre on {self.host}\nproblem key: {key}\n")
        logs_in = bool(settings.username and settings.password is not None)
        if logs_in and not (settings.tls or settings.starttls):
            raise NotifyError(
                "SMTP: not sending the password over a connection without TLS",
                hint="set tls: true or starttls: true under notifications.email",
            )
        host, port = settings.smtp_host, settings.smtp_port
        context = ssl.create_default_context()  # trusts the system's CAs, or $SSL_CERT_FILE
        try:
            smtp = (
                smtplib.SMTP_SSL(host, port, timeout=SEND_TIMEOUT, context=context)
                if settings.tls
                else smtplib.SMTP(host, port, timeout=SEND_TIMEOUT)
            )
            with smtp:
                if settings.starttls:
                    smtp.starttls(context=context)
                if logs_in:
                    assert settings.username is not None and settings.password is not None
                    smtp.login(settings.username, settings.password.resolve())
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(
                f"SMTP {host}:{port}: {type(exc).__name__}: {redact.redact(str(exc))}"
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
            # What chat webhooks show, escaped for them; the fields above are raw data.
            "text": chat_text(f"zedonk-ordre {label}: {title}\n{details}"),
        }
        body = json.dumps(payload).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"zedonk-ordre/{__version__}",
            TIMESTAMP_HEADER: timestamp,
        }
        if settings.secret is not None:
            headers[SIGNATURE_HEADER] = sign(settings.secret.resolve(), timestamp, body)
        try:
            response = httpx.post(
                url, content=body, headers=headers, timeout=SEND_TIMEOUT, follow_redirects=False
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # the URL is checked at start, too
            raise NotifyError(f"webhook: {type(exc).__name__}") from None
        if not 200 <= response.status_code < 300:
            raise NotifyError(f"webhook: HTTP {response.status_code}")
