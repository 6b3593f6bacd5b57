"""Fitting an ORDRE order into Zedonk's fields, where ORDRE allows more than Zedonk takes.

ORDRE takes a PO of up to 100 characters, and the reference template puts the ORDRE order
number in front of it, while Zedonk's order reference holds 100; an ORDRE address may name its
country in up to 200 characters, Zedonk's in 60; the connector's own notes can push the
comments past Zedonk's 2,000. The rule is the same for each such field (docs/orders.md,
"Fields longer than Zedonk takes"):

- the value is shortened to fit, its end replaced by ``…`` (one character), so a person sees
  that it was cut;
- the order's key parts are never cut: the ORDRE order number and the submission number stay
  whole in the reference, and only the PO is shortened (then dropped, should even that not
  fit);
- the full value is kept on the Zedonk order, in a note at the end of its comments
  (``PO: …``, ``Delivery country: …``); only the retailer's own comments, when they are what
  is too long, are kept whole in the history's copy of the order instead (``orders show``);
- every shortening is a warning that names the order and the field.

The limits are Zedonk's, declared once in ``daemon.clients.zedonk`` (``ORDER_LIMITS``) and
passed in: this module is pure.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from daemon.core.model import Address
from daemon.errors import ConfigError, ZedonkOrdreError

ELLIPSIS = "…"
TEMPLATE_FIELDS = ("order_number", "po_number", "submission")
ADDRESS_TEXT = ("company", "line1", "line2", "city", "region", "postcode")


@dataclass(frozen=True)
class FieldLimits:
    """The most characters (Unicode code points) Zedonk takes in each field the import
    writes."""

    order_ref: int
    connector_ref: int
    comments: int
    address_text: int  # company, line1, line2, city, region, postcode
    address_country: int
    customer_name: int
    account_code: int
    contact: int  # a customer's contact name and e-mail


@dataclass(frozen=True)
class OrderWarning:
    """Something about an order a person should know, or decide on before it is imported.
    ``code`` is stable: ``*-shortened``, ``currency-mismatch``, ``zero-price``,
    ``possible-duplicate``, ``resubmitted-after-go-live``."""

    code: str
    message: str


class OrderMappingError(ZedonkOrdreError):
    """The order cannot become a Zedonk order as it stands. ``code`` is stable."""

    def __init__(self, code: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, its last one ``…`` when anything was cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


# --------------------------------------------------------------------------- the reference


@functools.lru_cache(maxsize=32)
def template_parts(template: str) -> tuple[tuple[str, str | None], ...]:
    """(literal text, field name) pairs; raises ConfigError unless only known fields are used."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(
            f"import.order_reference {template!r} is not a valid template: {exc}",
            hint="use {order_number}, {po_number} and {submission}, e.g. "
            "'{order_number} + {po_number}'",
        ) from None
    for _, field, spec, conversion in parsed:
        if field is not None and (field not in TEMPLATE_FIELDS or spec or conversion):
            raise ConfigError(
                f"import.order_reference uses {{{field}}}, which is not a known field",
                hint="the fields are {order_number}, {po_number} and {submission}",
            )
    return tuple((literal, field) for literal, field, _, _ in parsed)


def check_template(template: str) -> None:
    """Raise ConfigError unless ``template`` uses only the known fields."""
    template_parts(template)


def order_reference(
    template: str, *, order_number: str, po_number: str, submission: int = 1
) -> str:
    """Fill the template; text between fields is kept only when both sides have a value.

    So ``{order_number} + {po_number}`` gives ``ORD-10003`` when the PO is empty.
    """
    values = {
        "order_number": order_number.strip(),
        "po_number": po_number.strip(),
        "submission": str(submission),
    }
    prefix, pending, seen_field = "", "", False
    pieces: list[tuple[str, str]] = []  # (text before the field, the field's value)
    for literal, field in template_parts(template):
        if seen_field:
            pending += literal
        else:
            prefix += literal
        if field is not None:
            pieces.append((pending, values[field]))
            pending, seen_field = "", True
    body = ""
    for separator, value in pieces:
        if value:
            body += (separator if body else "") + value
    return (prefix + body + pending).strip()


