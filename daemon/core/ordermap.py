"""From an ORDRE order to a Zedonk sales order: pure mapping, no network, disk or clock.

The acting side (``daemon.orders``) gathers what Zedonk knows (customers, products) and asks
this module what to do with one order:

- ``triage``: import it, skip it (created before go-live) or ignore it (not importable yet);
- ``match_customer``: the Zedonk customer, by account code when ORDRE carries one, otherwise by
  exact name (trimmed, case-insensitive). An ambiguous match is an error, never a guess;
- ``map_order``: the sales order to create, and the lines left out with their reasons;
- ``order_reference``: the order reference from the template, without dangling separators.

Prices and currency are carried exactly as ORDRE sent them; the PO number is free text and
never a key. The ledger's copy of an order (its JSON and fingerprint) is ``ordercopy``.
"""

from __future__ import annotations

import functools
import string
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import Enum

from daemon.core import gtin
from daemon.core.model import (
    Address,
    AddressKind,
    Customer,
    OrdreOrder,
    OrdreOrderLine,
    Product,
    ProductId,
    SalesOrder,
    SalesOrderLine,
)
from daemon.errors import ConfigError, ZedonkOrdreError

CONNECTOR_REF_PREFIX = "ordre:"
TEMPLATE_FIELDS = ("order_number", "po_number")


def connector_ref(import_key: str) -> str:
    """The searchable reference a Zedonk order carries, so a lost answer can be found again."""
    return CONNECTOR_REF_PREFIX + import_key


# --------------------------------------------------------------------------- triage


class Triage(Enum):
    IMPORT = "import"
    SKIP = "skip"  # recorded, never imported: created before go-live
    IGNORE = "ignore"  # not importable now (draft, status not listed, cancelled)


def triage(order: OrdreOrder, *, statuses: Iterable[str], go_live: date | None) -> Triage:
    if order.submission < 1 or order.status not in tuple(statuses):
        return Triage.IGNORE
    created = order.created_at or order.submitted_at
    if go_live is not None and created is not None and created.date() < go_live:
        return Triage.SKIP
    return Triage.IMPORT


# --------------------------------------------------------------------------- errors


class OrderMappingError(ZedonkOrdreError):
    """The order cannot become a Zedonk order as it stands. ``code`` is stable."""

    def __init__(self, code: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


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
    reason: str  # missing | malformed | check-digit | unknown | ambiguous | quantity | price
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


class SkuIndex:
    """Zedonk SKUs by canonical GTIN-14. SKUs without a valid barcode cannot be matched."""

    def __init__(self, products: Iterable[Product]) -> None:
        found: dict[str, list[SkuRef]] = defaultdict(list)
        for product in products:
            for sku in product.skus:
                key = gtin.canonical(sku.barcode)
                if key is not None:
                    assert sku.barcode is not None
                    found[key].append(SkuRef(product.id, sku.size, sku.barcode.strip()))
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
    lines: Iterable[OrdreOrderLine], skus: SkuIndex
) -> tuple[tuple[SalesOrderLine, ...], tuple[LeftOutLine, ...]]:
    """Match each line by canonical GTIN-14; the rest are left out with their reason."""
    matched: list[SalesOrderLine] = []
    left_out: list[LeftOutLine] = []
    for line in lines:
        key = _canonical(line.barcode)
        refs = skus.lookup(key) if key is not None else ()
        if len(refs) == 1 and line.quantity >= 1 and line.unit_price >= 0:
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
        elif line.quantity < 1:
            message = f"{where}: quantity {line.quantity} is not a positive whole number"
            left_out.append(_left_out(line, "quantity", message))
        else:
            message = f"{where}: unit price {line.unit_price} is negative"
            left_out.append(_left_out(line, "price", message))
    return tuple(matched), tuple(left_out)


# --------------------------------------------------------------------------- customers


def name_key(name: str) -> str:
    """Customer names match exactly once trimmed, ignoring case."""
    return name.strip().casefold()


@dataclass(frozen=True)
class CustomerMatch:
    customer: Customer | None  # None: no customer matches, a new one is needed
    matched_by: str  # "account_code" | "name" | "new"


