"""From an ORDRE order to a Zedonk sales order: pure mapping, no network, disk or clock.

The acting side (``daemon.orders``) gathers what Zedonk knows (customers, products) and asks
this module what to do with one order:

- ``triage``: import it, skip it (submitted before go-live, cancelled, or in a status that
  is not imported) or ignore it (a draft);
- ``match_customer``: the Zedonk customer, by account code when ORDRE carries one, otherwise by
  name, compared as ``daemon.core.names.name_key`` folds it. An ambiguous match is an error,
  never a guess; a name that differs from a customer's only in accents is a possible duplicate;
- ``check_currency``: the order's currency must be one Zedonk has;
- ``map_order``: the sales order to create, the lines left out with their reasons, and the
  warnings (fields shortened to fit Zedonk, a currency other than the customer's, a 0.00 price);
- ``order_reference``: the order reference from the template, without dangling separators
  (``daemon.core.orderfit`` fits it into Zedonk's field).

Prices and currency are carried exactly as ORDRE sent them; the PO number is free text and
never a key. The ledger's copy of an order (its JSON and fingerprint) is ``ordercopy``.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum

from daemon.core import gtin
from daemon.core.model import (
    Address,
    OrdreOrder,
    OrdreOrderLine,
    Product,
    ProductId,
    SalesOrder,
    SalesOrderLine,
)
from daemon.core.names import name_key
from daemon.core.ordercustomers import (
    CustomerIndex,
    CustomerMatch,
    addresses_to_add,
    as_kind,
    match_customer,
    new_customer,
)
from daemon.core.orderfit import (
    TEMPLATE_FIELDS,
    FieldLimits,
    OrderMappingError,
    OrderWarning,
    check_template,
    compose_comments,
    fit_address,
    fit_reference,
    order_reference,
)

__all__ = [
    "TEMPLATE_FIELDS",
    "CustomerIndex",
    "CustomerMatch",
    "FieldLimits",
    "ImportTarget",
    "LeftOutLine",
    "MappedOrder",
    "NoLinesMatched",
    "OrderMappingError",
    "OrderWarning",
    "SkuIndex",
    "Triage",
    "addresses_to_add",
    "check_currency",
    "check_template",
    "connector_ref",
    "created_before_go_live",
    "label_of",
    "map_lines",
    "map_order",
    "match_customer",
    "name_key",
    "new_customer",
    "order_reference",
    "triage",
]

CONNECTOR_REF_PREFIX = "ordre:"


def connector_ref(import_key: str) -> str:
    """The searchable reference a Zedonk order carries, so a lost answer can be found again."""
    return CONNECTOR_REF_PREFIX + import_key


# --------------------------------------------------------------------------- triage


class Triage(Enum):
    """What intake does with a submission. Each ``SKIP_*`` value is the stable code of why a
    submission is recorded as skipped (``skipped_for`` in the ledger)."""

    IMPORT = "import"
    IGNORE = "ignore"  # a draft: not a submission yet, nothing is recorded
    SKIP_GO_LIVE = "go-live"  # submitted before go-live: never imported
    SKIP_CANCELLED = "cancelled"  # cancelled before the import saw it
    SKIP_STATUS = "status"  # in a status import.statuses does not list (yet)


def triage(order: OrdreOrder, *, statuses: Iterable[str], go_live: date | None) -> Triage:
    """A submission made before ``go_live`` is skipped: it may have been keyed in Zedonk by
    hand. A re-submission made after go-live is imported even when the order was created
    before (``created_before_go_live`` tells the import to have the earlier order checked)."""
    if order.submission < 1:
        return Triage.IGNORE
    if order.status == "cancelled":
        return Triage.SKIP_CANCELLED
    if order.status not in tuple(statuses):
        return Triage.SKIP_STATUS
    if submitted_before_go_live(order, go_live):
        return Triage.SKIP_GO_LIVE
    return Triage.IMPORT


def submitted_before_go_live(order: OrdreOrder, go_live: date | None) -> bool:
    """This submission was made before ``go_live`` (never imported: it may have been keyed in
    Zedonk by hand)."""
    submitted = order.submitted_at or order.created_at
    return go_live is not None and submitted is not None and submitted.date() < go_live


def created_before_go_live(order: OrdreOrder, go_live: date | None) -> bool:
    """The order was created before ``go_live``: an earlier submission of it may be in Zedonk,
    keyed in by hand."""
    created = order.created_at or order.submitted_at
    return go_live is not None and created is not None and created.date() < go_live


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class LeftOutLine:
    """An ORDRE line that is not on the Zedonk order, with everything needed to fix it."""

    line_no: int
    barcode: str | None  # as sent
    style: str
    colour: str
    size: str
    quantity: int
    unit_price: Decimal
    reason: str  # missing | malformed | check-digit | unknown | ambiguous | season | quantity
    #              | price
    message: str


class NoLinesMatched(OrderMappingError):
    """Not one line of the order matched a Zedonk SKU: no order is created."""

    def __init__(self, left_out: tuple[LeftOutLine, ...]) -> None:
        super().__init__(
            "no-lines",
            f"none of the order's {len(left_out)} lines matches a Zedonk SKU by barcode",
            hint="fix the barcodes in Zedonk (or ORDRE), then run `zedonk-ordre orders retry`",
        )
        self.left_out = left_out


# --------------------------------------------------------------------------- SKUs


@dataclass(frozen=True)
class SkuRef:
    product_id: ProductId
    size: str
    barcode: str  # as Zedonk stores it
    seasons: tuple[str, ...] = ()  # the seasons the product is visible in


class SkuIndex:
    """Zedonk SKUs by canonical GTIN-14. SKUs without a valid barcode cannot be matched."""

    def __init__(self, products: Iterable[Product]) -> None:
        found: dict[str, list[SkuRef]] = defaultdict(list)
        for product in products:
            for sku in product.skus:
                key = gtin.canonical(sku.barcode)
                if key is not None:
                    assert sku.barcode is not None
                    ref = SkuRef(product.id, sku.size, sku.barcode.strip(), product.seasons)
                    found[key].append(ref)
        self._skus = {key: tuple(refs) for key, refs in found.items()}

    def __len__(self) -> int:
        return len(self._skus)

    def lookup(self, canonical: str) -> tuple[SkuRef, ...]:
        return self._skus.get(canonical, ())


def _left_out(line: OrdreOrderLine, reason: str, message: str) -> LeftOutLine:
    return LeftOutLine(
        line.line_no,
        line.barcode,
        line.style,
        line.colour,
        line.size,
        line.quantity,
        line.unit_price,
        reason,
        message,
    )


# The same barcodes come back order after order: check each once.
_canonical = functools.lru_cache(maxsize=1 << 16)(gtin.canonical)


def map_lines(
    lines: Iterable[OrdreOrderLine], skus: SkuIndex, season: str | None = None
) -> tuple[tuple[SalesOrderLine, ...], tuple[LeftOutLine, ...]]:
    """Match each line by canonical GTIN-14; the rest are left out with their reason. With
    ``season``, a line whose product is not visible in that season is left out too: Zedonk
    takes a product only into an order of a season it is visible in (domain.md §1.1-1.2)."""
    matched: list[SalesOrderLine] = []
    left_out: list[LeftOutLine] = []
    for line in lines:
        key = _canonical(line.barcode)
        refs = skus.lookup(key) if key is not None else ()
        visible = len(refs) == 1 and (season is None or season in refs[0].seasons)
        if visible and line.quantity >= 1 and line.unit_price >= 0:
            ref = refs[0]
            matched.append(
                SalesOrderLine(
                    ref.product_id, ref.size, ref.barcode, line.quantity, line.unit_price
                )
            )
            continue
        where = f"line {line.line_no} ({line.style} {line.colour} {line.size})"
        if key is None:
            problem = gtin.problem(line.barcode)
            assert problem is not None
            left_out.append(_left_out(line, problem.code, f"{where}: {problem.message}"))
            continue
        if not refs:
            message = f"{where}: barcode {line.barcode} is not on any Zedonk SKU"
            left_out.append(_left_out(line, "unknown", message))
        elif len(refs) > 1:
            names = ", ".join(f"{r.product_id} size {r.size}" for r in refs)
            message = f"{where}: barcode {line.barcode} is on several Zedonk SKUs ({names})"
            left_out.append(_left_out(line, "ambiguous", message))
        elif not visible:
            ref = refs[0]
            message = (
                f"{where}: {ref.product_id} is not visible in season {season} in Zedonk (it is "
                f"in {', '.join(ref.seasons) or 'no season'}); make it visible in {season}, "
                "then add the line to the Zedonk order by hand"
            )
            left_out.append(_left_out(line, "season", message))
        elif line.quantity < 1:
            message = f"{where}: quantity {line.quantity} is not a positive whole number"
            left_out.append(_left_out(line, "quantity", message))
        else:
            message = f"{where}: unit price {line.unit_price} is negative"
            left_out.append(_left_out(line, "price", message))
    return tuple(matched), tuple(left_out)


# --------------------------------------------------------------------------- the order


@dataclass(frozen=True)
class ImportTarget:
    """Where imported orders go, from the import settings, and what Zedonk's fields take
    (``limits``, declared in ``daemon.clients.zedonk``)."""

    season: str
    owner: str
    approved: bool
    reference_template: str
    limits: FieldLimits


@dataclass(frozen=True)
class MappedOrder:
    order: SalesOrder
    left_out: tuple[LeftOutLine, ...]
    warnings: tuple[OrderWarning, ...] = ()

    @property
    def partial(self) -> bool:
        return bool(self.left_out)


def check_currency(order: OrdreOrder, currencies: Collection[str]) -> None:
    """Raise OrderMappingError unless Zedonk has the order's currency (``currencies``: the
    codes Zedonk lists). Checked before anything is created for the order."""
    if order.currency not in currencies:
        raise OrderMappingError(
            "currency-unknown",
            f"the order is in {order.currency}, which Zedonk does not have "
            f"(it has {', '.join(sorted(currencies)) or 'none'})",
            hint=f"change the order's currency in ORDRE, or add {order.currency} to Zedonk, "
            "then retry the order",
        )


def label_of(order: OrdreOrder) -> str:
    """How warnings name an order: ``ORD-10003`` (``ORD-10003 submission 2`` after the first)."""
    return order.number + (f" submission {order.submission}" if order.submission > 1 else "")


def map_order(
    order: OrdreOrder,
    *,
    import_key: str,
    customer_id: str,
    skus: SkuIndex,
    target: ImportTarget,
    customer_currency: str | None = None,
) -> MappedOrder:
    """The Zedonk sales order for one ORDRE submission, the lines left out and the warnings:
    fields shortened to fit Zedonk (``daemon.core.orderfit``), an order in another currency
    than ``customer_currency``, a line priced 0.00. Raises OrderMappingError."""
    lines, left_out = map_lines(order.lines, skus, target.season)
    if not lines:
        raise NoLinesMatched(left_out)
    if order.ship_start and order.ship_end and order.ship_end < order.ship_start:
        raise OrderMappingError(
            "ship-window",
            f"the ship window ends ({order.ship_end}) before it starts ({order.ship_start})",
            hint="correct the ship window in ORDRE, then retry the order",
        )
    limits, label = target.limits, label_of(order)
    ref = connector_ref(import_key)
    if len(ref) > limits.connector_ref:
        raise OrderMappingError(
            "order-id-too-long",
            f"the ORDRE order id makes a connector reference of {len(ref)} characters, and "
            f"Zedonk takes {limits.connector_ref}",
            hint="this needs a change in zedonk-ordre: report it with the order id",
        )
    warnings: list[OrderWarning] = []
    notes: list[str] = []
    if order.submission > 1:  # three submissions must not look alike in Zedonk
        notes.append(f"ORDRE submission {order.submission} of {order.number}")
    reference = fit_reference(
        target.reference_template,
        order_number=order.number,
        po_number=order.po_number,
        submission=order.submission,
        limit=limits.order_ref,
        label=label,
    )
    if reference.warning is not None:
        warnings.append(reference.warning)
    if reference.po_cut and order.po_number.strip():
        notes.append(f"PO: {order.po_number.strip()}")
    fitted: list[Address | None] = []
    for address in (
        as_kind(order.delivery_address, "delivery"),
        as_kind(order.accounts_address, "accounts"),
    ):
        if address is not None:
            address, more_notes, more_warnings = fit_address(address, limits, label)
            notes += more_notes
            warnings += more_warnings
        fitted.append(address)
    comments, comments_warning = compose_comments(order.comments, notes, limits.comments, label)
    if comments_warning is not None:
        warnings.append(comments_warning)
    if customer_currency and order.currency != customer_currency:
        warnings.append(
            OrderWarning(
                "currency-mismatch",
                f"{label}: the order is in {order.currency}, but the customer's currency in "
                f"Zedonk is {customer_currency}",
            )
        )
    left_out_nos = {x.line_no for x in left_out}
    for line in order.lines:
        if line.unit_price == 0 and line.line_no not in left_out_nos:
            warnings.append(
                OrderWarning(
                    "zero-price",
                    f"{label} line {line.line_no} ({line.style} {line.colour} {line.size}): "
                    "unit price 0.00",
                )
            )
    sales_order = SalesOrder(
        season=target.season,
        customer_id=customer_id,
        order_ref=reference.text,
        connector_ref=ref,
        owner=target.owner,
        approved=target.approved,
        currency=order.currency,
        lines=lines,
        delivery_start=order.ship_start,
        delivery_end=order.ship_end,
        delivery_address=fitted[0],
        accounts_address=fitted[1],
        comments=comments,
    )
    return MappedOrder(sales_order, left_out, tuple(warnings))
