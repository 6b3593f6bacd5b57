"""Shared pieces of the order import tests: sandboxes on loopback, a connector.yaml pointing at
them, retailer orders, and a look at what Zedonk holds."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from daemon.clients import ZedonkClient
from daemon.core.model import Customer, SalesOrder
from daemon.sandbox import SandboxPair, start_sandboxes
from daemon.store.history import History
from daemon.tree.settings import Settings, load_settings

ZEDONK_ENV = "ZO_TEST_ZEDONK_TOKEN"
ORDRE_ENV = "ZO_TEST_ORDRE_TOKEN"
CLI = [sys.executable, "-m", "daemon"]


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[SandboxPair]:
    with start_sandboxes(populated=True) as pair:
        yield pair


@pytest.fixture
def pair(sandboxes: SandboxPair, monkeypatch: pytest.MonkeyPatch) -> SandboxPair:
    """Both sandboxes, freshly reset, with the tokens in the environment."""
    sandboxes.reset()
    monkeypatch.setenv(ZEDONK_ENV, sandboxes.zedonk.token)
    monkeypatch.setenv(ORDRE_ENV, sandboxes.ordre.token)
    return sandboxes


def write_connector(root: Path, pair: SandboxPair, **imports: Any) -> Settings:
    """A connector.yaml in ``root`` for the sandboxes; ``imports`` overrides import keys (None
    leaves a key out, so its default holds)."""
    values: dict[str, Any] = {
        "season": "AW26",
        "approved": "false",
        "order_owner": "sophie",
        "statuses": "[submitted, approved]",
        "order_reference": '"{order_number} + {po_number}"',
        "on_resubmit": "report",
        # Zedonk's search never lags here unless a test makes it: no settle window, so a
        # pass may create at once; the tests of the lag set one.
        "settle_window": "0s",
        **imports,
    }
    lines = "\n".join(f"  {k}: {v}" for k, v in values.items() if v is not None)
    root.mkdir(parents=True, exist_ok=True)
    (root / "connector.yaml").write_text(
        f"""version: 1
zedonk:
  url: {pair.zedonk.api_url}
  token: {{env: {ZEDONK_ENV}}}
ordre:
  url: {pair.ordre.api_url}
  token: {{env: {ORDRE_ENV}}}
import:
{lines}
daemon:
  state_dir: {root / "state"}
  remote_down_alert_after: 0s
"""
    )
    return load_settings(root)


def barcodes(pair: SandboxPair, count: int) -> list[str]:
    """Valid barcodes of AW26 products that ORDRE lists (so a retailer can order them)."""
    with ZedonkClient(pair.zedonk.api_url, pair.zedonk.token) as zedonk:
        found = []
        for product in zedonk.products(season="AW26"):
            found += [s.barcode for s in product.skus if s.barcode and len(s.barcode) == 13]
    known = {size["gtin"].lstrip("0") for item in _listings(pair) for size in item["sizes"]}
    return [b for b in found if b.lstrip("0") in known][:count]


def known_retailer(pair: SandboxPair) -> Customer:
    """An active Zedonk customer that ORDRE knows by its account code."""
    codes = {item["account_code"] for item in _ordre_list(pair, "customers")}
    with ZedonkClient(pair.zedonk.api_url, pair.zedonk.token) as zedonk:
        return next(c for c in zedonk.customers() if c.active and c.account_code in codes)


def ordre_order(pair: SandboxPair, order_id: str) -> dict[str, Any]:
    """An order as ORDRE shows it to the connector."""
    answer = httpx.get(
        f"{pair.ordre.api_url}/orders/{order_id}",
        headers={"Authorization": f"Bearer {pair.ordre.token}"},
        trust_env=False,
    )
    answer.raise_for_status()
    order: dict[str, Any] = answer.json()
    return order


def _listings(pair: SandboxPair) -> list[dict[str, Any]]:
    return _ordre_list(pair, "listings")


def _ordre_list(pair: SandboxPair, what: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        body = httpx.get(
            f"{pair.ordre.api_url}/{what}",
            params=params,
            headers={"Authorization": f"Bearer {pair.ordre.token}"},
            trust_env=False,
        ).json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items


def submit(
    pair: SandboxPair,
    lines: list[dict[str, Any]],
    *,
    retailer: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A retailer submits an order; returns ORDRE's order."""
    if retailer is None:
        retailer = {"account_code": known_retailer(pair).account_code}
    body = {"retailer": retailer, "lines": lines, **fields}
    return pair.ordre.submit_order(body)


def sales_orders(pair: SandboxPair) -> list[SalesOrder]:
    with ZedonkClient(pair.zedonk.api_url, pair.zedonk.token) as zedonk:
        return list(zedonk.find_sales_orders())


def orders_per_ref(pair: SandboxPair) -> Counter[str]:
    """Zedonk orders per connector reference, as Zedonk holds them: its search may lag, this
    view does not."""
    return Counter(str(o["connector_ref"]) for o in pair.zedonk.sales_orders())


def established(settings: Settings, ago: float = 3600) -> None:
    """The history of ``settings`` as a ledger that has watched Zedonk for ``ago`` seconds
    (a new one holds its first orders for a settle window)."""
    since = datetime.now(UTC) - timedelta(seconds=ago)
    with History.open(settings.state_dir) as history:
        history.set_state("orders.ledger_since", since.isoformat())


def ledger(settings: Settings) -> dict[str, dict[str, Any]]:
    with History.open(settings.state_dir) as history:
        rows = history.query("SELECT * FROM imports")
    return {r["import_key"]: r for r in rows}


def cli(*args: str) -> Any:
    """A command run in this process, as a user would type it (``--root`` included)."""
    from typer.testing import CliRunner

    from daemon.cli import app

    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def notifications(settings: Settings) -> dict[str, str]:
    """Each notice key the history holds, and its state (open, resolved)."""
    with History.open(settings.state_dir) as history:
        rows = history.query("SELECT key, state FROM notifications")
    return {r["key"]: r["state"] for r in rows}


def run_cli(
    settings: Settings, *args: str, crash_at: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("ZEDONK_ORDRE_CRASH_AT", None)
    if crash_at:
        env["ZEDONK_ORDRE_CRASH_AT"] = crash_at
    return subprocess.run(
        [*CLI, *args, "--root", str(settings.root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
