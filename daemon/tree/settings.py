"""connector.yaml: the connector's settings, checked and turned into plain dataclasses.

``load_settings(root)`` is what the daemon and the commands call; it raises ``ConfigError``
carrying every finding. ``check_settings`` is the lower level that ``validate`` uses, which
returns findings instead of raising.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from string import Formatter
from typing import Any

from daemon.core.choices import Named, ZedonkNames
from daemon.core.findings import Finding, has_errors, invalid, parse_path
from daemon.core.orderfit import TEMPLATE_FIELDS
from daemon.core.spec import Location
from daemon.errors import ConfigError
from daemon.tree.places import absolute, state_dir_for, written_state_dir
from daemon.tree.resources import CONNECTOR_SCHEMA
from daemon.tree.schema import schema_findings
from daemon.tree.secrets import (
    SecretKind,
    TokenRef,
    secret_findings,
    secret_value_findings,
    smtp_login_findings,
)
from daemon.tree.yamlload import Document, load_file

CONNECTOR_FILE = "connector.yaml"


@dataclass(frozen=True)
class RemoteSettings:
    url: str  # base URL, without a trailing slash
    token: TokenRef


@dataclass(frozen=True)
class ImportSettings:
    season: str  # Zedonk season code orders are created in
    approved: bool
    order_owner: str  # Zedonk username
    statuses: tuple[str, ...]  # ORDRE statuses to import
    go_live: date | None  # submissions made before this date are skipped
    order_reference: str  # template with {order_number}, {po_number} and {submission}
    on_resubmit: str  # "report" | "inactivate_previous"
    on_currency_mismatch: str = "hold"  # "hold" | "warn": an order in another currency
    on_zero_price: str = "hold"  # "hold" | "warn": a line priced 0.00
    # seconds after a create whose outcome is unknown before it may be sent again: Zedonk's
    # search may not show an order it stored until then (docs/orders.md)
    settle_window: float = 120.0


@dataclass(frozen=True)
class CatalogueSettings:
    prune: bool  # delete ORDRE objects that are no longer in catalogue/
    delete_threshold_count: int  # deleting more than this many objects needs --allow-deletes
    delete_threshold_share: float  # ... or more than this share (0..1) of the tracked objects
    # updating more listings than this count and share of them needs --allow-updates
    update_threshold_count: int = 50
    update_threshold_share: float = 0.3


@dataclass(frozen=True)
class DaemonSettings:
    poll_interval: float  # seconds
    reconcile_interval: float  # seconds
    debounce: float  # seconds
    status_listen: tuple[str, int]  # (host, port)
    remote_down_alert_after: float  # seconds
    full_read_interval: float = 6 * 3600.0  # seconds between passes that also read all whole


@dataclass(frozen=True)
class HistorySettings:
    retention: float = 365 * 86400.0  # seconds the daemon keeps runs, actions and events


@dataclass(frozen=True)
class EmailSettings:
    smtp_host: str
    smtp_port: int
    starttls: bool  # upgrade a plain connection with STARTTLS
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: TokenRef | None = None
    tls: bool = False  # implicit TLS (SMTPS) from the first byte


@dataclass(frozen=True)
class WebhookSettings:
    url: TokenRef  # the URL usually carries a secret, so it comes from the environment
    secret: TokenRef | None = None  # the key that signs each notice (HMAC-SHA256)


@dataclass(frozen=True)
class Settings:
    root: Path  # the directory that holds connector.yaml
    zedonk: RemoteSettings
    ordre: RemoteSettings
    import_: ImportSettings
    price_seasons: tuple[str, ...]  # the most recent season that has a price wins
    catalogue: CatalogueSettings
    daemon: DaemonSettings
    state_dir: Path  # absolute
    email: EmailSettings | None = None
    webhook: WebhookSettings | None = None
    history: HistorySettings = HistorySettings()
    # Where each value is written in connector.yaml, by key path ("import.season"), for
    # what is found out about a setting later, when Zedonk is asked (see ``zedonk_names``).
    places: Mapping[str, Location] = field(default_factory=dict, compare=False, repr=False)
    # how state_dir was chosen, for the daemon's start line and status
    state_dir_origin: str = field(default="", compare=False)

    @property
    def catalogue_dir(self) -> Path:
        return self.root / "catalogue"

    def place(self, path: str) -> Location:
        """Where the setting at ``path`` is written: its value, else its nearest written
        parent, else the file itself (line 0)."""
        while path:
            found = self.places.get(path)
            if found is not None:
                return found
            path = path.rpartition("[" if path.endswith("]") else ".")[0]
        return Location(CONNECTOR_FILE, 0, 0)

    def zedonk_names(self) -> ZedonkNames:
        """What the settings name in Zedonk, each with where it is written, for
        ``daemon.core.choices.check_zedonk_names``."""
        written = sorted((p for p in self.places if p.startswith("prices.seasons[")), key=_index)
        # Not written: the price seasons are the import season, which is checked already.
        prices = zip(written, self.price_seasons, strict=True) if written else ()
        return ZedonkNames(
            Named("import.season", self.import_.season, self.place("import.season")),
            Named("import.order_owner", self.import_.order_owner, self.place("import.order_owner")),
            tuple(Named(path, code, self.place(path)) for path, code in prices),
        )

    def secrets(self) -> dict[tuple[str, ...], TokenRef]:
        """Every secret source in the settings, by its path in connector.yaml."""
        found: dict[tuple[str, ...], TokenRef] = {
            ("zedonk", "token"): self.zedonk.token,
            ("ordre", "token"): self.ordre.token,
        }
        if self.email is not None and self.email.password is not None:
            found["notifications", "email", "password"] = self.email.password
        if self.webhook is not None:
            found["notifications", "webhook", "url"] = self.webhook.url
            if self.webhook.secret is not None:
                found["notifications", "webhook", "secret"] = self.webhook.secret
        return found


def _index(path: str) -> int:
    """``prices.seasons[12]`` -> 12."""
    return int(path.rpartition("[")[2].rstrip("]"))


def check_secrets(settings: Settings) -> None:
    """Read every secret the settings name, as the daemon does before it starts: each must
    be set and well formed (ConfigError naming the first that is not). Reading them also
    registers them with ``daemon.redact``."""
    for ref in settings.secrets().values():
        ref.resolve()


def find_root(start: Path) -> Path:
    """The nearest directory, from ``start`` upwards, that holds connector.yaml.

    Raises ``ConfigError`` (with a hint naming ``--root``) when no directory up to ``/`` does."""
    start = absolute(start)
    for directory in (start, *start.parents):
        if (directory / CONNECTOR_FILE).is_file():
            return directory
    raise ConfigError(
        f"no {CONNECTOR_FILE} in {start} or any parent directory",
        hint="run zedonk-ordre inside the catalogue repository, or pass --root DIR",
    )


# --------------------------------------------------------------------------- loading

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}

DEFAULTS: dict[str, Any] = {
    "approved": False,
    "statuses": ["submitted", "approved"],
    "order_reference": "{order_number} + {po_number}",
    "on_resubmit": "report",
    "on_currency_mismatch": "hold",
    "on_zero_price": "hold",
    "settle_window": "2m",
    "prune": True,
    "delete_threshold_count": 20,
    "delete_threshold_share": 0.25,
    "update_threshold_count": 50,
    "update_threshold_share": 0.3,
    "poll_interval": "15s",
    "reconcile_interval": "10m",
    "debounce": "2s",
    "full_read_interval": "6h",
    "status_listen": "127.0.0.1:9808",
    "remote_down_alert_after": "10m",
    "retention": "365d",
    "smtp_port": 25,
}
SMTPS_PORT = 465  # implicit TLS (RFC 8314)
MIN_RETENTION = 86400.0  # seconds: retention runs every few hours, on what is older than this
# Seconds: the longest duration any setting takes. Longer ones overflow the clock arithmetic
# (a wait, a date a window ahead) and mean "never" anyway.
MAX_DURATION = 100 * 365 * 86400.0
DURATION_KEYS = (
    ("import", "settle_window"),
    ("daemon", "poll_interval"),
    ("daemon", "reconcile_interval"),
    ("daemon", "full_read_interval"),
    ("daemon", "debounce"),
    ("daemon", "remote_down_alert_after"),
    ("history", "retention"),
)


def parse_duration(text: str) -> float:
    """``"1h30m"`` -> 5400.0 seconds. The schema has checked the form already."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m or 1h30m")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


