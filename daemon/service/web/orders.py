"""The console's order pages: the imports, filtered, and everything known about one.

``listing`` is ``/orders``: every ORDRE submission the ledger holds, most recently changed
first, filtered by state, retailer and PO, a page at a time. ``detail`` is ``/orders/KEY``
(KEY the import key, ``id#submission``): the order's lines (the ones left out marked, with
why), its Zedonk sales order, the re-submission chain, the notes the import made, and every
event about it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.service.web.paging import Paging, choice, text
from daemon.service.web.render import render
from daemon.store.history import History
from daemon.store.ledger import ATTENTION, Ledger, import_details

ATTENTION_CHOICE = "attention"  # failed or needing a person, as ``orders list`` says it
MAX_LINES = 500  # order lines shown on one order's page
MAX_EVENTS = 500  # events shown on one order's page


def listing(history: History | None, query: Mapping[str, str]) -> str:
    """``/orders``, with the filters ``state``, ``retailer``, ``po`` and ``page``."""
    counts = Ledger(history).count_by_state() if history is not None else {}
    states = sorted(counts)
    state = choice(query, "state", (*states, ATTENTION_CHOICE))
    retailer, po = text(query, "retailer"), text(query, "po")
    paging = Paging("/orders", query, {"state": state, "retailer": retailer, "po": po})
    rows: list[dict[str, Any]] = []
    if history is not None:
        wanted = ATTENTION if state == ATTENTION_CHOICE else (state,) if state else ()
        rows = paging.cut(
            Ledger(history).browse(
                states=wanted,
                retailer=retailer,
                po=po,
                limit=paging.limit,
                offset=paging.offset,
            )
        )
    return render(
        "orders.html",
        path="/orders",
        title="Orders",
        subtitle="every ORDRE submission, most recently changed first",
        has_history=history is not None,
        counts=counts,
        states=states,
        filters={"state": state, "retailer": retailer, "po": po},
        orders=rows,
        paging=paging,
    )


def _lines(order: Any, left_out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The order's lines as ORDRE sent them, each with why it was left out (or None)."""
    why = {line["line_no"]: line["reason"] for line in left_out}
    lines = order.get("lines") if isinstance(order, dict) else None
    if not isinstance(lines, list):  # no readable copy: the left-out lines are all we know
        return [{**line, "left_out": line["reason"]} for line in left_out]
    return [
        {**line, "left_out": why.get(line.get("line_no"))}
        for line in lines[:MAX_LINES]
        if isinstance(line, dict)
    ]


def detail(history: History | None, key: str) -> str | None:
    """``/orders/KEY``; None when the ledger holds no import ``key``."""
    if history is None:
        return None
    ledger = Ledger(history)
    found = ledger.find(key)
    if found is None:
        return None
    order = import_details(history, found)
    copy = order.pop("order")
    chain = [
        *order["other_submissions"],
        {
            "import_key": order["import_key"],
            "submission": order["submission"],
            "state": order["state"],
            "zedonk_order_number": order["zedonk_order_number"],
        },
    ]
    chain.sort(key=lambda row: row["submission"])
    lines = _lines(copy, order["left_out_lines"])
    total = len(copy.get("lines") or []) if isinstance(copy, dict) else len(lines)
    return render(
        "order.html",
        path="/orders/" + found,
        title=f"Order {order['ordre_number']}",
        subtitle=f"submission {order['submission']} · {order['state']}",
        order=order,
        copy=copy if isinstance(copy, dict) else None,
        lines=lines,
        more_lines=max(0, total - len(lines)),
        chain=chain,
        events=order["events"][-MAX_EVENTS:],
        more_events=max(0, len(order["events"]) - MAX_EVENTS),
    )
