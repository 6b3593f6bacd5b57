"""resolve_structure: an edit that only renames, reorders or moves entries gives exactly the tree
a full resolve gives; anything else is handed back (None) for a full resolve.

A base catalogue of explicit products, a style entry and a selector (with an exclude) over a
brand with one product of bad barcodes and two that share a barcode, so that catalogued and
exported differ. Hypothesis edits it at random; wherever ``resolve_structure`` answers, its
answer must equal the full resolve's.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import structs

from daemon.clients.ordre import ORDRE_LIMITS
from daemon.core.model import Price, ProductId, Sku
from daemon.core.resolve import Resolution, Structure, ZedonkSnapshot, resolve, resolve_structure
from daemon.core.spec import (
    CatalogueSpec,
    CollectionSpec,
    Location,
    LookSpec,
    Selector,
    StyleRef,
)
from tests.test_resolve import FILE, SEASONS, at, look, product

PRICE = (Price("AW26", "EUR", Decimal("310"), Decimal("775")),)
PRODUCTS = (
    product("ML-101/WOOL/NAVY", 1),
    product("ML-101/WOOL/BLACK", 2),
    product("ML-101/WOOL/CAMEL", 3),
    product("ML-205/CASH/GREY", 4, category="Knitwear", description="Cashmere jumper"),
    product("ML-205/CASH/OAT", 5, category="Knitwear", description="Cashmere jumper"),
    product("ML-300/SILK/RED", 6, category="Dresses", description="Slip dress"),
    product("ML-300/SILK/INK", 7, category="Dresses", description="Slip dress"),
    product("ML-400/DENIM/BLUE", 8, category="Denim", description="Wide jeans"),
    structs.replace(product("ML-500/LINEN/SAND", 9), skus=(Sku("S", "12345"),)),  # not exported
    product("ML-600/WOOL/NAVY", 10, category="Scarves"),
    product("ML-600/WOOL/RED", 11, category="Scarves"),
)
# Two products that share one barcode: both are catalogued, neither is exported.
PRODUCTS += (
    structs.replace(product("ML-700/COTTON/WHITE", 12), skus=(Sku("M", "5061234501232"),)),
    structs.replace(product("ML-701/COTTON/WHITE", 13), skus=(Sku("M", "5061234501232"),)),
)
SNAPSHOT = ZedonkSnapshot(PRODUCTS, SEASONS)


def collection(name: str, position: int, *looks: LookSpec) -> CollectionSpec:
    numbered = tuple(replace(lk, position=i) for i, lk in enumerate(looks))
    return CollectionSpec(name, f"{name} description", position, numbered, FILE, at(position))


def base() -> CatalogueSpec:
    scarves = Selector("AW26", "Scarves", None, (ProductId.parse("ML-600/WOOL/RED"),), at(40))
    coats = StyleRef("ML-101", "WOOL", ("NAVY", "CAMEL"), at(20), 1)
    return CatalogueSpec(
        (
            collection(
                "Main",
                0,
                look("Coats", 10, "ML-101/WOOL/BLACK", styles=(coats,)),
                look("Knits", 30, "ML-205/CASH/GREY", "ML-205/CASH/OAT", "ML-500/LINEN/SAND"),
            ),
            collection(
                "Pre",
                1,
                look("Dresses", 50, "ML-300/SILK/RED", "ML-300/SILK/INK", "ML-700/COTTON/WHITE"),
                look("Scarves", 60, "ML-400/DENIM/BLUE", selectors=(scarves,)),
                look("Tees", 70, "ML-701/COTTON/WHITE"),
            ),
        )
    )


def full(spec: CatalogueSpec) -> Resolution:
    return resolve(spec, SNAPSHOT, ("AW26",), limits=ORDRE_LIMITS)


BASE = full(base())
assert BASE.structure is not None and BASE.ok


def renumber(look_spec: LookSpec, products: list[object]) -> LookSpec:
    refs = [p for p in products if not isinstance(p, StyleRef)]
    styles = [p for p in products if isinstance(p, StyleRef)]
    positioned = {id(p): i for i, p in enumerate(products)}
    return replace(
        look_spec,
        products=tuple(replace(r, position=positioned[id(r)]) for r in refs),  # type: ignore[type-var]
        styles=tuple(replace(s, position=positioned[id(s)]) for s in styles),
    )


def entries(look_spec: LookSpec) -> list[object]:
    return sorted([*look_spec.products, *look_spec.styles], key=lambda e: e.position)  # type: ignore[attr-defined,no-any-return]


def with_looks(spec: CatalogueSpec, looks: list[list[LookSpec]]) -> CatalogueSpec:
    return CatalogueSpec(
        tuple(
            replace(c, looks=tuple(replace(lk, position=i) for i, lk in enumerate(ls)))
            for c, ls in zip(spec.collections, looks, strict=True)
        )
    )


@st.composite
def edited(draw: st.DrawFn) -> tuple[CatalogueSpec, bool]:
    """A random edit of the base catalogue, and whether it is structural only."""
    spec = base()
    looks = [list(c.looks) for c in spec.collections]
    structural = True
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(
                [
                    "rename",
                    "reorder-looks",
                    "move-look",
                    "move-entry",
                    "reorder-entries",
                    "describe",
                    "add-product",
                    "duplicate",
                    "drop-entry",
                    "new-selector",
                ]
            )
        )
        c = draw(st.integers(0, len(looks) - 1))
        if not looks[c]:
            continue
        i = draw(st.integers(0, len(looks[c]) - 1))
        chosen = looks[c][i]
        if kind == "rename":
            looks[c][i] = replace(chosen, name=chosen.name + " (new)")
        elif kind == "reorder-looks":
            looks[c] = draw(st.permutations(looks[c]))
        elif kind == "move-look":
            looks[c].pop(i)
            looks[1 - c].append(chosen)
        elif kind == "move-entry" and entries(chosen):
            moved = entries(chosen)
            entry = moved.pop(draw(st.integers(0, len(moved) - 1)))
            looks[c][i] = renumber(chosen, moved)
            t = draw(st.integers(0, len(looks[1 - c]) - 1)) if looks[1 - c] else None
            if t is None:
                looks[c][i] = renumber(chosen, [*moved, entry])
            else:
                target = looks[1 - c][t]
                looks[1 - c][t] = renumber(target, [entry, *entries(target)])
        elif kind == "reorder-entries":
            looks[c][i] = renumber(chosen, draw(st.permutations(entries(chosen))))
        elif kind == "describe":
            spec = CatalogueSpec(
                tuple(replace(x, description=x.description + "!") for x in spec.collections)
            )
        elif kind == "add-product":
            extra = look("x", 90, "ML-400/DENIM/BLUE", "ML-300/SILK/RED")
            looks[c][i] = renumber(chosen, [*entries(chosen), extra.products[0]])
            structural = False  # already placed elsewhere: two looks
        elif kind == "duplicate" and entries(chosen):
            # The same product twice in one look shows once; but a later move of one copy
            # puts it in two looks, so this is not counted as structural.
            looks[c][i] = renumber(chosen, [*entries(chosen), entries(chosen)[0]])
            structural = False
        elif kind == "drop-entry" and entries(chosen):
            looks[c][i] = renumber(chosen, entries(chosen)[1:])
            structural = False
        elif kind == "new-selector":
            sel = Selector(None, "Denim", None, (), Location(FILE, 99, 5))
            looks[c][i] = replace(chosen, selectors=(*chosen.selectors, sel))
            structural = False
    return with_looks(spec, looks), structural


def test_an_unchanged_catalogue_gives_the_same_tree() -> None:
    assert BASE.structure is not None
    assert resolve_structure(base(), BASE.structure) == BASE.desired.collections


@settings(max_examples=300, deadline=None)
@given(edited())
def test_structure_only_resolve_equals_the_full_resolve(case: tuple[CatalogueSpec, bool]) -> None:
    spec, structural = case
    assert BASE.structure is not None
    quick = resolve_structure(spec, BASE.structure)
    whole = full(spec)
    if structural:
        assert quick is not None
    if quick is not None:
        assert whole.ok, whole.findings
        assert quick == whole.desired.collections


def test_a_product_in_two_looks_is_left_to_the_full_resolve() -> None:
    spec = base()
    first = spec.collections[0].looks[0]
    second = spec.collections[1].looks[0]
    moved = renumber(second, [*entries(second), first.products[0]])
    changed = with_looks(
        spec, [list(spec.collections[0].looks), [moved, *spec.collections[1].looks[1:]]]
    )
    assert BASE.structure is not None
    assert resolve_structure(changed, BASE.structure) is None
    assert not full(changed).ok


def test_errors_leave_no_structure() -> None:
    spec = with_looks(base(), [[look("Bad", 3, "ML-999/WOOL/NAVY")], []])
    assert full(spec).structure is None


def test_structure_keeps_catalogued_and_exported_apart() -> None:
    structure = BASE.structure
    assert isinstance(structure, Structure)
    assert "ML-500/LINEN/SAND" in structure.unexported
    assert {"ML-700/COTTON/WHITE", "ML-701/COTTON/WHITE"} <= structure.unexported
    assert structure.unexported < structure.catalogued
    assert "ML-101/WOOL/BLACK" in structure.catalogued - structure.unexported
    assert "ML-600/WOOL/RED" not in structure.catalogued  # excluded by the selector
    # Product entries need no record; the style entry and the selector have one each.
    assert sorted(key[0] for key in structure.expanded) == ["selector", "style"]