def parse_listen(text: str) -> tuple[str, int]:
    """``"127.0.0.1:9808"`` or ``"[::1]:9808"`` -> (host, port)."""
    host, _, port_text = text.rpartition(":")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range 1-65535")
    return host.removeprefix("[").removesuffix("]"), port


def check_settings(root: Path) -> tuple[Settings | None, list[Finding]]:
    """Every finding in connector.yaml, and the settings when there is no error."""
    path = root / CONNECTOR_FILE
    if not path.exists() and not path.is_symlink():
        return None, [
            Finding(
                CONNECTOR_FILE,
                0,
                0,
                "",
                "file-missing",
                "error",
                f"there is no {CONNECTOR_FILE} in {root}",
                "create it (see docs/configuration.md), or pass --root DIR",
            )
        ]
    loaded = load_file(path, root)
    doc = loaded.document
    findings = list(loaded.findings)
    if doc is None:
        return None, findings
    secrets = secret_findings(doc)
    findings += secrets
    findings += schema_findings(doc, CONNECTOR_SCHEMA, skip={parse_path(f.path) for f in secrets})
    findings += _value_findings(doc, root, {f.path for f in findings})
    if has_errors(findings):
        return None, findings
    settings = replace(_build(doc.data, root), places=doc.places())
    findings += secret_value_findings(doc, settings)
    if has_errors(findings):
        return None, findings
    return settings, findings


