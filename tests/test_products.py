"""products: the "+ Add Product" screen as a command, checked against the sandbox's own data.

The expectations are worked out from the Zedonk sandbox's JSON with the sandbox's own check
digit, not with the connector's code, so a mistake cannot hide on both sides.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sandbox_harness import Sandboxes
from typer.testing import CliRunner

from daemon.cli import app
from daemon.clients.ordre import ORDRE_LIMITS
from daemon.clients.zedonk import ZedonkClient
from daemon.core.entries import selector_matches
from daemon.core.model import Price, Product, ProductId, Sku
from daemon.core.products import Filters, latest_prices, placement, product_rows
from daemon.core.resolve import ZedonkSnapshot, resolve
from daemon.core.spec import Location, Selector
from daemon.reconcile import load_tree, plan_only
from daemon.remotes import open_clients
from daemon.sandbox.common import check_digit
from daemon.tree.catalogue import load_catalogue
from daemon.tree.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()


# --------------------------------------------------------------------------- pure


def made(key: str, *, seasons: tuple[str, ...] = ("AW26",), active: bool = True) -> Product:
    return Product(
        ProductId.parse(key),
        "Relaxed cardigan" if "CARD" in key else "Coat",
        "Knitwear" if "CARD" in key else "Coats",
        seasons,
        (Sku("S", "5061234000018"), Sku("M", None), Sku("L", "5061234000019")),
        prices=(
            Price("AW25", "EUR", Decimal("90"), Decimal("200")),
            Price("AW26", "EUR", Decimal("100"), Decimal("250")),
            Price("SS26", "GBP", Decimal("80"), Decimal("190")),
        ),
        active=active,
    )


def test_the_filters_pick_what_a_selector_picks_in_its_order() -> None:
    products = [
        made("B-2/WOOL/CARD"),
        made("A-1/WOOL/NAVY", seasons=("AW25",)),
        made("A-1/CASH/CARD", active=False),
        made("A-0/WOOL/CARD"),
    ]
    for filters in (Filters(), Filters(season="AW26"), Filters(category="knitwear"),
                    Filters(search="CARDIGAN"), Filters(season="AW25", search="coat")):  # fmt: skip
        selector = Selector(
            filters.season, filters.category, filters.search, (), Location("", 0, 0)
        )
        rows = product_rows(products, filters, ("AW26",), {}, limits=ORDRE_LIMITS)
        expected = sorted(
            (p for p in products if selector_matches(selector, p)),
            key=lambda p: (p.id.style, p.id.fabric, p.id.colour),
        )
        assert [r.product for r in rows] == expected, filters
    placed = {"B-2/WOOL/CARD": ("Main", "Look 1")}
    rows = product_rows(products, Filters(unplaced=True), ("AW26",), placed, limits=ORDRE_LIMITS)
    assert [str(r.product.id) for r in rows] == ["A-0/WOOL/CARD", "A-1/WOOL/NAVY"]


def test_a_row_says_each_barcode_state_and_the_price_seasons() -> None:
    [row] = product_rows(
        [made("A-1/WOOL/NAVY")], Filters(), ("AW25", "AW26"), {}, limits=ORDRE_LIMITS
    )
    assert [(s.size, s.state) for s in row.sizes] == [
        ("S", "valid"),
        ("M", "missing"),
        ("L", "check-digit"),
    ]
    assert not row.exportable and len(row.problems) == 2
    assert [(p.season, p.currency) for p in row.prices] == [("AW25", "EUR"), ("AW26", "EUR")]
    starts = {"AW25": date(2025, 2, 1), "AW26": date(2026, 2, 1)}
    assert [p.season for p in latest_prices(row, starts)] == ["AW26"]


# --------------------------------------------------------------------------- on the sandbox


@pytest.fixture
def repo(sandbox: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A repository made by init, holding the example catalogue (not applied)."""
    monkeypatch.setenv("ZEDONK_TOKEN", sandbox.zedonk_token)
    monkeypatch.setenv("ORDRE_TOKEN", sandbox.ordre_token)
    root = tmp_path / "repo"
    done = runner.invoke(
        app,
        ["init", str(root), "--zedonk-url", sandbox.zedonk_url, "--ordre-url", sandbox.ordre_url,
         "--season", "AW26", "--order-owner", "sophie", "--no-check"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    for path in (REPO / "catalogue").glob("*.yaml"):
        shutil.copy(path, root / "catalogue" / path.name)
    yield root


def raw_products(sandbox: Sandboxes) -> list[dict[str, Any]]:
    client = sandbox.client("zedonk")
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 200}
    while True:
        body = client.get("/products", params=params).raise_for_status().json()
        items += body["items"]
        if not body["next_cursor"]:
            return items
        params = {"limit": 200, "cursor": body["next_cursor"]}


def state_of(barcode: str | None) -> str:
    if not barcode:
        return "missing"
    if not barcode.isdigit() or len(barcode) not in (8, 12, 13, 14):
        return "malformed"
    return "valid" if check_digit(barcode[:-1]) == int(barcode[-1]) else "check-digit"


def listed(root: Path, *args: str) -> dict[str, Any]:
    done = runner.invoke(app, ["products", "--root", str(root), "--format", "json", *args])
    assert done.exit_code == 0, done.output
    document: dict[str, Any] = json.loads(done.stdout)
    assert document["format_version"] == 1
    return document


def key(raw: dict[str, Any]) -> tuple[str, str, str]:
    return (raw["style"], raw["fabric"], raw["colour"])


@pytest.mark.parametrize(
    ("args", "picks"),
    [
        (["--season", "AW25"], lambda p: "AW25" in p["seasons"]),
        (["--category", "knitwear"], lambda p: p["category"] == "Knitwear"),
        (
            ["--search", "Cardigan"],
            lambda p: any("cardigan" in p[f].lower() for f in ("style", "description", "colour")),
        ),
        (
            ["--season", "AW26", "--category", "Coats", "--search", "wool"],
            lambda p: (
                "AW26" in p["seasons"]
                and p["category"] == "Coats"
                and any("wool" in p[f].lower() for f in ("style", "description", "colour"))
            ),
        ),
    ],
)
def test_each_filter_lists_what_the_sandbox_holds(
    repo: Path, sandbox: Sandboxes, args: list[str], picks: Any
) -> None:
    raw = raw_products(sandbox)
    expected = sorted((p for p in raw if p["active"] and picks(p)), key=key)
    document = listed(repo, *args)
    assert expected, "the filter must pick something for the test to mean anything"
    assert [p["id"] for p in document["products"]] == [p["id"] for p in expected]
    assert document["count"] == len(expected)
    inactive = [p["id"] for p in raw if not p["active"]]
    assert inactive and not set(inactive) & {p["id"] for p in listed(repo)["products"]}


def test_image_barcodes_prices_and_looks_match_the_sandbox(repo: Path, sandbox: Sandboxes) -> None:
    raw = {p["id"]: p for p in raw_products(sandbox)}
    rows = {p["id"]: p for p in listed(repo)["products"]}
    for pid, row in rows.items():
        source = raw[pid]
        assert row["image"] is (source["image_1"] is not None), pid
        assert [(s["size"], s["barcode"], s["state"]) for s in row["sizes"]] == [
            (s["size"], s["barcode"], state_of(s["barcode"])) for s in source["skus"]
        ], pid
        assert row["exportable"] is all(state_of(s["barcode"]) == "valid" for s in source["skus"])
        assert [(p["season"], p["currency"], p["wsp"]) for p in row["prices"]] == sorted(
            (p["season"], p["currency"], p["wsp"])
            for p in source["prices"]
            if p["season"] == "AW26"
        ), pid
    # the seeded flaws are all there
    assert rows["ML-610/LEATHER/BLACK"]["image"] is False
    assert [s["state"] for s in rows["ML-102/WOOL/BLACK"]["sizes"]][1] == "missing"
    states = {s["state"] for row in rows.values() for s in row["sizes"]}
    assert states == {"valid", "missing", "check-digit"}
    # the look the example catalogue puts a product in
    assert rows["ML-101/WOOL/NAVY"]["look"] == {
        "collection": "AW26 Main Collection",
        "look": "Look 1 - Outerwear",
    }
    assert rows["ML-230/CASH/GREY"]["look"]["look"] == "Evening 2 - Grey tones"  # by product id
    assert rows["ML-230/CASH/OAT"]["look"]["look"] == "Look 2 - Knitwear"  # by the selector
    unplaced = listed(repo, "--unplaced")["products"]
    assert unplaced and all(p["look"] is None for p in unplaced)
    assert len(unplaced) == sum(1 for p in rows.values() if p["look"] is None)


def test_the_look_column_places_products_as_resolve_does(repo: Path, sandbox: Sandboxes) -> None:
    settings = load_settings(repo)
    spec = load_catalogue(repo)
    with ZedonkClient(sandbox.zedonk_url, sandbox.zedonk_token) as zedonk:
        snapshot = ZedonkSnapshot(tuple(zedonk.products()), tuple(zedonk.seasons()))
    resolved = resolve(spec, snapshot, settings.price_seasons, limits=ORDRE_LIMITS)
    assert resolved.ok
    by_resolve = {r.key: (r.collection, r.look) for r in resolved.desired.products}
    assert len(by_resolve) > 15
    assert placement(spec, snapshot.products) == by_resolve


def test_text_shows_the_screen_columns(repo: Path) -> None:
    done = runner.invoke(app, ["products", "--root", str(repo), "--search", "ML-610"])
    assert done.exit_code == 0, done.output
    header, line, total = done.stdout.splitlines()
    assert header.split() == [
        "PRODUCT", "DESCRIPTION", "CATEGORY", "SEASONS", "IMAGE", "BARCODES", "WSP", "LOOK",
    ]  # fmt: skip
    assert line.startswith("ML-610/LEATHER/BLACK") and "  no  " in line
    assert line.endswith("Essentials / Accessories")
    assert total == "1 product (1 without a main image, 1 already in a look)"


def test_yaml_pasted_into_a_look_validates_and_plans_to_exactly_those(repo: Path) -> None:
    done = runner.invoke(
        app, ["products", "--root", str(repo), "--format", "yaml", "--category", "Coats"]
    )
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    entries = [line.split()[1] for line in lines if line.startswith("- ")]
    commented = {line.split()[2]: line for line in lines if line.startswith("# - ")}
    assert "already in AW26 Main Collection / Look 1 - Outerwear" in commented["ML-101/WOOL/NAVY"]
    assert any(
        "not exported: size" in line and "check digit" in line for line in commented.values()
    )
    assert len(entries) >= 5
    pasted = "\n".join(f"      {line}" for line in lines)
    (repo / "catalogue" / "new.yaml").write_text(
        f"collection: New coats\norder: 9\nlooks:\n  - name: Pasted\n    products:\n{pasted}\n"
    )
    valid = runner.invoke(app, ["validate", "--root", str(repo)])
    assert valid.exit_code == 0, valid.output
    settings, catalogue, findings = load_tree(repo)
    with open_clients(settings) as (zedonk, ordre):
        plan = plan_only(settings, catalogue, zedonk, ordre, findings=findings).plan
    [created] = [a for a in plan.actions if a.kind == "look" and a.key == "New coats / Pasted"]
    assert created.body is not None and created.body["product_keys"] == entries
