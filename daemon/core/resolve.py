"""Resolve the catalogue against Zedonk: what ORDRE should show (pure: no network, disk or clock).

Input: the catalogue spec, a snapshot of Zedonk (products, seasons, customers) and the
configured price seasons. Output: the desired ORDRE state (collections -> looks -> ordered
listing keys, the listings themselves, the customers) plus findings, each with the YAML place
it is about. Products that fail eligibility (barcodes, no sizes) are left out and reported;
``strict=True`` turns those reports into errors.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, TypeVar

from daemon.core import gtin
from daemon.core.findings import Finding, Severity, sort_findings
from daemon.core.model import (
    Address,
    AddressKind,
    Customer,
    Listing,
    ListingPrice,
    ListingSize,
    OrdreCustomer,
    Product,
    ProductId,
    Season,
)
from daemon.core.spec import CatalogueSpec, Location, LookSpec, ProductRef, Selector, StyleRef

T = TypeVar("T")


@dataclass(frozen=True)
class ZedonkSnapshot:
    """What Zedonk holds, as read at the start of a run."""

    products: tuple[Product, ...]
    seasons: tuple[Season, ...] = ()
    customers: tuple[Customer, ...] = ()


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


@dataclass(frozen=True)
class Desired:
    collections: tuple[DesiredCollection, ...]
    listings: tuple[Listing, ...]  # sorted by key
    customers: tuple[OrdreCustomer, ...]  # sorted by account code
    products: tuple[ProductReport, ...] = ()  # every catalogued product, in display order

    @property
    def is_empty(self) -> bool:
        return not self.collections


EntryKey = tuple[Any, ...]
Entry = ProductRef | StyleRef | Selector


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


# --------------------------------------------------------------------------- helpers


def _finding(
    where: Location | None,
    code: str,
    severity: Severity,
    message: str,
    hint: str | None = None,
    path: str = "",
) -> Finding:
    if where is None:
        # About Zedonk's data, not a file: named after where it is fixed.
        return Finding("Zedonk", 0, 0, path, code, severity, message, hint)
    return Finding(where.file, where.line, where.column, path, code, severity, message, hint)


def product_sort_key(product: Product) -> tuple[str, str, str]:
    """Selector results are ordered by style, then fabric, then colour."""
    return (product.id.style, product.id.fabric, product.id.colour)


def selector_matches(selector: Selector, product: Product) -> bool:
    """Zedonk's catalogue filters: every given filter must match; excludes win."""
    if product.id in selector.exclude or not product.active:
        return False
    if selector.season is not None and selector.season not in product.seasons:
        return False
    if (
        selector.category is not None
        and product.category.casefold() != selector.category.casefold()
    ):
        return False
    if selector.search is not None:
        needle = selector.search.casefold()
        haystack = (product.id.style, product.description, product.id.colour)
        if not any(needle in text.casefold() for text in haystack):
            return False
    return True


@dataclass
class _Placed:
    """Where a product was put first: for the "one look, one collection" rule."""

    collection: str
    look: str
    location: Location


def _checked_barcodes(product: Product) -> list[tuple[gtin.GtinProblem | None, str | None]]:
    """Per SKU: (the barcode's problem or None, its canonical GTIN-14 or None)."""
    checked: list[tuple[gtin.GtinProblem | None, str | None]] = []
    for sku in product.skus:
        wrong = gtin.problem(sku.barcode)
        canonical = None if wrong or sku.barcode is None else sku.barcode.strip().zfill(14)
        checked.append((wrong, canonical))
    return checked


@dataclass
class _State:
    products: dict[ProductId, Product]
    by_style: dict[str, list[Product]]
    by_season: dict[str, list[Product]]
    by_category: dict[str, list[Product]]
    findings: list[Finding] = field(default_factory=list)
    placed: dict[ProductId, _Placed] = field(default_factory=dict)
    expanded: dict[EntryKey, tuple[str, ...]] = field(default_factory=dict)


def _candidates(state: _State, selector: Selector) -> Iterable[Product]:
    """The products a selector can match, narrowed by an index so large brands stay fast."""
    if selector.season is not None:
        return state.by_season.get(selector.season, [])
    if selector.category is not None:
        return state.by_category.get(selector.category.casefold(), [])
    return state.products.values()


