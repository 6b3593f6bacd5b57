"""A brand's catalogue repository, made by ``zedonk-ordre init`` (and its schemas refreshed).

``repository_files`` is every file ``init`` writes, by path relative to the repository;
``write_files`` writes them without ever replacing a file that differs unless told to. The
JSON Schemas go to ``schemas/``, where the ``# yaml-language-server: $schema=...`` lines of
connector.yaml (``schemas/...``) and of catalogue files (``../schemas/...``) find them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from daemon import PROJECT_URL, RELEASE_TAG
from daemon.core.yamlwrite import scalar
from daemon.errors import ZedonkOrdreError
from daemon.tree.catalogue import CATALOGUE_DIR
from daemon.tree.places import DEFAULT_STATE_DIR
from daemon.tree.resources import PR_WORKFLOW, SCHEMAS, example_dir, schema_dir
from daemon.tree.settings import CONNECTOR_FILE

SCHEMAS_DIR = "schemas"
WORKFLOW_PATH = f".github/workflows/{PR_WORKFLOW}"
KEEP_FILE = f"{CATALOGUE_DIR}/.gitkeep"  # git keeps no empty folder; the catalogue skips it


@dataclass(frozen=True)
class Answers:
    """What ``init`` asks for. Token sources are environment variable names."""

    zedonk_url: str
    ordre_url: str
    season: str
    order_owner: str
    zedonk_token_env: str = "ZEDONK_TOKEN"
    ordre_token_env: str = "ORDRE_TOKEN"


def connector_text(answers: Answers) -> str:
    """connector.yaml with the required settings filled in and every other one commented
    out at its default, with a word on what it does."""
    a = answers
    return f"""\
# yaml-language-server: $schema={SCHEMAS_DIR}/connector.schema.json
# Settings of the Zedonk <-> ORDRE connector, read by zedonk-ordre {RELEASE_TAG}.
# Every key: {PROJECT_URL}/blob/{RELEASE_TAG}/docs/configuration.md
# A commented-out key shows its default. Tokens are never written here: each names the
# environment variable (or the systemd credential) that holds it.
version: 1

zedonk:
  url: {scalar(a.zedonk_url)}
  token: {{env: {a.zedonk_token_env}}}  # or {{credential: zedonk_token}} under systemd

ordre:
  url: {scalar(a.ordre_url)}
  token: {{env: {a.ordre_token_env}}}

import:
  season: {scalar(a.season)}  # the Zedonk season imported orders are created in
  order_owner: {scalar(a.order_owner)}  # the Zedonk user who owns imported orders
  # approved: false  # true: create imported orders already approved in Zedonk
  # statuses: [submitted, approved]  # ORDRE statuses to import; others are listed as skipped
  # go_live: 2026-01-01  # skip submissions made in ORDRE before this date (default: none)
  # order_reference: "{{order_number}} + {{po_number}}"  # also {{submission}}; PO cut to fit 100
  # on_resubmit: report  # or inactivate_previous: also inactivate the earlier Zedonk order
  # on_currency_mismatch: hold  # or warn: an order in another currency than its customer's
  # on_zero_price: hold  # or warn: an order with a line priced 0.00
  # settle_window: 2m  # a create whose answer was lost is not sent again sooner than this

# prices:
#   seasons: [{scalar(a.season)}]  # seasons that supply prices; the most recent with a price wins

# catalogue:
#   prune: true  # delete from ORDRE what is no longer in catalogue/
#   delete_threshold: {{count: 20, share: 0.25}}  # bigger deletes need apply --allow-deletes
#   update_threshold: {{count: 50, share: 0.3}}  # rewriting more listings needs --allow-updates

