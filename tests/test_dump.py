"""dump: ORDRE's showroom as catalogue files, and the round trip dump -> plan finds nothing.

The pure mapping is tested with plain objects; the round trips run against the sandboxes: the
example catalogue is applied, a repository made by `init` takes in ORDRE with `dump`, and
`plan --detailed-exitcode` there exits 0.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sandbox_harness import Sandboxes
from typer.testing import CliRunner

from daemon.cli import app
from daemon.clients.ordre import OrdreClient
from daemon.core.dump import dump_catalogue, slug
from daemon.core.gtin import check_digit
from daemon.core.model import (
    Listing,
    ListingPrice,
    ListingSize,
    OrdreCollection,
    OrdreLook,
    Product,
    ProductId,
    Sku,
)
from daemon.core.plan import OrdreSnapshot
from daemon.tree.catalogue import load_catalogue
from daemon.tree.yamlload import load_bytes

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()


def product(key: str, description: str = "A coat") -> Product:
    return Product(
        ProductId.parse(key), description, "Coats", ("AW26",), (Sku("M", "5061234000018"),)
    )


def collection(cid: str, name: str, position: int, description: str = "") -> OrdreCollection:
    return OrdreCollection(name, position, description, id=cid, version="1")


def look(lid: str, cid: str, name: str, position: int, *keys: str) -> OrdreLook:
    return OrdreLook(cid, name, position, tuple(keys), id=lid, version="1")


def read(text: str) -> dict[str, Any]:
    loaded = load_bytes(text.encode(), "x.yaml")
    assert loaded.document is not None and not loaded.findings, loaded.findings
    data: dict[str, Any] = loaded.document.data
    return data


# --------------------------------------------------------------------------- the mapping


def test_one_file_per_collection_in_ordres_order() -> None:
    products = {k: product(k) for k in ("A-1/WOOL/NAVY", "A-1/WOOL/BLACK", "B-2/SILK/RED")}
    ordre = OrdreSnapshot(
        collections=(collection("c2", "Second", 5), collection("c1", "First", 1, "Its text")),
        looks=(
            look("l2", "c1", "Look B", 1, "B-2/SILK/RED"),
            look("l1", "c1", "Look A", 1, "A-1/WOOL/NAVY", "A-1/WOOL/BLACK"),
            look("l3", "c2", "Only", 0, "B-2/SILK/RED"),
        ),
    )
    dump = dump_catalogue(ordre, products)
    assert [f.name for f in dump.files] == ["first.yaml", "second.yaml"]
    first = read(dump.files[0].text)
    assert first == {
        "collection": "First",
        "description": "Its text",
        "order": 1,
        "looks": [
            {"name": "Look A", "products": ["A-1/WOOL/NAVY", "A-1/WOOL/BLACK"]},
            {"name": "Look B", "products": ["B-2/SILK/RED"]},
        ],
    }
    assert read(dump.files[1].text)["order"] == 2
    assert dump.files[0].text.startswith(
        "# yaml-language-server: $schema=../schemas/catalogue.schema.json\n"
    )
    assert "- A-1/WOOL/NAVY   # A coat" in dump.files[0].text
    assert (dump.looks, dump.products) == (3, 4)
    # The collections at 1 and 5 keep their positions; the two looks that share position 1
    # are renumbered by apply, which the dump says
    [note] = dump.findings
    assert note.code == "dump-positions" and "0 collections and 1 look" in note.message
    assert dump.left_out == ()


def test_colours_of_a_style_next_to_each_other_group_into_one_entry() -> None:
    keys = ["A-1/WOOL/NAVY", "A-1/WOOL/BLACK", "A-1/CASH/NAVY", "B-2/SILK/RED", "A-1/WOOL/OAT"]
    products = {k: product(k) for k in keys}
    ordre = OrdreSnapshot(
        collections=(collection("c", "C", 0),), looks=(look("l", "c", "L", 0, *keys),)
    )
    data = read(dump_catalogue(ordre, products, group_colours=True).files[0].text)
    assert data["looks"][0]["products"] == [
        {"style": "A-1", "fabric": "WOOL", "colours": ["NAVY", "BLACK"]},
        "A-1/CASH/NAVY",
        "B-2/SILK/RED",
        "A-1/WOOL/OAT",  # not next to the others: grouping it would change the order
    ]


def test_what_the_format_cannot_hold_is_reported_not_dropped() -> None:
    products = {k: product(k) for k in ("A-1/WOOL/NAVY", "B-2/SILK/RED")}
    bad = Product(ProductId(" A", "WOOL", "NAVY"), "edge space", "Coats", ("AW26",), ())
    products[str(bad.id)] = bad
    ordre = OrdreSnapshot(
        collections=(
            collection("c1", "Main", 0),
            collection("c2", "MAIN", 1),  # the same name but for case
            collection("c3", "x" * 201, 2),
            collection("c4", "Hollow", 3),
        ),
        looks=(
            look("l1", "c1", "Look", 0, "A-1/WOOL/NAVY", "ZZ-9/WOOL/RED", " A/WOOL/NAVY"),
            look("l2", "c1", "look", 1, "B-2/SILK/RED"),  # same name as "Look"
            look("l3", "c1", "Unknown only", 2, "ZZ-8/WOOL/RED"),
            look("l4", "c2", "Any", 0, "B-2/SILK/RED"),
            look("l5", "c4", "Empty", 0),
        ),
        listings=(_listing("LOOSE/WOOL/RED"),),
    )
    dump = dump_catalogue(ordre, products)
    codes = sorted(f.code for f in dump.left_out)
    assert codes == [
        "dump-collection-empty",
        "dump-listing-loose",
        "dump-look-empty",
        "dump-look-empty",
        "dump-name",
        "dump-name",
        "dump-name",
        "dump-product-id",
        "dump-product-unknown",
        "dump-product-unknown",
    ]
    assert all(f.file == "ORDRE" and f.hint for f in dump.findings)
    [main] = dump.files
    assert read(main.text)["looks"] == [{"name": "Look", "products": ["A-1/WOOL/NAVY"]}]
    assert "# - ZZ-9/WOOL/RED  # left out: Zedonk has no product with this id" in main.text
    assert '# - " A/WOOL/NAVY"  # left out:' in main.text
    named = {f.path for f in dump.findings if f.code == "dump-name"}
    assert named == {
        "collection 'MAIN'",
        f"collection {'x' * 201!r}",
        "collection 'Main' / look 'look'",
    }


def _listing(key: str) -> Listing:
    style, fabric, colour = key.split("/")
    return Listing(
        key, style, fabric, colour, "", "Coats", (ListingSize("M", "0" * 14),), (), version="1"
    )


@pytest.mark.parametrize(
    ("names", "files"),
    [
        (["AW26 Main"], ["aw26-main.yaml"]),
        (["Été à Paris", "ete a paris"], ["ete-a-paris.yaml", "ete-a-paris-2.yaml"]),
        (["東京", "..."], ["collection-01.yaml", "collection-02.yaml"]),
    ],
)
def test_file_names_are_plain_and_unique(names: list[str], files: list[str]) -> None:
    products = {"A-1/WOOL/NAVY": product("A-1/WOOL/NAVY")}
    ordre = OrdreSnapshot(
        collections=tuple(collection(f"c{i}", n, i) for i, n in enumerate(names)),
        looks=tuple(look(f"l{i}", f"c{i}", "L", 0, "A-1/WOOL/NAVY") for i in range(len(names))),
    )
    assert [f.name for f in dump_catalogue(ordre, products).files] == files
    assert slug("  --Coats & Knits--  ") == "coats-knits"


# --------------------------------------------------------------------------- round trips


class Repos:
    """Catalogue repositories in a temporary folder, wired to the sandboxes."""

    def __init__(self, tmp: Path, sandbox: Sandboxes) -> None:
        self.tmp = tmp
        self.sandbox = sandbox

    def init(self, name: str, *extra: str) -> Path:
        root = self.tmp / name
        done = self.cli(
            "init",
            str(root),
            "--zedonk-url",
            self.sandbox.zedonk_url,
            "--ordre-url",
            self.sandbox.ordre_url,
            "--season",
            "AW26",
            "--order-owner",
            "sophie",
            *extra,
        )
        assert done.exit_code == 0, done.output
        return root

    def cli(self, *args: str) -> Any:
        return runner.invoke(app, list(args), catch_exceptions=False)

    def apply(self, root: Path) -> None:
        done = self.cli("apply", "--yes", "--root", str(root))
        assert done.exit_code == 0, done.output

    def plan_exit(self, root: Path) -> int:
        done = self.cli("plan", "--detailed-exitcode", "--root", str(root))
        assert done.exit_code in (0, 2), done.output
        return int(done.exit_code)

    def ordre(self) -> OrdreClient:
        return OrdreClient(self.sandbox.ordre_url, self.sandbox.ordre_token)


@pytest.fixture
def repos(sandbox: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repos]:
    monkeypatch.setenv("ZEDONK_TOKEN", sandbox.zedonk_token)
    monkeypatch.setenv("ORDRE_TOKEN", sandbox.ordre_token)
    yield Repos(tmp_path, sandbox)


def applied_example(repos: Repos) -> Path:
    """The repository's example catalogue, applied to the ORDRE sandbox."""
    source = repos.init("source")
    for path in (REPO / "catalogue").glob("*.yaml"):
        shutil.copy(path, source / "catalogue" / path.name)
    repos.apply(source)
    return source


