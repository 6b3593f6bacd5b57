"""Secrets named in connector.yaml: where each lives, how it is read, and what it may hold.

A secret is never written in connector.yaml: a setting names an environment variable or a
systemd credential (``TokenRef``), read only when a command needs it. Reading one registers it
with ``daemon.redact``, so no output shows it in any encoded form; a value holding what its
kind may not (a line break pasted with a token) is refused with a message that names where
it came from and never repeats it. ``validate`` reports literal secrets in the file and the
secrets that are set but malformed.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from daemon import redact
from daemon.core.findings import Finding, PathPart
from daemon.errors import ConfigError
from daemon.tree.yamlload import Document

if TYPE_CHECKING:
    from daemon.tree.settings import Settings

_SECRET_PATHS: tuple[tuple[str, ...], ...] = (
    ("zedonk", "token"),
    ("ordre", "token"),
    ("notifications", "email", "password"),
    ("notifications", "webhook", "url"),
    ("notifications", "webhook", "secret"),
)
_SECRET_KEYS = frozenset({"token", "password", "passwd", "secret", "api_key", "apikey"})
_SECRET_TEXT = re.compile(
    r"(?i:bearer|basic|token)\s+\S{8,}"  # an Authorization header value
    r"|(?:ghp_|gho_|github_pat_|sk_live_|sk_test_|xox[abp]-|glpat-)\S+"  # well-known prefixes
    r"|AKIA[0-9A-Z]{16}"
    r"|eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*"  # a JWT
)
_OPAQUE = re.compile(r"[A-Za-z0-9_\-+/=.~]{32,}")

SecretKind = Literal["token", "password", "url", "key"]


@dataclass(frozen=True)
class TokenRef:
    """Where a secret lives: an environment variable or a systemd credential. Never the value.

    ``kind`` says what the secret is, and so which characters it may hold: a ``token`` (an
    API bearer token) or a ``key`` (the webhook signing key) is printable ASCII without
    spaces; a ``password`` is ASCII without control characters or surrounding spaces; a
    ``url`` is an http(s) URL without spaces or control characters.
    """

    env: str | None = None
    credential: str | None = None
    kind: SecretKind = field(default="token", compare=False)

    def __str__(self) -> str:
        if self.env is not None:
            return f"environment variable {self.env}"
        return f"systemd credential {self.credential}"

    def is_set(self) -> bool:
        """Whether the variable is set, or the credential file exists (it may still be bad)."""
        if self.env is not None:
            return bool(os.environ.get(self.env))
        directory = os.environ.get("CREDENTIALS_DIRECTORY", "")
        return bool(directory) and (Path(directory) / str(self.credential)).exists()

    def resolve(self) -> str:
        """The secret itself, registered with ``daemon.redact`` so that no output shows it.

        Raises ConfigError (naming the source, never the value) when it is unset, empty, or
        holds what its kind may not: a line break or space pasted along with a token is
        refused here rather than sent in a header. A credential file's one final line
        break is not part of the secret.
        """
        value = self._read()
        redact.register_url(value) if self.kind == "url" else redact.register(value)
        problem = secret_problem(value, self.kind)
        if problem is not None:
            raise ConfigError(f"the {self} {problem}", hint=self._hint())
        return value

    def _read(self) -> str:
        if self.env is not None:
            value = os.environ.get(self.env, "")
            if not value:
                raise ConfigError(
                    f"the environment variable {self.env} is not set",
                    hint=f"export {self.env}=... before starting zedonk-ordre, "
                    "or use {credential: NAME} with systemd's LoadCredential=",
                )
            return value
        assert self.credential is not None
        directory = os.environ.get("CREDENTIALS_DIRECTORY", "")
        if not directory:
            raise ConfigError(
                f"the systemd credential {self.credential} is not available "
                "($CREDENTIALS_DIRECTORY is not set)",
                hint=f"add LoadCredential={self.credential}:/path/to/secret to the service unit, "
                "or use {env: NAME} outside systemd",
            )
        path = Path(directory) / self.credential
        try:
            value = path.read_bytes().decode("utf-8").removesuffix("\n")  # a CR stays
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
            raise ConfigError(
                f"cannot read the systemd credential {self.credential}: {reason}",
                hint=f"check LoadCredential={self.credential}:... in the service unit",
            ) from None
        if not value:
            raise ConfigError(
                f"the systemd credential {self.credential} is empty",
                hint="put the secret in the file that LoadCredential= names",
            )
        return value

    def _hint(self) -> str:
        what = {"token": "token", "key": "key", "password": "password", "url": "URL"}[self.kind]
        if self.env is not None:
            return (
                f"set {self.env} again to the {what} alone, without spaces or line breaks "
                f"around it (`printf %s` writes none, `echo` adds one)"
            )
        return (
            f"write the {what} alone into the file that LoadCredential={self.credential}:... "
            "names, e.g. with `printf %s`"
        )


_CHARACTER_NAMES = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab", " ": "a space"}


def _describe(value: str, index: int) -> str:
    char = value[index]
    name = _CHARACTER_NAMES.get(char)
    if name is None:
        control = unicodedata.category(char) in ("Cc", "Cf") or 0x80 <= ord(char) < 0xA0
        name = "a control character" if control else "a non-ASCII character"
    if index == len(value) - 1:
        return f"{name} at its end"
    if index == 0:
        return f"{name} at its start"
    return f"{name} at character {index + 1}"


def secret_problem(value: str, kind: SecretKind) -> str | None:
    """What is wrong with a secret of ``kind``, in words that never repeat it; None if fine."""
    if kind in ("token", "key"):
        bad = next((i for i, c in enumerate(value) if not "!" <= c <= "~"), None)
        if bad is not None:
            return f"holds {_describe(value, bad)}; a {kind} is printable ASCII without spaces"
        return None
    if kind == "password":
        bad = next(
            (
                i
                for i, c in enumerate(value)
                if not " " <= c <= "~" or (c == " " and i in (0, len(value) - 1))
            ),
            None,
        )
        if bad is not None:
            return (
                f"holds {_describe(value, bad)}; an SMTP password is ASCII without control "
                "characters or spaces around it"
            )
        return None
    bad = next((i for i, c in enumerate(value) if not "!" <= c <= "~"), None)
    if bad is not None:
        return (
            f"holds {_describe(value, bad)}; a URL has no spaces or control characters "
            "(percent-encode them)"
        )
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError as exc:
        return f"does not hold a URL that can be read: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "does not hold an http:// or https:// URL with a host"
    return None


def looks_like_secret(text: str) -> bool:
    """A literal token or password, by its form: such values belong in the environment."""
    if _SECRET_TEXT.fullmatch(text.strip()):
        return True
    if _OPAQUE.fullmatch(text) and "://" not in text and not text.startswith(("/", ".")):
        classes = sum(
            (
                any(c.islower() for c in text),
                any(c.isupper() for c in text),
                any(c.isdigit() for c in text),
            )
        )
        return classes >= 2 and not re.fullmatch(r"[a-z0-9_\-./]+", text)
    if "://" in text:
        try:
            return urlsplit(text).password is not None
        except ValueError:  # not a URL after all (the schema says so)
            return False
    return False


def secret_findings(doc: Document) -> list[Finding]:
    findings: list[Finding] = []
    hint = (
        "write {env: NAME} and set the variable NAME in the service's environment, "
        "or {credential: NAME} with systemd's LoadCredential="
    )

    def walk(value: Any, path: tuple[PathPart, ...]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, (*path, i))
        elif isinstance(value, str) and value:
            named = path in _SECRET_PATHS or (
                bool(path) and isinstance(path[-1], str) and path[-1].lower() in _SECRET_KEYS
            )
            if named or looks_like_secret(value):
                # never repeat the value: it may be a real secret
                findings.append(
                    doc.finding(
                        path,
                        "config-literal-secret",
                        "a secret is written in the file; secrets must not be in connector.yaml",
                        hint=hint,
                    )
                )

    walk(doc.data, ())
    return findings


def secret_value_findings(doc: Document, settings: Settings) -> list[Finding]:
    """The secrets that are set, checked: a token pasted with its line break is reported
    here (``validate``, and every command's start) rather than sent. Unset ones are not
    findings: CI validates without them."""
    findings = []
    for path, ref in settings.secrets().items():
        if not ref.is_set():
            continue
        try:
            ref.resolve()
        except ConfigError as exc:
            findings.append(doc.finding(path, "config-secret-value", exc.message, hint=exc.hint))
    return findings


def smtp_login_findings(doc: Document) -> list[Finding]:
    """The SMTP login (username, password) never crosses the network in clear text: it needs
    ``tls`` or ``starttls``, and not both."""
    email = doc.data.get("notifications", {}) if isinstance(doc.data, dict) else {}
    email = email.get("email") if isinstance(email, dict) else None
    if not isinstance(email, dict):
        return []
    starttls, tls = email.get("starttls") is True, email.get("tls") is True
    if starttls and tls:
        return [
            doc.finding(
                ("notifications", "email", "tls"),
                "config-smtp-tls",
                "starttls and tls are both set; a connection uses one of them",
                hint="tls: true for implicit TLS (port 465), or starttls: true to upgrade "
                "a plain connection (port 587 or 25)",
            )
        ]
    logs_in = email.get("username") or email.get("password")
    if logs_in and not (starttls or tls):
        key = "password" if "password" in email else "username"
        return [
            doc.finding(
                ("notifications", "email", key),
                "config-smtp-cleartext",
                "the SMTP login would cross the network in clear text: neither starttls "
                "nor tls is set",
                hint="set tls: true (implicit TLS, port 465) or starttls: true (port 587), "
                "or drop username and password for a relay that needs no login",
            )
        ]
    return []
