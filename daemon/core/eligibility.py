"""A product's eligibility, prices and listing, worked out one product at a time (pure).

resolve needs, for each catalogued product: its barcodes as GTIN-14, why it is not exported
(its barcodes, what ORDRE's limits refuse), its price in each of the brand's currencies
(domain.md §7 rule 12) and the listing ORDRE should show. None of that depends on where the
catalogue places the product, so a plan works it out while it reads Zedonk's products
(``daemon.reconcile.gather``: each page while the next one is on its way) and resolve only looks
it up; whatever was not worked out ahead is worked out when resolve first asks. What depends on
the other placed products (a barcode two of them share) stays with resolve.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from operator import attrgetter
from typing import NamedTuple, cast

from daemon.core import gtin
from daemon.core.limits import OrdreLimits
from daemon.core.model import (
    Listing,
    ListingPrice,
    ListingSize,
    Price,
    Product,
    ProductId,
    Season,
    new_tuple,
)

ZERO = Decimal("0.00")
_currency = attrgetter("currency")
SeasonRank = dict[str, tuple[date, int]]


class Checked(NamedTuple):
    """What resolve needs of one product, besides its place."""

    product: Product  # the product it was worked out for
    key: str  # the listing key: the product id in its readable form
    gtins: list[str | None]  # per SKU, its GTIN-14; None where the barcode is not valid
    problems: list[str]  # why it is not exported, for people; empty when it is
    currencies: tuple[str, ...]  # the currencies ``prices`` are for, sorted
    prices: tuple[ListingPrice, ...]  # one per currency; () when not exported
    unpriced: tuple[str, ...]  # currencies at 0.00 because no price season it shows in prices it
    listing: Listing | None  # what ORDRE should show; None when not exported
    plain: bool  # exported with an image, shown and priced in a price season, no 0.00 price


def season_rank(price_seasons: Sequence[str], seasons: Iterable[Season]) -> SeasonRank:
    """Most recent = starts last; the configured order breaks ties and covers unknown seasons."""
    starts = {s.code: s.starts_on for s in seasons}
    return {code: (starts.get(code, date.min), index) for index, code in enumerate(price_seasons)}


class Eligibility:
    """Each product's ``Checked``, made once per product and kept by its id.

    ``limits`` are ORDRE's (``ORDRE_LIMITS``), ``price_seasons`` the settings' and ``seasons``
    Zedonk's: ``matches`` tells resolve whether this was made for the same three.
    """

    def __init__(
        self, limits: OrdreLimits, price_seasons: Sequence[str], seasons: Iterable[Season]
    ) -> None:
        self.limits = limits
        self.price_seasons = tuple(price_seasons)
        self.rank = season_rank(self.price_seasons, seasons)
        self._checked: dict[ProductId, Checked] = {}
        self._sorted: dict[frozenset[str], tuple[str, ...]] = {}  # a product's currencies, sorted

    def matches(
        self, limits: OrdreLimits, price_seasons: Sequence[str], seasons: Iterable[Season]
    ) -> bool:
        return (
            self.limits == limits
            and self.price_seasons == tuple(price_seasons)
            and self.rank == season_rank(price_seasons, seasons)
        )

    def add(self, product: Product) -> None:
        """Work ``product`` out now, for the currencies its own prices are in (the brand's, in
        the common case where every product is priced in each)."""
        found = frozenset(map(_currency, product.prices))
        currencies = self._sorted.get(found)
        if currencies is None:
            currencies = self._sorted[found] = tuple(sorted(found))
        self._checked[product.id] = self._check(product, currencies)

    def of(self, product: Product, currencies: tuple[str, ...]) -> Checked:
        """``product`` worked out for ``currencies`` (the brand's, sorted): as added when it was
        added for them, else now."""
        found = self._checked.get(product.id)
        if found is None or found.product is not product or found.currencies != currencies:
            found = self._checked[product.id] = self._check(product, currencies)
        return found

    def _check(self, product: Product, currencies: tuple[str, ...]) -> Checked:
        key = "/".join(product.id)  # str(product.id), without a call more
        skus = product.skus
        canonical = gtin.canonical
        codes = [canonical(sku.barcode) for sku in skus]
        if skus and None not in codes and len({sku.size for sku in skus}) == len(skus):
            problems = self.limits.listing_problems(product)  # the common case
        else:
            problems = _barcode_problems(product) + self.limits.listing_problems(product)
        if problems:
            unexported = (product, key, codes, problems, currencies, (), (), None, False)
            return new_tuple(Checked, unexported)
        rank = self.rank
        prices, unpriced = _listing_prices(product, rank, currencies)
        plain = (
            bool(product.image_url)
            and not unpriced
            and not rank.keys().isdisjoint(product.seasons)
            and all(price.wsp and price.rrp for price in prices)
        )
        listing = _listing(product, key, prices, cast(list[str], codes))  # none is None
        return new_tuple(
            Checked, (product, key, codes, problems, currencies, prices, unpriced, listing, plain)
        )


def _listing_prices(
    product: Product, season_rank: SeasonRank, currencies: Sequence[str]
) -> tuple[tuple[ListingPrice, ...], tuple[str, ...]]:
    """The listing's price in each of ``currencies`` (the brand's, sorted), by domain.md §7
    rule 12: from the most recent price season the product is visible in that has one; 0.00
    where no such season prices it. Returns the prices, by currency, and the currencies set to
    0.00 for that."""
    visible = product.seasons
    best: dict[str, tuple[tuple[date, int], Price]] = {}
    for price in product.prices:
        rank = season_rank.get(price.season)
        if rank is None or price.season not in visible:
            continue
        held = best.get(price.currency)
        if held is None or rank > held[0]:
            best[price.currency] = (rank, price)
    unpriced: tuple[str, ...] = ()
    if len(best) < len(currencies):
        unpriced = tuple([c for c in currencies if c not in best])
    prices = [
        ListingPrice(c, held[1].wsp, held[1].rrp)
        if (held := best.get(c)) is not None
        else ListingPrice(c, ZERO, ZERO)
        for c in currencies
    ]
    return tuple(prices), unpriced


def _listing(
    product: Product, key: str, prices: tuple[ListingPrice, ...], gtins: Sequence[str]
) -> Listing:
    """The listing of an exported product (every barcode valid: ``gtins`` has no None)."""
    pid = product.id
    pairs = zip(product.skus, gtins, strict=True)
    sizes = [ListingSize(sku.size, code) for sku, code in pairs]
    return Listing(
        key,
        pid.style,
        pid.fabric,
        pid.colour,
        product.description,
        product.category,
        tuple(sizes),
        prices,
        product.image_url or None,
    )


def _barcode_problems(product: Product) -> list[str]:
    """Why a product's sizes cannot be exported: none, one twice, a barcode not a GTIN."""
    problems: list[str] = []
    if not product.skus:
        problems.append("it has no sizes")
    sizes_seen: set[str] = set()
    for sku in product.skus:
        if sku.size in sizes_seen:
            problems.append(f"size {sku.size} appears twice")
        sizes_seen.add(sku.size)
        wrong = gtin.problem(sku.barcode)
        if wrong is not None:
            problems.append(f"size {sku.size}: {wrong.message}")
    return problems
