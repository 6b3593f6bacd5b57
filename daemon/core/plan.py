"""Plan: the desired state against ORDRE as it is now, as ordered actions (pure, and data).

Every action (daemon.core.actions) says what it writes, which fields change, and the ORDRE
version of the object it was computed from, so a saved plan can be checked object by object
before it is applied. Actions come in an order ORDRE accepts:

1. listings (created or updated: looks may only name existing listings) and customers;
2. collections created or updated (looks need their collection);
3. looks: deletes first, then updates and creates in an order where a product leaves its old
   look before it joins the new one (a product sits in one look only; a cycle of moves is
   broken by first detaching one look's leaving products);
4. collections deleted (once empty), then listings deleted (once no look holds them).

Deletes are planned only with ``prune``; customers are never deleted. A product that moves
from one look to another is a move: both looks change, its listing stays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

from daemon.core.actions import OPS, Action, Change, Kind, Move, diff
from daemon.core.bodies import body_of, collection_body
from daemon.core.findings import Finding
from daemon.core.limits import NameRule
from daemon.core.matching import keep_positions, pair
from daemon.core.model import Listing, OrdreCollection, OrdreCustomer, OrdreLook
from daemon.core.planlooks import look_key, plan_looks
from daemon.core.resolve import Desired, DesiredCollection, ProductReport

__all__ = ["Action", "Change", "Move", "OrdreSnapshot", "Plan", "make_plan"]


@dataclass(frozen=True)
class OrdreSnapshot:
    """ORDRE as read at the start of a plan."""

    collections: tuple[OrdreCollection, ...] = ()
    looks: tuple[OrdreLook, ...] = ()
    listings: tuple[Listing, ...] = ()
    customers: tuple[OrdreCustomer, ...] = ()

    @property
    def tracked(self) -> int:
        """How many catalogue objects ORDRE holds: the base of the delete share."""
        return len(self.collections) + len(self.looks) + len(self.listings)


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    moves: tuple[Move, ...] = ()
    placement: Mapping[str, str] = field(default_factory=dict)  # listing key -> its look
    tree: tuple[tuple[str, tuple[str, ...]], ...] = ()  # collection -> its look keys, in order
    findings: tuple[Finding, ...] = ()
    products: tuple[ProductReport, ...] = ()
    kept: tuple[str, ...] = ()  # not in the catalogue, kept on ORDRE because prune is off
    prune: bool = False
    tracked: int = 0  # catalogue objects on ORDRE when planned
    listings: int = 0  # listings on ORDRE when planned: the base of the update share

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    @property
    def deletes(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.op == "delete")

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {op: sum(1 for a in self.actions if a.op == op) for op in OPS}
        counts["move"] = len(self.moves)
        return counts

    def not_exported(self) -> tuple[ProductReport, ...]:
        return tuple(p for p in self.products if not p.exported)


# --------------------------------------------------------------------------- plan


def make_plan(
    desired: Desired,
    ordre: OrdreSnapshot,
    *,
    prune: bool,
    names: NameRule,
    findings: Iterable[Finding] = (),
) -> Plan:
    """Ordered actions that make ORDRE match ``desired``, in the four phases of the module's
    docstring. Pure and deterministic. ``names`` is how ORDRE compares names
    (``ORDRE_LIMITS.names`` in daemon.clients.ordre): a catalogue name ORDRE takes for one
    it holds updates that object."""
    # An empty catalogue never means "delete everything".
    prune = prune and not desired.is_empty
    looks_in: dict[str, list[OrdreLook]] = {}
    for look in ordre.looks:
        looks_in.setdefault(look.collection_id, []).append(look)
    collections = _match_collections(desired, ordre, looks_in, names)
    collection_name = {c.id: c.name for c in ordre.collections}
    looks = plan_looks(
        desired, ordre.looks, collections, looks_in, collection_name, prune=prune, names=names
    )
    deletes, kept = _plan_deletes(desired, ordre, collections, prune=prune)
    return Plan(
        actions=(
            *_plan_listings_and_customers(desired, ordre),
            *_plan_collections(desired, collections),
            *looks.actions,
            *deletes,
        ),
        moves=tuple(sorted(looks.moves, key=lambda m: (m.target, m.key))),
        placement=looks.placement,
        tree=tuple(
            (c.name, tuple(look_key(c.name, look.name) for look in c.looks))
            for c in desired.collections
        ),
        findings=tuple(findings),
        products=desired.products,
        kept=(*looks.kept, *kept),
        prune=prune,
        tracked=ordre.tracked,
        listings=len(ordre.listings),
    )


def _plan_listings_and_customers(desired: Desired, ordre: OrdreSnapshot) -> list[Action]:
    """Phase 1: listings and customers created or updated (looks may only name listings that
    exist). Most are unchanged, so the cheap test comes first."""
    actions: list[Action] = []
    remote_listings = {item.key: item for item in ordre.listings}
    content = _CONTENT[Listing]  # _unchanged, written out for the 20,000 of a large brand
    for listing in desired.listings:
        have = remote_listings.get(listing.key)
        if have is not None and content(have) == content(listing):
            continue
        actions.extend(_upsert("listing", listing.key, listing, remote_listings))
    remote_customers = {c.account_code: c for c in ordre.customers}
    for customer in desired.customers:
        if _unchanged(customer, remote_customers.get(customer.account_code)):
            continue
        actions.extend(_upsert("customer", customer.account_code, customer, remote_customers))
    return actions


def _match_collections(
    desired: Desired,
    ordre: OrdreSnapshot,
    looks_in: Mapping[str, list[OrdreLook]],
    names: NameRule,
) -> dict[int, OrdreCollection]:
    """The ORDRE collection each desired collection becomes, by the index of the desired one:
    by name, then by the products their looks share, then by position."""

    def collection_keys(c: DesiredCollection) -> list[str]:
        return [k for look in c.looks for k in look.product_keys]

    return pair(
        desired.collections,
        ordre.collections,
        lambda c: c.name,
        lambda c: c.name,
        collection_keys,
        lambda c: [k for look in looks_in.get(c.id, []) for k in look.product_keys],
        lambda c: c.position,
        lambda c: c.position,
        name_key=names.key,
    )


def _plan_collections(desired: Desired, collections: Mapping[int, OrdreCollection]) -> list[Action]:
    """Phase 2: collections created or updated (looks need their collection). Positions
    only change where the display order needs it (``keep_positions``)."""
    actions: list[Action] = []
    existing = [
        c.position if c else None for c in map(collections.get, range(len(desired.collections)))
    ]
    positions = keep_positions(existing)
    for i, wanted in enumerate(desired.collections):
        have = collections.get(i)
        new_collection = OrdreCollection(
            wanted.name, positions[i], wanted.description, have.id if have else ""
        )
        if have is None:
            actions.append(Action("create", "collection", wanted.name, payload=new_collection))
            continue
        before, body = collection_body(have), collection_body(new_collection)
        if before != body:
            actions.append(
                Action(
                    "update",
                    "collection",
                    wanted.name,
                    remote_id=have.id,
                    remote_version=have.version,
                    payload=new_collection,
                    changes=diff(before, body),
                )
            )
    return actions


def _plan_deletes(
    desired: Desired,
    ordre: OrdreSnapshot,
    collections: Mapping[int, OrdreCollection],
    *,
    prune: bool,
) -> tuple[list[Action], list[str]]:
    """Phase 4: collections deleted (once empty), then listings (once no look holds them);
    without prune, what would be deleted is kept and named."""
    actions: list[Action] = []
    kept: list[str] = []
    kept_collections = {c.id for c in collections.values()}
    for have in ordre.collections:
        if have.id in kept_collections:
            continue
        if prune:
            actions.append(
                Action(
                    "delete",
                    "collection",
                    have.name,
                    remote_id=have.id,
                    remote_version=have.version,
                )
            )
        else:
            kept.append(f"collection {have.name}")
    wanted_listings = {item.key for item in desired.listings}
    for listing in ordre.listings:
        if listing.key in wanted_listings:
            continue
        if prune:
            actions.append(
                Action(
                    "delete",
                    "listing",
                    listing.key,
                    remote_id=listing.key,
                    remote_version=listing.version,
                )
            )
        else:
            kept.append(f"listing {listing.key}")
    return actions, kept


def _content_of(names: Iterable[str]) -> Callable[[Any], tuple[Any, ...]]:
    """Every field of ``names`` but ``version``, as one tuple (attrgetter does it in C)."""
    return attrgetter(*(name for name in names if name != "version"))


_CONTENT = {
    Listing: _content_of(Listing.__struct_fields__),
    OrdreCustomer: _content_of(f.name for f in fields(OrdreCustomer)),
}


def _unchanged(desired: Listing | OrdreCustomer, have: Listing | OrdreCustomer | None) -> bool:
    """The cheap test first: equal objects (version aside) have equal bodies. Unequal ones may
    still have equal bodies (prices in another order, "" for no image), which ``_upsert``
    settles by comparing the bodies."""
    if have is None or type(have) is not type(desired):
        return False
    content = _CONTENT[type(desired)]
    return content(have) == content(desired)


def _upsert(
    kind: Kind, key: str, wanted: Listing | OrdreCustomer, remote: Mapping[str, Any]
) -> list[Action]:
    have = remote.get(key)
    if have is None:
        return [Action("create", kind, key, payload=wanted)]
    before, body = body_of(have), body_of(wanted)
    if before == body:
        return []
    return [
        Action(
            "update",
            kind,
            key,
            remote_id=key,
            remote_version=have.version,
            payload=wanted,
            changes=diff(before, body),
        )
    ]