# --------------------------------------------------------------------------- looks


def _style_products(state: _State, ref: StyleRef, collection: str, look: str) -> list[Product]:
    candidates = state.by_style.get(ref.style, [])
    if not candidates:
        state.findings.append(
            _finding(
                ref.location,
                "product-unknown",
                "error",
                f"{collection} / {look}: Zedonk has no style {ref.style!r}",
                "check the style code in Zedonk, or remove the entry",
            )
        )
        return []
    fabrics = sorted({p.id.fabric for p in candidates})
    fabric = ref.fabric
    if fabric is None:
        if len(fabrics) > 1:
            state.findings.append(
                _finding(
                    ref.location,
                    "style-fabric-ambiguous",
                    "error",
                    f"{collection} / {look}: style {ref.style!r} comes in several fabrics "
                    f"({', '.join(fabrics)})",
                    "name the fabric: write the product as STYLE/FABRIC/COLOUR",
                )
            )
            return []
        fabric = fabrics[0]
    found: list[Product] = []
    for colour in ref.colours:
        pid = ProductId(ref.style, fabric, colour)
        product = state.products.get(pid)
        if product is None:
            state.findings.append(
                _finding(
                    ref.location,
                    "product-unknown",
                    "error",
                    f"{collection} / {look}: Zedonk has no product {pid}",
                    "check the colour and fabric in Zedonk, or remove it from the look",
                )
            )
            continue
        found.append(product)
    return found


def entry_key(entry: StyleRef | Selector) -> EntryKey:
    """What an entry's products depend on, besides Zedonk: not its place or position."""
    if isinstance(entry, StyleRef):
        return ("style", entry.style, entry.fabric, entry.colours)
    excluded = tuple(str(pid) for pid in entry.exclude)
    return ("selector", entry.season, entry.category, entry.search, excluded)


def _look_entries(look: LookSpec) -> list[Entry]:
    """Display order: listed products and styles as written, then each selector's results."""
    listed: list[ProductRef | StyleRef] = [*look.products, *look.styles]
    listed.sort(key=lambda entry: entry.position)
    return [*listed, *look.selectors]


def _unique(items: Iterable[T], key: Callable[[T], Hashable]) -> list[T]:
    """The same product twice in one look shows once, where it first appears."""
    seen: set[Hashable] = set()
    unique: list[T] = []
    for item in items:
        ident = key(item)
        if ident not in seen:
            seen.add(ident)
            unique.append(item)
    return unique


def _expand(state: _State, entry: Entry, collection: str, look: str) -> list[Product]:
    """The products one entry stands for; an unknown product or style is an error finding."""
    if isinstance(entry, StyleRef):
        return _style_products(state, entry, collection, look)
    if isinstance(entry, ProductRef):
        product = state.products.get(entry.id)
        if product is None:
            state.findings.append(
                _finding(
                    entry.location,
                    "product-unknown",
                    "error",
                    f"{collection} / {look}: Zedonk has no product {entry.id}",
                    "check the style, fabric and colour in Zedonk, or remove it from the look",
                )
            )
            return []
        return [product]
    matches = [p for p in _candidates(state, entry) if selector_matches(entry, p)]
    if not matches:
        state.findings.append(
            _finding(
                entry.location,
                "selector-empty",
                "warning",
                f"{collection} / {look}: this selector matches no Zedonk product",
            )
        )
    return sorted(matches, key=product_sort_key)


def _resolve_look(state: _State, look: LookSpec, collection: str) -> list[tuple[Product, Location]]:
    """The look's products in display order, each with the place of the entry that named it."""
    ordered: list[tuple[Product, Location]] = []
    for entry in _look_entries(look):
        noted = len(state.findings)
        products = _expand(state, entry, collection, look.name)
        # A product entry needs no record: any catalogued product exists in Zedonk. An entry
        # with a finding is left out, so that it is resolved (and reported) afresh.
        if not isinstance(entry, ProductRef) and len(state.findings) == noted:
            state.expanded[entry_key(entry)] = tuple(str(p.id) for p in products)
        ordered.extend((product, entry.location) for product in products)
    return _unique(ordered, key=lambda item: item[0].id)


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
            for entry in _look_entries(look):
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