class CustomerIndex:
    """Zedonk customers by account code and by name key; ``add`` keeps it current."""

    def __init__(self, customers: Iterable[Customer] = ()) -> None:
        self._by_id: dict[str, Customer] = {}
        self._by_code: dict[str, dict[str, Customer]] = defaultdict(dict)
        self._by_name: dict[str, dict[str, Customer]] = defaultdict(dict)
        for customer in customers:
            self.add(customer)

    def add(self, customer: Customer) -> None:
        """Add a customer, or replace the one with the same id (e.g. with a new address)."""
        old = self._by_id.pop(customer.id, None)
        if old is not None:
            self._by_code[(old.account_code or "").strip()].pop(old.id, None)
            self._by_name[name_key(old.name)].pop(old.id, None)
        self._by_id[customer.id] = customer
        self._by_code[(customer.account_code or "").strip()][customer.id] = customer
        self._by_name[name_key(customer.name)][customer.id] = customer

    def by_code(self, code: str) -> list[Customer]:
        return list(self._by_code.get(code, {}).values()) if code else []

    def by_name(self, name: str) -> list[Customer]:
        return list(self._by_name.get(name_key(name), {}).values())

    def match(self, order: OrdreOrder) -> CustomerMatch:
        """The Zedonk customer an order belongs to. Raises OrderMappingError on ambiguity."""
        retailer = order.retailer_name.strip()
        code = (order.retailer_account_code or "").strip()
        by_code = self.by_code(code)
        if len(by_code) > 1:
            ids = ", ".join(sorted(c.id for c in by_code))
            raise OrderMappingError(
                "customer-ambiguous",
                f"account code {code!r} is on several Zedonk customers ({ids})",
                hint="make the account code unique in Zedonk, then retry the order",
            )
        if by_code:
            return _usable(CustomerMatch(by_code[0], "account_code"))
        if not retailer:
            raise OrderMappingError(
                "customer-unnamed",
                "the order names no retailer and its account code matches no Zedonk customer",
                hint="add the retailer's account code to the Zedonk customer, then retry it",
            )
        by_name = self.by_name(retailer)
        if len(by_name) > 1:
            ids = ", ".join(sorted(c.id for c in by_name))
            raise OrderMappingError(
                "customer-ambiguous",
                f"retailer {retailer!r} matches several Zedonk customers by name ({ids})",
                hint="give the retailer an account code in ORDRE and Zedonk, then retry it",
            )
        if not by_name:
            return CustomerMatch(None, "new")
        found = by_name[0]
        if code and found.account_code and found.account_code.strip() != code:
            raise OrderMappingError(
                "customer-conflict",
                f"retailer {retailer!r} has account code {code!r} in ORDRE, but the Zedonk "
                f"customer {found.id} of that name has account code {found.account_code!r}",
                hint="make the account codes agree, then retry the order",
            )
        return _usable(CustomerMatch(found, "name"))


def match_customer(order: OrdreOrder, customers: Iterable[Customer]) -> CustomerMatch:
    """The Zedonk customer an order belongs to: by account code when ORDRE carries one,
    otherwise by exact name. Raises OrderMappingError on ambiguity."""
    return CustomerIndex(customers).match(order)


def _usable(match: CustomerMatch) -> CustomerMatch:
    customer = match.customer
    if customer is not None and not customer.active:
        raise OrderMappingError(
            "customer-inactive",
            f"the Zedonk customer {customer.name!r} ({customer.id}) is inactive",
            hint="reactivate the customer in Zedonk, then retry the order",
        )
    return match


def _as_kind(address: Address | None, kind: AddressKind) -> Address | None:
    return address if address is None or address.kind == kind else replace(address, kind=kind)


def _order_addresses(order: OrdreOrder) -> tuple[Address, ...]:
    found = (
        _as_kind(order.delivery_address, "delivery"),
        _as_kind(order.accounts_address, "accounts"),
    )
    return tuple(address for address in found if address is not None)