def load_settings(root: Path) -> Settings:
    """The settings in ``root``/connector.yaml. Raises ConfigError listing every finding."""
    settings, findings = check_settings(root)
    if settings is None:
        raise invalid(CONNECTOR_FILE, findings)
    return settings


def _value_findings(doc: Document, root: Path, reported: set[str]) -> list[Finding]:
    """What the schema cannot say, checked on values the schema has not already refused."""
    findings: list[Finding] = []

    def value(*path: str) -> str | None:
        node: Any = doc.data
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        return node if isinstance(node, str) and ".".join(path) not in reported else None

    template = value("import", "order_reference")
    if template is not None:
        findings += [
            doc.finding(("import", "order_reference"), "config-template", message, hint=hint)
            for message, hint in _template_problems(template)
        ]
    listen = value("daemon", "status_listen")
    if listen is not None:
        try:
            host, _ = parse_listen(listen)
        except ValueError as exc:
            findings.append(
                doc.finding(
                    ("daemon", "status_listen"),
                    "config-listen",
                    str(exc),
                    hint="write host:port, e.g. 127.0.0.1:9808",
                )
            )
        else:
            if not is_loopback(host):
                findings.append(
                    doc.finding(
                        ("daemon", "status_listen"),
                        "config-listen-public",
                        f"the status page would be served on {host}, beyond this machine: "
                        "it shows orders, retailers and errors to anyone who can reach it",
                        hint="serve it on 127.0.0.1 (or [::1]) and reach it through an SSH "
                        "tunnel or a reverse proxy with authentication",
                        severity="warning",
                    )
                )
    findings += smtp_login_findings(doc)
    for key in ("poll_interval", "reconcile_interval", "full_read_interval"):
        text = value("daemon", key)
        if text is not None and parse_duration(text) < 1:
            findings.append(
                doc.finding(
                    ("daemon", key),
                    "config-duration",
                    "the interval is shorter than one second",
                    hint="write at least 1s",
                )
            )
    for path in DURATION_KEYS:
        text = value(*path)
        if text is not None and parse_duration(text) > MAX_DURATION:
            findings.append(
                doc.finding(
                    path,
                    "config-duration",
                    "the duration is longer than 100 years",
                    hint="write a duration of at most 36500d",
                )
            )
    retention = value("history", "retention")
    if retention is not None and parse_duration(retention) < MIN_RETENTION:
        findings.append(
            doc.finding(
                ("history", "retention"),
                "config-duration",
                "the history retention is shorter than one day",
                hint="write at least 1d; orders are kept for good whatever it says",
            )
        )
    written = value("daemon", "state_dir")
    if written is not None and written_state_dir(written).resolve().is_relative_to(
        (root / "catalogue").resolve()
    ):
        findings.append(
            doc.finding(
                ("daemon", "state_dir"),
                "config-state-dir",
                "the state directory is inside catalogue/",
                hint="choose a directory outside catalogue/, e.g. .zedonk-ordre",
            )
        )
    return findings


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name, or an empty host (every address)