# daemon:
#   poll_interval: 15s  # how often ORDRE is asked for new orders (one small request)
#   reconcile_interval: 10m  # how often the whole catalogue is compared with ORDRE
#   full_read_interval: 6h  # how often that pass reads both remotes whole, not just changes
#   debounce: 2s  # wait this long after the last change in catalogue/ before applying it
#   The history and locks live outside this checkout, in $STATE_DIRECTORY under systemd,
#   else in ~/.local/state/zedonk-ordre/<ORDRE host>-<digest>; state_dir chooses another.
#   status_listen: 127.0.0.1:9808  # the console, /healthz and /metrics
#   remote_down_alert_after: 10m  # notify when Zedonk or ORDRE is unreachable this long

# history:
#   retention: 365d  # the daemon deletes runs and events older than this; orders stay for good

# notifications:
#   email:
#     smtp_host: smtp.example.com
#     smtp_port: 25
#     starttls: false
#     sender: connector@example.com
#     recipients: [ops@example.com]
#     # username: connector
#     # password: {{env: SMTP_PASSWORD}}
#   webhook:
#     url: {{env: ZEDONK_ORDRE_WEBHOOK_URL}}  # the URL holds a secret, so it comes from outside
"""


GITIGNORE = f"""\
# zedonk-ordre keeps its history database and lock in a state directory outside this
# checkout; one an older version made here must never be committed either.
/{DEFAULT_STATE_DIR}/
# Tokens live in environment variables or systemd credentials, never in git.
.env
.env.*
*.token
credstore/
"""

PRE_COMMIT = f"""\
# `zedonk-ordre validate` before every commit: pip install pre-commit && pre-commit install
repos:
  - repo: {PROJECT_URL}
    rev: {RELEASE_TAG}
    hooks:
      - id: zedonk-ordre-validate
"""


def schema_files() -> dict[str, str]:
    """The JSON Schemas of this version, by file name."""
    folder = schema_dir()
    return {name: (folder / name).read_text(encoding="utf-8") for name in SCHEMAS}


def workflow_text() -> str:
    """The pull-request workflow (docs/examples/catalogue-pr.yml), installing this version."""
    return (example_dir() / PR_WORKFLOW).read_text(encoding="utf-8")


def repository_files(answers: Answers, *, keep_catalogue: bool) -> dict[str, str]:
    """Every file ``init`` writes, by path relative to the repository (``/`` separated).
    ``keep_catalogue`` adds catalogue/.gitkeep, so git keeps an empty catalogue/."""
    made = {
        CONNECTOR_FILE: connector_text(answers),
        ".gitignore": GITIGNORE,
        ".pre-commit-config.yaml": PRE_COMMIT,
        WORKFLOW_PATH: workflow_text(),
        **{f"{SCHEMAS_DIR}/{name}": text for name, text in schema_files().items()},
    }
    if keep_catalogue:
        made[KEEP_FILE] = ""
    return made


Status = Literal["written", "replaced", "unchanged"]


def write_files(
    root: Path, files: Mapping[str, str], *, force: bool = False
) -> list[tuple[str, Status]]:
    """Write ``files`` under ``root``. A file already there with the same text is left
    alone; one with other text is replaced only with ``force``. Raises ZedonkOrdreError
    naming every such file, before writing anything, when ``force`` is not given."""
    differ = [
        name
        for name, text in files.items()
        if (root / name).exists() and not _same(root / name, text)
    ]
    if differ and not force:
        raise ZedonkOrdreError(
            f"{root} already has {', '.join(differ)}; nothing was written",
            hint="pass --force to replace them, or run init in an empty folder",
        )
    done: list[tuple[str, Status]] = []
    for name, text in files.items():
        path = root / name
        if path.exists() and _same(path, text):
            done.append((name, "unchanged"))
            continue
        status: Status = "replaced" if path.exists() else "written"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        done.append((name, status))
    return done


def _same(path: Path, text: str) -> bool:
    try:
        return path.is_file() and path.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def write_schemas(folder: Path) -> list[tuple[str, Status]]:
    """This version's JSON Schemas into ``folder``, replacing older copies."""
    return write_files(folder, schema_files(), force=True)