def test_dump_of_an_applied_catalogue_plans_no_change(repos: Repos) -> None:
    source = applied_example(repos)
    target = repos.init("target")
    writes = repos.sandbox.write_count("ordre"), repos.sandbox.write_count("zedonk")

    done = repos.cli("dump", "--root", str(target))
    assert done.exit_code == 0, done.output
    assert "Plan after this dump: No changes" in done.output
    assert (repos.sandbox.write_count("ordre"), repos.sandbox.write_count("zedonk")) == writes
    assert repos.cli("validate", "--root", str(target)).exit_code == 0
    assert repos.plan_exit(target) == 0

    # the same collections, looks and products as the source, in the same order
    def shown(root: Path) -> list[tuple[str, list[tuple[str, int]]]]:
        spec = load_catalogue(root)
        return [(c.name, [(x.name, x.position) for x in c.looks]) for c in spec.collections]

    assert shown(target) == shown(source)
    for path in (target / "catalogue").glob("*.yaml"):
        modeline = path.read_text().splitlines()[0]
        schema = modeline.removeprefix("# yaml-language-server: $schema=")
        assert (path.parent / schema).resolve() == target / "schemas" / "catalogue.schema.json"
        assert (path.parent / schema).is_file()


def test_grouped_colours_and_another_folder_plan_no_change(repos: Repos) -> None:
    applied_example(repos)
    target = repos.init("target")
    elsewhere = repos.tmp / "drafts"
    done = repos.cli("dump", "--root", str(target), "--group-colours", "--out", str(elsewhere))
    assert done.exit_code == 0, done.output
    assert not list((target / "catalogue").glob("*.yaml"))
    main = (elsewhere / "aw26-main-collection.yaml").read_text()
    assert "- style: ML-101" in main and "colours: [NAVY, CAMEL]" in main
    schema = main.splitlines()[0].removeprefix("# yaml-language-server: $schema=")
    assert (elsewhere / schema).resolve() == target / "schemas" / "catalogue.schema.json"
    for path in elsewhere.glob("*.yaml"):
        shutil.copy(path, target / "catalogue" / path.name)
    assert repos.plan_exit(target) == 0