def _template_problems(template: str) -> list[tuple[str, str]]:
    try:
        fields = {name for _, name, _, _ in Formatter().parse(template) if name is not None}
    except ValueError as exc:
        return [
            (
                f"the template is malformed: {exc}",
                "braces go only around {order_number}, {po_number} and {submission}; "
                "write {{ or }} for a literal brace",
            )
        ]
    return [
        (
            f"unknown placeholder {{{name}}} in the template",
            "the placeholders are {order_number}, {po_number} and {submission}",
        )
        for name in sorted(fields - set(TEMPLATE_FIELDS))
    ]


def _build(data: dict[str, Any], root: Path) -> Settings:
    """Settings from data that has passed every check, with the defaults filled in."""
    imp = data["import"]
    go_live = imp.get("go_live")
    daemon_data = data.get("daemon", {})

    def seconds(key: str) -> float:
        return parse_duration(daemon_data.get(key, DEFAULTS[key]))

    cat = data.get("catalogue", {})
    threshold = cat.get("delete_threshold", {})
    updates = cat.get("update_threshold", {})
    notifications = data.get("notifications", {})
    email = notifications.get("email")
    webhook = notifications.get("webhook")
    zedonk, ordre = _remote(data["zedonk"]), _remote(data["ordre"])
    root = absolute(root)
    state_dir, origin = state_dir_for(root, daemon_data.get("state_dir"), zedonk.url, ordre.url)
    return Settings(
        root=root,
        zedonk=zedonk,
        ordre=ordre,
        import_=ImportSettings(
            season=imp["season"],
            approved=imp.get("approved", DEFAULTS["approved"]),
            order_owner=imp["order_owner"],
            statuses=tuple(imp.get("statuses", DEFAULTS["statuses"])),
            go_live=date.fromisoformat(go_live) if go_live else None,
            order_reference=imp.get("order_reference", DEFAULTS["order_reference"]),
            on_resubmit=imp.get("on_resubmit", DEFAULTS["on_resubmit"]),
            on_currency_mismatch=imp.get("on_currency_mismatch", DEFAULTS["on_currency_mismatch"]),
            on_zero_price=imp.get("on_zero_price", DEFAULTS["on_zero_price"]),
            settle_window=parse_duration(imp.get("settle_window", DEFAULTS["settle_window"])),
        ),
        price_seasons=tuple(data.get("prices", {}).get("seasons", [imp["season"]])),
        catalogue=CatalogueSettings(
            prune=cat.get("prune", DEFAULTS["prune"]),
            delete_threshold_count=threshold.get("count", DEFAULTS["delete_threshold_count"]),
            delete_threshold_share=float(
                threshold.get("share", DEFAULTS["delete_threshold_share"])
            ),
            update_threshold_count=updates.get("count", DEFAULTS["update_threshold_count"]),
            update_threshold_share=float(updates.get("share", DEFAULTS["update_threshold_share"])),
        ),
        daemon=DaemonSettings(
            poll_interval=seconds("poll_interval"),
            reconcile_interval=seconds("reconcile_interval"),
            debounce=seconds("debounce"),
            status_listen=parse_listen(daemon_data.get("status_listen", DEFAULTS["status_listen"])),
            remote_down_alert_after=seconds("remote_down_alert_after"),
            full_read_interval=seconds("full_read_interval"),
        ),
        state_dir=state_dir,
        state_dir_origin=origin,
        email=None
        if email is None
        else EmailSettings(
            smtp_host=email["smtp_host"],
            smtp_port=email.get(
                "smtp_port", SMTPS_PORT if email.get("tls") else DEFAULTS["smtp_port"]
            ),
            starttls=email.get("starttls", False),
            sender=email["sender"],
            recipients=tuple(email["recipients"]),
            username=email.get("username"),
            password=_token(email["password"], "password") if email.get("password") else None,
            tls=email.get("tls", False),
        ),
        webhook=None
        if webhook is None
        else WebhookSettings(
            url=_token(webhook["url"], "url"),
            secret=_token(webhook["secret"], "key") if webhook.get("secret") else None,
        ),
        history=HistorySettings(
            retention=parse_duration(
                data.get("history", {}).get("retention", DEFAULTS["retention"])
            )
        ),
    )


def _token(data: dict[str, str], kind: SecretKind = "token") -> TokenRef:
    return TokenRef(env=data.get("env"), credential=data.get("credential"), kind=kind)


def _remote(data: dict[str, Any]) -> RemoteSettings:
    return RemoteSettings(url=str(data["url"]).rstrip("/"), token=_token(data["token"]))
