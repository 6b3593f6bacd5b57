"""Re-submissions: a retailer who re-submits an ORDRE order gets a second Zedonk order (one
per submission), and the earlier one is reported, or inactivated when
``import.on_resubmit`` is ``inactivate_previous``.

Each imported re-submission is linked to the import before it once (``previous_import_key``);
an inactivation that fails is tried again by the next pass until ``previous_inactivated``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from daemon.clients import ZedonkClient
from daemon.errors import RemoteError

if TYPE_CHECKING:
    from daemon.orders.run import PassState


class Resubmissions:
    """Follows up the re-submissions a pass finds imported."""

    def __init__(self, state: PassState, zedonk: ZedonkClient) -> None:
        self.state = state
        self.ledger = state.ledger
        self.zedonk = zedonk
        self.inactivate = state.settings.import_.on_resubmit == "inactivate_previous"

    def finish(self) -> None:
        """Link each re-submission to the import before it, and inactivate that order if asked."""
        for row in self.ledger.resubmissions():
            if row["previous_import_key"] is None:
                self._link_previous(row)
            elif self.inactivate:
                self._inactivate_previous(row)

    def _link_previous(self, row: dict[str, Any]) -> None:
        prev = self.ledger.previous_import(row["ordre_id"], row["submission"])
        if prev is None:
            with self.ledger.transaction() as conn:  # nothing earlier was imported
                self.ledger.mark_inactivated(conn, row["import_key"])
            return
        key = row["import_key"]
        message = (
            f"{row['ordre_number']} was re-submitted (submission {row['submission']}) and "
            f"imported as Zedonk order {row['zedonk_order_number']}; the earlier Zedonk order "
            f"{prev['zedonk_order_number']} (submission {prev['submission']}) should be "
            "inactivated"
        )
        notice = f"order-resubmitted:{key}"
        with self.ledger.transaction() as conn:
            self.ledger.link_previous(conn, key, prev["import_key"])
            self.ledger.event(conn, "warning", "order-resubmitted", message, key)
            if not self.inactivate:
                title = f"{row['ordre_number']} re-submitted"
                self.state.notices.owe(conn, notice, title, message + " by hand in Zedonk.")
        self.state.counts["reported"] += 1
        if self.inactivate:
            self._inactivate_previous({**row, "previous_import_key": prev["import_key"]})

    def _inactivate_previous(self, row: dict[str, Any]) -> None:
        prev = self.ledger.get(row["previous_import_key"])
        assert prev is not None  # a foreign key
        try:
            self.zedonk.inactivate_sales_order(prev["zedonk_order_id"])
        except RemoteError as exc:
            self.state.history.record_event(
                "warning",
                "order-inactivate-failed",
                f"could not inactivate Zedonk order {prev['zedonk_order_number']}: {exc.message};"
                " the next pass tries again",
                subject=row["import_key"],
                run_id=self.state.run_id,
            )
            return
        with self.ledger.transaction() as conn:
            self.ledger.mark_inactivated(conn, row["import_key"])
            self.ledger.event(
                conn,
                "info",
                "order-inactivated",
                f"inactivated Zedonk order {prev['zedonk_order_number']}, replaced by "
                f"{row['zedonk_order_number']}",
                row["import_key"],
            )
        self.state.counts["inactivated"] += 1
