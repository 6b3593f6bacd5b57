"""The product finder behind ``zedonk-ordre products`` (pure): Zedonk's "+ Add Product" screen.

The filters are a catalogue selector's (season, product category, free text; inactive
products never match), applied by the same ``selector_matches``, so the products listed are
the ones a selector with the same filters picks, in the same order. Each row says what the
screen shows (the main-image icon) and what decides whether the product reaches ORDRE: the
barcode of every size, its prices in the configured price seasons, and the look the catalogue
already puts it in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from daemon.core import gtin
from daemon.core.entries import product_sort_key, selector_matches
from daemon.core.limits import OrdreLimits
from daemon.core.model import Price, Product
from daemon.core.spec import CatalogueSpec, Location, ProductRef, Selector, StyleRef
from daemon.core.words import plural
from daemon.core.yamlwrite import comment, scalar

BarcodeState = Literal["valid", "missing", "malformed", "check-digit"]
STATE_WORDS: dict[BarcodeState, str] = {
    "valid": "valid",
    "missing": "missing",
    "malformed": "malformed",
    "check-digit": "bad check digit",
}


@dataclass(frozen=True)
class Filters:
    """The screen's filters; None means "any". At most what a selector takes."""

    season: str | None = None
    category: str | None = None
    search: str | None = None
    unplaced: bool = False  # only products in no look of the catalogue

    def describe(self) -> str:
        given = [
            f"{name} {value!r}"
            for name, value in (
                ("season", self.season),
                ("category", self.category),
                ("search", self.search),
            )
            if value is not None
        ]
        if self.unplaced:
            given.append("in no look yet")
        return ", ".join(given) or "every active product"


class SizeBarcode(NamedTuple):  # a tuple: a large brand makes 100,000 of them
    size: str
    barcode: str | None  # as Zedonk holds it
    state: BarcodeState
    message: str = ""  # why it is not valid, for people


class ProductRow(NamedTuple):
    product: Product
    sizes: tuple[SizeBarcode, ...]  # in size-run order
    prices: tuple[Price, ...]  # in the price seasons: configured order, then currency
    look: tuple[str, str] | None  # (collection, look) the catalogue puts it in; None if none
    problems: tuple[str, ...]  # why it would not be exported; empty when it would

    @property
    def exportable(self) -> bool:
        return not self.problems


def barcodes(product: Product) -> tuple[SizeBarcode, ...]:
    """Each size's barcode and its state (a GS1 check as in ``daemon.core.gtin``)."""
    rows: list[SizeBarcode] = []
    for sku in product.skus:
        code = sku.barcode
        if (  # the common case, an EAN-13 as Zedonk stores it, checked without the rest
            code is not None
            and len(code) == 13
            and code.isascii()
            and code.isdigit()
            and gtin.check_digit(code[:12]) == ord(code[12]) - 48
        ):
            rows.append(SizeBarcode(sku.size, code, "valid"))
            continue
        wrong = gtin.problem(code)
        if wrong is None:
            rows.append(SizeBarcode(sku.size, sku.barcode, "valid"))
        else:
            state: BarcodeState = wrong.code  # type: ignore[assignment]
            rows.append(SizeBarcode(sku.size, sku.barcode, state, wrong.message))
    return tuple(rows)


def _problems(
    product: Product, sizes: Sequence[SizeBarcode], limits: OrdreLimits
) -> tuple[str, ...]:
    """Why resolve would hold the product back: no sizes, a size twice, a barcode not valid,
    something ORDRE would refuse in its listing."""
    problems: list[str] = [] if sizes else ["it has no sizes"]
    seen: set[str] = set()
    for size in sizes:
        if size.size in seen:
            problems.append(f"size {size.size} appears twice")
        seen.add(size.size)
        if size.state != "valid":
            problems.append(f"size {size.size}: {size.message}")
    return (*problems, *limits.listing_problems(product))


