"""Resolve the catalogue against Zedonk: what ORDRE should show (pure: no network, disk or clock).

Input: the catalogue spec, a snapshot of Zedonk (products, seasons, customers) and the
configured price seasons. Output: the desired ORDRE state (collections -> looks -> ordered
listing keys, the listings themselves, the customers) plus findings, each with the YAML place
it is about. Products that fail eligibility (barcodes, no sizes) are left out and reported;
``strict=True`` turns those reports into errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from daemon.core import gtin
from daemon.core.customers import resolve_customers
from daemon.core.entries import (
    EntryKey,
    Placing,
    claim,
    entry_key,
    look_entries,
    resolve_look,
)
from daemon.core.findings import Finding, Severity, finding_at, sort_findings
from daemon.core.limits import OrdreLimits
from daemon.core.model import (
    Customer,
    Listing,
    ListingPrice,
    ListingSize,
    OrdreCustomer,
    Product,
    ProductId,
    Season,
    User,
)
from daemon.core.spec import CatalogueSpec, Location, LookSpec, ProductRef


@dataclass(frozen=True)
class ZedonkSnapshot:
    """What Zedonk holds, as read at the start of a run."""

    products: tuple[Product, ...]
    seasons: tuple[Season, ...] = ()
    customers: tuple[Customer, ...] = ()
    users: tuple[User, ...] = ()  # for checking the order owner the settings name


@dataclass(frozen=True)
class DesiredLook:
    name: str
    position: int
    product_keys: tuple[str, ...]  # listing keys in display order
    location: Location


@dataclass(frozen=True)
class DesiredCollection:
    name: str
    description: str
    position: int
    looks: tuple[DesiredLook, ...]
    location: Location


@dataclass(frozen=True)
class ProductReport:
    """One catalogued product: whether it is exported and what is worth knowing about it."""

    key: str
    collection: str
    look: str
    location: Location
    exported: bool
    has_image: bool
    problems: tuple[str, ...] = ()  # why it is not exported, for people
    warnings: tuple[str, ...] = ()  # exported, but without a main image or a price
    # The product as Zedonk holds it (its sizes and barcodes), for the catalogue's view.
    product: Product | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Desired:
    collections: tuple[DesiredCollection, ...]
    listings: tuple[Listing, ...]  # sorted by key
    customers: tuple[OrdreCustomer, ...]  # sorted by account code
    products: tuple[ProductReport, ...] = ()  # every catalogued product, in display order

    @property
    def is_empty(self) -> bool:
        return not self.collections


@dataclass(frozen=True)
class Structure:
    """What each catalogue entry resolved to, kept from a full resolve without errors.

    An edit that only renames, reorders or moves entries between looks and collections
    leaves every entry's products, and so every listing, as they were: ``resolve_structure``
    then builds the new tree from this alone, with no read of Zedonk.
    """

    expanded: Mapping[EntryKey, tuple[str, ...]]  # styles and selectors: keys in display order
    catalogued: frozenset[str]  # every product placed in a look
    unexported: frozenset[str]  # those that failed eligibility


@dataclass(frozen=True)
class Resolution:
    desired: Desired
    findings: tuple[Finding, ...]
    structure: Structure | None = None  # None when the resolve found errors

    @property
    def ok(self) -> bool:
        return not any(f.is_error for f in self.findings)


def resolve_structure(
    spec: CatalogueSpec, structure: Structure
) -> tuple[DesiredCollection, ...] | None:
    """The desired collections and looks for ``spec`` from a previous full resolve's entries.

    None unless it is certain to equal what a full resolve would give with Zedonk unchanged:
    every entry seen before, no product in two looks, and the same products catalogued (so
    eligibility, which weighs them against each other, cannot have changed).
    """
    placed: set[str] = set()
    collections: list[DesiredCollection] = []
    for collection in spec.collections:
        looks: list[DesiredLook] = []
        for look in collection.looks:
            keys: list[str] = []
            for entry in look_entries(look):
                if isinstance(entry, ProductRef):
                    key = str(entry.id)
                    if key not in structure.catalogued:
                        return None  # Zedonk may not have it
                    keys.append(key)
                    continue
                found = structure.expanded.get(entry_key(entry))
                if found is None:
                    return None
                keys.extend(found)
            unique = list(dict.fromkeys(keys))  # the same product twice shows once
            if not placed.isdisjoint(unique):
                return None  # a full resolve reports the product in two looks
            placed.update(unique)
            exported = tuple(key for key in unique if key not in structure.unexported)
            looks.append(DesiredLook(look.name, look.position, exported, look.location))
        collections.append(
            DesiredCollection(
                collection.name,
                collection.description,
                collection.position,
                tuple(looks),
                collection.location,
            )
        )
    return tuple(collections) if placed == structure.catalogued else None


# --------------------------------------------------------------------------- eligibility


def _checked_barcodes(product: Product) -> list[tuple[gtin.GtinProblem | None, str | None]]:
    """Per SKU: (the barcode's problem or None, its canonical GTIN-14 or None)."""
    checked: list[tuple[gtin.GtinProblem | None, str | None]] = []
    for sku in product.skus:
        wrong = gtin.problem(sku.barcode)
        canonical = None if wrong or sku.barcode is None else sku.barcode.strip().zfill(14)
        checked.append((wrong, canonical))
    return checked


ZERO = Decimal("0.00")


def _listing_prices(
    product: Product, season_rank: dict[str, tuple[date, int]], currencies: Iterable[str]
) -> tuple[tuple[ListingPrice, ...], tuple[str, ...]]:
    """The listing's price in each of ``currencies`` (the brand's), by domain.md §7 rule 12:
    from the most recent price season the product is visible in that has one; 0.00 where no
    such season prices it. Returns the prices and the currencies set to 0.00 for that."""
    visible = set(product.seasons)
    best: dict[str, tuple[tuple[date, int], ListingPrice]] = {}
    for price in product.prices:
        rank = season_rank.get(price.season)
        if rank is None or price.season not in visible:
            continue
        held = best.get(price.currency)
        if held is None or rank > held[0]:
            best[price.currency] = (rank, ListingPrice(price.currency, price.wsp, price.rrp))
    prices = {currency: held[1] for currency, held in best.items()}
    unpriced = tuple(sorted(c for c in set(currencies) if c not in prices))
    for currency in unpriced:
        prices[currency] = ListingPrice(currency, ZERO, ZERO)
    return tuple(prices[c] for c in sorted(prices)), unpriced


def _season_rank(
    price_seasons: Sequence[str], seasons: Iterable[Season]
) -> dict[str, tuple[date, int]]:
    """Most recent = starts last; the configured order breaks ties and covers unknown seasons."""
    starts = {s.code: s.starts_on for s in seasons}
    return {code: (starts.get(code, date.min), index) for index, code in enumerate(price_seasons)}


def _listing(
    product: Product, key: str, prices: tuple[ListingPrice, ...], gtins: Sequence[str | None]
) -> Listing:
    sizes = tuple(
        [ListingSize(sku.size, code or "") for sku, code in zip(product.skus, gtins, strict=True)]
    )
    return Listing(
        key=key,
        style=product.id.style,
        fabric=product.id.fabric,
        colour=product.id.colour,
        description=product.description,
        category=product.category,
        sizes=sizes,
        prices=prices,
        image_url=product.image_url or None,
    )


def _barcode_problems(
    product: Product, checked: Sequence[tuple[gtin.GtinProblem | None, str | None]]
) -> list[str]:
    problems: list[str] = []
    if not product.skus:
        problems.append("it has no sizes")
    sizes_seen: set[str] = set()
    for sku, (wrong, _) in zip(product.skus, checked, strict=True):
        if sku.size in sizes_seen:
            problems.append(f"size {sku.size} appears twice")
        sizes_seen.add(sku.size)
        if wrong is not None:
            problems.append(f"size {sku.size}: {wrong.message}")
    return problems


def _short(text: str, most: int = 60) -> str:
    """A product's own text in a message: cut short, as a description may be long."""
    return text if len(text) <= most else text[: most - 3] + "..."


# --------------------------------------------------------------------------- resolve


def resolve(
    spec: CatalogueSpec,
    zedonk: ZedonkSnapshot,
    price_seasons: Sequence[str],
    *,
    limits: OrdreLimits,
    strict: bool = False,
) -> Resolution:
    """The desired ORDRE state for ``spec``, and every finding on the way, in three phases:
    place each entry's products in its look, check them for eligibility (their barcodes, and
    what ORDRE's ``limits`` would refuse in their listing), build the tree."""
    state = Placing.of(zedonk.products)
    placed = _place(state, spec)
    problems, gtins = _eligibility(placed, limits)
    tree = _Tree(
        state.findings,
        problems,
        gtins,
        _season_rank(price_seasons, zedonk.seasons),
        price_seasons,
        "error" if strict else "warning",
        tuple(sorted({p.currency for product in zedonk.products for p in product.prices})),
    )
    collections = tree.build(spec, placed)
    customers, customer_findings = resolve_customers(zedonk.customers)
    state.findings.extend(customer_findings)
    listings = tree.listings
    desired = Desired(
        collections=collections,
        listings=tuple(listings[k] for k in sorted(listings)),
        customers=tuple(customers),
        products=tuple(tree.reports),
    )
    findings = sort_findings(state.findings)
    structure = None
    if not any(f.is_error for f in findings):
        catalogued = frozenset(str(pid) for pid in state.placed)
        structure = Structure(state.expanded, catalogued, catalogued.difference(listings))
    return Resolution(desired, findings, structure)


class _PlacedLook(NamedTuple):
    collection: int  # index in the spec
    look: int  # index in its collection
    products: list[tuple[Product, Location]]  # each with the place of the entry that named it


def _place(state: Placing, spec: CatalogueSpec) -> list[_PlacedLook]:
    """Phase 1: refs and selectors -> products, each product in one look only."""
    placed: list[_PlacedLook] = []
    for ci, collection in enumerate(spec.collections):
        for li, look in enumerate(collection.looks):
            kept = [
                (product, where)
                for product, where in resolve_look(state, look, collection.name)
                if claim(state, product, where, collection.name, look.name)
            ]
            placed.append(_PlacedLook(ci, li, kept))
    return placed


Problems = dict[ProductId, list[str]]  # why a product is not exported; empty when it is
Gtins = dict[ProductId, list[str | None]]  # per SKU, its canonical GTIN-14 (None if invalid)


def _eligibility(placed: Sequence[_PlacedLook], limits: OrdreLimits) -> tuple[Problems, Gtins]:
    """Phase 2: barcodes valid, and unique among the placed products; nothing in the listing
    that ORDRE would refuse."""
    problems: Problems = {}
    gtins: Gtins = {}
    owners: dict[str, tuple[ProductId, str]] = {}
    for _, _, kept in placed:
        for product, _where in kept:
            checked = _checked_barcodes(product)
            problems[product.id] = _barcode_problems(product, checked)
            problems[product.id] += limits.listing_problems(product)
            gtins[product.id] = codes = [code for _, code in checked]
            for sku, code in zip(product.skus, codes, strict=True):
                if code is None:
                    continue
                mine = (product.id, sku.size)
                first = owners.setdefault(code, mine)
                if first is not mine and first != mine:
                    other, size = first
                    problems[product.id].append(
                        f"size {sku.size}: barcode {sku.barcode} is also on {other} size {size}"
                    )
                    problems[other].append(
                        f"size {size}: barcode {sku.barcode} is also on {product.id} "
                        f"size {sku.size}"
                    )
    return problems, gtins


@dataclass
class _Tree:
    """Phase 3: the desired tree, reporting what is left out and what is worth a look."""

    findings: list[Finding]
    problems: Problems
    gtins: Gtins
    rank: dict[str, tuple[date, int]]
    price_seasons: Sequence[str]
    severity: Severity  # of a product that is not exported
    currencies: tuple[str, ...]  # the brand's: every listing has a price in each
    listings: dict[str, Listing] = field(default_factory=dict)
    reports: list[ProductReport] = field(default_factory=list)

    def build(
        self, spec: CatalogueSpec, placed: Sequence[_PlacedLook]
    ) -> tuple[DesiredCollection, ...]:
        looks_of: dict[int, list[DesiredLook]] = {}
        for ci, li, kept in placed:
            collection = spec.collections[ci]
            look = self.look(collection.name, collection.looks[li], kept)
            looks_of.setdefault(ci, []).append(look)
        return tuple(
            DesiredCollection(
                collection.name,
                collection.description,
                collection.position,
                tuple(looks_of.get(ci, [])),
                collection.location,
            )
            for ci, collection in enumerate(spec.collections)
        )

    def look(
        self, collection: str, look: LookSpec, kept: Sequence[tuple[Product, Location]]
    ) -> DesiredLook:
        """One look: its exported products as listings, each product reported."""
        findings, listings, reports = self.findings, self.listings, self.reports
        problems, gtins, rank = self.problems, self.gtins, self.rank  # per product: locals
        keys: list[str] = []
        for product, where in kept:
            key = str(product.id)
            label = f"{collection} / {look.name}: {key}"
            wrong = problems[product.id]
            has_image = bool(product.image_url)
            report = ProductReport(
                key, collection, look.name, where, not wrong, has_image, tuple(wrong), (), product
            )
            if wrong:
                reports.append(report)
                findings.append(
                    finding_at(
                        where,
                        "product-not-exported",
                        self.severity,
                        f"{label} ({_short(product.description)}) is not exported: "
                        + "; ".join(wrong),
                        "fix the product in Zedonk: every size needs a valid, unique GTIN, "
                        "and ORDRE refuses what is over its limits",
                    )
                )
                continue
            warned = len(findings)
            if not has_image:
                findings.append(
                    finding_at(
                        where,
                        "image-missing",
                        "warning",
                        f"{label} has no main image (Zedonk's Image 1)",
                        "upload Image 1 in Zedonk",
                    )
                )
            prices, unpriced = _listing_prices(product, rank, self.currencies)
            seasons = ", ".join(self.price_seasons) or "none configured"
            shown_in = [season for season in product.seasons if season in rank]
            if not shown_in:
                findings.append(
                    finding_at(
                        where,
                        "price-not-visible",
                        "warning",
                        f"{label} is not visible in any of the price seasons ({seasons}): it "
                        f"is sent with 0.00 prices (it is visible in "
                        f"{', '.join(product.seasons) or 'no season'})",
                        "make it visible in a price season in Zedonk, or add one of its "
                        "seasons to prices.seasons",
                    )
                )
            elif unpriced:
                findings.append(
                    finding_at(
                        where,
                        "price-missing",
                        "warning",
                        f"{label} has no price in {', '.join(unpriced)} in the price seasons it "
                        f"is visible in ({', '.join(shown_in)}): it is sent as 0.00",
                        "enter its prices in Zedonk, or add a season it is visible in and "
                        "priced in to prices.seasons",
                    )
                )
            for price in prices:
                if price.currency in unpriced or not shown_in:
                    continue  # reported above
                if not price.wsp or not price.rrp:  # 0.00 in either
                    findings.append(
                        finding_at(
                            where,
                            "price-zero",
                            "warning",
                            f"{label} has a 0.00 price in {price.currency} "
                            f"(wholesale {price.wsp}, retail {price.rrp})",
                            "enter the price in Zedonk",
                        )
                    )
            # What a person must fix for it, for the "needs attention" inbox.
            warnings = tuple(f.message.removeprefix(label + " ") for f in findings[warned:])
            reports.append(replace(report, warnings=warnings) if warnings else report)
            listings[key] = _listing(product, key, prices, gtins[product.id])
            keys.append(key)
        return DesiredLook(look.name, look.position, tuple(keys), look.location)
