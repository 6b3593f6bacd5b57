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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from operator import attrgetter
from typing import Any

from daemon.core.actions import OPS, Action, Change, Kind, Move, diff
from daemon.core.bodies import body_of, collection_body, look_body
from daemon.core.findings import Finding
from daemon.core.model import Listing, OrdreCollection, OrdreCustomer, OrdreLook
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


# --------------------------------------------------------------------------- matching


def _pair(
    wanted: Sequence[Any],
    have: Sequence[Any],
    name_of_wanted: Any,
    name_of_have: Any,
    keys_of_wanted: Any,
    keys_of_have: Any,
    position_of_wanted: Any,
    position_of_have: Any,
) -> dict[int, Any]:
    """Match desired objects to ORDRE's: by name, then by shared products, then by position.

    Returns index in ``wanted`` -> matched object of ``have``. A rename keeps the object
    (and its id) as long as it keeps some of its products or its place.
    """
    matched: dict[int, Any] = {}
    taken: set[int] = set()
    for exact in (True, False):
        for i, w in enumerate(wanted):
            if i in matched:
                continue
            for j, h in enumerate(have):
                if j in taken:
                    continue
                a, b = name_of_wanted(w), name_of_have(h)
                if (a == b) if exact else (a.casefold() == b.casefold()):
                    matched[i] = h
                    taken.add(j)
                    break
    overlaps = []
    for i, w in enumerate(wanted):
        if i in matched:
            continue
        mine = set(keys_of_wanted(w))
        for j, h in enumerate(have):
            if j in taken:
                continue
            shared = len(mine & set(keys_of_have(h)))
            if shared:
                overlaps.append((-shared, i, j))
    for _, i, j in sorted(overlaps):
        if i not in matched and j not in taken:
            matched[i] = have[j]
            taken.add(j)
    for i, w in enumerate(wanted):
        if i in matched:
            continue
        for j, h in enumerate(have):
            if j not in taken and position_of_wanted(w) == position_of_have(h):
                matched[i] = h
                taken.add(j)
                break
    return matched


def _look_key(collection: str, look: str) -> str:
    return f"{collection} / {look}"


# --------------------------------------------------------------------------- plan


@dataclass
class _LookNode:
    """A look as it will be: its action, and the looks that must let go of products first."""

    action: Action
    current: tuple[str, ...]
    final: tuple[str, ...]
    remote: OrdreLook | None
    order: int
    depends: set[str] = field(default_factory=set)  # remote look ids