TRICKY = """\
collection: "Été: \\"Soirée\\" #1"
description: "Line one\\nLine two: yes, \\u2028 and a tab\\t."
order: 1
looks:
  - name: "NO"
    products: [ML-101/WOOL/NAVY]
  - name: "12:30"
    products: [ML-205/CASH/BLACK]
  - name: "Look: 'quoted' & - dashed "
    products: [ML-510/COTTON/WHITE]
  - name: "東京 🧥"
    products: [ML-230/CASH/OAT]
"""


def test_names_with_unicode_quotes_and_colons_survive_the_round_trip(repos: Repos) -> None:
    source = repos.init("source")
    (source / "catalogue" / "tricky.yaml").write_text(TRICKY, encoding="utf-8")
    (source / "catalogue" / "plain.yaml").write_text(
        'collection: "00123"\norder: 2\n'
        'looks:\n  - {name: "yes", products: [ML-420/WOOL/CHARCOAL]}\n'
    )
    repos.apply(source)
    target = repos.init("target")
    assert repos.cli("dump", "--root", str(target)).exit_code == 0
    assert repos.plan_exit(target) == 0
    dumped = load_catalogue(target)
    original = load_catalogue(source)
    assert [(c.name, c.description, [x.name for x in c.looks]) for c in dumped.collections] == [
        (c.name, c.description, [x.name for x in c.looks]) for c in original.collections
    ]


