"""The audit: duplicates that slipped through become visible.

Every ``AUDIT_INTERVAL`` (a day) an import pass that sent no create (so the audit never slows
the orders down; a busy pass does it anyway once it is a day late), or ``zedonk-ordre orders
audit`` at any time, reads the active Zedonk orders of the import season that carry a
connector reference of this connector, and reports each import key held by more than one of
them, naming their SO numbers: an event in the history, the status (``orders.audit`` in the
history's state) and a notice, owed in the commit that records the audit (the drainer sends
it). It never inactivates anything: which order to keep is a person's call (one may have been
edited or delivered already). A duplicate that is gone by the next audit (a person
inactivated one) is reported resolved.

Such a duplicate can only come from outside the import's protocol: a person who keyed the
order in by hand with the connector's reference, a second connector with its own history on
the same Zedonk, or a search that lagged behind Zedonk's writes for longer than the settle
window.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from daemon import orders as _orders
from daemon.clients import ZedonkClient
from daemon.core.model import SalesOrder
from daemon.core.ordermap import CONNECTOR_REF_PREFIX
from daemon.errors import RemoteError
from daemon.store.ledger.truth import moment

if TYPE_CHECKING:
    from daemon.orders.run import PassState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Duplicate:
    """One import key held by several active Zedonk orders."""

    import_key: str
    orders: tuple[SalesOrder, ...]

    @property
    def numbers(self) -> list[str]:
        return [order.number or order.id for order in self.orders]

    def as_json(self) -> dict[str, Any]:
        return {
            "import_key": self.import_key,
            "orders": [{"id": o.id, "number": o.number} for o in self.orders],
        }


class Audit:
    """The audit, in pass ``state`` (an import pass, or a run of its own)."""

    def __init__(self, state: PassState, zedonk: ZedonkClient) -> None:
        self.state = state
        self.ledger = state.ledger
        self.zedonk = zedonk

    def due(self) -> bool:
        """Whether to audit at the end of this pass: the last audit is older than
        ``AUDIT_INTERVAL`` (or there was none), and the pass sent no create. A busy pass leaves
        it to the next quiet one, unless the audit is a whole interval late."""
        last = self.ledger.last_audit()
        age = None if last is None else datetime.now(UTC) - moment(last["at"])
        if age is not None and age < _orders.AUDIT_INTERVAL:
            return False
        late = age is not None and age >= 2 * _orders.AUDIT_INTERVAL
        return late or not self.state.creates_sent

    def run(self) -> list[Duplicate] | None:
        """Audit now: record and announce the duplicates, and close the ones gone since.
        Returns them, or None when Zedonk could not be read (recorded; the audit stays due)."""
        season = self.state.settings.import_.season
        held: dict[str, list[SalesOrder]] = defaultdict(list)
        checked = 0
        try:
            for order in self.zedonk.find_sales_orders(
                season=season, connector_ref_prefix=CONNECTOR_REF_PREFIX, active=True
            ):
                held[order.connector_ref].append(order)
                checked += 1
        except RemoteError as exc:
            self.state.history.record_event(
                "warning",
                "audit-failed",
                f"the audit of {season}'s Zedonk orders could not read them: {exc.message}",
                run_id=self.state.run_id,
            )
            return None
        duplicates = [
            Duplicate(ref.removeprefix(CONNECTOR_REF_PREFIX), tuple(orders))
            for ref, orders in sorted(held.items())
            if len(orders) > 1
        ]
        self._record(season, checked, duplicates)
        self.state.counts["duplicates"] += len(duplicates)
        return duplicates

    def _record(self, season: str, checked: int, duplicates: list[Duplicate]) -> None:
        last = self.ledger.last_audit() or {}
        before = {d["import_key"]: d for d in last.get("duplicates", [])}
        now = {d.import_key for d in duplicates}
        record = {
            "at": datetime.now(UTC).isoformat(),
            "season": season,
            "checked": checked,
            "duplicates": [d.as_json() for d in duplicates],
        }
        with self.ledger.transaction() as conn:
            self.ledger.record_audit(conn, record)
            for duplicate in duplicates:
                if before.get(duplicate.import_key) == duplicate.as_json():
                    continue  # reported already, unchanged
                message = self._message(duplicate)
                self.ledger.event(
                    conn,
                    "warning",
                    "order-duplicate",
                    message,
                    duplicate.import_key,
                    details=duplicate.as_json(),
                )
                key = f"order-duplicate:{duplicate.import_key}"
                title = (
                    f"{self._label(duplicate.import_key)} is on "
                    f"{len(duplicate.orders)} Zedonk orders"
                )
                self.state.notices.owe(conn, key, title, message)
            for key in sorted(set(before) - now):
                self.ledger.event(
                    conn,
                    "info",
                    "order-duplicate-resolved",
                    f"{self._label(key)} is on one active Zedonk order again",
                    key,
                )
        for key in sorted(set(before) - now):
            self.state.notices.resolved(f"order-duplicate:{key}")
        if duplicates:
            log.warning(
                "audit: %d import(s) held by more than one active Zedonk order: %s",
                len(duplicates),
                "; ".join(f"{d.import_key}: {', '.join(d.numbers)}" for d in duplicates),
            )

    def _label(self, key: str) -> str:
        row = self.ledger.get(key)
        if row is None:
            return f"ORDRE order {key}"
        return f"ORDRE order {row['ordre_number']} (submission {row['submission']})"

    def _message(self, duplicate: Duplicate) -> str:
        return (
            f"{self._label(duplicate.import_key)} is on {len(duplicate.orders)} active Zedonk "
            f"orders: {', '.join(duplicate.numbers)}. Keep one and inactivate the others in "
            "Zedonk; the connector never inactivates them itself."
        )
