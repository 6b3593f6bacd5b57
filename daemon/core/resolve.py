"""Resolve the catalogue against Zedonk: what ORDRE should show (pure: no network, disk or clock).

Input: the catalogue spec, a snapshot of Zedonk (products, seasons, customers) and the
configured price seasons. Output: the desired ORDRE state (collections -> looks -> ordered
listing keys, the listings themselves, the customers) plus findings, each with the YAML place
it is about. Products that fail eligibility (barcodes, no sizes) are left out and reported;
``strict=True`` turns those reports into errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from daemon.core.customers import resolve_customers
from daemon.core.eligibility import Checked, Eligibility, SeasonRank
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
    OrdreCustomer,
    Product,
    ProductId,
    Season,
    User,
    assemble,
)
from daemon.core.spec import CatalogueSpec, Location, LookSpec, ProductRef


@dataclass(frozen=True)
class ZedonkSnapshot:
    """What Zedonk holds, as read at the start of a run."""

    products: tuple[Product, ...]
    seasons: tuple[Season, ...] = ()
    customers: tuple[Customer, ...] = ()
    users: tuple[User, ...] = ()  # for checking the order owner the settings name
    # The products' eligibility as far as it was worked out while they were read; resolve
    # works out the rest (and all of it when this is None or made for other settings).
    eligibility: Eligibility | None = field(default=None, compare=False, repr=False)


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
    eligibility = zedonk.eligibility
    if eligibility is None or not eligibility.matches(limits, price_seasons, zedonk.seasons):
        eligibility = Eligibility(limits, price_seasons, zedonk.seasons)
    currencies = tuple(sorted({p.currency for product in zedonk.products for p in product.prices}))
    checked, shared = _eligibility(placed, eligibility, currencies)
    tree = _Tree(
        state.findings,
        checked,
        shared,
        eligibility.rank,
        price_seasons,
        "error" if strict else "warning",
    )
    collections = tree.build(spec, placed)
    customers, customer_findings = resolve_customers(zedonk.customers)
    state.findings.extend(customer_findings)
    listings = tree.listings
    desired = Desired(
        collections=collections,
        listings=tuple([listings[k] for k in sorted(listings)]),
        customers=tuple(customers),
        products=tuple(tree.reports),
    )
    findings = sort_findings(state.findings)
    structure = None
    if not any(f.is_error for f in findings):
        catalogued = frozenset([report.key for report in tree.reports])  # = state.placed
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


Shared = dict[ProductId, list[str]]  # a product's barcodes that other sizes carry too


def _eligibility(
    placed: Sequence[_PlacedLook], eligibility: Eligibility, currencies: tuple[str, ...]
) -> tuple[dict[ProductId, Checked], Shared]:
    """Phase 2: each placed product checked (its barcodes valid, nothing in its listing that
    ORDRE would refuse: ``Eligibility``, mostly worked out while Zedonk was read), and its
    barcodes unique among the placed products."""
    checked: dict[ProductId, Checked] = {}
    every: list[str | None] = []  # each barcode of each product, as a GTIN-14 (None: invalid)
    of = eligibility.of
    for _, _, kept in placed:
        for product, _where in kept:
            found = checked[product.id] = of(product, currencies)
            every += found.gtins
    shared: Shared = {}
    if len(set(every)) - (None in every) < len(every) - every.count(None):
        _shared_barcodes(placed, checked, shared)
    return checked, shared


def _shared_barcodes(
    placed: Sequence[_PlacedLook], checked: Mapping[ProductId, Checked], shared: Shared
) -> None:
    """Report each barcode that more than one size carries, on every product concerned."""
    owners: dict[str, tuple[ProductId, str]] = {}
    for _, _, kept in placed:
        for product, _where in kept:
            for sku, code in zip(product.skus, checked[product.id].gtins, strict=True):
                if code is None:
                    continue
                mine = (product.id, sku.size)
                first = owners.setdefault(code, mine)
                if first is not mine and first != mine:
                    other, size = first
                    shared.setdefault(product.id, []).append(
                        f"size {sku.size}: barcode {sku.barcode} is also on {other} size {size}"
                    )
                    shared.setdefault(other, []).append(
                        f"size {size}: barcode {sku.barcode} is also on {product.id} "
                        f"size {sku.size}"
                    )


@dataclass
class _Tree:
    """Phase 3: the desired tree, reporting what is left out and what is worth a look."""

    findings: list[Finding]
    checked: Mapping[ProductId, Checked]
    shared: Shared  # problems that phase 2 found beside each product's own
    rank: SeasonRank
    price_seasons: Sequence[str]
    severity: Severity  # of a product that is not exported
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
        checked, shared, rank = self.checked, self.shared, self.rank  # per product: locals
        severity, name = self.severity, look.name
        keys: list[str] = []
        for product, where in kept:
            found = checked[product.id]
            key, wrong = found.key, found.problems
            if shared and product.id in shared:
                wrong = wrong + shared[product.id]
            report = assemble(
                ProductReport,
                {
                    "key": key,
                    "collection": collection,
                    "look": name,
                    "location": where,
                    "exported": not wrong,
                    "has_image": bool(product.image_url),
                    "problems": tuple(wrong),
                    "warnings": (),
                    "product": product,
                },
            )
            if wrong:
                reports.append(report)
                findings.append(
                    finding_at(
                        where,
                        "product-not-exported",
                        severity,
                        f"{collection} / {name}: {key} ({_short(product.description)}) is not "
                        "exported: " + "; ".join(wrong),
                        "fix the product in Zedonk: every size needs a valid, unique GTIN, "
                        "and ORDRE refuses what is over its limits",
                    )
                )
                continue
            if not found.plain:
                label = f"{collection} / {name}: {key}"
                warned = len(findings)
                prices, unpriced = found.prices, found.unpriced
                if not product.image_url or unpriced or rank.keys().isdisjoint(product.seasons):
                    self.price_findings(label, product, where, prices, unpriced)
                else:  # visible in a price season and priced in each currency: some are 0.00
                    for price in prices:
                        if not price.wsp or not price.rrp:
                            findings.append(_price_zero(label, where, price))
                # What a person must fix for it, for the "needs attention" inbox.
                warnings = tuple(f.message.removeprefix(label + " ") for f in findings[warned:])
                if warnings:
                    report = replace(report, warnings=warnings)
            reports.append(report)
            assert found.listing is not None  # exported
            listings[key] = found.listing
            keys.append(key)
        return DesiredLook(look.name, look.position, tuple(keys), look.location)

    def price_findings(
        self,
        label: str,
        product: Product,
        where: Location,
        prices: tuple[ListingPrice, ...],
        unpriced: tuple[str, ...],
    ) -> None:
        """What is worth a look in an exported product: a missing image, a product visible in
        no price season, prices missing or 0.00 (``label`` names the product in its look)."""
        findings, rank = self.findings, self.rank
        if not product.image_url:
            findings.append(
                finding_at(
                    where,
                    "image-missing",
                    "warning",
                    f"{label} has no main image (Zedonk's Image 1)",
                    "upload Image 1 in Zedonk",
                )
            )
        shown_in = [season for season in product.seasons if season in rank]
        if not shown_in:
            seasons = ", ".join(self.price_seasons) or "none configured"
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
            return  # every price is 0.00, said above
        if unpriced:
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
            if price.currency not in unpriced and (not price.wsp or not price.rrp):
                findings.append(_price_zero(label, where, price))


def _price_zero(label: str, where: Location, price: ListingPrice) -> Finding:
    return finding_at(
        where,
        "price-zero",
        "warning",
        f"{label} has a 0.00 price in {price.currency} (wholesale {price.wsp}, retail {price.rrp})",
        "enter the price in Zedonk",
    )