def _claim(state: _State, product: Product, where: Location, collection: str, look: str) -> bool:
    """Place a product in a look; False (and an error) when it already sits elsewhere."""
    first = state.placed.get(product.id)
    if first is None:
        state.placed[product.id] = _Placed(collection, look, where)
        return True
    state.findings.append(
        _finding(
            where,
            "product-in-two-looks",
            "error",
            f"{product.id} is in {collection} / {look} here and already in "
            f"{first.collection} / {first.look} at {first.location}",
            "a product can sit in only one look of one collection: remove it from one of "
            "them, or add it to the selector's exclude list",
        )
    )
    return False


# --------------------------------------------------------------------------- eligibility


def _listing_prices(
    product: Product, season_rank: dict[str, tuple[date, int]]
) -> tuple[ListingPrice, ...]:
    """Per currency, the price of the most recent configured season that has one."""
    best: dict[str, tuple[tuple[date, int], ListingPrice]] = {}
    for price in product.prices:
        rank = season_rank.get(price.season)
        if rank is None:
            continue
        held = best.get(price.currency)
        if held is None or rank > held[0]:
            best[price.currency] = (rank, ListingPrice(price.currency, price.wsp, price.rrp))
    return tuple(best[c][1] for c in sorted(best))


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


# --------------------------------------------------------------------------- customers


def _pick_address(addresses: Sequence[Address], kind: str) -> Address | None:
    of_kind = [a for a in addresses if a.kind == kind]
    if not of_kind:
        return None
    return next((a for a in of_kind if a.is_default), of_kind[0])


def _as_kind(address: Address | None, kind: AddressKind) -> Address | None:
    """The same place as an address of ``kind`` (a Store address fills in for the others)."""
    return None if address is None else replace(address, kind=kind, is_default=False)


def resolve_customers(customers: Iterable[Customer]) -> tuple[list[OrdreCustomer], list[Finding]]:
    """Active customers with an account code, with Delivery and Accounts addresses.

    The Store address fills whichever of the two is missing.
    """
    findings: list[Finding] = []
    by_code: dict[str, OrdreCustomer] = {}
    owner: dict[str, Customer] = {}
    for customer in sorted(customers, key=lambda c: c.id):
        code = (customer.account_code or "").strip()
        if not customer.active or not code:
            continue
        if code in by_code:
            findings.append(
                _finding(
                    None,
                    "customer-code-duplicate",
                    "warning",
                    f"Zedonk customers {owner[code].name!r} and {customer.name!r} share the "
                    f"account code {code}; only {owner[code].name!r} is exported",
                    "give each customer its own account code in Zedonk",
                    path=f"customer {code}",
                )
            )
            continue
        usable = [a for a in customer.addresses if a.country.strip()]
        if len(usable) < len(customer.addresses):
            findings.append(
                _finding(
                    None,
                    "customer-address-no-country",
                    "warning",
                    f"customer {customer.name!r} ({code}) has an address without a country; "
                    "ORDRE needs one, so that address is left out",
                    "fill in the country of each address in Zedonk",
                    path=f"customer {code}",
                )
            )
        store = _pick_address(usable, "store")
        delivery = _pick_address(usable, "delivery") or store
        accounts = _pick_address(usable, "accounts") or store
        by_code[code] = OrdreCustomer(
            account_code=code,
            name=customer.name,
            currency=customer.currency,
            delivery_address=_as_kind(delivery, "delivery"),
            accounts_address=_as_kind(accounts, "accounts"),
            contact_email=customer.contact_email,
            contact_name=customer.contact_name,
        )
        owner[code] = customer
    return [by_code[c] for c in sorted(by_code)], findings


# --------------------------------------------------------------------------- resolve