def new_customer(order: OrdreOrder) -> Customer:
    """The Zedonk customer to create for a retailer Zedonk does not know (``id`` empty)."""
    name = order.retailer_name.strip()
    if not name:
        raise OrderMappingError("customer-unnamed", "the order names no retailer")
    return Customer(
        id="",
        name=name,
        account_code=(order.retailer_account_code or "").strip() or None,
        active=True,
        currency=order.currency,
        addresses=tuple(replace(a, is_default=True) for a in _order_addresses(order)),
        contact_email=order.buyer_email,
    )


# A retailer's orders carry the same few addresses: compare each pair once.
_same_place = functools.lru_cache(maxsize=1 << 12)(Address.same_place)


def addresses_to_add(customer: Customer, order: OrdreOrder) -> tuple[Address, ...]:
    """The order's delivery and accounts addresses that the customer does not have yet."""
    return tuple(
        replace(address, is_default=False)
        for address in _order_addresses(order)
        if not any(
            known.kind == address.kind and _same_place(known, address)
            for known in customer.addresses
        )
    )


# --------------------------------------------------------------------------- the order


@functools.lru_cache(maxsize=32)
def _template_parts(template: str) -> tuple[tuple[str, str | None], ...]:
    """(literal text, field name) pairs; raises ConfigError unless only known fields are used."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(
            f"import.order_reference {template!r} is not a valid template: {exc}",
            hint="use {order_number} and {po_number}, e.g. '{order_number} + {po_number}'",
        ) from None
    for _, field, spec, conversion in parsed:
        if field is not None and (field not in TEMPLATE_FIELDS or spec or conversion):
            raise ConfigError(
                f"import.order_reference uses {{{field}}}, which is not a known field",
                hint="the fields are {order_number} and {po_number}",
            )
    return tuple((literal, field) for literal, field, _, _ in parsed)


def check_template(template: str) -> None:
    """Raise ConfigError unless ``template`` uses only the known fields."""
    _template_parts(template)


def order_reference(template: str, *, order_number: str, po_number: str) -> str:
    """Fill the template; text between fields is kept only when both sides have a value.

    So ``{order_number} + {po_number}`` gives ``ORD-10003`` when the PO is empty.
    """
    values = {"order_number": order_number.strip(), "po_number": po_number.strip()}
    prefix, pending, seen_field = "", "", False
    pieces: list[tuple[str, str]] = []  # (text before the field, the field's value)
    for literal, field in _template_parts(template):
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
class ImportTarget:
    """Where imported orders go, from the import settings."""

    season: str
    owner: str
    approved: bool
    reference_template: str


@dataclass(frozen=True)
class MappedOrder:
    order: SalesOrder
    left_out: tuple[LeftOutLine, ...]

    @property
    def partial(self) -> bool:
        return bool(self.left_out)


def map_order(
    order: OrdreOrder, *, import_key: str, customer_id: str, skus: SkuIndex, target: ImportTarget
) -> MappedOrder:
    """The Zedonk sales order for one ORDRE submission. Raises OrderMappingError."""
    lines, left_out = map_lines(order.lines, skus)
    if not lines:
        raise NoLinesMatched(left_out)
    if order.ship_start and order.ship_end and order.ship_end < order.ship_start:
        raise OrderMappingError(
            "ship-window",
            f"the ship window ends ({order.ship_end}) before it starts ({order.ship_start})",
            hint="correct the ship window in ORDRE, then retry the order",
        )
    delivery, accounts = order.delivery_address, order.accounts_address
    sales_order = SalesOrder(
        season=target.season,
        customer_id=customer_id,
        order_ref=order_reference(
            target.reference_template, order_number=order.number, po_number=order.po_number
        ),
        connector_ref=connector_ref(import_key),
        owner=target.owner,
        approved=target.approved,
        currency=order.currency,
        lines=lines,
        delivery_start=order.ship_start,
        delivery_end=order.ship_end,
        delivery_address=_as_kind(delivery, "delivery"),
        accounts_address=_as_kind(accounts, "accounts"),
        comments=order.comments,
    )
    return MappedOrder(sales_order, left_out)
