"""Gathering: read what both remotes hold now, as the snapshots resolve and plan work on."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from daemon.clients.ordre import ORDRE_LIMITS, OrdreClient
from daemon.clients.zedonk import ZedonkClient
from daemon.core.eligibility import Eligibility
from daemon.core.model import Product
from daemon.core.plan import OrdreSnapshot
from daemon.core.resolve import ZedonkSnapshot


def gather_zedonk(
    client: ZedonkClient, *, price_seasons: Sequence[str] | None = None
) -> ZedonkSnapshot:
    """Zedonk's products, seasons, customers and users. With ``price_seasons`` (the
    settings'), each product's eligibility is worked out as it is read, while the next page
    is on its way, rather than after the last one (``daemon.core.eligibility``)."""
    seasons = tuple(client.seasons())  # first: a product's prices are ranked by season
    eligibility = None
    products: Iterator[Product] = client.products()
    if price_seasons is not None:
        eligibility = Eligibility(ORDRE_LIMITS, price_seasons, seasons)
        products = _checked(products, eligibility)
    return ZedonkSnapshot(
        products=tuple(products),
        seasons=seasons,
        customers=tuple(client.customers()),
        users=tuple(client.users()),
        eligibility=eligibility,
    )


def _checked(products: Iterator[Product], eligibility: Eligibility) -> Iterator[Product]:
    add = eligibility.add
    for product in products:
        add(product)
        yield product


def gather(
    zedonk: ZedonkClient, ordre: OrdreClient, *, price_seasons: Sequence[str] | None = None
) -> tuple[ZedonkSnapshot, OrdreSnapshot]:
    """Read both remotes side by side, each over its own connections (``price_seasons``: see
    ``gather_zedonk``)."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="gather") as pool:
        from_zedonk = pool.submit(gather_zedonk, zedonk, price_seasons=price_seasons)
        from_ordre = pool.submit(gather_ordre, ordre)
        return from_zedonk.result(), from_ordre.result()


def gather_ordre(client: OrdreClient) -> OrdreSnapshot:
    """ORDRE's collections, looks, listings and customers."""
    return OrdreSnapshot(
        collections=tuple(client.collections()),
        looks=tuple(client.looks()),
        listings=tuple(client.listings()),
        customers=tuple(client.customers()),
    )
