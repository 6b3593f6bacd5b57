"""The catalogue's spec: what catalogue/*.yaml says, as plain dataclasses (pure).

The loader (daemon.tree.catalogue) builds it from the files; resolve (daemon.core.resolve)
turns it into what ORDRE should show, against Zedonk. It is what the files say, not yet what
Zedonk holds: a product reference may name a product Zedonk does not have.
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.core.model import ProductId


@dataclass(frozen=True, order=True)
class Location:
    """Where something is written. ``file`` is relative to the root; line and column are 1-based."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class ProductRef:
    """An explicit Zedonk product: ``STYLE/FABRIC/COLOUR``."""

    id: ProductId
    location: Location
    position: int = 0  # index in the look's ``products`` list (display order)


@dataclass(frozen=True)
class StyleRef:
    """A style with some of its colours. ``fabric`` may be left out when the style has one."""

    style: str
    fabric: str | None
    colours: tuple[str, ...]
    location: Location
    position: int = 0  # index in the look's ``products`` list (display order)

    def covers(self, product: ProductId) -> bool:
        """Whether this entry names ``product`` (offline: a missing fabric matches any)."""
        return (
            product.style == self.style
            and product.colour in self.colours
            and (self.fabric is None or product.fabric == self.fabric)
        )


@dataclass(frozen=True)
class Selector:
    """Zedonk's catalogue filters: every given filter must match. Excludes win."""

    season: str | None
    category: str | None
    search: str | None  # free text over style, description and colour, case-insensitive
    exclude: tuple[ProductId, ...]
    location: Location


@dataclass(frozen=True)
class LookSpec:
    name: str
    position: int  # 0-based, in file order
    products: tuple[ProductRef, ...]
    styles: tuple[StyleRef, ...]
    selectors: tuple[Selector, ...]
    location: Location


@dataclass(frozen=True)
class CollectionSpec:
    name: str
    description: str
    position: int  # 0-based, after sorting by ``order`` then file name
    looks: tuple[LookSpec, ...]
    file: str  # relative to the root, e.g. "catalogue/aw26-main.yaml"
    location: Location
    order: int | None = None  # the ``order`` written in the file, if any


@dataclass(frozen=True)
class CatalogueSpec:
    collections: tuple[CollectionSpec, ...]  # in display order

    @property
    def is_empty(self) -> bool:
        return not self.collections
