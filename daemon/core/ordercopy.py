"""The ledger's copy of an ORDRE order: canonical JSON, read back, and its fingerprint.

The order import stores each submission as ORDRE sent it (``ledger_copy``), so that after a
crash the order is created from the copy its intent was committed with, and an edit made on
ORDRE afterwards is seen as one: ``content_fingerprint`` ignores what changes without the
retailer changing the order (status, timestamps, version).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from daemon.core.model import Address, OrdreOrder, OrdreOrderLine


def _address_json(address: Address | None) -> dict[str, Any] | None:
    return None if address is None else {"kind": address.kind, **address.place()}


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def order_to_json(order: OrdreOrder) -> dict[str, Any]:
    """The order as the history keeps it: plain JSON, money as strings."""
    return {
        "id": order.id,
        "number": order.number,
        "submission": order.submission,
        "status": order.status,
        "po_number": order.po_number,
        "retailer_name": order.retailer_name,
        "retailer_account_code": order.retailer_account_code,
        "buyer_email": order.buyer_email,
        "currency": order.currency,
        "ship_start": _iso(order.ship_start),
        "ship_end": _iso(order.ship_end),
        "delivery_address": _address_json(order.delivery_address),
        "accounts_address": _address_json(order.accounts_address),
        "comments": order.comments,
        "created_at": _iso(order.created_at),
        "updated_at": _iso(order.updated_at),
        "submitted_at": _iso(order.submitted_at),
        "version": order.version,
        "lines": [
            {
                "line_no": line.line_no,
                "barcode": line.barcode,
                "style": line.style,
                "colour": line.colour,
                "size": line.size,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
            }
            for line in order.lines
        ],
    }


def _address_from(data: Mapping[str, Any] | None) -> Address | None:
    if data is None:
        return None
    return Address.from_fields(data["kind"], lambda name: data[name])


def _date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _datetime(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def order_from_json(data: Mapping[str, Any]) -> OrdreOrder:
    """The inverse of ``order_to_json``. Raises ValueError when the copy is damaged."""
    try:
        return OrdreOrder(
            id=data["id"],
            number=data["number"],
            submission=int(data["submission"]),
            status=data["status"],
            po_number=data["po_number"],
            retailer_name=data["retailer_name"],
            retailer_account_code=data["retailer_account_code"],
            buyer_email=data["buyer_email"],
            currency=data["currency"],
            ship_start=_date(data["ship_start"]),
            ship_end=_date(data["ship_end"]),
            delivery_address=_address_from(data["delivery_address"]),
            accounts_address=_address_from(data["accounts_address"]),
            comments=data["comments"],
            created_at=_datetime(data["created_at"]),
            updated_at=_datetime(data["updated_at"]),
            submitted_at=_datetime(data["submitted_at"]),
            version=data["version"],
            lines=tuple(
                OrdreOrderLine(
                    line_no=int(line["line_no"]),
                    barcode=line["barcode"],
                    style=line["style"],
                    colour=line["colour"],
                    size=line["size"],
                    quantity=int(line["quantity"]),
                    unit_price=Decimal(line["unit_price"]),
                )
                for line in data["lines"]
            ),
        )
    except (KeyError, TypeError, InvalidOperation) as exc:
        raise ValueError(f"the stored order is damaged: {type(exc).__name__}: {exc}") from None


# What changes when an order is approved or re-read, not when the retailer edits it.
_VOLATILE = ("status", "updated_at", "submitted_at", "version")


def content_fingerprint(order: OrdreOrder | Mapping[str, Any]) -> str:
    """A hash of what the retailer ordered: it changes on an edit, not on an approval.

    Takes the order or its ``order_to_json`` form.
    """
    data = dict(order_to_json(order) if isinstance(order, OrdreOrder) else order)
    for volatile in _VOLATILE:
        data.pop(volatile, None)
    return _fingerprint_of(_compact(data, sort_keys=True))


def ledger_copy(order: OrdreOrder) -> tuple[str, str]:
    """The order as the ledger keeps it (``order_to_json`` as JSON text) and its
    ``content_fingerprint``, from one encoding of the lines: the copy is the fingerprinted
    text with the volatile fields appended."""
    data = order_to_json(order)
    volatile = {key: data.pop(key) for key in _VOLATILE}
    text = _compact(data, sort_keys=True)
    return text[:-1] + "," + _compact(volatile)[1:], _fingerprint_of(text)


def _compact(data: Mapping[str, Any], *, sort_keys: bool = False) -> str:
    return json.dumps(data, sort_keys=sort_keys, separators=(",", ":"))


def _fingerprint_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
