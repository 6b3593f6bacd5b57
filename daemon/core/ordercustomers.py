"""The Zedonk customer of an ORDRE order: matched by account code or name, or a new one.

Pure: the acting side (``daemon.orders.customers``) reads Zedonk's customers into a
``CustomerIndex``, asks it for each order's customer, and creates the ones it lacks (exactly
once) from ``new_customer``. Names are compared as ``daemon.core.names`` folds them.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace

from daemon.core.model import Address, AddressKind, Customer, OrdreOrder
from daemon.core.names import accent_key, name_key
from daemon.core.orderfit import (
    FieldLimits,
    OrderMappingError,
    OrderWarning,
    fit_address,
    fitted_address,
)


@dataclass(frozen=True)
class CustomerMatch:
    customer: Customer | None  # None: no customer matches, a new one is needed
    matched_by: str  # "account_code" | "name" | "new"
    # With "new": an existing customer whose name differs only in accents (or several).
    lookalikes: tuple[Customer, ...] = ()

    def possible_duplicate(self, label: str) -> OrderWarning | None:
        """The warning a new customer gets when its name looks like an existing one's."""
        if not self.lookalikes:
            return None
        named = ", ".join(f"{c.id} {c.name!r}" for c in self.lookalikes)
        return OrderWarning(
            "possible-duplicate",
            f"{label}: the retailer is not a Zedonk customer by account code or name, but its "
            f"name differs only in accents from {named}: possible duplicate of "
            f"{self.lookalikes[0].id}",
        )


class CustomerIndex:
    """Zedonk customers by account code, by name key and by name without accents; ``add``
    keeps it current."""

    def __init__(self, customers: Iterable[Customer] = ()) -> None:
        self._by_id: dict[str, Customer] = {}
        self._by_code: dict[str, dict[str, Customer]] = defaultdict(dict)
        self._by_name: dict[str, dict[str, Customer]] = defaultdict(dict)
        self._by_accentless: dict[str, dict[str, Customer]] = defaultdict(dict)
        for customer in customers:
            self.add(customer)

    def add(self, customer: Customer) -> None:
        """Add a customer, or replace the one with the same id (e.g. with a new address)."""
        old = self._by_id.pop(customer.id, None)
        if old is not None:
            self._by_code[(old.account_code or "").strip()].pop(old.id, None)
            self._by_name[name_key(old.name)].pop(old.id, None)
            self._by_accentless[accent_key(old.name)].pop(old.id, None)
        self._by_id[customer.id] = customer
        self._by_code[(customer.account_code or "").strip()][customer.id] = customer
        self._by_name[name_key(customer.name)][customer.id] = customer
        self._by_accentless[accent_key(customer.name)][customer.id] = customer

    def by_code(self, code: str) -> list[Customer]:
        return list(self._by_code.get(code, {}).values()) if code else []

    def by_name(self, name: str) -> list[Customer]:
        return list(self._by_name.get(name_key(name), {}).values())

    def lookalikes(self, name: str) -> list[Customer]:
        """Customers whose name differs from ``name`` only in accents."""
        found = self._by_accentless.get(accent_key(name), {}).values()
        return sorted((c for c in found if name_key(c.name) != name_key(name)), key=_by_id)

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
            return CustomerMatch(None, "new", tuple(self.lookalikes(retailer)))
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
    otherwise by name (``name_key``). Raises OrderMappingError on ambiguity."""
    return CustomerIndex(customers).match(order)


def _by_id(customer: Customer) -> str:
    return customer.id


def _usable(match: CustomerMatch) -> CustomerMatch:
    customer = match.customer
    if customer is not None and not customer.active:
        raise OrderMappingError(
            "customer-inactive",
            f"the Zedonk customer {customer.name!r} ({customer.id}) is inactive",
            hint="reactivate the customer in Zedonk, then retry the order",
        )
    return match


def as_kind(address: Address | None, kind: AddressKind) -> Address | None:
    return address if address is None or address.kind == kind else replace(address, kind=kind)


def _order_addresses(order: OrdreOrder) -> tuple[Address, ...]:
    found = (
        as_kind(order.delivery_address, "delivery"),
        as_kind(order.accounts_address, "accounts"),
    )
    return tuple(address for address in found if address is not None)


def new_customer(order: OrdreOrder, limits: FieldLimits) -> Customer:
    """The Zedonk customer to create for a retailer Zedonk does not know (``id`` empty), its
    addresses fitted to Zedonk's fields. A name, account code or buyer e-mail longer than
    Zedonk takes cannot be shortened (each identifies the retailer): OrderMappingError."""
    name = order.retailer_name.strip()
    if not name:
        raise OrderMappingError("customer-unnamed", "the order names no retailer")
    code = (order.retailer_account_code or "").strip() or None
    for what, value, limit in (
        ("retailer name", name, limits.customer_name),
        ("account code", code or "", limits.account_code),
        ("buyer e-mail", order.buyer_email or "", limits.contact),
    ):
        if len(value) > limit:
            raise OrderMappingError(
                "customer-field-too-long",
                f"the {what} has {len(value)} characters, and a Zedonk customer's takes "
                f"{limit}; it cannot be shortened, as it identifies the retailer",
                hint=f"shorten the {what} in ORDRE, then retry the order",
            )
    addresses = [fitted_address(a, limits) for a in _order_addresses(order)]
    return Customer(
        id="",
        name=name,
        account_code=code,
        active=True,
        currency=order.currency,
        addresses=tuple(replace(a, is_default=True) for a in addresses if a is not None),
        contact_email=order.buyer_email,
    )


# A retailer's orders carry the same few addresses: compare each pair once.
_same_place = functools.lru_cache(maxsize=1 << 12)(Address.same_place)


def addresses_to_add(
    customer: Customer, order: OrdreOrder, limits: FieldLimits | None = None
) -> tuple[Address, ...]:
    """The order's delivery and accounts addresses that the customer does not have yet (as
    fitted to Zedonk's fields when ``limits`` are given)."""
    addresses = _order_addresses(order)
    if limits is not None:
        addresses = tuple(fit_address(a, limits, "")[0] for a in addresses)
    return tuple(
        replace(address, is_default=False)
        for address in addresses
        if not any(
            known.kind == address.kind and _same_place(known, address)
            for known in customer.addresses
        )
    )
