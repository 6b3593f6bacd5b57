"""The order import's customers: the Zedonk customer of each order, matched or created once.

A retailer new to Zedonk is created with the same intent-first protocol as an order: the intent
(``customer_creations``) is committed before the create, and a customer intended before is
looked up before it is created, so two orders from one new retailer, or a crash in between,
still make one customer. Addresses the order brings that the customer lacks are added to it;
Zedonk refusing one (a 4xx about the address) is a warning on the order, which carries its
addresses either way, while a transient fault stops the pass like any other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from daemon.clients import ZedonkClient
from daemon.clients.zedonk import ORDER_LIMITS
from daemon.core.model import Customer, OrdreOrder
from daemon.core.ordermap import (
    CustomerIndex,
    CustomerMatch,
    addresses_to_add,
    name_key,
    new_customer,
)
from daemon.errors import Conflict, RemoteError, is_refusal

if TYPE_CHECKING:
    from daemon.orders.run import PassState


class Customers:
    """The customers of one pass: Zedonk's (``index``) and the ones the pass creates."""

    def __init__(self, state: PassState, zedonk: ZedonkClient, index: CustomerIndex) -> None:
        self.state = state
        self.ledger = state.ledger
        self.zedonk = zedonk
        self.index = index

    def match(self, order: OrdreOrder) -> CustomerMatch:
        """The Zedonk customer ``order`` belongs to, as far as Zedonk's customers tell (raises
        ``OrderMappingError`` on ambiguity)."""
        return self.index.match(order)

    def for_order(self, order: OrdreOrder, key: str, match: CustomerMatch) -> Customer:
        """The Zedonk customer of ``order`` (import ``key``, matched as ``match``), created when
        it is new, with the order's addresses. Raises ``Conflict`` when a customer cannot be
        told apart, ``OutcomeUnknown`` when a create's answer was lost, and ``RemoteError``
        when Zedonk refuses the create or does not answer."""
        customer = match.customer or self._create(order, key)
        for address in addresses_to_add(customer, order, ORDER_LIMITS):
            try:
                customer = self.zedonk.add_customer_address(customer.id, address)
            except RemoteError as exc:
                if not is_refusal(exc):
                    raise  # Zedonk may be down: the pass stops, the next one adds it
                self.state.history.record_event(  # the order carries its addresses anyway
                    "warning",
                    "customer-address-refused",
                    f"{order.number}: Zedonk refused to add the {address.kind} address to "
                    f"customer {customer.name} ({customer.id}): {exc.message}; the order "
                    "carries the address, add it to the customer by hand if it should be kept",
                    subject=key,
                    run_id=self.state.run_id,
                )
                continue
            self._remember(customer)
        return customer

    def _remember(self, customer: Customer) -> None:
        self.index.add(customer)

    def _create(self, order: OrdreOrder, key: str) -> Customer:
        """Create the retailer's customer exactly once: intent, lookup if tried, create."""
        wanted = new_customer(order, ORDER_LIMITS)
        nk = name_key(wanted.name)
        if self.ledger.customer_intent(nk, wanted, key):
            found = self._find(wanted)
            if found is not None:
                return self._created(nk, found, key, existed=True)
        try:
            created = self.zedonk.create_customer(wanted)
        except Conflict:
            found = self._find(wanted)
            if found is None:
                raise
            return self._created(nk, found, key, existed=True)
        return self._created(nk, created, key, existed=False)

    def _find(self, wanted: Customer) -> Customer | None:
        found = self.zedonk.find_customer_by_name(wanted.name)
        if found is None and wanted.account_code:
            found = next(self.zedonk.customers(account_code=wanted.account_code), None)
        return found

    def _created(self, nk: str, customer: Customer, key: str, *, existed: bool) -> Customer:
        with self.ledger.transaction() as conn:
            self.ledger.customer_created(conn, nk, customer.id)
            if not existed:
                self.ledger.event(
                    conn,
                    "info",
                    "customer-created",
                    f"created Zedonk customer {customer.name} ({customer.id}) for a new retailer",
                    key,
                )
        if not existed:
            self.state.counts["customers_created"] += 1
        self._remember(customer)
        return customer
