"""Sending one delivery on one channel: e-mail over SMTP, or a webhook POST.

Each attempt ends within ``deadline`` seconds, however slowly the server answers, and raises
``NotifyError`` (never the URL, which carries a secret) when the channel did not take it.

E-mail logs in only over TLS (implicit, or STARTTLS). A webhook notice says who sent it and
what it is: ``User-Agent: zedonk-ordre/<version>``, ``X-Zedonk-Ordre-Id`` (the delivery's
stable id, also the body's ``id``), an ``X-Zedonk-Ordre-Timestamp`` and, with a signing
secret, an HMAC-SHA256 ``X-Zedonk-Ordre-Signature`` over ``timestamp + "." + body``
(docs/service.md shows a receiver's check).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import smtplib
import socket
import ssl
import threading
import time
from contextvars import ContextVar
from email.message import EmailMessage
from email.utils import formatdate

import httpx

from daemon import __version__, redact
from daemon.clients.transport import post_once
from daemon.errors import ZedonkOrdreError
from daemon.tree.settings import EmailSettings, WebhookSettings

SEND_TIMEOUT = 10.0  # seconds for a connect, and for each read or write
ID_HEADER = "X-Zedonk-Ordre-Id"  # the delivery's id: the same on every attempt
SIGNATURE_HEADER = "X-Zedonk-Ordre-Signature"  # "sha256=" + hex HMAC of timestamp "." body
TIMESTAMP_HEADER = "X-Zedonk-Ordre-Timestamp"  # Unix seconds when the notice was sent


class NotifyError(ZedonkOrdreError):
    """A delivery could not be sent on one channel."""


def sign(key: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256, keyed with ``key``,
    of ``timestamp``, a dot and the body's bytes as sent."""
    digest = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def send_webhook(
    settings: WebhookSettings, delivery_id: str, payload: str, *, deadline: float
) -> None:
    """POST ``payload`` (the JSON body as stored) to the webhook once. Raises NotifyError, and
    ConfigError when the URL or the signing secret cannot be read."""
    url = settings.url.resolve()  # it carries a secret: never logged or recorded
    body = payload.encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"zedonk-ordre/{__version__}",
        ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: timestamp,
    }
    if settings.secret is not None:
        headers[SIGNATURE_HEADER] = sign(settings.secret.resolve(), timestamp, body)
    try:
        status = post_once(url, body, headers, timeout=SEND_TIMEOUT, deadline=deadline)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # the URL is checked at start, too
        raise NotifyError(f"webhook: {_why(exc)}") from None
    if not 200 <= status < 300:
        raise NotifyError(f"webhook: HTTP {status}")


def _why(exc: Exception) -> str:
    """The kind of failure, without the URL that httpx's messages may quote."""
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer in time ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError) and "CERTIFICATE" in str(exc).upper():
        return "the server's TLS certificate was refused (ConnectError)"
    return type(exc).__name__


def send_email(settings: EmailSettings, payload: str, *, deadline: float) -> None:
    """Send the e-mail ``payload`` (subject, body and Message-ID, as stored) once. Raises
    NotifyError, and ConfigError when the password cannot be read."""
    stored = json.loads(payload)
    message = EmailMessage()
    message["Subject"] = stored["subject"]
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = stored["message_id"]
    message[ID_HEADER] = stored["message_id"].strip("<>").partition("@")[0]
    if stored.get("key"):
        message["X-Zedonk-Ordre-Key"] = stored["key"]
    message.set_content(stored["body"])
    logs_in = bool(settings.username and settings.password is not None)
    if logs_in and not (settings.tls or settings.starttls):
        raise NotifyError(
            "SMTP: not sending the password over a connection without TLS",
            hint="set tls: true or starttls: true under notifications.email",
        )
    server, port = settings.smtp_host, settings.smtp_port
    context = ssl.create_default_context()  # trusts the system's CAs, or $SSL_CERT_FILE
    cutoff = _Cutoff(deadline)
    token = _CUTOFF.set(cutoff)
    try:
        smtp: smtplib.SMTP = (
            _SMTPOverTLS(server, port, timeout=SEND_TIMEOUT, context=context)
            if settings.tls
            else _SMTP(server, port, timeout=SEND_TIMEOUT)
        )
        with smtp:
            if settings.starttls:
                smtp.starttls(context=context)
            if logs_in:
                assert settings.username is not None and settings.password is not None
                smtp.login(settings.username, settings.password.resolve())
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        what = "no answer in time" if cutoff.expired else type(exc).__name__
        raise NotifyError(f"SMTP {server}:{port}: {what}: {redact.redact(str(exc))}") from None
    finally:
        cutoff.cancel()
        _CUTOFF.reset(token)


class _Cutoff:
    """Shuts down the sockets an SMTP attempt opens once ``seconds`` have passed: smtplib's
    timeout bounds each read alone, so a server that answers a byte at a time could hold the
    channel for ever."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._shut(sock)
        return sock

    def cancel(self) -> None:
        self._timer.cancel()

    def _cut(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):  # closed already
            sock.shutdown(socket.SHUT_RDWR)


_CUTOFF: ContextVar[_Cutoff | None] = ContextVar("smtp_cutoff", default=None)


def _watched(sock: socket.socket) -> socket.socket:
    cutoff = _CUTOFF.get()
    return sock if cutoff is None else cutoff.watch(sock)


# smtplib opens its socket in ``_get_socket``, the one hook it has for it (typeshed leaves the
# method out, hence the ignores).
class _SMTP(smtplib.SMTP):
    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return _watched(super()._get_socket(host, port, timeout))  # type: ignore[misc]


class _SMTPOverTLS(smtplib.SMTP_SSL):
    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return _watched(super()._get_socket(host, port, timeout))  # type: ignore[misc]
