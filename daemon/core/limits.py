"""The shapes in which the remote systems' constraints are declared (pure).

The values live where each remote's client lives: ``daemon.clients.ordre.ORDRE_LIMITS`` and
``daemon.clients.zedonk.ZEDONK_LIMITS``. The planning core receives them as arguments, and
the JSON Schemas (offline, for ``validate`` and editors) carry the same numbers, which
tests/test_limits.py holds equal. Keeping the types here lets the core speak of them without
importing the clients.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

from daemon.core.model import Product

Normalisation = Literal["NFC", "NFD", "NFKC", "NFKD"]


@dataclass(frozen=True)
class NameRule:
    """How a remote compares two names when it decides they are the same.

    ``trim`` drops whitespace at either end (``str.strip``), ``casefold`` ignores case the
    Unicode way (``str.casefold``: "Straße" is "STRASSE"), ``normalisation`` names the Unicode
    normal form applied first, or None when differently composed characters stay different.
    """

    trim: bool
    casefold: bool
    normalisation: Normalisation | None = None

    def key(self, name: str) -> str:
        """``name`` as the remote compares it: two names clash when their keys are equal."""
        if self.normalisation is not None:
            name = unicodedata.normalize(self.normalisation, name)
        if self.trim:
            name = name.strip()
        return name.casefold() if self.casefold else name

    def ignoring(self) -> str:
        """What the comparison ignores, for messages: "case and spaces at either end"."""
        parts = [
            *(["case"] if self.casefold else []),
            *(["spaces at either end"] if self.trim else []),
        ]
        return " and ".join(parts) or "nothing"


@dataclass(frozen=True)
class OrdreLimits:
    """What ORDRE refuses, by the field it refuses it in. Lengths count characters (code
    points), as ORDRE counts them."""

    collection_name: int
    look_name: int
    collection_description: int
    names: NameRule  # collection names across the showroom, look names within a collection
    listing_batch: int  # listings per PUT /listings:batch
    listing_description: int
    listing_category: int
    listing_size: int
    listing_image_url: int

    def listing_problems(self, product: Product) -> list[str]:
        """What ORDRE would refuse in the listing made from ``product``: a text over its
        limit, or a category or size it requires left empty. Empty when there is nothing;
        a few length checks per product, the common case first."""
        if (
            len(product.description) <= self.listing_description
            and len(product.category) <= self.listing_category
            and len(product.image_url or "") <= self.listing_image_url
            and product.category.strip()
        ):
            most = self.listing_size
            for sku in product.skus:
                if not (len(sku.size) <= most and sku.size.strip()):
                    break
            else:
                return []
        problems = [
            problem
            for problem in (
                too_long("its description", product.description, self.listing_description),
                too_long("its category", product.category, self.listing_category),
                too_long("its Image 1 URL", product.image_url or "", self.listing_image_url),
            )
            if problem is not None
        ]
        if not product.category.strip():
            problems.append("it has no category, which ORDRE requires")
        for sku in product.skus:
            if not sku.size.strip():
                problems.append("a size has no name, which ORDRE requires")
            elif (
                size := too_long(f"size {sku.size[:30]}", sku.size, self.listing_size)
            ) is not None:
                problems.append(size)
        return problems


@dataclass(frozen=True)
class ZedonkLimits:
    """What Zedonk holds, and how it matches what the settings name."""

    style: int  # characters in a product's style code
    fabric: int
    colour: int
    seasons: NameRule  # how a season code in connector.yaml must match Zedonk's
    usernames: NameRule  # how the order owner must match a Zedonk username


def too_long(what: str, value: str, limit: int) -> str | None:
    """A message for ``value`` over ``limit`` characters, or None when it fits. States the
    limit and the length, never the value itself (it may be 10 kB)."""
    if len(value) <= limit:
        return None
    return f"{what} is {len(value):,} characters long; at most {limit:,} are allowed"