def product_rows(
    products: Iterable[Product],
    filters: Filters,
    price_seasons: Sequence[str],
    placement: Mapping[str, tuple[str, str]],
    *,
    limits: OrdreLimits,
) -> list[ProductRow]:
    """The products ``filters`` pick, ordered as a selector orders them (style, fabric,
    colour). ``placement`` maps a product id to the (collection, look) it sits in; ``limits``
    are ORDRE's, which a product's listing must keep to."""
    selector = Selector(
        season=filters.season,
        category=filters.category,
        search=filters.search,
        exclude=(),
        location=Location("", 0, 0),
    )
    rank = {season: i for i, season in enumerate(price_seasons)}
    rows: list[ProductRow] = []
    for product in sorted(products, key=product_sort_key):
        if not selector_matches(selector, product):
            continue
        look = placement.get(str(product.id))
        if filters.unplaced and look is not None:
            continue
        sizes = barcodes(product)
        prices = [p for p in product.prices if p.season in rank]
        prices.sort(key=lambda p: (rank[p.season], p.currency))
        rows.append(
            ProductRow(product, sizes, tuple(prices), look, _problems(product, sizes, limits))
        )
    return rows


def placement(spec: CatalogueSpec, products: Sequence[Product]) -> dict[str, tuple[str, str]]:
    """Product id -> the (collection, look) the catalogue puts it in, as resolve places it
    (entries in display order, the first look wins), without resolve's eligibility checks
    and listings, which a product list does not need. Unknown products and ambiguous styles
    are skipped: ``plan`` reports them."""
    looks = [(c.name, look) for c in spec.collections for look in c.looks]
    # Indexes of Zedonk's products, built only when an entry needs one.
    by_style: dict[str, set[str]] = {}  # style -> its fabrics
    known: set[str] = set()
    if any(look.styles for _, look in looks):
        for product in products:
            by_style.setdefault(product.id.style, set()).add(product.id.fabric)
        known = {str(p.id) for p in products}
    by_season: dict[str, list[Product]] = {}
    by_category: dict[str, list[Product]] = {}
    if any(look.selectors for _, look in looks):
        for product in products:
            by_category.setdefault(product.category.casefold(), []).append(product)
            for season in product.seasons:
                by_season.setdefault(season, []).append(product)
    placed: dict[str, tuple[str, str]] = {}
    for collection, look in looks:
        here = (collection, look.name)
        entries: list[ProductRef | StyleRef] = sorted(
            [*look.products, *look.styles], key=lambda e: e.position
        )
        for entry in entries:
            if isinstance(entry, ProductRef):
                placed.setdefault(str(entry.id), here)
                continue
            fabrics = by_style.get(entry.style, set())
            fabric = entry.fabric or (next(iter(fabrics)) if len(fabrics) == 1 else None)
            for colour in entry.colours:
                key = f"{entry.style}/{fabric}/{colour}"
                if fabric is not None and key in known:
                    placed.setdefault(key, here)
        for selector in look.selectors:
            candidates = (
                by_season.get(selector.season, [])
                if selector.season is not None
                else by_category.get(selector.category.casefold(), [])
                if selector.category is not None
                else products
            )
            for product in candidates:
                if selector_matches(selector, product):
                    placed.setdefault(str(product.id), here)
    return placed


def latest_prices(row: ProductRow, starts: Mapping[str, date]) -> tuple[Price, ...]:
    """Per currency, the price of the price season that starts last (as resolve picks it;
    the configured order breaks ties and places seasons Zedonk does not date)."""
    best: dict[str, tuple[tuple[date, int], Price]] = {}
    for index, price in enumerate(row.prices):
        rank = (starts.get(price.season, date.min), index)
        held = best.get(price.currency)
        if held is None or rank > held[0]:
            best[price.currency] = (rank, price)
    return tuple(best[currency][1] for currency in sorted(best))


# --------------------------------------------------------------------------- output


def look_name(row: ProductRow) -> str:
    """``collection / look``, or "-" for a product in no look."""
    return " / ".join(row.look) if row.look else "-"


