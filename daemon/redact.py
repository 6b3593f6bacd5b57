"""Secrets never leave the process: the one redaction every text output goes through.

A secret enters the process in one place, ``TokenRef.resolve`` (daemon/tree/settings.py),
which registers it here. From then on ``redact(text)`` replaces it with ``***`` in any form
it may take on the way out: as written, Python-repr-escaped (``b'Bearer abc\\n'``, as
exceptions show header values), JSON-escaped, URL-encoded, HTML-escaped, and without the
whitespace around it. The places that write text out call it: the log handlers (through
``RedactingFilter``), the history's connection (every parameter it writes), the operations
console and /healthz, the notices, and the command line's printer and error renderer.

A webhook URL is registered whole, with its path and query and any password, since a
webhook's secret usually sits in one of them.

The registry is per process and safe to use from any thread. Secrets shorter than
``MIN_LENGTH`` characters are not registered: replacing them would garble every message
while protecting nothing.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

MASK = "***"
MIN_LENGTH = 4

_lock = threading.Lock()
_forms: set[str] = set()
_pattern: re.Pattern[str] | None = None


def _encodings(secret: str) -> set[str]:
    """Every form in which ``secret`` may appear in a message or a document."""
    forms = {
        secret,
        repr(secret)[1:-1],
        repr(secret.encode("utf-8"))[2:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        html.escape(secret),
        html.escape(secret, quote=False),
    }
    with contextlib.suppress(UnicodeEncodeError):
        forms.add(repr(secret.encode("latin-1"))[2:-1])
    return forms


def register(secret: str) -> None:
    """Redact ``secret`` (and the secret inside any whitespace around it) from now on."""
    candidates = {secret, secret.strip()}
    forms = set()
    for candidate in candidates:
        if len(candidate) >= MIN_LENGTH:
            forms |= {f for f in _encodings(candidate) if len(f) >= MIN_LENGTH}
    _add(forms)


def register_url(url: str) -> None:
    """Redact a URL that carries a secret: the whole URL, its path and query, any password."""
    register(url)
    try:
        parts = urlsplit(url.strip())
        password = parts.password
    except ValueError:  # not a URL: the whole text is registered already
        return
    path_and_query = parts.path + (f"?{parts.query}" if parts.query else "")
    for part in (path_and_query, parts.path, parts.query, password or ""):
        if part.strip("/"):
            register(part)


def _add(forms: set[str]) -> None:
    global _pattern
    with _lock:
        if forms <= _forms:
            return
        _forms.update(forms)
        # Longest first, so a secret's escaped form wins over a shorter form inside it.
        ordered = sorted(_forms, key=lambda f: (-len(f), f))
        _pattern = re.compile("|".join(re.escape(f) for f in ordered))


def forget_all() -> None:
    """Drop every registered secret (for tests that check one secret at a time)."""
    global _pattern
    with _lock:
        _forms.clear()
        _pattern = None


def active() -> bool:
    """Whether any secret is registered (when none is, there is nothing to redact)."""
    return _pattern is not None


def redact(text: str) -> str:
    """``text`` with every registered secret, in every known form, replaced by ``***``."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def redact_data(value: Any) -> Any:
    """A JSON-like document (dicts, lists, strings) with every string redacted."""
    if _pattern is None:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_data(k): redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """Redacts a log record's message and traceback before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: let the handler report it as it would
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


# Libraries that log request URLs: a webhook URL carries its secret in them.
QUIET_LOGGERS = ("httpx", "httpcore", "watchdog")


def secure_logging() -> None:
    """Redact every record on the root logger's handlers; keep request-URL loggers quiet.

    Called after each logging set-up, by the command line and by the daemon (and its
    passes' child processes)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