def resolve(
    spec: CatalogueSpec,
    zedonk: ZedonkSnapshot,
    price_seasons: Sequence[str],
    *,
    strict: bool = False,
) -> Resolution:
    """The desired ORDRE state for ``spec``, and every finding on the way."""
    products = {p.id: p for p in zedonk.products}
    state = _State(products, by_style={}, by_season={}, by_category={})
    for product in sorted(zedonk.products, key=product_sort_key):
        state.by_style.setdefault(product.id.style, []).append(product)
        state.by_category.setdefault(product.category.casefold(), []).append(product)
        for season in product.seasons:
            state.by_season.setdefault(season, []).append(product)

    # 1. Refs and selectors -> products, each product in one look only.
    placed: list[tuple[int, int, list[tuple[Product, Location]]]] = []
    for ci, collection in enumerate(spec.collections):
        for li, look in enumerate(collection.looks):
            kept = [
                (product, where)
                for product, where in _resolve_look(state, look, collection.name)
                if _claim(state, product, where, collection.name, look.name)
            ]
            placed.append((ci, li, kept))

    # 2. Eligibility: barcodes valid and unique among exported products.
    rank = _season_rank(price_seasons, zedonk.seasons)
    problems: dict[ProductId, list[str]] = {}
    gtins: dict[ProductId, list[str | None]] = {}
    owners: dict[str, tuple[ProductId, str]] = {}
    for _, _, kept in placed:
        for product, _where in kept:
            checked = _checked_barcodes(product)
            problems[product.id] = _barcode_problems(product, checked)
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

    # 3. Build the desired tree, reporting what is left out and what is worth a look.
    severity: Severity = "error" if strict else "warning"
    listings: dict[str, Listing] = {}
    reports: list[ProductReport] = []
    collections: list[DesiredCollection] = []
    looks_of: dict[int, list[DesiredLook]] = {}
    for ci, li, kept in placed:
        collection = spec.collections[ci]
        look = collection.looks[li]
        keys: list[str] = []
        for product, where in kept:
            key = str(product.id)
            label = f"{collection.name} / {look.name}: {key}"
            wrong = problems[product.id]
            has_image = bool(product.image_url)
            reports.append(
                ProductReport(
                    key,
                    collection.name,
                    look.name,
                    where,
                    exported=not wrong,
                    has_image=has_image,
                    problems=tuple(wrong),
                )
            )
            if wrong:
                state.findings.append(
                    _finding(
                        where,
                        "product-not-exported",
                        severity,
                        f"{label} ({product.description}) is not exported: {'; '.join(wrong)}",
                        "fix the barcodes in Zedonk (every size needs a valid, unique GTIN)",
                    )
                )
                continue
            if not has_image:
                state.findings.append(
                    _finding(
                        where,
                        "image-missing",
                        "warning",
                        f"{label} has no main image (Zedonk's Image 1)",
                        "upload Image 1 in Zedonk",
                    )
                )
            prices = _listing_prices(product, rank)
            if not prices:
                state.findings.append(
                    _finding(
                        where,
                        "price-missing",
                        "warning",
                        f"{label} has no price in the price seasons "
                        f"({', '.join(price_seasons) or 'none configured'})",
                        "enter its prices in Zedonk, or add its season to price_seasons",
                    )
                )
            for price in prices:
                if not price.wsp or not price.rrp:  # 0.00 in either
                    state.findings.append(
                        _finding(
                            where,
                            "price-zero",
                            "warning",
                            f"{label} has a 0.00 price in {price.currency} "
                            f"(wholesale {price.wsp}, retail {price.rrp})",
                            "enter the price in Zedonk",
                        )
                    )
            listings[key] = _listing(product, key, prices, gtins[product.id])
            keys.append(key)
        looks_of.setdefault(ci, []).append(
            DesiredLook(look.name, look.position, tuple(keys), look.location)
        )
    for ci, collection in enumerate(spec.collections):
        collections.append(
            DesiredCollection(
                collection.name,
                collection.description,
                collection.position,
                tuple(looks_of.get(ci, [])),
                collection.location,
            )
        )

    customers, customer_findings = resolve_customers(zedonk.customers)
    state.findings.extend(customer_findings)
    desired = Desired(
        collections=tuple(collections),
        listings=tuple(listings[k] for k in sorted(listings)),
        customers=tuple(customers),
        products=tuple(reports),
    )
    findings = sort_findings(state.findings)
    structure = None
    if not any(f.is_error for f in findings):
        catalogued = frozenset(str(pid) for pid in state.placed)
        structure = Structure(state.expanded, catalogued, catalogued.difference(listings))
    return Resolution(desired, findings, structure)
