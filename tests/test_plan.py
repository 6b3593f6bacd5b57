"""plan: desired state vs ORDRE -> ordered actions (pure), and how plans are rendered.

``simulate`` plays a plan against an in-memory ORDRE that enforces the real rules (a look
names only existing listings, a product sits in one look, a collection is deleted only when
empty, a listing only when no look holds it), so an action order ORDRE would refuse fails here.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import structs

from daemon.clients.ordre import ORDRE_LIMITS
from daemon.core.matching import keep_positions
from daemon.core.model import (
    Address,
    Listing,
    ListingPrice,
    ListingSize,
    OrdreCollection,
    OrdreCustomer,
    OrdreLook,
)
from daemon.core.plan import Action, OrdreSnapshot, Plan, make_plan
from daemon.core.planfmt import NO_CHANGES, plan_json, render_markdown, render_text
from daemon.core.resolve import Desired, DesiredCollection, DesiredLook
from daemon.core.spec import Location

NAMES = ORDRE_LIMITS.names

HERE = Location("catalogue/a.yaml", 1, 1)


def listing(key: str, description: str = "Coat") -> Listing:
    style, fabric, colour = key.split("/")
    return Listing(
        key=key,
        style=style,
        fabric=fabric,
        colour=colour,
        description=description,
        category="Coats",
        sizes=(ListingSize("36", "05061234500017"),),
        prices=(ListingPrice("EUR", Decimal("310"), Decimal("775")),),
        image_url=None,
    )


def desired(tree: dict[str, dict[str, list[str]]], **overrides: str) -> Desired:
    """{collection: {look: [keys]}} -> Desired, with every key a listing."""
    collections = []
    keys: list[str] = []
    for ci, (cname, looks) in enumerate(tree.items()):
        dl = []
        for li, (lname, lkeys) in enumerate(looks.items()):
            dl.append(DesiredLook(lname, li, tuple(lkeys), HERE))
            keys += lkeys
        collections.append(DesiredCollection(cname, "", ci, tuple(dl), HERE))
    listings = tuple(listing(k, overrides.get(k, "Coat")) for k in sorted(keys))
    return Desired(tuple(collections), listings, ())


# --------------------------------------------------------------------------- simulator


IDS = itertools.count(1)


class Refused(AssertionError):
    pass


def simulate(snapshot: OrdreSnapshot, plan: Plan) -> OrdreSnapshot:
    cols = {c.id: c for c in snapshot.collections}
    looks = {x.id: x for x in snapshot.looks}
    listings = {x.key: x for x in snapshot.listings}
    customers = {c.account_code: c for c in snapshot.customers}
    col_by_name: dict[str, str] = {c.name: c.id for c in cols.values()}

    def new_id(prefix: str) -> str:
        return f"{prefix}_{next(IDS)}"

    def bump(v: str) -> str:
        return str(int(v or "0") + 1)

    def check_look(look: OrdreLook) -> None:
        for key in look.product_keys:
            if key not in listings:
                raise Refused(f"look {look.name} names missing listing {key}")
            for other in looks.values():
                if other.id != look.id and key in other.product_keys:
                    raise Refused(f"{key} is already in look {other.name}")
        if look.collection_id not in cols:
            raise Refused("no such collection")
        for other in looks.values():
            same = NAMES.key(other.name) == NAMES.key(look.name)
            if other.id != look.id and other.collection_id == look.collection_id and same:
                raise Refused(f"the collection already has a look named {other.name!r}")

    def check_collection(cid: str, name: str) -> None:
        for other in cols.values():
            if other.id != cid and NAMES.key(other.name) == NAMES.key(name):
                raise Refused(f"a collection named {other.name!r} exists")

    for a in plan.actions:
        body = dict(a.body or {})
        if a.kind == "listing":
            if a.op == "delete":
                if any(a.key in x.product_keys for x in looks.values()):
                    raise Refused(f"listing {a.key} still in a look")
                del listings[a.key]
            else:
                old = listings.get(a.key)
                listings[a.key] = Listing(
                    key=a.key,
                    style=body["style"],
                    fabric=body["fabric"],
                    colour=body["colour"],
                    description=body["description"],
                    category=body["category"],
                    sizes=tuple(ListingSize(s["size"], s["gtin"]) for s in body["sizes"]),
                    prices=tuple(
                        ListingPrice(p["currency"], Decimal(p["wsp"]), Decimal(p["rrp"]))
                        for p in body["prices"]
                    ),
                    image_url=body["image_url"],
                    version=bump(old.version if old else ""),
                )
        elif a.kind == "customer":
            assert a.op != "delete"
            customers[a.key] = OrdreCustomer(a.key, body["name"], body["currency"], version="1")
        elif a.kind == "collection":
            if a.op == "delete":
                if any(x.collection_id == a.remote_id for x in looks.values()):
                    raise Refused(f"collection {a.key} still has looks")
                del cols[a.remote_id]
            elif a.op == "create":
                cid = new_id("col")
                check_collection(cid, body["name"])
                cols[cid] = OrdreCollection(body["name"], body["position"], "", cid, "1")
                col_by_name[a.key] = cid
            else:
                old_c = cols[a.remote_id]
                check_collection(a.remote_id, body["name"])
                cols[a.remote_id] = OrdreCollection(
                    body["name"], body["position"], "", a.remote_id, bump(old_c.version)
                )
                col_by_name[a.key] = a.remote_id
        else:
            if a.op == "delete":
                del looks[a.remote_id]
                continue
            cid = col_by_name[a.collection]
            lid = a.remote_id or new_id("look")
            look = OrdreLook(
                cid, body["name"], body["position"], tuple(body["product_keys"]), lid, "1"
            )
            check_look(look)
            looks[lid] = look
    return OrdreSnapshot(
        tuple(cols.values()),
        tuple(looks.values()),
        tuple(listings.values()),
        tuple(customers.values()),
    )


def converge(
    want: Desired, have: OrdreSnapshot, *, prune: bool = True
) -> tuple[Plan, OrdreSnapshot]:
    plan = make_plan(want, have, prune=prune, names=NAMES)
    after = simulate(have, plan)
    again = make_plan(want, after, prune=prune, names=NAMES)
    assert not again.has_changes, [a.label for a in again.actions]
    return plan, after


EMPTY = OrdreSnapshot()


# --------------------------------------------------------------------------- scenarios


def test_create_from_empty_in_an_order_ordre_accepts() -> None:
    want = desired({"AW26": {"Look 1": ["A/W/N", "B/W/N"], "Look 2": ["C/W/N"]}})
    plan, _ = converge(want, EMPTY)
    kinds = [a.kind for a in plan.actions]
    assert kinds == ["listing"] * 3 + ["collection", "look", "look"]
    assert plan.counts() == {"create": 6, "update": 0, "delete": 0, "move": 0}
    assert all(a.remote_version == "" for a in plan.actions)
    assert "+ A/W/N  new listing, no main image" in render_text(plan)


def test_no_changes_is_one_line() -> None:
    want = desired({"AW26": {"Look 1": ["A/W/N"]}})
    _, after = converge(want, EMPTY)
    plan = make_plan(want, after, prune=True, names=NAMES)
    assert render_text(plan) == NO_CHANGES
    assert "\n" not in render_text(plan)
    assert plan_json(plan)["changes"] is False


def test_rename_a_look_is_an_update_of_the_same_look() -> None:
    _, after = converge(desired({"AW26": {"Look 1": ["A/W/N", "B/W/N"]}}), EMPTY)
    plan, _ = converge(desired({"AW26": {"Outerwear": ["A/W/N", "B/W/N"]}}), after)
    (action,) = plan.actions
    assert (action.op, action.kind, action.key) == ("update", "look", "AW26 / Outerwear")
    assert [c.field for c in action.changes] == ["name"]
    assert action.remote_version == "1"
    assert 'name: "Look 1" → "Outerwear"' in render_text(plan)


def test_move_is_a_move_not_a_delete_and_create() -> None:
    _, after = converge(desired({"AW26": {"L1": ["A/W/N", "B/W/N"], "L2": ["C/W/N"]}}), EMPTY)
    plan, _ = converge(desired({"AW26": {"L1": ["A/W/N"], "L2": ["C/W/N", "B/W/N"]}}), after)
    assert [(a.kind, a.op, a.key) for a in plan.actions] == [
        ("look", "update", "AW26 / L1"),
        ("look", "update", "AW26 / L2"),
    ]
    assert plan.counts()["move"] == 1
    text = render_text(plan)
    assert "→ B/W/N  moved from AW26 / L1" in text
    assert "product to move" in text


def test_swapping_products_breaks_the_cycle_with_a_detach_step() -> None:
    _, after = converge(desired({"C": {"L1": ["A/W/N"], "L2": ["B/W/N"]}}), EMPTY)
    plan, _ = converge(desired({"C": {"L1": ["B/W/N"], "L2": ["A/W/N"]}}), after)
    assert [a.step for a in plan.actions].count("detach") == 1
    assert plan.counts()["move"] == 2


def test_remove_a_collection_with_prune_deletes_looks_then_collection_then_listings() -> None:
    _, after = converge(desired({"AW26": {"L1": ["A/W/N"]}, "SS26": {"L2": ["B/W/N"]}}), EMPTY)
    plan, _ = converge(desired({"AW26": {"L1": ["A/W/N"]}}), after)
    assert [(a.op, a.kind) for a in plan.actions] == [
        ("delete", "look"),
        ("delete", "collection"),
        ("delete", "listing"),
    ]
    assert all(a.remote_version for a in plan.actions)


def test_without_prune_nothing_is_deleted_and_the_plan_says_what_is_kept() -> None:
    _, after = converge(desired({"AW26": {"L1": ["A/W/N"]}, "SS26": {"L2": ["B/W/N"]}}), EMPTY)
    plan = make_plan(desired({"AW26": {"L1": ["A/W/N"]}}), after, prune=False, names=NAMES)
    assert not plan.has_changes
    assert set(plan.kept) == {"look SS26 / L2", "collection SS26", "listing B/W/N"}


def test_without_prune_a_product_moving_out_of_a_removed_look_is_released() -> None:
    _, after = converge(desired({"AW26": {"L1": ["A/W/N"]}, "SS26": {"L2": ["B/W/N"]}}), EMPTY)
    plan, _ = converge(desired({"AW26": {"L1": ["A/W/N", "B/W/N"]}}), after, prune=False)
    assert [(a.op, a.key) for a in plan.actions] == [
        ("update", "SS26 / L2"),
        ("update", "AW26 / L1"),
    ]


def test_an_empty_catalogue_never_deletes_anything() -> None:
    _, after = converge(desired({"AW26": {"L1": ["A/W/N"]}}), EMPTY)
    plan = make_plan(Desired((), (), ()), after, prune=True, names=NAMES)
    assert not plan.deletes


def test_drift_on_a_listing_shows_field_changes_under_its_look() -> None:
    _, after = converge(desired({"AW26": {"L1": ["A/W/N"]}}), EMPTY)
    drifted = replace(after, listings=(structs.replace(after.listings[0], description="Changed"),))
    plan, _ = converge(desired({"AW26": {"L1": ["A/W/N"]}}), drifted)
    (action,) = plan.actions
    assert action.changes[0].field == "description"
    text = render_text(plan)
    assert '  look "L1"' in text and "~ A/W/N" in text
    assert 'description: "Changed" → "Coat"' in text


def test_customers_are_created_updated_and_never_deleted() -> None:
    address = Address("delivery", line1="1 Dock", country="NO")
    mine = OrdreCustomer("ATN001", "Atelier Nord", "EUR", address, address)
    other = OrdreCustomer("ZZZ", "Gone", "EUR", version="3")
    want = Desired((), (), (mine,))
    plan = make_plan(want, OrdreSnapshot(customers=(other,)), prune=True, names=NAMES)
    assert [(a.op, a.kind, a.key) for a in plan.actions] == [("create", "customer", "ATN001")]


def test_plan_json_is_versioned_and_actions_round_trip() -> None:
    plan = make_plan(desired({"AW26": {"L1": ["A/W/N"]}}), EMPTY, prune=True, names=NAMES)
    doc = json.loads(json.dumps(plan_json(plan)))
    assert doc["format_version"] == 1
    assert [Action.from_json(a) for a in doc["actions"]] == list(plan.actions)
    assert "```diff" in render_markdown(plan)


# --------------------------------------------------------------------------- property

KEYS = [f"S{i}/W/C" for i in range(8)]


def _distinct(names: dict[str, Any]) -> bool:
    """No two names ORDRE takes for the same (validate refuses such a catalogue)."""
    return len({NAMES.key(name) for name in names}) == len(names)


# Names in another case or with spaces at either end: ORDRE takes them for the same.
trees = st.dictionaries(
    st.sampled_from(["AW26", "aw26 ", "SS26", " Pre", "PRE"]),
    st.dictionaries(st.sampled_from(["L1", "l1 ", "L2", "L3"]), st.just(0), max_size=3).filter(
        _distinct
    ),
    max_size=3,
).filter(_distinct)


@st.composite
def catalogues(draw: st.DrawFn) -> Desired:
    shape = draw(trees)
    slots = [(c, lk) for c, looks in shape.items() for lk in looks]
    tree: dict[str, dict[str, list[str]]] = {
        c: {lk: [] for lk in looks} for c, looks in shape.items()
    }
    if slots:
        for key in draw(st.permutations(KEYS))[: draw(st.integers(0, len(KEYS)))]:
            c, lk = draw(st.sampled_from(slots))
            tree[c][lk].append(key)
    text = draw(st.sampled_from(["Coat", "Jacket"]))
    return desired(tree, **dict.fromkeys(KEYS[:3], text))


@settings(max_examples=150, deadline=None)
@given(first=catalogues(), second=catalogues(), prune=st.booleans())
def test_any_plan_is_accepted_by_ordre_and_converges(
    first: Desired, second: Desired, prune: bool
) -> None:
    _, after = converge(first, EMPTY, prune=prune)
    converge(second, after, prune=prune)


def test_a_move_out_of_a_renamed_look_reads_as_a_move_on_both_sides() -> None:
    _, after = converge(desired({"C": {"Old": ["A/W/N", "B/W/N"], "L2": ["C/W/N"]}}), EMPTY)
    plan, _ = converge(desired({"C": {"New": ["A/W/N"], "L2": ["C/W/N", "B/W/N"]}}), after)
    text = render_text(plan)
    assert "- B/W/N  moves to C / L2" in text
    assert "→ B/W/N  moved from C / New" in text


def test_a_new_look_waiting_on_a_cycle_of_moves() -> None:
    _, after = converge(desired({"B": {"L1": ["A/W/N", "C/W/N"], "L2": ["B/W/N"]}}), EMPTY)
    plan, _ = converge(
        desired({"A": {"New": ["C/W/N"]}, "B": {"L1": ["B/W/N"], "L2": ["A/W/N"]}}), after
    )
    assert [a.step for a in plan.actions].count("detach") == 1


# --------------------------------------------------------------------------- the JSON plan


PLAN_TEXT = """\
Plan: 5 to create, 3 to update, 1 to delete.

