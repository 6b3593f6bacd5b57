"""Re-submissions: a retailer who re-submits an ORDRE order gets a second Zedonk order (one
per submission), and the earlier one is reported, or inactivated when
``import.on_resubmit`` is ``inactivate_previous``.

Each imported re-submission is linked to the import before it once (``previous_import_key``);
an inactivation that fails for a transient fault is tried again by the next pass until
``previous_inactivated``; one Zedonk refuses (a 4xx) is left to a person, with a notice naming
the order. A re-submission of an order created before go-live, whose earlier submission the
connector never imported, comes with a notice to check for an order keyed in Zedonk by hand.
Earlier Zedonk orders this history does not record (the state directory was replaced or put
back from an older backup since they were made) are looked for by their connector reference
once, a settle window after the re-submission's own create (when Zedonk's search shows every
order made before it), and reported, never inactivated.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from daemon.clients import ZedonkClient
from daemon.core.model import SalesOrder
from daemon.core.ordercopy import order_from_json
from daemon.core.ordermap import CONNECTOR_REF_PREFIX, connector_ref, created_before_go_live
from daemon.errors import RemoteError, is_refusal

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
        """Link each re-submission to the import before it, and inactivate that order if asked;
        then, a settle window after each re-submission's create, look for earlier orders this
        history does not record."""
        for row in self.ledger.resubmissions():
            if row["previous_import_key"] is None:
                self._link_previous(row)
            elif self.inactivate:
                self._inactivate_previous(row)
        settled = datetime.now(UTC) - timedelta(seconds=self.state.settings.import_.settle_window)
        failed = 0
        for row in self.ledger.earlier_unchecked(settled):
            if self.ledger.earlier_in_doubt(row["ordre_id"], row["submission"]):
                continue  # its order, once found, is recorded here: not one to report as unknown
            # one search Zedonk fails is asked again next pass, and the others go on; two in a
            # row are an outage, and the next pass asks them all again
            failed = 0 if self._check_untracked(row) else failed + 1
            if failed == 2:
                return

    def _link_previous(self, row: dict[str, Any]) -> None:
        prev = self.ledger.previous_import(row["ordre_id"], row["submission"])
        if prev is None and self.ledger.earlier_in_doubt(row["ordre_id"], row["submission"]):
            return  # an earlier create may still turn out to be in Zedonk: decide once it settles
        key = row["import_key"]
        if prev is None:
            with self.ledger.transaction() as conn:  # nothing earlier was imported here
                self.ledger.mark_inactivated(conn, key)
                self._before_go_live(conn, row)
            return
        if not self.inactivate and not self._still_active(prev):
            with self.ledger.transaction() as conn:  # a person inactivated it already
                self.ledger.link_previous(conn, key, prev["import_key"])
                self.ledger.mark_inactivated(conn, key)
            return
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

    def _still_active(self, prev: dict[str, Any]) -> bool:
        """Whether the Zedonk order of import ``prev`` is active (True when Zedonk cannot say:
        a person is then asked to look)."""
        try:
            return self.zedonk.get_sales_order(prev["zedonk_order_id"]).active
        except RemoteError:
            return True

    def _check_untracked(self, row: dict[str, Any]) -> bool:
        """Search Zedonk once for ``row``'s earlier orders this history does not record, and
        report them. False when Zedonk did not answer (the pass records the outage)."""
        untracked = self._untracked_earlier(row)
        if untracked is None:
            return False
        with self.ledger.transaction() as conn:
            self.ledger.mark_earlier_checked(conn, row["import_key"])
            if untracked:
                self._report_untracked(conn, row, untracked)
        return True

    def _untracked_earlier(self, row: dict[str, Any]) -> list[SalesOrder] | str | None:
        """The active Zedonk orders of earlier submissions of ``row``'s ORDRE order that this
        history does not record (it was deleted, moved or put back from an older backup since
        they were made), found by their connector reference, ``ordre:<id>#<n>``. A text when
        Zedonk refuses the search (it says why), None when it did not answer."""
        prefix = connector_ref(f"{row['ordre_id']}#")
        try:
            found = list(self.zedonk.find_sales_orders(connector_ref_prefix=prefix, active=True))
        except RemoteError as exc:
            if is_refusal(exc):
                return exc.message
            self.state.remote_failed("zedonk", exc)
            self.ledger.earlier_search_failed(row["import_key"])
            return None
        recorded = self.ledger.zedonk_orders_of(row["ordre_id"])
        untracked = []
        for order in found:
            submission = order.connector_ref.removeprefix(prefix)
            if (
                order.active
                and order.id not in recorded
                and submission.isdigit()
                and int(submission) < row["submission"]
            ):
                untracked.append(order)
        return untracked

    def _report_untracked(
        self, conn: sqlite3.Connection, row: dict[str, Any], untracked: list[SalesOrder] | str
    ) -> None:
        """Tell a person about earlier Zedonk orders this history has no record of making.
        They are never inactivated here: nothing recorded says this connector made them for
        this brand's import, only their reference."""
        key = row["import_key"]
        done = (
            f"{row['ordre_number']} was re-submitted (submission {row['submission']}) and "
            f"imported as Zedonk order {row['zedonk_order_number']}"
        )
        if isinstance(untracked, str):
            message = (
                f"{done}; Zedonk refused the search for its earlier orders ({untracked}): check "
                "in Zedonk whether an earlier order of it is still active, and inactivate it if "
                "the re-submission replaces it."
            )
        else:
            many = len(untracked) > 1
            them = "them" if many else "it"
            earlier = f"{len(untracked)} earlier orders" if many else "an earlier order"
            names = ", ".join(
                f"{o.number or o.id} ({o.connector_ref.removeprefix(CONNECTOR_REF_PREFIX)})"
                for o in untracked
            )
            message = (
                f"{done}; Zedonk still holds {earlier} of it as active, made by this "
                "connector but not recorded in this history (was the state directory replaced "
                f"or restored?): {names}. Inactivate {them} in Zedonk if the re-submission "
                f"replaces {them}."
            )
        self.ledger.event(conn, "warning", "order-resubmitted-untracked", message, key)
        title = f"{row['ordre_number']} re-submitted"
        self.state.notices.owe(conn, f"order-resubmitted-untracked:{key}", title, message)
        self.state.counts["reported"] += 1

    def _before_go_live(self, conn: sqlite3.Connection, row: dict[str, Any]) -> None:
        """A re-submission made after go-live of an order created before it: the earlier
        submission may be in Zedonk, keyed in by hand. Owes the notice."""
        go_live = self.state.settings.import_.go_live
        try:
            order = order_from_json(json.loads(row["payload"]))
        except (ValueError, TypeError):
            return
        if not created_before_go_live(order, go_live):
            return
        key = row["import_key"]
        message = (
            f"{row['ordre_number']} was created in ORDRE before go-live ({go_live}) and "
            f"re-submitted after it: submission {row['submission']} is imported as Zedonk order "
            f"{row['zedonk_order_number']}. An earlier submission may have been keyed in Zedonk "
            "by hand before go-live: check, and inactivate it there if so."
        )
        self.ledger.event(conn, "warning", "order-resubmitted-after-go-live", message, key)
        notice = f"order-resubmitted:{key}"
        self.state.notices.owe(conn, notice, f"{row['ordre_number']} re-submitted", message)
        self.state.counts["reported"] += 1

    def _inactivate_previous(self, row: dict[str, Any]) -> None:
        prev = self.ledger.get(row["previous_import_key"])
        assert prev is not None  # a foreign key
        try:
            self.zedonk.inactivate_sales_order(prev["zedonk_order_id"])
        except RemoteError as exc:
            if is_refusal(exc):
                self._inactivation_refused(row, prev, exc)
                return
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

    def _inactivation_refused(
        self, row: dict[str, Any], prev: dict[str, Any], exc: RemoteError
    ) -> None:
        """Zedonk refused to inactivate the earlier order: trying again cannot help, so a
        person is told to do it by hand, once."""
        key = row["import_key"]
        message = (
            f"{row['ordre_number']} was re-submitted (submission {row['submission']}) and "
            f"imported as Zedonk order {row['zedonk_order_number']}, but Zedonk refused to "
            f"inactivate the earlier order {prev['zedonk_order_number']} (submission "
            f"{prev['submission']}): {exc.message}. Inactivate it by hand in Zedonk."
        )
        notice = f"order-resubmitted:{key}"
        with self.ledger.transaction() as conn:
            self.ledger.inactivation_refused(conn, key)
            self.ledger.event(conn, "error", "order-inactivate-refused", message, key)
            self.state.notices.owe(conn, notice, f"{row['ordre_number']} re-submitted", message)