def _gtin(n: int) -> str:
    body = f"59999990{n:04d}"
    return (body + str(check_digit(body))).zfill(14)


def test_products_zedonk_does_not_know_are_reported_and_kept_as_comments(repos: Repos) -> None:
    applied_example(repos)
    with repos.ordre() as ordre:
        for n, key in enumerate(("ZZ-900/WOOL/RED", "ZZ-901/WOOL/RED"), start=1):
            style, fabric, colour = key.split("/")
            ordre.upsert_listing(
                Listing(
                    key, style, fabric, colour, "Gone from Zedonk", "Coats",
                    (ListingSize("M", _gtin(n)),),
                    (ListingPrice("EUR", Decimal("10.00"), Decimal("25.00")),),
                )
            )  # fmt: skip
        shirts = next(x for x in ordre.looks() if x.name == "Shirts")
        ordre.set_look_products(
            shirts.id, [*shirts.product_keys, "ZZ-900/WOOL/RED"], if_match=shirts.version
        )
        main = next(c for c in ordre.collections() if c.name == "Essentials")
        ordre.create_look(OrdreLook(main.id, "Empty look", 9))
    target = repos.init("target")

    done = repos.cli("dump", "--root", str(target), "--format", "json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["format_version"] == 1
    codes = sorted(f["code"] for f in report["findings"])
    assert codes == ["dump-listing-loose", "dump-look-empty", "dump-product-unknown"]
    unknown = next(f for f in report["findings"] if f["code"] == "dump-product-unknown")
    assert "ZZ-900/WOOL/RED" in unknown["message"] and "Shirts" in unknown["path"]
    loose = next(f for f in report["findings"] if f["code"] == "dump-listing-loose")
    assert "ZZ-901/WOOL/RED" in loose["message"]
    text = (target / "catalogue" / "essentials.yaml").read_text()
    assert "# - ZZ-900/WOOL/RED  # left out: Zedonk has no product with this id" in text
    # what apply would do about them: take them out of ORDRE
    assert report["plan"]["changes"] is True
    assert report["plan"]["summary"]["delete"] == 3  # the empty look and the two listings
    assert repos.plan_exit(target) == 2


def test_dump_writes_nothing_over_collection_files_without_force(repos: Repos) -> None:
    applied_example(repos)
    target = repos.init("target")
    mine = target / "catalogue" / "essentials.yaml"
    mine.write_text("collection: Mine\nlooks: [{name: L, products: [ML-101/WOOL/NAVY]}]\n")
    done = repos.cli("dump", "--root", str(target))
    assert done.exit_code == 1
    assert "already holds 1 collection file (essentials.yaml)" in done.output
    assert "--force" in done.output
    assert mine.read_text().startswith("collection: Mine")
    assert sorted(p.name for p in (target / "catalogue").iterdir()) == [
        ".gitkeep",
        "essentials.yaml",
    ]

    (target / "catalogue" / "old.yaml").write_text("collection: Old\n")
    forced = repos.cli("dump", "--root", str(target), "--force")
    assert forced.exit_code == 0, forced.output
    assert "collection: Essentials" in mine.read_text()
    assert "old.yaml was already there and is not from this dump" in forced.output