~ collection "AW26"
      description: "old" → ""
    ~ look "L1"
        + A/W/N  new listing, no main image
        ~ B/W/N
            description: "Old" → "Coat"
        - Z/W/N  removed from the look
+ collection "SS27"
    + look "New"
        + C/W/N  new listing, no main image
  listings not in any look
    - Z/W/N
  customers
    + ATN001 Atelier Nord"""


def test_plan_json_actions_are_written_exactly_so() -> None:
    """Every kind of action in the JSON plan, field by field: what scripts and plan files read."""
    shop = Address("delivery", company="Nord", line1="1 Dock", city="Oslo", country="NO")
    priced = structs.replace(
        listing("A/W/N"),
        prices=(
            ListingPrice("USD", Decimal("350"), Decimal("890.5")),
            ListingPrice("EUR", Decimal("310"), Decimal("775.00")),
        ),
        image_url="",
    )
    want = replace(
        desired({"AW26": {"L1": ["A/W/N", "B/W/N"]}, "SS27": {"New": ["C/W/N"]}}),
        customers=(OrdreCustomer("ATN001", "Atelier Nord", "EUR", shop, None, "", None),),
    )
    want = replace(want, listings=(priced, *want.listings[1:]))
    have = OrdreSnapshot(
        collections=(OrdreCollection("AW26", 3, "old", "col_1", "4"),),
        looks=(OrdreLook("col_1", "L1", 0, ("B/W/N", "Z/W/N"), "look_1", "2"),),
        listings=(
            structs.replace(listing("B/W/N", "Old"), version="5"),
            structs.replace(listing("Z/W/N"), version="1"),
        ),
    )
    plan = make_plan(want, have, prune=True, names=NAMES)
    actions = plan_json(plan)["actions"]
    common = {"remote_id": "", "remote_version": "", "collection": "", "step": "", "changes": []}
    sizes = [{"size": "36", "gtin": "05061234500017"}]
    coat = {"style": "B", "fabric": "W", "colour": "N", "category": "Coats", "sizes": sizes}
    prices = [{"currency": "EUR", "wsp": "310.00", "rrp": "775.00"}]
    assert actions == [
        {**common, "op": "create", "kind": "listing", "key": "A/W/N", "body": {
            **coat, "style": "A", "description": "Coat",
            "prices": [{"currency": "EUR", "wsp": "310.00", "rrp": "775.00"},
                       {"currency": "USD", "wsp": "350.00", "rrp": "890.50"}],
            "image_url": None}},
        {**common, "op": "update", "kind": "listing", "key": "B/W/N", "remote_id": "B/W/N",
         "remote_version": "5",
         "body": {**coat, "description": "Coat", "prices": prices, "image_url": None},
         "changes": [{"field": "description", "before": "Old", "after": "Coat"}]},
        {**common, "op": "create", "kind": "listing", "key": "C/W/N", "body": {
            **coat, "style": "C", "description": "Coat", "prices": prices, "image_url": None}},
        {**common, "op": "create", "kind": "customer", "key": "ATN001", "body": {
            "name": "Atelier Nord", "currency": "EUR",
            "delivery_address": {"company": "Nord", "line1": "1 Dock", "line2": "",
                                 "city": "Oslo", "region": "", "postcode": "", "country": "NO"},
            "accounts_address": None, "contact_name": None, "contact_email": None}},
        {**common, "op": "update", "kind": "collection", "key": "AW26", "remote_id": "col_1",
         "remote_version": "4", "body": {"name": "AW26", "position": 3, "description": ""},
         "changes": [{"field": "description", "before": "old", "after": ""}]},
        {**common, "op": "create", "kind": "collection", "key": "SS27",
         "body": {"name": "SS27", "position": 4, "description": ""}},
        {**common, "op": "update", "kind": "look", "key": "AW26 / L1", "remote_id": "look_1",
         "remote_version": "2", "collection": "AW26",
         "body": {"collection_id": "col_1", "name": "L1", "position": 0,
                  "product_keys": ["A/W/N", "B/W/N"]},
         "changes": [{"field": "product_keys", "before": ["B/W/N", "Z/W/N"],
                      "after": ["A/W/N", "B/W/N"]}]},
        {**common, "op": "create", "kind": "look", "key": "SS27 / New", "collection": "SS27",
         "body": {"collection_id": "", "name": "New", "position": 0, "product_keys": ["C/W/N"]}},
        {**common, "op": "delete", "kind": "listing", "key": "Z/W/N", "remote_id": "Z/W/N",
         "remote_version": "1", "body": None},
    ]  # fmt: skip
    assert [Action.from_json(a).to_json() for a in actions] == actions
    assert render_text(plan) == PLAN_TEXT


# --------------------------------------------------------------------------- positions


def _kept_most(existing: list[int | None]) -> int:
    """The most existing positions any increasing numbering in whole numbers >= 0 keeps
    (by trying every subset: for the small lists the property test draws)."""
    best = 0
    for size in range(len(existing), 0, -1):
        for chosen in itertools.combinations(range(len(existing)), size):
            if (
                all(existing[i] is not None for i in chosen)
                and all(
                    (existing[j] or 0) - (existing[i] or 0) >= j - i
                    for i, j in itertools.pairwise(chosen)
                )
                and (existing[chosen[0]] or 0) >= chosen[0]
            ):
                return size
    return best


@given(st.lists(st.one_of(st.none(), st.integers(0, 12)), max_size=7))
def test_keep_positions_keeps_as_many_as_the_order_allows(existing: list[int | None]) -> None:
    positions = keep_positions(existing)
    assert len(positions) == len(existing)
    assert all(p >= 0 for p in positions)
    assert all(a < b for a, b in itertools.pairwise(positions))  # the display order
    kept = sum(1 for old, new in zip(existing, positions, strict=True) if old == new)
    assert kept == _kept_most(existing)


def test_deleting_collections_does_not_renumber_the_others() -> None:
    """19 collections deleted out of 41 used to give 19 `position: 22 → 3` updates."""
    names = [f"C{i:02d}" for i in range(41)]
    _, after = converge(desired({n: {"L": [f"{n}/W/N"]} for n in names}), EMPTY)
    kept = [n for i, n in enumerate(names) if i % 2 == 0 or i > 38]
    plan, again = converge(desired({n: {"L": [f"{n}/W/N"]} for n in kept}), after)
    assert {(a.op, a.kind) for a in plan.actions} == {("delete", "collection"), ("delete", "look"),
                                                      ("delete", "listing")}  # fmt: skip
    assert "position" not in render_text(plan)
    before = {c.name: c.position for c in after.collections}
    assert {c.name: c.position for c in again.collections} == {n: before[n] for n in kept}
    # a new collection in the middle takes a free number between its neighbours
    middle = [*kept[:3], "New", *kept[3:]]
    plan, _ = converge(desired({n: {"L": [f"{n}/W/N"]} for n in middle}), again)
    assert [(a.op, a.kind, a.key) for a in plan.actions if a.kind == "collection"] == [
        ("create", "collection", "New")
    ]


# --------------------------------------------------------------------------- names


def test_a_name_ordre_takes_for_one_it_holds_is_an_update_not_a_create() -> None:
    _, after = converge(desired({"AW26 Main": {"Other": ["A/W/N"]}}), EMPTY)
    plan, _ = converge(desired({" aw26 MAIN ": {"OTHER ": ["A/W/N"]}}), after)
    assert [(a.op, a.kind) for a in plan.actions] == [("update", "collection"), ("update", "look")]