@dataclass(frozen=True)
class FittedReference:
    text: str
    po_cut: bool  # the PO is not whole in ``text``: the full PO goes in a note
    warning: OrderWarning | None


def fit_reference(
    template: str, *, order_number: str, po_number: str, submission: int, limit: int, label: str
) -> FittedReference:
    """The order reference in at most ``limit`` characters: the PO is shortened as little as
    needed (``…`` at its end), or dropped when even one character of it does not fit; the
    order number and the submission number stay whole. Only when the template's own text
    and the numbers alone are too long is the reference the order number, cut to the limit.
    ``label`` names the order in the warning."""
    po = po_number.strip()

    def fill(value: str) -> str:
        return order_reference(
            template, order_number=order_number, po_number=value, submission=submission
        )

    full = fill(po)
    if len(full) <= limit:
        return FittedReference(full, False, None)
    room = limit - (len(full) - len(po))  # the characters left for the PO
    if room >= 2:
        text, kept = fill(po[: room - 1] + ELLIPSIS), f"its first {room - 1} characters"
    else:
        text, kept = fill(""), "no part of it"
        if len(text) > limit:  # the template's own text and the numbers are too long
            text = shorten(order_number.strip(), limit)
    warning = OrderWarning(
        "reference-shortened",
        f"{label}: the order reference would be {len(full)} characters, Zedonk takes "
        f"{limit}; the reference holds {kept} of the PO, and the full PO is in the "
        "order's comments",
    )
    return FittedReference(text, True, warning)


# --------------------------------------------------------------------------- addresses


def fit_address(
    address: Address, limits: FieldLimits, label: str
) -> tuple[Address, list[str], list[OrderWarning]]:
    """``address`` with each text field fitted to Zedonk's limits; the notes that keep the
    full values (``Delivery country: …``) and the warnings."""
    notes: list[str] = []
    warnings: list[OrderWarning] = []
    changes: dict[str, Any] = {}
    for name in (*ADDRESS_TEXT, "country"):
        value = getattr(address, name)
        limit = limits.address_country if name == "country" else limits.address_text
        if len(value) <= limit:
            continue
        changes[name] = shorten(value, limit)
        what = f"{address.kind.capitalize()} {name}"
        notes.append(f"{what}: {value}")
        warnings.append(
            OrderWarning(
                f"{name}-shortened",
                f"{label}: the {address.kind} address' {name} has {len(value)} characters, "
                f"Zedonk takes {limit}; it is shortened, and the full text is in the order's "
                "comments",
            )
        )
    return (replace(address, **changes) if changes else address), notes, warnings


def fitted_address(address: Address | None, limits: FieldLimits) -> Address | None:
    """``fit_address`` without the notes: the address as Zedonk will hold it."""
    return None if address is None else fit_address(address, limits, "")[0]


# --------------------------------------------------------------------------- comments


def compose_comments(
    comments: str, notes: Sequence[str], limit: int, label: str
) -> tuple[str, OrderWarning | None]:
    """The Zedonk order's comments: the retailer's, then the connector's notes after a blank
    line. The notes are kept whole; when both do not fit, the retailer's comments are
    shortened (the history's copy of the order keeps them whole)."""
    block = "\n".join(notes)
    text = comments.strip()
    joined = "\n\n".join(part for part in (text, block) if part)
    if len(joined) <= limit:
        return joined, None
    room = limit - len(block) - 2
    kept = shorten(text, room) if room >= 2 else ""
    warning = OrderWarning(
        "comments-shortened",
        f"{label}: the comments would be {len(joined)} characters, Zedonk takes {limit}; "
        "the retailer's comments are shortened on the Zedonk order (see `zedonk-ordre orders "
        "show` for the whole text)",
    )
    return "\n\n".join(part for part in (kept, block) if part)[:limit], warning
