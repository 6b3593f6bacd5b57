"""Phase 3 of a plan: the looks (pure).

A product sits in one look only, so the order of the look writes matters: a product leaves its
old look before it joins the new one. Deletes of looks the catalogue no longer has come first;
then updates and creates, each after the looks it takes products from. A cycle of moves is
broken by first detaching one look's leaving products (a "detach" step).

Without prune, a look that is not in the catalogue is kept, but lets go of the products the
catalogue puts elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from daemon.core.actions import Action, Change, Move, diff
from daemon.core.bodies import look_body
from daemon.core.limits import NameRule
from daemon.core.matching import keep_positions, pair
from daemon.core.model import OrdreCollection, OrdreLook
from daemon.core.resolve import Desired, DesiredCollection


def look_key(collection: str, look: str) -> str:
    """How a plan names a look: ``"collection / look"``."""
    return f"{collection} / {look}"


@dataclass(frozen=True)
class LookPlan:
    """What phase 3 gives the plan."""

    actions: list[Action]  # in the order they are applied
    moves: list[Move]
    placement: dict[str, str]  # listing key -> the key of its look
    kept: list[str]  # "look X": not in the catalogue, kept because prune is off


def plan_looks(
    desired: Desired,
    ordre_looks: Sequence[OrdreLook],
    collections: Mapping[int, OrdreCollection],
    looks_in: Mapping[str, list[OrdreLook]],
    collection_name: Mapping[str, str],
    *,
    prune: bool,
    names: NameRule,
) -> LookPlan:
    """The look writes that make ORDRE's looks match ``desired``, in an order ORDRE accepts.

    ``collections`` maps the index of each desired collection to the ORDRE collection it
    matched; ``looks_in`` holds ORDRE's looks by collection id, ``collection_name`` ORDRE's
    collection names by id.
    """
    looks = _Looks(collection_name, names)
    for i, wanted in enumerate(desired.collections):
        looks.catalogue_looks(wanted, collections.get(i), looks_in)
    looks.other_looks(desired, ordre_looks, prune=prune)
    moves = looks.moves(ordre_looks)
    actions = [*looks.deletes, *_order_looks(looks.nodes)]
    return LookPlan(actions, moves, looks.placement, looks.kept)


@dataclass
class _LookNode:
    """A look as it will be: its action, and the looks that must let go of products first."""

    action: Action
    current: tuple[str, ...]
    final: tuple[str, ...]
    remote: OrdreLook | None
    order: int
    depends: set[str] = field(default_factory=set)  # remote look ids


@dataclass
class _Looks:
    """The looks' writes as they are planned, before they are put in order."""

    collection_name: Mapping[str, str]  # ORDRE's collection names by id
    names: NameRule  # how ORDRE compares look names within a collection
    nodes: dict[str, _LookNode] = field(default_factory=dict)  # by remote id, or "new:<key>"
    matched: set[str] = field(default_factory=set)  # remote ids of the catalogue's looks
    placement: dict[str, str] = field(default_factory=dict)
    deletes: list[Action] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    order: int = 0  # the order looks are written in when nothing else decides

    def catalogue_looks(
        self,
        wanted_collection: DesiredCollection,
        have_collection: OrdreCollection | None,
        looks_in: Mapping[str, list[OrdreLook]],
    ) -> None:
        """Create or update each look of one desired collection."""
        have_looks = looks_in.get(have_collection.id, []) if have_collection else []
        pairs = pair(
            wanted_collection.looks,
            have_looks,
            lambda x: x.name,
            lambda x: x.name,
            lambda x: x.product_keys,
            lambda x: x.product_keys,
            lambda x: x.position,
            lambda x: x.position,
            name_key=self.names.key,
        )
        looks = wanted_collection.looks
        positions = keep_positions(
            [p.position if p else None for p in map(pairs.get, range(len(looks)))]
        )
        for j, wanted_look in enumerate(looks):
            key = look_key(wanted_collection.name, wanted_look.name)
            for product in wanted_look.product_keys:
                self.placement[product] = key
            collection_id = have_collection.id if have_collection else ""
            have_look = pairs.get(j)
            new_look = OrdreLook(
                collection_id,
                wanted_look.name,
                positions[j],
                wanted_look.product_keys,
                have_look.id if have_look else "",
            )
            self.order += 1
            if have_look is None:
                action = Action(
                    "create", "look", key, payload=new_look, collection=wanted_collection.name
                )
                self.nodes[f"new:{key}"] = _LookNode(
                    action, (), wanted_look.product_keys, None, self.order
                )
                continue
            self.matched.add(have_look.id)
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
                self.nodes[have_look.id] = _LookNode(
                    action, have_look.product_keys, wanted_look.product_keys, have_look, self.order
                )

    def other_looks(
        self, desired: Desired, ordre_looks: Sequence[OrdreLook], *, prune: bool
    ) -> None:
        """ORDRE's looks that are not in the catalogue: deleted with prune; else kept, letting
        go of the products the catalogue puts elsewhere."""
        desired_keys = {
            key for c in desired.collections for look in c.looks for key in look.product_keys
        }
        name = self.collection_name
        for look in sorted(
            ordre_looks, key=lambda x: (name.get(x.collection_id, ""), x.position, x.id)
        ):
            if look.id in self.matched:
                continue
            key = look_key(name.get(look.collection_id, look.collection_id), look.name)
            if prune:
                self.deletes.append(
                    Action(
                        "delete",
                        "look",
                        key,
                        remote_id=look.id,
                        remote_version=look.version,
                        # What it holds: apply holds back what waits for these products.
                        changes=(Change("product_keys", list(look.product_keys), None),),
                        collection=name.get(look.collection_id, ""),
                    )
                )
                continue
            self.kept.append(f"look {key}")
            final = tuple(k for k in look.product_keys if k not in desired_keys)
            if final != look.product_keys:
                new_look = OrdreLook(look.collection_id, look.name, look.position, final, look.id)
                self.order += 1
                action = Action(
                    "update",
                    "look",
                    key,
                    remote_id=look.id,
                    remote_version=look.version,
                    payload=new_look,
                    changes=diff(look_body(look), look_body(new_look)),
                    collection=name.get(look.collection_id, ""),
                )
                self.nodes[look.id] = _LookNode(action, look.product_keys, final, look, self.order)

    def moves(self, ordre_looks: Sequence[OrdreLook]) -> list[Move]:
        """Each product that leaves one look for another; the look it joins waits for the one
        it leaves (unless that one is deleted)."""
        holder = {key: look for look in ordre_looks for key in look.product_keys}
        deleted = {a.remote_id for a in self.deletes}
        moves: list[Move] = []
        for node_id, node in self.nodes.items():
            current = set(node.current)
            for key in node.final:
                if key in current:
                    continue
                old = holder.get(key)
                if old is None or old.id == node_id:
                    continue
                if old.id in self.nodes:  # a renamed look goes by its new name
                    source = self.nodes[old.id].action.key
                else:
                    source = look_key(self.collection_name.get(old.collection_id, "?"), old.name)
                moves.append(Move(key, source, node.action.key))
                if old.id in self.nodes and old.id not in deleted:
                    node.depends.add(old.id)
        return moves


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
