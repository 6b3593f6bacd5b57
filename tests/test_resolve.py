"""resolve: catalogue spec + Zedonk snapshot -> desired ORDRE state and findings (pure)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from msgspec import structs

from daemon.clients.ordre import ORDRE_LIMITS
from daemon.core import gtin
from daemon.core.model import Address, Customer, Price, Product, ProductId, Season, Sku
from daemon.core.resolve import ZedonkSnapshot, resolve
from daemon.core.spec import (
    CatalogueSpec,
    CollectionSpec,
    Location,
    LookSpec,
    ProductRef,
    Selector,
    StyleRef,
)

FILE = "catalogue/aw26.yaml"
SEASONS = (
    Season("AW25", "Autumn Winter 25", date(2025, 2, 1)),
    Season("SS26", "Spring Summer 26", date(2025, 8, 1)),
    Season("AW26", "Autumn Winter 26", date(2026, 2, 1)),
)


def at(line: int) -> Location:
    return Location(FILE, line, 5)


def barcode(n: int) -> str:
    body = f"50612345{n:04d}"
    return body + str(gtin.check_digit(body))


def product(
    pid: str,
    n: int,
    *,
    sizes: int = 2,
    category: str = "Coats",
    seasons: tuple[str, ...] = ("AW26",),
    description: str = "Wool coat",
    image: str | None = "https://img.example/x.jpg",
    prices: tuple[Price, ...] = (Price("AW26", "EUR", Decimal("310"), Decimal("775")),),
) -> Product:
    return Product(
        id=ProductId.parse(pid),
        description=description,
        category=category,
        seasons=seasons,
        skus=tuple(Sku(str(36 + 2 * i), barcode(n * 10 + i)) for i in range(sizes)),
        prices=prices,
        image_url=image,
    )


def look(
    name: str,
    line: int,
    *refs: str,
    selectors: tuple[Selector, ...] = (),
    styles: tuple[StyleRef, ...] = (),
) -> LookSpec:
    return LookSpec(
        name=name,
        position=0,
        products=tuple(
            ProductRef(ProductId.parse(r), at(line + 1 + i), i) for i, r in enumerate(refs)
        ),
        styles=styles,
        selectors=selectors,
        location=at(line),
    )


def catalogue(*looks: LookSpec, name: str = "Autumn Winter 26") -> CatalogueSpec:
    numbered = tuple(
        LookSpec(lk.name, i, lk.products, lk.styles, lk.selectors, lk.location)
        for i, lk in enumerate(looks)
    )
    return CatalogueSpec((CollectionSpec(name, "", 0, numbered, FILE, Location(FILE, 1, 1)),))


PRODUCTS = (
    product("ML-101/WOOL/NAVY", 1),
    product("ML-101/WOOL/BLACK", 2),
    product("ML-205/CASH/GREY", 3, category="Knitwear", description="Cashmere jumper"),
    product("ML-300/SILK/RED", 4, category="Dresses", seasons=("SS26",), description="Slip dress"),
)


def run(spec: CatalogueSpec, products: tuple[Product, ...] = PRODUCTS, **kw: object):  # type: ignore[no-untyped-def]
    return resolve(
        spec, ZedonkSnapshot(products, SEASONS), ("SS26", "AW26"), limits=ORDRE_LIMITS, **kw
    )  # type: ignore[arg-type]


def test_explicit_products_keep_their_order_and_become_listings() -> None:
    result = run(catalogue(look("Look 1", 3, "ML-205/CASH/GREY", "ML-101/WOOL/NAVY")))
    assert result.ok
    (coll,) = result.desired.collections
    assert coll.looks[0].product_keys == ("ML-205/CASH/GREY", "ML-101/WOOL/NAVY")
    listing = {x.key: x for x in result.desired.listings}["ML-101/WOOL/NAVY"]
    assert [s.gtin for s in listing.sizes] == [barcode(10).zfill(14), barcode(11).zfill(14)]
    assert listing.prices[0].wsp == Decimal("310")


def test_unknown_product_is_an_error_at_its_line() -> None:
    result = run(catalogue(look("Look 1", 3, "ML-999/WOOL/NAVY")))
    assert not result.ok
    (finding,) = [f for f in result.findings if f.is_error]
    assert finding.code == "product-unknown"
    assert (finding.file, finding.line) == (FILE, 4)
    assert "ML-999/WOOL/NAVY" in finding.message


def test_selectors_are_deterministic_and_excludes_win() -> None:
    sel = Selector(
        season="AW26",
        category=None,
        search=None,
        exclude=(ProductId.parse("ML-101/WOOL/NAVY"),),
        location=at(10),
    )
    result = run(catalogue(look("All AW26", 9, selectors=(sel,))))
    assert result.desired.collections[0].looks[0].product_keys == (
        "ML-101/WOOL/BLACK",
        "ML-205/CASH/GREY",
    )
    # Same input in another order: same result.
    again = run(catalogue(look("All AW26", 9, selectors=(sel,))), tuple(reversed(PRODUCTS)))
    assert again.desired == result.desired


def test_free_text_search_covers_style_description_and_colour() -> None:
    def keys(text: str) -> tuple[str, ...]:
        sel = Selector(None, None, text, (), at(10))
        return (
            run(catalogue(look("L", 9, selectors=(sel,))))
            .desired.collections[0]
            .looks[0]
            .product_keys
        )

    assert keys("cashmere") == ("ML-205/CASH/GREY",)
    assert keys("black") == ("ML-101/WOOL/BLACK",)
    assert keys("ml-3") == ("ML-300/SILK/RED",)


def test_selector_catching_a_product_listed_elsewhere_names_both_places() -> None:
    sel = Selector(None, "Coats", None, (), at(20))
    result = run(
        catalogue(look("Look 1", 3, "ML-101/WOOL/NAVY"), look("Coats", 19, selectors=(sel,)))
    )
    errors = [f for f in result.findings if f.code == "product-in-two-looks"]
    assert len(errors) == 1
    assert errors[0].line == 20
    assert f"{FILE}:4:5" in errors[0].message and "Look 1" in errors[0].message


def test_same_product_twice_in_one_look_shows_once() -> None:
    sel = Selector(None, "Coats", None, (), at(5))
    result = run(catalogue(look("Look 1", 3, "ML-101/WOOL/NAVY", selectors=(sel,))))
    assert result.ok
    assert result.desired.collections[0].looks[0].product_keys == (
        "ML-101/WOOL/NAVY",
        "ML-101/WOOL/BLACK",
    )


def test_style_entry_picks_colours_and_the_only_fabric() -> None:
    style = StyleRef("ML-101", None, ("BLACK", "NAVY"), at(4), 0)
    result = run(catalogue(look("Look 1", 3, styles=(style,))))
    assert result.desired.collections[0].looks[0].product_keys == (
        "ML-101/WOOL/BLACK",
        "ML-101/WOOL/NAVY",
    )


def test_bad_barcodes_leave_the_product_out_with_a_warning_or_an_error_when_strict() -> None:
    broken = Product(
        ProductId.parse("ML-400/WOOL/RED"),
        "Red coat",
        "Coats",
        ("AW26",),
        (Sku("36", "5061234500018"), Sku("38", None)),  # wrong check digit, missing
    )
    spec = catalogue(look("Look 1", 3, "ML-400/WOOL/RED", "ML-101/WOOL/NAVY"))
    result = run(spec, (*PRODUCTS, broken))
    assert result.ok
    assert result.desired.collections[0].looks[0].product_keys == ("ML-101/WOOL/NAVY",)
    (warning,) = [f for f in result.findings if f.code == "product-not-exported"]
    assert warning.severity == "warning" and warning.line == 4
    assert "size 36" in warning.message and "size 38" in warning.message
    assert "ML-400/WOOL/RED" in warning.message
    report = {p.key: p for p in result.desired.products}["ML-400/WOOL/RED"]
    assert not report.exported
    strict = run(spec, (*PRODUCTS, broken), strict=True)
    assert not strict.ok


def test_upc_and_ean_forms_of_one_barcode_clash() -> None:
    upc = "036000291452"  # UPC-A; its EAN-13 form is 0036000291452
    a = Product(ProductId.parse("A/B/C"), "a", "Coats", (), (Sku("S", upc),))
    b = Product(ProductId.parse("D/E/F"), "b", "Coats", (), (Sku("M", "0" + upc),))
    result = run(catalogue(look("L", 3, "A/B/C", "D/E/F")), (a, b))
    assert result.desired.collections[0].looks[0].product_keys == ()
    assert len([f for f in result.findings if f.code == "product-not-exported"]) == 2


def test_most_recent_price_season_wins_and_zero_price_warns() -> None:
    p = product(
        "ML-500/WOOL/NAVY",
        5,
        image=None,
        seasons=("AW25", "SS26", "AW26"),
        prices=(
            Price("AW26", "EUR", Decimal("320"), Decimal("800")),
            Price("SS26", "EUR", Decimal("300"), Decimal("750")),
            Price("SS26", "GBP", Decimal("0"), Decimal("0")),
            Price("AW25", "USD", Decimal("1"), Decimal("2")),  # not a price season
        ),
    )
    result = run(catalogue(look("L", 3, "ML-500/WOOL/NAVY")), (p,))
    (listing,) = result.desired.listings
    assert {x.currency: x.wsp for x in listing.prices} == {
        "EUR": Decimal("320"),
        "GBP": Decimal("0"),
        "USD": Decimal("0"),  # the brand prices in USD; no price season prices this one
    }
    codes = [f.code for f in result.findings]
    assert {"price-zero", "image-missing", "price-missing"} <= set(codes)
    [missing] = [f for f in result.findings if f.code == "price-missing"]
    assert "has no price in USD in the price seasons it is visible in (SS26, AW26)" in (
        missing.message
    )


def test_prices_come_only_from_price_seasons_the_product_is_visible_in() -> None:
    """domain.md §7 rule 12: visible only in AW25 but holding AW26 prices, under price seasons
    [AW26], the product gets 0.00, with a warning; a product with no price at all too."""
    aw26 = (Price("AW26", "EUR", Decimal("400"), Decimal("990")),)
    old = product("ML-600/WOOL/NAVY", 6, seasons=("AW25",), prices=aw26)
    bare = product("ML-601/WOOL/NAVY", 7, prices=())
    priced = product("ML-602/WOOL/NAVY", 8, prices=aw26)
    spec = catalogue(look("L", 3, "ML-600/WOOL/NAVY", "ML-601/WOOL/NAVY", "ML-602/WOOL/NAVY"))
    result = resolve(
        spec, ZedonkSnapshot((old, bare, priced), SEASONS), ("AW26",), limits=ORDRE_LIMITS
    )
    prices = {
        x.key: [(p.currency, p.wsp, p.rrp) for p in x.prices] for x in result.desired.listings
    }
    zero = [("EUR", Decimal("0.00"), Decimal("0.00"))]
    assert prices == {
        "ML-600/WOOL/NAVY": zero,
        "ML-601/WOOL/NAVY": zero,
        "ML-602/WOOL/NAVY": [("EUR", Decimal("400"), Decimal("990"))],
    }
    [hidden] = [f for f in result.findings if "ML-600" in f.message]
    assert (hidden.code, hidden.severity) == ("price-not-visible", "warning")
    assert "ML-600/WOOL/NAVY is not visible in any of the price seasons (AW26): it is sent " in (
        hidden.message
    )
    [missing] = [f for f in result.findings if "ML-601" in f.message]
    assert missing.code == "price-missing" and "sent as 0.00" in missing.message
    assert not [f for f in result.findings if "ML-602" in f.message]


def test_customers_active_with_account_code_and_store_fills_missing_addresses() -> None:
    store = Address("store", company="Shop", line1="1 High St", city="Oslo", country="NO")
    delivery = Address("delivery", company="Depot", line1="2 Dock", city="Oslo", country="NO")
    customers = (
        Customer("C1", "Atelier Nord", "ATN001", True, "EUR", (store, delivery), "a@x", "Ann"),
        Customer("C2", "No Code", None, True, "EUR", (store,)),
        Customer("C3", "Closed", "CLS001", False, "EUR", (store,)),
    )
    result = resolve(
        catalogue(), ZedonkSnapshot((), SEASONS, customers), ("AW26",), limits=ORDRE_LIMITS
    )
    (customer,) = result.desired.customers
    assert customer.account_code == "ATN001"
    assert customer.delivery_address is not None and customer.delivery_address.line1 == "2 Dock"
    assert customer.accounts_address is not None and customer.accounts_address.line1 == "1 High St"
    assert customer.contact_email == "a@x"


def test_a_product_whose_listing_ordre_would_refuse_is_held_back_and_says_why() -> None:
    odd = (
        product("ML-101/WOOL/NAVY", 1, description="d" * 2400),
        product("ML-101/WOOL/BLACK", 2, category=" "),
        structs.replace(product("ML-205/CASH/GREY", 3), skus=(Sku("X" * 40, barcode(31)),)),
        product("ML-300/SILK/RED", 4, image="https://img.example/" + "i" * 1000),
        product("ML-400/SILK/RED", 5, description="d" * 2000),  # at the limit: fine
    )
    spec = catalogue(look("Look 1", 3, *(str(p.id) for p in odd)))
    result = run(spec, odd)
    held = {p.key: p.problems for p in result.desired.products if not p.exported}
    assert held == {
        "ML-101/WOOL/NAVY": (
            "its description is 2,400 characters long; at most 2,000 are allowed",
        ),
        "ML-101/WOOL/BLACK": ("it has no category, which ORDRE requires",),
        "ML-205/CASH/GREY": (f"size {'X' * 30} is 40 characters long; at most 30 are allowed",),
        "ML-300/SILK/RED": ("its Image 1 URL is 1,020 characters long; at most 1,000 are allowed",),
    }
    assert [x.key for x in result.desired.listings] == ["ML-400/SILK/RED"]
    assert all("d" * 100 not in f.message for f in result.findings)


def test_colours_sharing_prices_keep_their_own_amounts() -> None:
    """Colours of a style with prices equal in amount share the choice of which price a listing
    shows, and each keeps the amounts as Zedonk wrote them ("-0", "0.00", "775.0")."""
    written = {"NAVY": ("0", "775"), "BLACK": ("0.00", "775.00"), "RED": ("-0", "775.0")}
    colours = tuple(
        product(
            f"ML-101/WOOL/{colour}",
            n,
            prices=(Price("AW26", "EUR", Decimal(wsp), Decimal(rrp)),),
        )
        for n, (colour, (wsp, rrp)) in enumerate(written.items(), start=1)
    )
    keys = [f"ML-101/WOOL/{colour}" for colour in written]
    result = run(catalogue(look("L", 3, *keys)), colours)
    shown = {
        listing.colour: (str(listing.prices[0].wsp), str(listing.prices[0].rrp))
        for listing in result.desired.listings
    }
    assert shown == written
    messages = [f.message for f in result.findings if f.code == "price-zero"]
    assert {m[m.index("(wholesale") :] for m in messages} == {
        f"(wholesale {wsp}, retail {rrp})" for wsp, rrp in written.values()
    }
