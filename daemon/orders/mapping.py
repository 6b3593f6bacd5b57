"""What Zedonk knows for one import pass, and how an ORDRE order becomes the order to create.

Zedonk's customers, products (by SKU and GTIN) and currencies are read once per pass, and only
when there is something to import. Mapping an order checks its currency first (before any
customer is created), matches or creates its customer, and says what holds it for a person
(``import.on_currency_mismatch``, ``import.on_zero_price``, a new customer whose name looks like
an existing one's) unless ``orders retry --accept`` accepted it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from daemon.clients import ZedonkClient
from daemon.clients.zedonk import ORDER_LIMITS
from daemon.core.model import OrdreOrder
from daemon.core.ordermap import (
    CustomerIndex,
    ImportTarget,
    LeftOutLine,
    MappedOrder,
    OrderMappingError,
    OrderWarning,
    SkuIndex,
    check_currency,
    label_of,
    map_order,
)
from daemon.errors import NotFound
from daemon.orders.customers import Customers

if TYPE_CHECKING:
    from daemon.orders.run import PassState


class OrderMapper:
    """One pass's view of Zedonk's customers, products and currencies (``currencies`` None:
    Zedonk does not list them, so there is no check), and the orders mapped against it."""

    def __init__(
        self,
        state: PassState,
        customers: Customers,
        skus: SkuIndex,
        target: ImportTarget,
        currencies: frozenset[str] | None,
    ) -> None:
        self.state = state
        self.customers = customers
        self.skus = skus
        self.target = target
        self.currencies = currencies

    @classmethod
    def load(cls, state: PassState, zedonk: ZedonkClient) -> OrderMapper:
        """Read what Zedonk knows. Raises ``ConfigError`` when the import settings do not fit
        this Zedonk, ``RemoteError`` when Zedonk cannot be read."""
        from daemon.orders import check_import_settings  # the package imports this module

        imp = state.settings.import_
        check_import_settings(state.settings, zedonk)
        customers = CustomerIndex(zedonk.customers())
        skus = SkuIndex(zedonk.products())
        try:
            # None when Zedonk has no list of them (404): then a currency it lacks is caught
            # when it refuses the order, which fails that order alone.
            currencies: frozenset[str] | None = frozenset(zedonk.currencies())
        except NotFound:
            currencies = None
        target = ImportTarget(
            imp.season, imp.order_owner, imp.approved, imp.order_reference, ORDER_LIMITS
        )
        return cls(state, Customers(state, zedonk, customers), skus, target, currencies)

    def map(
        self, order: OrdreOrder, key: str, *, accepted: bool
    ) -> MappedOrder | tuple[OrderWarning, ...]:
        """The order to create, its customer matched or created; or, when it must wait for a
        person (and ``accepted`` does not say a person accepted it), what it is held for.
        Raises OrderMappingError and RemoteError."""
        if self.currencies is not None:  # before any customer is created
            check_currency(order, self.currencies)
        match = self.customers.match(order)
        duplicate = match.possible_duplicate(label_of(order))
        if duplicate is not None and not accepted:
            return (duplicate,)
        customer = self.customers.for_order(order, key, match)
        mapped = map_order(
            order,
            import_key=key,
            customer_id=customer.id,
            skus=self.skus,
            target=self.target,
            customer_currency=customer.currency,
        )
        warnings = (*([duplicate] if duplicate else []), *mapped.warnings)
        holds = tuple(w for w in warnings if self._holds(w))
        if holds and not accepted:
            return holds
        return MappedOrder(mapped.order, mapped.left_out, warnings)

    def _holds(self, warning: OrderWarning) -> bool:
        imp = self.state.settings.import_
        return {
            "currency-mismatch": imp.on_currency_mismatch == "hold",
            "zero-price": imp.on_zero_price == "hold",
            "possible-duplicate": True,
        }.get(warning.code, False)

    def left_out_for(
        self, order: OrdreOrder, key: str
    ) -> tuple[tuple[LeftOutLine, ...], tuple[OrderWarning, ...]]:
        """The lines left out of an order found in Zedonk, and its warnings (but the
        customer's currency, which the lookup does not read)."""
        try:
            mapped = map_order(
                order, import_key=key, customer_id="", skus=self.skus, target=self.target
            )
        except OrderMappingError:
            return (), ()
        return mapped.left_out, mapped.warnings
