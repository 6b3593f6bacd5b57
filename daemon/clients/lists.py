"""The lists the warm reads keep and the order poll asks for changes (``daemon.clients.feeds``):
each keyed and sorted as docs/sandbox-api.md lists it, read by its client's own reader."""

from __future__ import annotations

from daemon.clients import ordre, zedonk
from daemon.clients.feeds import Feed
from daemon.clients.fields import BrokenItem, read_all
from daemon.core.model import OrdreOrder

ZEDONK_FEEDS = {
    "products": Feed("zedonk", "products", "/products", "id", ("id",), zedonk._product),
    "seasons": Feed("zedonk", "seasons", "/seasons", "code", ("starts_on", "code"), zedonk._season),
    "customers": Feed("zedonk", "customers", "/customers", "id", ("id",), zedonk._customer),
    "users": Feed("zedonk", "users", "/users", "username", ("username",), zedonk._user),
}

ORDRE_FEEDS = {
    "collections": Feed(
        "ordre", "collections", "/collections", "id", ("position", "id"), ordre._collection
    ),
    "looks": Feed(
        "ordre", "looks", "/looks", "id", ("collection_id", "position", "id"), ordre._look
    ),
    "listings": Feed("ordre", "listings", "/listings", "key", ("key",), ordre._listing),
    "customers": Feed(
        "ordre", "customers", "/customers", "account_code", ("account_code",), ordre._customer
    ),
}

# Orders are polled by their changes, not kept.
ORDERS = Feed("ordre", "orders", "/orders", "id", ("updated_at", "id"), ordre._order)


def order_changes(
    client: ordre.OrdreClient, token: str
) -> tuple[list[OrdreOrder | BrokenItem], str] | None:
    """The orders changed after ``token`` (any status, as now; malformed ones as
    ``BrokenItem``), and the token to ask from next; None when ORDRE cannot say (the token
    expired or is not its own): then list by ``client.orders(updated_since=...)``."""
    changed = client.read_changed(ORDERS, token, keyed_items=False)
    if changed is None:
        return None
    return list(read_all(changed.items, ordre._order, where="GET /orders")), changed.token
