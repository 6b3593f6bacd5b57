"""The quick readers agree with the careful ones, and are never more lenient.

Every product, Zedonk customer, ORDRE listing, ORDRE order and Zedonk create answer is read
first by plain dict access; only when that raises does the careful ``Fields`` reader run (and
name the wrong field). Here both readers get the same objects: well-formed ones, and ones with
a field removed or replaced by any JSON value. Where the quick reader returns something, the
careful one must return the same thing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.clients import ordre, zedonk
from daemon.clients.fields import Fields, ShapeError
from tests.test_clients_mapping import (
    ADDRESS,
    CUSTOMER,
    LISTING,
    ORDER,
    PRODUCT,
    stored_order,
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 10**6)
    | st.sampled_from(["", "0", "12.50", "NaN", "Infinity", "abc", "36", "5061234500017"])
    | st.decimals(allow_nan=True, allow_infinity=True, places=2)
    | st.floats(allow_nan=False, width=32)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["size", "barcode", "gtin", "wsp", "kind", "country", "x"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=6,
)

SALES_ORDER_ANSWER: dict[str, Any] = {
    **stored_order(),
    "delivery_end": "2026-08-31",
    "accounts_address": {"kind": "accounts", "company": "Atelier Nord", "country": "DK"},
    "comments": "ship together",
}
FULL_ORDER: dict[str, Any] = {
    **ORDER,
    "ship_window": {"start": "2026-07-01", "end": "2026-08-31"},
    "accounts_address": {**ORDER["delivery_address"], "line2": "2nd floor"},
    "retailer": {**ORDER["retailer"], "email": "buying@ateliernord.example"},
}

# Two addresses of different kinds, one of them not the default, and every contact field.
FULL_CUSTOMER: dict[str, Any] = {
    **CUSTOMER,
    "addresses": [ADDRESS, {**ADDRESS, "kind": "store", "is_default": False, "line2": "3rd"}],
}
READERS: dict[str, tuple[dict[str, Any], Callable[[dict[str, Any]], Any], Any]] = {
    "customer": (FULL_CUSTOMER, zedonk._customer_quick, zedonk._customer.__wrapped__),  # type: ignore[attr-defined]
    "product": (PRODUCT, zedonk._product_quick, zedonk._product.__wrapped__),  # type: ignore[attr-defined]
    "listing": (LISTING, ordre._listing_quick, ordre._listing.__wrapped__),  # type: ignore[attr-defined]
    "order": (FULL_ORDER, ordre._order_quick, ordre._order.__wrapped__),  # type: ignore[attr-defined]
    "sales-order": (
        SALES_ORDER_ANSWER,
        zedonk._sales_order_quick,
        zedonk._sales_order.__wrapped__,  # type: ignore[attr-defined]
    ),
}
SLIPS = (KeyError, TypeError, ValueError, AttributeError, ArithmeticError)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document that can be removed or replaced."""
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, inner in items:
        found.append((*prefix, key))
        if isinstance(inner, dict | list):
            found += paths(inner, (*prefix, key))
    return found


def mutate(document: dict[str, Any], path: tuple[Any, ...], new: Any, remove: bool) -> Any:
    changed = copy.deepcopy(document)
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    if remove:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return changed


def careful_result(careful: Callable[[Fields], Any], raw: Any) -> Any:
    try:
        return careful(Fields(raw))
    except ShapeError:
        return ShapeError


@pytest.mark.parametrize("kind", sorted(READERS))
def test_quick_and_careful_agree_on_well_formed_objects(kind: str) -> None:
    raw, quick, careful = READERS[kind]
    assert quick(copy.deepcopy(raw)) == careful(Fields(copy.deepcopy(raw)))


TRICKY = [None, True, False, 0, 7, -1, "", "x", "NaN", "-Infinity", "12.5", 3.5, Decimal("NaN")]
TRICKY += [Decimal("Infinity"), Decimal("1.10"), [], [None], ["x"], {}, {"size": "36"}]
TRICKY += ["delivery", "warehouse", {"kind": "store"}, {"country": "DK"}]


@pytest.mark.parametrize("kind", sorted(READERS))
def test_quick_reader_is_never_more_lenient_anywhere(kind: str) -> None:
    """Every field removed, and every field replaced by each tricky value."""
    raw, quick, careful = READERS[kind]
    checked = 0
    for path in paths(raw):
        for changed in [mutate(raw, path, None, True)] + [
            mutate(raw, path, value, False) for value in [*TRICKY, "2026-07-01", "ML-1/W/N"]
        ]:
            try:
                got = quick(copy.deepcopy(changed))
            except SLIPS:
                continue
            assert careful_result(careful, changed) == got, (path, changed)
            checked += 1
    assert checked > 10  # some changes are harmless (a null comment): those were compared


@pytest.mark.parametrize("kind", sorted(READERS))
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_quick_reader_is_never_more_lenient(kind: str, data: st.DataObject) -> None:
    raw, quick, careful = READERS[kind]
    path = data.draw(st.sampled_from(paths(raw)))
    remove = data.draw(st.booleans())
    changed = mutate(raw, path, data.draw(json_values), remove)
    try:
        got = quick(copy.deepcopy(changed))
    except SLIPS:
        return  # the careful reader decides
    assert careful_result(careful, changed) == got


def test_a_quick_slip_falls_back_to_the_careful_error() -> None:
    broken = {**PRODUCT, "prices": [{"season": "AW26", "currency": "EUR", "wsp": 3.5, "rrp": "x"}]}
    with pytest.raises(ShapeError, match=r"prices\[0\]\.wsp: expected an amount"):
        zedonk._product(Fields(broken))


def test_money_stays_exact_through_the_quick_reader() -> None:
    raw = {**LISTING, "prices": [{"currency": "EUR", "wsp": Decimal("310.10"), "rrp": 775}]}
    listing = ordre._listing(Fields(raw))
    assert listing.prices[0].wsp == Decimal("310.10")
    assert str(listing.prices[0].wsp) == "310.10"
    assert listing.prices[0].rrp == Decimal(775)
