"""Prices sent to ORDRE follow domain.md §7 rule 12, with its warnings in the plan: a product
not visible in any price season goes with 0.00 and a warning. Through the command line, against
both sandboxes on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sandbox_harness import Sandboxes
from typer.testing import CliRunner

from daemon.cli import app

AW25_ONLY = "ML-201/CASH/WHITE"  # a seed product visible in AW25 only, priced in AW25
AW26 = "ML-101/WOOL/NAVY"


def cli(root: Path, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--root", str(root)], catch_exceptions=False)


@pytest.fixture
def root(sandbox: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ZEDONK_TOKEN", sandbox.zedonk_token)
    monkeypatch.setenv("ORDRE_TOKEN", sandbox.ordre_token)
    (tmp_path / "catalogue").mkdir()
    (tmp_path / "connector.yaml").write_text(
        "version: 1\n"
        f'zedonk: {{url: "{sandbox.zedonk_url}", token: {{env: ZEDONK_TOKEN}}}}\n'
        f'ordre: {{url: "{sandbox.ordre_url}", token: {{env: ORDRE_TOKEN}}}}\n'
        "import: {season: AW26, order_owner: sophie}\n"
        "prices: {seasons: [AW26]}\n"
        "daemon: {state_dir: state}\n"
    )
    (tmp_path / "catalogue" / "main.yaml").write_text(
        f"collection: Main\nlooks:\n  - name: Look 1\n    products:\n"
        f"      - {AW26}\n      - {AW25_ONLY}\n"
    )
    return tmp_path


def test_a_product_not_visible_in_the_price_seasons_goes_with_zero_and_a_warning(
    root: Path,
) -> None:
    planned = cli(root, "plan", "--format", "json")
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.output)
    bodies = {a["key"]: a["body"] for a in plan["actions"] if a["kind"] == "listing"}
    assert {
        p["currency"]: (p["wsp"], p["rrp"]) for p in bodies[AW25_ONLY]["prices"]
    } == dict.fromkeys(("EUR", "GBP", "USD"), ("0.00", "0.00"))
    assert all(p["wsp"] != "0.00" for p in bodies[AW26]["prices"])
    [warning] = [f for f in plan["findings"] if f["code"] == "price-not-visible"]
    assert warning["severity"] == "warning"
    assert warning["message"] == (
        f"Main / Look 1: {AW25_ONLY} is not visible in any of the price seasons (AW26): it is "
        "sent with 0.00 prices (it is visible in AW25)"
    )
    assert (warning["file"], warning["line"]) == ("catalogue/main.yaml", 6)
    text = cli(root, "plan")
    assert f"{AW25_ONLY} is not visible in any of the price seasons (AW26)" in text.output
