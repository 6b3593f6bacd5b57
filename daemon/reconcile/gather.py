"""Gathering: read what both remotes hold now, as the snapshots resolve and plan work on."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from daemon.clients.ordre import OrdreClient
from daemon.clients.zedonk import ZedonkClient
from daemon.core.plan import OrdreSnapshot
from daemon.core.resolve import ZedonkSnapshot


def gather_zedonk(client: ZedonkClient) -> ZedonkSnapshot:
    """Zedonk's products, seasons, customers and users."""
    return ZedonkSnapshot(
        products=tuple(client.products()),
        seasons=tuple(client.seasons()),
        customers=tuple(client.customers()),
        users=tuple(client.users()),
    )


def gather(zedonk: ZedonkClient, ordre: OrdreClient) -> tuple[ZedonkSnapshot, OrdreSnapshot]:
    """Read both remotes side by side, each over its own connections."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="gather") as pool:
        from_zedonk = pool.submit(gather_zedonk, zedonk)
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
