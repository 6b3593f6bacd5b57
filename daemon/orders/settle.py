"""Zedonk is the truth for "already created": what a pass reads there before it sends anything,
and the settle window that keeps it from sending again while an order may still show up.

Before the first create of a pass, one paginated read lists the Zedonk orders whose connector
reference starts with ``ordre:`` and that were created since the oldest open row was submitted
in ORDRE (less a day, for the two systems' clocks). Each open row is then decided by what that
read found, whatever the ledger says:

- one Zedonk order carries its reference: the row is confirmed with it, nothing is sent;
- several do: a person must choose (``needs_attention``);
- none, and the row is ``unresolved`` (its create's answer was lost, or the pass that sent it
  died): it is sent again only once the settle window has passed since it was sent, and then
  only after one more lookup by reference finds nothing (``Sender``); until then it waits;
- none, and the row is ``pending``: it is created, unless the ledger is too young to trust a
  miss. Zedonk's search may trail its writes, so a ledger that began less than a settle window
  ago, or that has just found orders nobody had tried in it (it was lost, restored from a
  backup, or another process imports into the same Zedonk), holds its pending rows until a
  settle window has passed: by then every order made before it began shows in the search.
  So does a history that records no create as late as the sent mark beside it (put back from
  a backup taken moments before a create): until a settle window after that create.

The read costs one request per 200 orders listed, once per pass that has open rows, and
nothing when there are none.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from daemon.clients import ZedonkClient
from daemon.core.model import SalesOrder
from daemon.core.ordermap import CONNECTOR_REF_PREFIX, connector_ref
from daemon.store.ledger.truth import moment

if TYPE_CHECKING:
    from daemon.orders.run import PassState

log = logging.getLogger(__name__)

# Zedonk's and ORDRE's clocks may differ: the read reaches back this much further than the
# oldest submission, which costs a few more orders listed, never a missed one.
CLOCK_MARGIN = timedelta(days=1)


class Verdict(Enum):
    FOUND = "found"  # one Zedonk order carries its reference: confirm it
    DOUBLED = "doubled"  # several do: a person must choose
    SETTLING = "settling"  # unresolved, inside its settle window: wait
    HELD = "held"  # pending, and the ledger is too young to trust a miss: wait
    SEND = "send"  # create it (an unresolved one after a last lookup)


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    holders: tuple[SalesOrder, ...] = ()  # the Zedonk orders carrying its reference
    untried: bool = False  # nobody had tried it: found, it was made before this ledger knew
    until: datetime | None = None  # SETTLING, HELD: when it may be sent


class ZedonkView:
    """What Zedonk holds for one pass's open rows, read once (``read``), and the decision for
    each row (``decide``)."""

    def __init__(self, state: PassState, zedonk: ZedonkClient) -> None:
        self.state = state
        self.zedonk = zedonk
        self.window = timedelta(seconds=state.settings.import_.settle_window)
        self.holders: dict[str, list[SalesOrder]] = defaultdict(list)
        self.hold_until: datetime | None = None  # untried rows wait until then
        self.listed = 0  # Zedonk orders the read listed

    def read(self, rows: list[dict[str, Any]]) -> None:
        """List Zedonk's orders that may carry the references of ``rows`` (the open rows),
        then work out until when untried rows wait. Raises ``RemoteError``."""
        ledger = self.state.ledger
        since = ledger.open_since()
        if since is not None:
            orders = self.zedonk.find_sales_orders(
                connector_ref_prefix=CONNECTOR_REF_PREFIX, created_since=since - CLOCK_MARGIN
            )
            for order in orders:
                self.holders[order.connector_ref].append(order)
                self.listed += 1
        self.state.counts["zedonk_listed"] += self.listed
        hold_until = ledger.since() + self.window
        untried_found = sum(
            1
            for row in rows
            if _untried(row) and self.holders.get(connector_ref(row["import_key"]))
        )
        if untried_found:
            record = ledger.note_rebuilt(untried_found, self.window)
            log.warning(
                "ledger rebuilt from Zedonk: %d order(s) found that this history had not "
                "recorded (%d in all); the orders nobody has tried wait until %s",
                untried_found,
                record["found"],
                record["hold_until"],
            )
        mark = ledger.behind_mark()
        if mark is not None and ledger.note_behind(mark, self.window) is not None:
            log.warning(
                "this history does not record the order this state directory sent to Zedonk "
                "at %s (put back from an older backup?); the orders nobody has tried wait a "
                "settle window from then",
                mark.isoformat(),
            )
        behind = ledger.behind_since()
        if behind is not None:
            # an order the directory sent may not show in the search yet: held from the mark,
            # even once a create since has put this history's own latest past it
            hold_until = max(hold_until, behind + self.window)
        rebuilt = ledger.rebuilt()
        if rebuilt is not None:
            # from the last rebuild and today's window, so a window shortened since (say, a
            # typo of 999999d corrected) shortens the hold too
            hold_until = max(hold_until, moment(rebuilt["last_at"]) + self.window)
        self.hold_until = hold_until

    def decide(self, row: dict[str, Any], now: datetime) -> Decision:
        """What to do with open ``row`` at ``now`` (see the module docstring)."""
        holders = tuple(self.holders.get(connector_ref(row["import_key"]), ()))
        if len(holders) > 1:
            return Decision(Verdict.DOUBLED, holders)
        if holders:
            return Decision(Verdict.FOUND, holders, untried=_untried(row))
        if row["state"] in ("unresolved", "sending"):
            until = sent_at(row) + self.window
            if now < until:
                return Decision(Verdict.SETTLING, until=until)
        elif self.hold_until is not None and now < self.hold_until:
            return Decision(Verdict.HELD, until=self.hold_until)
        return Decision(Verdict.SEND)


def sent_at(row: dict[str, Any]) -> datetime:
    """When the create of ``row`` that may have reached Zedonk was sent."""
    return moment(row["sent_at"] or row["updated_at"])


def _untried(row: dict[str, Any]) -> bool:
    return bool(row["state"] == "pending" and row["attempts"] == 0)
