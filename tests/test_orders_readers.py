"""The quick readers of ORDRE orders and Zedonk sales orders agree with the careful ones, and
are never more lenient.

The import reads every listed ORDRE order and every create's answer by plain dict access first;
only when that raises does the careful ``Fields`` reader run (and name the wrong field).
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
from tests.test_clients_mapping import ORDER, stored_order
from tests.test_clients_quick import TRICKY, careful_result, json_values, mutate, paths

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

READERS: dict[str, tuple[dict[str, Any], Callable[[dict[str, Any]], Any], Any]] = {
    "order": (FULL_ORDER, ordre._order_quick, ordre._order.__wrapped__),  # type: ignore[attr-defined]
    "sales-order": (
        SALES_ORDER_ANSWER,
        zedonk._sales_order_quick,
        zedonk._sales_order.__wrapped__,  # type: ignore[attr-defined]
    ),
}
SLIPS = (KeyError, TypeError, ValueError, AttributeError, ArithmeticError)


@pytest.mark.parametrize("kind", sorted(READERS))
def test_quick_and_careful_agree_on_well_formed_objects(kind: str) -> None:
    raw, quick, careful = READERS[kind]
    got = quick(copy.deepcopy(raw))
    assert got == careful(Fields(copy.deepcopy(raw)))
    assert got.lines and all(line.unit_price == Decimal(line.unit_price) for line in got.lines)


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
    assert checked > 50  # some changes are harmless (a null comment): those were compared


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


def test_a_bad_order_still_names_the_field() -> None:
    broken = {**ORDER, "ship_window": {"start": "July"}}
    with pytest.raises(ShapeError, match=r"ship_window\.start: expected a date"):
        ordre._order(Fields(broken))
    naive = {**ORDER, "created_at": "2026-11-27T06:11:13"}
    with pytest.raises(ShapeError, match=r"created_at: expected a timestamp with a time zone"):
        ordre._order(Fields(naive))


def test_a_bad_answer_still_names_the_field() -> None:
    lines = [{**SALES_ORDER_ANSWER["lines"][0], "product_id": "ML-101"}]
    with pytest.raises(ShapeError, match=r"lines\[0\]\.product_id: .*STYLE/FABRIC/COLOUR"):
        zedonk._sales_order(Fields({**SALES_ORDER_ANSWER, "lines": lines}))
    with pytest.raises(ShapeError, match=r"approved: expected true or false"):
        zedonk._sales_order(Fields({**SALES_ORDER_ANSWER, "approved": "yes"}))