def make_plan(
    desired: Desired,
    ordre: OrdreSnapshot,
    *,
    prune: bool,
    findings: Iterable[Finding] = (),
) -> Plan:
    """Ordered actions that make ORDRE match ``desired``. Pure and deterministic."""
    # An empty catalogue never means "delete everything".
    prune = prune and not desired.is_empty
    kept: list[str] = []
    actions: list[Action] = []

    # 1. Listings and customers.
    remote_listings = {item.key: item for item in ordre.listings}
    for listing in desired.listings:
        if _unchanged(listing, remote_listings.get(listing.key)):
            continue
        actions.extend(_upsert("listing", listing.key, listing, remote_listings))
    remote_customers = {c.account_code: c for c in ordre.customers}
    for customer in desired.customers:
        if _unchanged(customer, remote_customers.get(customer.account_code)):
            continue
        actions.extend(_upsert("customer", customer.account_code, customer, remote_customers))

    # 2. Collections.
    def collection_keys(c: DesiredCollection) -> list[str]:
        return [k for look in c.looks for k in look.product_keys]

    looks_in: dict[str, list[OrdreLook]] = {}
    for look in ordre.looks:
        looks_in.setdefault(look.collection_id, []).append(look)
    matched_collections = _pair(
        desired.collections,
        ordre.collections,
        lambda c: c.name,
        lambda c: c.name,
        collection_keys,
        lambda c: [k for look in looks_in.get(c.id, []) for k in look.product_keys],
        lambda c: c.position,
        lambda c: c.position,
    )
    collection_actions: list[Action] = []
    for i, wanted in enumerate(desired.collections):
        have = matched_collections.get(i)
        new_collection = OrdreCollection(
            wanted.name, wanted.position, wanted.description, have.id if have else ""
        )
        if have is None:
            collection_actions.append(
                Action("create", "collection", wanted.name, payload=new_collection)
            )
            continue
        before, body = collection_body(have), collection_body(new_collection)
        if before != body:
            collection_actions.append(
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
    actions.extend(collection_actions)

    # 3. Looks.
    holder = {key: look for look in ordre.looks for key in look.product_keys}
    desired_keys = {
        key for c in desired.collections for look in c.looks for key in look.product_keys
    }
    collection_name = {c.id: c.name for c in ordre.collections}
    nodes: dict[str, _LookNode] = {}  # by remote id, or "new:<key>" for a create
    matched_looks: set[str] = set()
    placement: dict[str, str] = {}
    order = 0
    for i, wanted_collection in enumerate(desired.collections):
        have_collection = matched_collections.get(i)
        have_looks = looks_in.get(have_collection.id, []) if have_collection else []
        pairs = _pair(
            wanted_collection.looks,
            have_looks,
            lambda x: x.name,
            lambda x: x.name,
            lambda x: x.product_keys,
            lambda x: x.product_keys,
            lambda x: x.position,
            lambda x: x.position,
        )
        for j, wanted_look in enumerate(wanted_collection.looks):
            key = _look_key(wanted_collection.name, wanted_look.name)
            for product in wanted_look.product_keys:
                placement[product] = key
            collection_id = have_collection.id if have_collection else ""
            have_look = pairs.get(j)
            new_look = OrdreLook(
                collection_id,
                wanted_look.name,
                wanted_look.position,
                wanted_look.product_keys,
                have_look.id if have_look else "",
            )
            order += 1
            if have_look is None:
                action = Action(
                    "create", "look", key, payload=new_look, collection=wanted_collection.name
                )
                nodes[f"new:{key}"] = _LookNode(action, (), wanted_look.product_keys, None, order)
                continue
            matched_looks.add(have_look.id)
            # Matched within its collection: both bodies carry the same collection id.
            before, body = look_body(have_look), look_body(new_look)
            if before != body:
                action = Action(
                    "update",
                    "look",
                    key,
                    remote_id=have_look.id,
                    remote_version=have_look.version,
                    payload=new_look,
                    changes=diff(before, body),
                    collection=wanted_collection.name,
                )
                nodes[have_look.id] = _LookNode(
                    action, have_look.product_keys, wanted_look.product_keys, have_look, order
                )

    look_deletes: list[Action] = []
    for look in sorted(
        ordre.looks, key=lambda x: (collection_name.get(x.collection_id, ""), x.position, x.id)
    ):
        if look.id in matched_looks:
            continue
        key = _look_key(collection_name.get(look.collection_id, look.collection_id), look.name)
        if prune:
            look_deletes.append(
                Action(
                    "delete",
                    "look",
                    key,
                    remote_id=look.id,
                    remote_version=look.version,
                    # What it holds: apply holds back what waits for these products.
                    changes=(Change("product_keys", list(look.product_keys), None),),
                    collection=collection_name.get(look.collection_id, ""),
                )
            )
            continue
        kept.append(f"look {key}")
        # Kept, but it must let go of products the catalogue puts elsewhere.
        final = tuple(k for k in look.product_keys if k not in desired_keys)
        if final != look.product_keys:
            new_look = OrdreLook(look.collection_id, look.name, look.position, final, look.id)
            order += 1
            action = Action(
                "update",
                "look",
                key,
                remote_id=look.id,
                remote_version=look.version,
                payload=new_look,
                changes=diff(look_body(look), look_body(new_look)),
                collection=collection_name.get(look.collection_id, ""),
            )
            nodes[look.id] = _LookNode(action, look.product_keys, final, look, order)
    actions.extend(look_deletes)
    deleted_looks = {a.remote_id for a in look_deletes}

    moves: list[Move] = []
    for node_id, node in nodes.items():
        current = set(node.current)
        for key in node.final:
            if key in current:
                continue
            old = holder.get(key)
            if old is None or old.id == node_id:
                continue
            if old.id in nodes:  # a renamed look goes by its new name
                source = nodes[old.id].action.key
            else:
                source = _look_key(collection_name.get(old.collection_id, "?"), old.name)
            moves.append(Move(key, source, node.action.key))
            if old.id in nodes and old.id not in deleted_looks:
                node.depends.add(old.id)
    actions.extend(_order_looks(nodes))

    # 4. Deletes of collections and listings.
    kept_collections = {c.id for c in matched_collections.values()}
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

    return Plan(
        actions=tuple(actions),
        moves=tuple(sorted(moves, key=lambda m: (m.target, m.key))),
        placement=placement,
        tree=tuple(
            (c.name, tuple(_look_key(c.name, look.name) for look in c.looks))
            for c in desired.collections
        ),
        findings=tuple(findings),
        products=desired.products,
        kept=tuple(kept),
        prune=prune,
        tracked=ordre.tracked,
    )


def _content_of(kind: type[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """Every field but ``version``, as one tuple (attrgetter does it in C)."""
    return attrgetter(*(f.name for f in fields(kind) if f.name != "version"))


_CONTENT = {Listing: _content_of(Listing), OrdreCustomer: _content_of(OrdreCustomer)}


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


def _order_looks(nodes: dict[str, _LookNode]) -> list[Action]:
    """Look writes in an order where a product leaves its old look before joining a new one."""
    done: set[str] = set()  # written, or detached: no longer holds what others need
    detached: set[str] = set()
    out: list[Action] = []
    remaining = sorted(nodes, key=lambda n: nodes[n].order)
    while remaining:
        ready = [n for n in remaining if not (nodes[n].depends - done - detached)]
        if not ready:
            # A cycle of moves: a look that others wait for first lets go of its leaving
            # products, joining none. Only existing looks hold products others need.
            waited_for = set().union(*(nodes[n].depends for n in remaining))
            name = next(n for n in remaining if n in waited_for and n not in detached)
            node = nodes[name]
            assert node.remote is not None
            current = set(node.current)
            kept = tuple(k for k in node.final if k in current)
            written = replace(node.remote, product_keys=kept, version="")
            out.append(
                Action(
                    "update",
                    "look",
                    node.action.key,
                    remote_id=node.remote.id,
                    remote_version=node.remote.version,
                    payload=written,
                    changes=diff(look_body(node.remote), look_body(written)),
                    collection=node.action.collection,
                    step="detach",
                )
            )
            detached.add(name)
            continue
        for name in ready:
            out.append(nodes[name].action)
            done.add(name)
        remaining = [n for n in remaining if n not in done]
    return out