def _money(value: Decimal) -> str:
    text = str(value)
    if text[-3:-2] == "." and "E" not in text:  # as Zedonk sends it; formatting is slow
        return text
    return f"{value:.2f}"


def _barcode_text(row: ProductRow) -> str:
    wrong = [f"{s.size} {STATE_WORDS[s.state]}" for s in row.sizes if s.state != "valid"]
    if wrong:
        return "; ".join(wrong)
    return f"valid ({plural(len(row.sizes), 'size')})" if row.sizes else "no sizes"


def _price_text(row: ProductRow, starts: Mapping[str, date]) -> str:
    latest = latest_prices(row, starts)
    if not latest:
        return "no price"
    seasons = sorted({p.season for p in latest})
    text = " ".join(f"{p.currency} {_money(p.wsp)}" for p in latest)
    return f"{text} ({', '.join(seasons)})"


def render_text(rows: Sequence[ProductRow], starts: Mapping[str, date]) -> str:
    """One aligned line per product, a header, and a closing count."""
    table = [("PRODUCT", "DESCRIPTION", "CATEGORY", "SEASONS", "IMAGE", "BARCODES", "WSP", "LOOK")]
    for row in rows:
        product = row.product
        table.append(
            (
                str(product.id),
                comment(product.description),
                comment(product.category),
                " ".join(product.seasons),
                "yes" if product.image_url else "no",
                _barcode_text(row),
                _price_text(row, starts),
                comment(look_name(row)),
            )
        )
    widths = [max(len(cells[i]) for cells in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
        for cells in table
    ]
    lines.append(_summary(rows))
    return "\n".join(lines)


def _summary(rows: Sequence[ProductRow]) -> str:
    notes = [
        (sum(1 for r in rows if not r.exportable), "with a barcode problem (not exported)"),
        (sum(1 for r in rows if not r.product.image_url), "without a main image"),
        (sum(1 for r in rows if r.look is not None), "already in a look"),
    ]
    said = ", ".join(f"{n} {words}" for n, words in notes if n)
    return plural(len(rows), "product") + (f" ({said})" if said else "")


def render_yaml(rows: Sequence[ProductRow], heading: str) -> str:
    """Entries to paste under a look's ``products:``. A product that is already in a look, or
    that would not be exported, is written as a comment with the reason, so that what is
    pasted validates and plans to exactly the products left uncommented."""
    lines = [f"# {comment(heading)}"]
    width = max((len(scalar(str(r.product.id))) for r in rows), default=0)
    for row in rows:
        entry = scalar(str(row.product.id)).ljust(width)
        about = comment(row.product.description) or "-"
        if row.look is not None:
            lines.append(f"# - {entry}  # {about}: already in {comment(look_name(row))}")
        elif not row.exportable:
            lines.append(
                f"# - {entry}  # {about}: not exported: {comment('; '.join(row.problems))}"
            )
        else:
            note = "" if row.product.image_url else " (no main image)"
            lines.append(f"- {entry}  # {about}{note}")
    return "\n".join(lines)


def row_json(row: ProductRow) -> dict[str, Any]:
    product = row.product
    return {
        "id": str(product.id),
        "style": product.id.style,
        "fabric": product.id.fabric,
        "colour": product.id.colour,
        "description": product.description,
        "category": product.category,
        "seasons": list(product.seasons),
        "image": bool(product.image_url),
        "image_url": product.image_url,
        "sizes": [
            {"size": s.size, "barcode": s.barcode, "state": s.state, "message": s.message or None}
            for s in row.sizes
        ],
        "exportable": row.exportable,
        "problems": list(row.problems),
        "prices": [
            {"season": p.season, "currency": p.currency, "wsp": _money(p.wsp), "rrp": _money(p.rrp)}
            for p in row.prices
        ],
        "look": {"collection": row.look[0], "look": row.look[1]} if row.look else None,
    }
