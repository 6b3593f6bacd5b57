"""catalogue/: the spec built from the files, its order, and the cross-file rules."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path
from typing import Any

import pytest

from daemon.core.model import ProductId
from daemon.core.spec import Location, StyleRef
from daemon.errors import ConfigError
from daemon.tree import catalogue
from daemon.tree.catalogue import CleanFiles, check_catalogue, load_catalogue

REPO = Path(__file__).resolve().parent.parent
BASE = Path(__file__).parent / "configs" / "base"

# The demo brand's products, as the sandbox seeds them.
SEEDED = {
    "ML-101/WOOL/NAVY",
    "ML-101/WOOL/CAMEL",
    "ML-102/WOOL/BLACK",
    "ML-205/CASH/BLACK",
    "ML-205/CASH/ECRU",
    "ML-205/CASH/GREY",
    "ML-230/CASH/GREY",
    "ML-230/CASH/OAT",
    "ML-310/SILK/IVORY",
    "ML-310/SILK/BLACK",
    "ML-420/WOOL/CHARCOAL",
    "ML-510/COTTON/WHITE",
    "ML-510/COTTON/BLUE",
    "ML-610/LEATHER/BLACK",
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(BASE, tmp_path / "repo")
    return tmp_path / "repo"


def test_the_example_catalogue() -> None:
    spec = load_catalogue(REPO)
    assert [(c.position, c.name, c.order) for c in spec.collections] == [
        (0, "AW26 Main Collection", 1),
        (1, "AW26 Evening", 2),
        (2, "Essentials", 3),
    ]
    main = spec.collections[0]
    assert main.file == "catalogue/aw26-main.yaml"
    assert main.description == "Autumn Winter 26 runway pieces"
    outerwear, knitwear = main.looks
    assert (outerwear.name, outerwear.position, knitwear.position) == ("Look 1 - Outerwear", 0, 1)
    assert [str(p.id) for p in outerwear.products] == [
        "ML-101/WOOL/NAVY",
        "ML-101/WOOL/CAMEL",
        "ML-102/WOOL/BLACK",
    ]
    assert str(outerwear.products[0].location) == "catalogue/aw26-main.yaml:8:9"
    assert outerwear.location == Location("catalogue/aw26-main.yaml", 6, 11)
    [style] = knitwear.styles
    assert (style.style, style.fabric, style.colours) == ("ML-205", "CASH", ("BLACK", "ECRU"))
    [selector] = knitwear.selectors
    assert (selector.season, selector.category, selector.search) == ("AW26", "Knitwear", "cardigan")
    assert selector.exclude == (ProductId("ML-230", "CASH", "GREY"),)


def test_the_example_uses_only_seeded_products_each_once() -> None:
    spec = load_catalogue(REPO)
    written = [str(p.id) for c in spec.collections for look in c.looks for p in look.products]
    written += [
        f"{s.style}/{s.fabric}/{colour}"
        for c in spec.collections
        for look in c.looks
        for s in look.styles
        for colour in s.colours
    ]
    excluded = {
        str(p)
        for c in spec.collections
        for look in c.looks
        for sel in look.selectors
        for p in sel.exclude
    }
    assert len(written) == len(set(written))
    assert set(written) | excluded <= SEEDED
    categories = {
        sel.category for c in spec.collections for look in c.looks for sel in look.selectors
    }
    assert categories == {"Knitwear", "Dresses", "Shirts"}


def test_collections_are_ordered_by_order_then_file_name(root: Path) -> None:
    catalogue = root / "catalogue"
    look = "looks:\n  - name: L\n    select: [{category: C}]\n"
    (catalogue / "a.yaml").write_text(f"collection: A\n{look}")
    (catalogue / "b.yaml").write_text(f"collection: B\norder: 2\n{look}")
    (catalogue / "c.yaml").write_text(f"collection: C\norder: -1\n{look}")
    spec = load_catalogue(root)
    assert [(c.name, c.position) for c in spec.collections] == [
        ("C", 0),
        ("B", 1),
        ("A", 2),
        ("Main", 3),
    ]


def test_empty_catalogue_is_valid_but_warned(root: Path) -> None:
    (root / "catalogue" / "main.yaml").unlink()
    spec, findings = check_catalogue(root)
    assert spec is not None and spec.is_empty
    assert [(f.code, f.severity) for f in findings] == [("catalogue-empty", "warning")]


def test_duplicate_product_names_both_places(root: Path) -> None:
    (root / "catalogue" / "second.yaml").write_text(
        "collection: Second\nlooks:\n  - name: Again\n    products:\n"
        "      - style: ML-205\n        colours: [ECRU]\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_catalogue(root)
    [finding] = raised.value.findings
    assert str(finding).splitlines()[0] == (
        "catalogue/second.yaml:5:9: looks[0].products[0]: ML-205/CASH/ECRU is already in "
        "look `Knitwear` of collection `Main` at catalogue/main.yaml:9:9; a product can be "
        "in one look of one collection only [product-duplicate]"
    )


def test_style_without_fabric_covers_any_fabric() -> None:
    here = Location("catalogue/x.yaml", 1, 1)
    ref = StyleRef("ML-205", None, ("BLACK",), here)
    assert ref.covers(ProductId("ML-205", "CASH", "BLACK"))
    assert not ref.covers(ProductId("ML-205", "CASH", "ECRU"))
    assert not StyleRef("ML-205", "WOOL", ("BLACK",), here).covers(
        ProductId("ML-205", "CASH", "BLACK")
    )


def test_cyclic_gc_is_restored() -> None:
    assert gc.isenabled()
    load_catalogue(REPO)
    assert gc.isenabled()
    gc.disable()
    try:
        load_catalogue(REPO)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_clean_files_skip_the_schema_check_of_unchanged_bytes(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "catalogue" / "second.yaml").write_text(
        "collection: Second\nlooks:\n  - name: Again\n    products: [ML-230/CASH/OAT]\n"
    )
    first = CleanFiles()
    spec, findings = check_catalogue(root, first)
    assert spec is not None and not findings
    assert len(first.now) == 2

    checked: list[str] = []
    real = catalogue.schema_findings

    def counting(document: Any, schema: str) -> Any:
        checked.append(document.file)
        return real(document, schema)

    monkeypatch.setattr(catalogue, "schema_findings", counting)
    second = CleanFiles(frozenset(first.now))
    again, _ = check_catalogue(root, second)
    assert checked == [] and again == spec
    assert second.now == first.now

    # Changed bytes are checked again, and a schema error is still reported.
    (root / "catalogue" / "second.yaml").write_text("collection: Second\nlooks: 7\n")
    third = CleanFiles(frozenset(second.now))
    broken, findings = check_catalogue(root, third)
    assert checked == ["catalogue/second.yaml"]
    assert broken is None and any(f.file == "catalogue/second.yaml" for f in findings)
    assert len(third.now) == 1  # main.yaml only
