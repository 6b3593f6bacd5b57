"""The daemon's structure-only pass: an edit that only renames, reorders or moves catalogue
entries is planned from ORDRE's collections and looks, without reading Zedonk or the listings;
anything more gets the full pass. Against the sandboxes over real sockets."""

from __future__ import annotations

from dataclasses import replace

from daemon.reconcile import Converged, ReconcileResult
from tests.test_apply import MAIN, Brand, Tree, expected
from tests.test_apply import brand as brand  # the same catalogue repository fixture

QUICK = "collections and looks only"


def converge(brand: Brand) -> Converged:
    first = brand.reconcile()
    assert first.result == "ok", first.message
    assert first.converged is not None
    assert len(first.converged.clean_files) == 2  # both catalogue files passed their schema
    return first.converged


def reads_during(brand: Brand, step: object) -> tuple[ReconcileResult, list[str], list[str]]:
    """Run ``step`` (a reconcile); return it with the paths each sandbox was asked for."""
    marks = {
        name: (brand.sandbox.requests(name) or [{"seq": 0}])[-1]["seq"]
        for name in ("zedonk", "ordre")
    }  # type: ignore[arg-type]
    result = step()  # type: ignore[operator]
    seen = {
        name: [r["path"] for r in brand.sandbox.remote(name).requests(since=marks[name])]  # type: ignore[arg-type]
        for name in ("zedonk", "ordre")
    }
    return result, seen["zedonk"], seen["ordre"]


def test_a_renamed_look_reads_only_collections_and_looks(brand: Brand) -> None:
    known = converge(brand)
    renamed: Tree = dict(MAIN)
    renamed["AW26 Main"] = [("Coats", MAIN["AW26 Main"][0][1]), MAIN["AW26 Main"][1]]
    brand.write(renamed)
    result, zedonk, ordre = reads_during(brand, lambda: brand.reconcile(converged=known))
    assert result.result == "ok", result.message
    assert QUICK in result.message
    assert result.counts["update"] == 1
    assert brand.showroom() == expected(renamed)
    assert zedonk == []
    assert not [p for p in ordre if "/listings" in p or "/customers" in p]
    assert result.converged is not None  # good for the next edit too


def test_a_product_moved_between_looks_and_collections(brand: Brand) -> None:
    known = converge(brand)
    moved: Tree = {
        "AW26 Main": [
            ("Look 2 - Knitwear", ["ML-205/CASH/ECRU", "ML-101/WOOL/CAMEL"]),
            ("Look 1 - Outerwear", ["ML-105/ALPACA/RUST", "ML-101/WOOL/NAVY"]),
        ],
        "Essentials": [
            ("Shirts", ["ML-510/COTTON/WHITE", "ML-205/CASH/BLACK", "ML-510/COTTON/BLUE"])
        ],
    }
    brand.write(moved)
    result = brand.reconcile(converged=known)
    assert result.result == "ok" and QUICK in result.message, result.message
    assert brand.showroom() == expected(moved)
    assert brand.plan().has_changes is False  # the full plan agrees


def test_an_added_product_gets_the_full_pass(brand: Brand) -> None:
    known = converge(brand)
    grown: Tree = dict(MAIN)
    grown["Essentials"] = [("Shirts", [*MAIN["Essentials"][0][1], "ML-230/CASH/OAT"])]
    brand.write(grown)
    result, zedonk, _ = reads_during(brand, lambda: brand.reconcile(converged=known))
    assert result.result == "ok", result.message
    assert QUICK not in result.message
    assert any("/products" in p for p in zedonk)
    assert brand.showroom() == expected(grown)


def test_two_looks_merged_into_one_get_the_full_pass(brand: Brand) -> None:
    """The same products, but one look fewer: only the full pass deletes, under its guard."""
    known = converge(brand)
    (first, products), (_, more) = MAIN["AW26 Main"]
    merged: Tree = {"AW26 Main": [(first, [*products, *more])], "Essentials": MAIN["Essentials"]}
    brand.write(merged)
    result = brand.reconcile(converged=known)
    assert QUICK not in result.message
    assert result.result == "ok" and result.counts["delete"] == 1, result.message
    assert brand.showroom() == expected(merged)


def test_other_settings_get_the_full_pass(brand: Brand) -> None:
    known = converge(brand)
    brand.configure(prune=False)
    renamed: Tree = dict(MAIN)
    renamed["Essentials"] = [("Shirts and tees", MAIN["Essentials"][0][1])]
    brand.write(renamed)
    result = brand.reconcile(converged=known)
    assert result.result == "ok" and QUICK not in result.message


def test_a_look_changed_on_ordre_meanwhile_is_put_back(brand: Brand) -> None:
    known = converge(brand)
    with brand.ordre() as client:
        look = next(x for x in client.looks() if x.name == "Shirts")
        client.update_look(replace(look, name="Shirts (edited by hand)"), if_match=look.version)
    renamed: Tree = dict(MAIN)
    renamed["AW26 Main"] = [("Coats", MAIN["AW26 Main"][0][1]), MAIN["AW26 Main"][1]]
    brand.write(renamed)
    result = brand.reconcile(converged=known)
    assert result.result == "ok" and QUICK in result.message, result.message
    assert brand.showroom() == expected(renamed)


def test_a_failed_pass_forgets_what_it_knew(brand: Brand) -> None:
    known = converge(brand)
    renamed: Tree = dict(MAIN)
    renamed["AW26 Main"] = [("Coats", MAIN["AW26 Main"][0][1]), MAIN["AW26 Main"][1]]
    brand.write(renamed)
    brand.sandbox.fail_next("ordre", "PUT", "/looks/", 400, times=1)
    result = brand.reconcile(converged=known)
    assert result.result in ("partial", "failed"), result.message
    assert result.converged is None
