"""How each claimed order ended: its ledger transition, committed with its events and its owed
notice, then the notice sent.

The confirms of the orders Zedonk holds are committed together, once per batch and in row
order (``flush_confirms``); should the ledger refuse one (a Zedonk order recorded for another
submission), the others are committed one by one and that one is held for a person. An order
imported with warnings (a field shortened to fit Zedonk, a currency or price let through) gets
them as events and one notice, in its confirm commit. Every other outcome is committed on its
own: ``failed``, ``needs_attention``, ``held`` (for review: a person decides), ``unresolved``
(the answer to the create was lost: Zedonk may hold it), ``cancelled_before_import`` and
``back_to_pending`` (a remote refused before it processed the create). ``waits`` changes
nothing: a row waits out its settle window, or a young ledger's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from daemon import orders as _orders
from daemon.core.model import OrdreOrder, SalesOrder
from daemon.core.ordermap import LeftOutLine, OrderWarning
from daemon.errors import ZedonkOrdreError
from daemon.orders.intake import cancelled_message, report

if TYPE_CHECKING:
    from daemon.orders.run import PassState


@dataclass(frozen=True)
class Confirmed:
    """An order Zedonk holds, waiting for the ledger's confirm commit."""

    key: str
    order: OrdreOrder
    created: SalesOrder
    left_out: tuple[LeftOutLine, ...]
    recovered: bool  # found in Zedonk, not created now
    warnings: tuple[OrderWarning, ...] = ()
    untried: bool = False  # ... and nobody had tried it in this ledger: made before it knew

    @property
    def state(self) -> str:
        return "partial" if self.left_out else "created"


