"""The quick readers of ORDRE orders and Zedonk's create answers: exact prices, and a bad field
still named (tests/test_clients_quick.py holds every quick reader to its careful one)."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from daemon.clients import ordre, zedonk
from daemon.clients.fields import Fields, ShapeError
from tests.test_clients_mapping import ORDER
from tests.test_clients_quick import READERS, SALES_ORDER_ANSWER


@pytest.mark.parametrize("kind", ["order", "sales-order"])
def test_order_lines_keep_exact_prices(kind: str) -> None:
    raw, quick, careful = READERS[kind]
    got = quick(copy.deepcopy(raw))
    assert got == careful(Fields(copy.deepcopy(raw)))
    assert got.lines and all(line.unit_price == Decimal(line.unit_price) for line in got.lines)


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
