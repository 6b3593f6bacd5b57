"""connector.yaml: the connector's settings, checked and turned into plain dataclasses.

``load_settings(root)`` is what the daemon and the commands call; it raises ``ConfigError``
carrying every finding. ``check_settings`` is the lower level that ``validate`` uses, which
returns findings instead of raising.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from daemon.errors import ConfigError

CONNECTOR_FILE = "connector.yaml"
DEFAULT_STATE_DIR = ".zedonk-ordre"


@dataclass(frozen=True)
class TokenRef:
    """Where a secret lives: an environment variable or a systemd credential. Never the value."""

    env: str | None = None
    credential: str | None = None

    def __str__(self) -> str:
        if self.env is not None:
            return f"environment variable {self.env}"
        return f"systemd credential {self.credential}"

    def resolve(self) -> str:
        """The secret itself. Raises ConfigError (naming the source, never a value) when unset."""
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
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the systemd credential {self.credential}: {exc.strerror}",
                hint=f"check LoadCredential={self.credential}:... in the service unit",
            ) from None
        if not value:
            raise ConfigError(
                f"the systemd credential {self.credential} is empty",
                hint="put the token in the file that LoadCredential= names",
            )
        return value


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
    go_live: date | None  # orders created before this date are ignored
    order_reference: str  # template with {order_number} and {po_number}
    on_resubmit: str  # "report" | "inactivate_previous"

    def order_ref(self, order_number: str, po_number: str) -> str:
        """The Zedonk order reference for an ORDRE order, from the template."""
        return self.order_reference.format(order_number=order_number, po_number=po_number)


@dataclass(frozen=True)
class CatalogueSettings:
    prune: bool  # delete ORDRE objects that are no longer in catalogue/
    delete_threshold_count: int  # deleting more than this many objects needs --allow-deletes
    delete_threshold_share: float  # ... or more than this share (0..1) of the tracked objects


@dataclass(frozen=True)
class DaemonSettings:
    poll_interval: float  # seconds
    reconcile_interval: float  # seconds
    debounce: float  # seconds
    status_listen: tuple[str, int]  # (host, port)
    remote_down_alert_after: float  # seconds


@dataclass(frozen=True)
class EmailSettings:
    smtp_host: str
    smtp_port: int
    starttls: bool
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: TokenRef | None = None


@dataclass(frozen=True)
class WebhookSettings:
    url: TokenRef  # the URL usually carries a secret, so it comes from the environment


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

    @property
    def catalogue_dir(self) -> Path:
        return self.root / "catalogue"


def find_root(start: Path) -> Path:
    """The nearest directory, from ``start`` upwards, that holds connector.yaml."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / CONNECTOR_FILE).is_file():
            return directory
    raise ConfigError(
        f"no {CONNECTOR_FILE} in {start} or any parent directory",
        hint="run zedonk-ordre inside the catalogue repository, or pass --root DIR",
    )
