"""The catalogue's entries expanded into Zedonk products, each placed in one look (pure).

An entry is a product (``STYLE/FABRIC/COLOUR``), a style with some of its colours, or a
selector (Zedonk's catalogue filters). A look shows its listed products and styles as
written, then each selector's results by style, fabric and colour. A product sits in one
look of one collection only: the first place that names it keeps it, and every other place
is an error finding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, NamedTuple

from daemon.core.findings import Finding, finding_at
from daemon.core.model import Product, ProductId, new_tuple
from daemon.core.spec import Location, LookSpec, ProductRef, Selector, StyleRef

EntryKey = tuple[Any, ...]
Entry = ProductRef | StyleRef | Selector


# Selector results are ordered by style, then fabric, then colour: by their ids.
product_sort_key: Callable[[Product], ProductId] = attrgetter("id")


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


class Placed(NamedTuple):
    """Where a product was put first: for the "one look, one collection" rule."""

    collection: str
    look: str
    location: Location


@dataclass
class Placing:
    """A resolve's products as they are placed in looks: Zedonk's products with the indexes
    selectors use, the place each product took first, what each style or selector entry
    expanded to, and the findings so far."""

    products: dict[ProductId, Product]
    findings: list[Finding] = field(default_factory=list)
    placed: dict[ProductId, Placed] = field(default_factory=dict)
    expanded: dict[EntryKey, tuple[str, ...]] = field(default_factory=dict)
    _indexes: _Indexes | None = field(default=None, init=False, repr=False)

    @classmethod
    def of(cls, products: Sequence[Product]) -> Placing:
        """Zedonk's products by id; the indexes by style, season and category are built when
        a style or selector entry first needs them (a catalogue of ids needs none)."""
        return cls({p.id: p for p in products})

    @property
    def indexes(self) -> _Indexes:
        if self._indexes is None:
            self._indexes = _Indexes.of(self.products.values())
        return self._indexes


@dataclass(frozen=True)
class _Indexes:
    """Zedonk's products by style, season and category, each in display order."""

    by_style: dict[str, list[Product]]
    by_season: dict[str, list[Product]]
    by_category: dict[str, list[Product]]

    @classmethod
    def of(cls, products: Iterable[Product]) -> _Indexes:
        indexes = cls({}, {}, {})
        for product in sorted(products, key=product_sort_key):
            indexes.by_style.setdefault(product.id.style, []).append(product)
            indexes.by_category.setdefault(product.category.casefold(), []).append(product)
            for season in product.seasons:
                indexes.by_season.setdefault(season, []).append(product)
        return indexes


def _candidates(state: Placing, selector: Selector) -> Iterable[Product]:
    """The products a selector can match, narrowed by an index so large brands stay fast."""
    if selector.season is not None:
        return state.indexes.by_season.get(selector.season, [])
    if selector.category is not None:
        return state.indexes.by_category.get(selector.category.casefold(), [])
    return state.products.values()


def _style_products(state: Placing, ref: StyleRef, collection: str, look: str) -> list[Product]:
    candidates = state.indexes.by_style.get(ref.style, [])
    if not candidates:
        state.findings.append(
            finding_at(
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
                finding_at(
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
                finding_at(
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


def look_entries(look: LookSpec) -> list[Entry]:
    """Display order: listed products and styles as written, then each selector's results."""
    listed: list[ProductRef | StyleRef] = [*look.products, *look.styles]
    listed.sort(key=lambda entry: entry.position)
    return [*listed, *look.selectors]


def _expand(state: Placing, entry: Entry, collection: str, look: str) -> list[Product]:
    """The products one entry stands for; an unknown product or style is an error finding."""
    if isinstance(entry, StyleRef):
        return _style_products(state, entry, collection, look)
    if isinstance(entry, ProductRef):
        product = state.products.get(entry.id)
        if product is None:
            state.findings.append(
                finding_at(
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
            finding_at(
                entry.location,
                "selector-empty",
                "warning",
                f"{collection} / {look}: this selector matches no Zedonk product",
            )
        )
    return sorted(matches, key=product_sort_key)


def resolve_look(state: Placing, look: LookSpec, collection: str) -> list[tuple[Product, Location]]:
    """The look's products in display order, each with the place of the entry that named it."""
    products = state.products
    ordered: dict[ProductId, tuple[Product, Location]] = {}  # the first place of each wins
    for entry in look_entries(look):
        if type(entry) is ProductRef:  # most entries: looked up here, with no list each
            product = products.get(entry.id)
            if product is not None:
                ordered.setdefault(product.id, (product, entry.location))
                continue
        noted = len(state.findings)
        found = _expand(state, entry, collection, look.name)
        # A product entry needs no record: any catalogued product exists in Zedonk. An entry
        # with a finding is left out, so that it is resolved (and reported) afresh.
        if not isinstance(entry, ProductRef) and len(state.findings) == noted:
            state.expanded[entry_key(entry)] = tuple([str(p.id) for p in found])
        for product in found:
            ordered.setdefault(product.id, (product, entry.location))
    return list(ordered.values())


def claim(state: Placing, product: Product, where: Location, collection: str, look: str) -> bool:
    """Place a product in a look; False (and an error) when it already sits elsewhere."""
    first = state.placed.get(product.id)
    if first is None:
        state.placed[product.id] = new_tuple(Placed, (collection, look, where))
        return True
    state.findings.append(
        finding_at(
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