class Outcomes:
    """Records the outcomes of one pass's claimed rows (only ever on the pass's main thread)."""

    def __init__(self, state: PassState) -> None:
        self.state = state
        self.ledger = state.ledger
        self.notices = state.notices
        self.confirmed: list[Confirmed] = []

    def confirm_later(self, done: Confirmed) -> None:
        """Zedonk holds ``done``: the next ``flush_confirms`` commits it."""
        self.confirmed.append(done)

    def flush_confirms(self) -> None:
        """Commit the outcome of every order created since the last flush, in one go."""
        batch, self.confirmed = self.confirmed, []
        if not batch:
            return
        try:
            with self.ledger.transaction() as conn:
                for done in batch:
                    self._write_confirm(conn, done)
            confirmed = batch
        except sqlite3.IntegrityError:
            confirmed = [done for done in batch if self._confirm_alone(done)]
        for done in confirmed:
            self._after_confirm(done)

    def _confirm_alone(self, done: Confirmed) -> bool:
        try:
            with self.ledger.transaction() as conn:
                self._write_confirm(conn, done)
        except sqlite3.IntegrityError as exc:
            # The last guard: this Zedonk order is already recorded for another submission.
            message = f"the ledger refused Zedonk order {done.created.number}: {exc}"
            self.needs_attention(done.key, done.order, ZedonkOrdreError(message))
            return False
        return True

    def _write_confirm(self, conn: sqlite3.Connection, done: Confirmed) -> None:
        order, created, left_out = done.order, done.created, done.left_out
        label = f"{order.number} (submission {order.submission})"
        self.ledger.confirm(
            conn, done.key, created, lines_total=len(order.lines), left_out=left_out
        )
        if left_out:
            lines = "\n".join(f"- {line.message}" for line in left_out)
            self.notices.owe(
                conn,
                f"lines-left-out:{done.key}",
                f"{order.number} imported without {len(left_out)} line(s)",
                f"ORDRE order {order.number} (submission {order.submission}) was imported as "
                f"Zedonk order {created.number}, but these lines were left out:\n{lines}"
                "\n\nAdd them to the Zedonk order by hand once the barcodes are fixed.",
            )
        how = "created"
        if done.untried:
            how = "found in Zedonk, made before this history recorded it,"
        elif done.recovered:
            how = "found in Zedonk after an interrupted try"
        message = f"{label}: {how} as {created.number}"
        self.ledger.event(conn, "info", "order-imported", message, done.key)
        for warning in done.warnings:
            self.ledger.event(conn, "warning", f"order-{warning.code}", warning.message, done.key)
        if done.warnings:
            lines = "\n".join(f"- {w.message}" for w in done.warnings)
            self.notices.owe(
                conn,
                f"order-warnings:{done.key}",
                f"{order.number} imported with {len(done.warnings)} warning(s)",
                f"ORDRE order {order.number} (submission {order.submission}) was imported as "
                f"Zedonk order {created.number}, with these warnings:\n{lines}",
            )
        if left_out:
            self.ledger.event(
                conn,
                "warning",
                "lines-left-out",
                f"{label}: {len(left_out)} of {len(order.lines)} lines left out",
                done.key,
                details=[line.message for line in left_out],
            )

    def _after_confirm(self, done: Confirmed) -> None:
        if done.untried:
            self.state.counts["found"] += 1
        else:
            if done.recovered:
                self.state.counts["recovered"] += 1
            self.state.counts[done.state] += 1
        self.notices.resolved(f"order-failed:{done.key}")
        if done.order.status == "cancelled":  # seen cancelled while its create was unresolved
            order = done.order
            message = cancelled_message(order.number, order.submission, done.created.number)
            key = f"order-cancelled:{done.key}"
            with self.ledger.transaction() as conn:
                if report(self.state, conn, done.key, "cancelled", "", message):
                    self.notices.owe(conn, key, f"{order.number} cancelled", message)

    def failed(
        self,
        key: str,
        order: OrdreOrder,
        code: str,
        message: str,
        *,
        hint: str | None = None,
        left_out: tuple[LeftOutLine, ...] = (),
    ) -> None:
        text = message + (f" ({hint})" if hint else "")
        details = text
        if left_out:
            details += "\n" + "\n".join(f"- {line.message}" for line in left_out)
        with self.ledger.transaction() as conn:
            self.ledger.fail(conn, key, text, left_out)
            self.notices.owe(
                conn,
                f"order-failed:{key}",
                f"{order.number} not imported",
                f"ORDRE order {order.number} (submission {order.submission}) was not imported "
                f"into Zedonk:\n{details}\n\nFix the data, then run: "
                f"zedonk-ordre orders retry {key}",
            )
            self.ledger.event(
                conn,
                "error",
                f"order-{code}",
                f"{order.number} (submission {order.submission}) was not imported: {message}",
                key,
                details=[line.message for line in left_out] or None,
            )
        self.state.counts["failed"] += 1
        _orders.crash_point("before_notice")  # test hook: the notice is owed already

    def unreadable_copy(self, row: Mapping[str, Any], exc: Exception) -> None:
        """The ledger's copy of an order cannot be read back: hold it for a person rather than
        stop every pass at it (and never create from a copy we cannot read)."""
        key = row["import_key"]
        message = (
            f"ORDRE order {row['ordre_number']} (submission {row['submission']}): the stored "
            f"copy of the order cannot be read ({type(exc).__name__}: {exc})"
        )
        with self.ledger.transaction() as conn:
            self.ledger.hold_for_attention(conn, key, message)
            self.ledger.event(conn, "error", "order-needs-attention", message, key)
            self.notices.owe(
                conn, f"order-failed:{key}", f"{row['ordre_number']} needs attention", message
            )
        self.state.counts["needs_attention"] += 1

    def needs_attention(self, key: str, order: OrdreOrder, exc: ZedonkOrdreError) -> None:
        with self.ledger.transaction() as conn:
            self.ledger.hold_for_attention(conn, key, exc.message)
            self.ledger.event(conn, "error", "order-needs-attention", exc.message, key)
            self.notices.owe(
                conn,
                f"order-failed:{key}",
                f"{order.number} needs attention",
                f"ORDRE order {order.number} (submission {order.submission}): {exc.message}"
                + (f"\nHint: {exc.hint}" if exc.hint else ""),
            )
        self.state.counts["needs_attention"] += 1

    def held(self, key: str, order: OrdreOrder, reasons: tuple[OrderWarning, ...]) -> None:
        """Held for review (``needs_attention``): nothing was created for the order, and a
        person decides. ``orders retry --accept`` imports it as it is."""
        text = "; ".join(w.message for w in reasons)
        with self.ledger.transaction() as conn:
            self.ledger.hold_for_review(conn, key, text)
            for reason in reasons:
                self.ledger.event(conn, "warning", "order-held", reason.message, key)
            lines = "\n".join(f"- {w.message}" for w in reasons)
            self.notices.owe(
                conn,
                f"order-failed:{key}",
                f"{order.number} held for review",
                f"ORDRE order {order.number} (submission {order.submission}) is held for "
                f"review, not imported into Zedonk:\n{lines}\n\nCorrect it in ORDRE or Zedonk "
                f"and run: zedonk-ordre orders retry {key}\nor, to import it as it is: "
                f"zedonk-ordre orders retry {key} --accept",
            )
        self.state.counts["held"] += 1

    def unresolved(self, key: str, order: OrdreOrder, exc: ZedonkOrdreError) -> None:
        """The create's outcome is unknown: the row is ``unresolved``; Zedonk may hold the
        order, so nothing is sent again before the settle window has passed."""
        with self.ledger.transaction() as conn:
            self.ledger.note_unknown_outcome(conn, key, exc.message)
            self.ledger.event(
                conn,
                "warning",
                "order-outcome-unknown",
                f"{order.number}: Zedonk's answer to the create was lost ({exc.message}); it is "
                "looked up, and not sent again before the settle window has passed",
                key,
            )
        self.state.counts["unresolved"] += 1
        window = timedelta(seconds=self.state.settings.import_.settle_window)
        self.state.wait_until(datetime.now(UTC) + window)

    def waits(self, key: str, until: datetime, *, unresolved: bool) -> None:
        """Row ``key`` waits until ``until``: an ``unresolved`` one for its settle window, a
        pending one for a young ledger's. Nothing is written."""
        self.state.counts["unresolved" if unresolved else "waiting"] += 1
        self.state.wait_until(until)

    def cancelled_before_import(self, key: str) -> None:
        self.ledger.skip(key, "cancelled in ORDRE before it was imported", "cancelled")
        self.state.counts["skipped"] += 1
        self.notices.resolved(f"order-failed:{key}")

    def superseded_before_import(self, key: str, later: int) -> None:
        self.ledger.skip(key, f"superseded by submission {later}", "superseded")
        self.state.counts["skipped"] += 1
        self.notices.resolved(f"order-failed:{key}")

    def back_to_pending(self, key: str, exc: ZedonkOrdreError) -> None:
        self.ledger.back_to_pending(key, exc.message)
        self.state.counts["waiting"] += 1
