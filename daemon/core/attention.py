"""The "needs a person" inbox: what is wrong, who must act, and the exact fix (pure).

One ``AttentionItem`` per problem a person must act on, worded by ``attentionitems`` from
the history's rows (``daemon.store.attention`` reads them): orders that failed, were held or
imported only in part, creates whose outcome is unknown, earlier Zedonk orders to inactivate
after a re-submission, edits and cancellations after import, products held back from ORDRE or
shown there without a main image or a price, an invalid catalogue and a plan a guard refused.

Each item has a stable ``id`` (the same on every pass while the problem lasts, so a person can
acknowledge it), says who must act (``ORDRE``, ``Zedonk`` or ``catalogue``) and the exact command
or place that fixes it. Items leave the inbox when the problem clears. Some fixes happen where
the connector cannot see them (a line added to a Zedonk order by hand, an edit carried over):
those items are *tasks*, and acknowledging one says it is done; it stays listed, acknowledged,
for ``TASK_ACK_SHOWN`` and then leaves. An acknowledged problem stays listed, marked, until it
clears. Acknowledged items are not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from daemon.core.words import plural

ATTENTION_VERSION = 1  # format_version of `attention --format json`
Who = Literal["ORDRE", "Zedonk", "catalogue"]

# Every kind, most urgent first: the inbox is ordered by it, then by age.
KINDS = (
    "invalid_catalogue",  # the daemon applies nothing until the files are fixed
    "guard_refused",  # a plan a delete or update guard refused: nothing applied
    "failed_order",  # not in Zedonk: a retailer's order is waiting
    "held_order",  # held for review or for a person's choice: not in Zedonk
    "unresolved_create",  # a create whose outcome is unknown
    "partial_order",  # in Zedonk without some of its lines
    "inactivate_earlier",  # two Zedonk orders for one ORDRE order
    "doubled_order",  # one submission on several active Zedonk orders (the audit)
    "cancelled_after_import",
    "changed_after_import",
    "resubmitted_after_go_live",  # check for an earlier order keyed in by hand
    "held_back_product",  # not on ORDRE
    "incomplete_product",  # on ORDRE without a main image or a price
)
# Fixed where the connector cannot see it: acknowledging one says it is done.
TASKS = frozenset(
    {
        "partial_order",
        "inactivate_earlier",
        "cancelled_after_import",
        "changed_after_import",
        "resubmitted_after_go_live",
    }
)
TASK_ACK_SHOWN = timedelta(days=7)  # an acknowledged task is listed this long, then leaves


@dataclass(frozen=True)
class Ack:
    """A person's acknowledgement of an item: their ``note``, who (``by``) and when (``at``,
    RFC 3339 UTC)."""

    note: str
    by: str
    at: str

    def as_json(self) -> dict[str, str]:
        return {"note": self.note, "by": self.by, "at": self.at}


@dataclass(frozen=True)
class AttentionItem:
    """One thing a person must act on.

    ``id``: stable while the problem lasts (``order:ORD-1:partial``, ``product:ML-1/W/N:
    held-back``, ``catalogue:invalid``). ``kind``: one of ``KINDS``. ``subject``: the order
    number, product id or file it is about. ``what``: what is wrong, one sentence. ``who``:
    who must act. ``fix``: the exact command or place. ``since``: when the problem began
    (RFC 3339 UTC). ``details``: lines that say more (left-out lines with their reasons, the
    catalogue's errors). ``acked``: the acknowledgement, if any. ``link``: what the console
    links to, ``{"order": number}``, ``{"product": id}`` or ``{"run": id}``."""

    id: str
    kind: str
    subject: str
    what: str
    who: Who
    fix: str
    since: str
    details: tuple[str, ...] = ()
    acked: Ack | None = None
    link: Mapping[str, str | int] = field(default_factory=dict)

    @property
    def is_task(self) -> bool:
        return self.kind in TASKS

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "what": self.what,
            "who": self.who,
            "fix": self.fix,
            "since": self.since,
            "details": list(self.details),
            "acked": self.acked.as_json() if self.acked else None,
            "link": dict(self.link),
        }


@dataclass(frozen=True)
class Inbox:
    """The items, most urgent first; ``open`` counts those not acknowledged."""

    items: tuple[AttentionItem, ...]

    @property
    def open(self) -> tuple[AttentionItem, ...]:
        return tuple(item for item in self.items if item.acked is None)

    @property
    def acknowledged(self) -> tuple[AttentionItem, ...]:
        return tuple(item for item in self.items if item.acked is not None)

    def find(self, item_id: str) -> AttentionItem | None:
        return next((item for item in self.items if item.id == item_id), None)

    def counts(self) -> dict[str, Any]:
        """``{"open": n, "acknowledged": n, "by_kind": {kind: open n}}``: the numbers ``status``
        shows."""
        by_kind: dict[str, int] = {}
        for item in self.open:
            by_kind[item.kind] = by_kind.get(item.kind, 0) + 1
        return {"open": len(self.open), "acknowledged": len(self.acknowledged), "by_kind": by_kind}

    def as_json(self) -> dict[str, Any]:
        """The document ``attention --format json`` prints (schemas/output/attention)."""
        return {
            "format_version": ATTENTION_VERSION,
            **self.counts(),
            "items": [item.as_json() for item in self.items],
        }

    def summary(self) -> str:
        """One line: ``3 items need a person (1 acknowledged)``."""
        line = f"{plural(len(self.open), 'item')} need{'s' if len(self.open) == 1 else ''} a person"
        if self.acknowledged:
            line += f" ({len(self.acknowledged)} acknowledged)"
        return line


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def _rank(item: AttentionItem) -> tuple[int, int, str, str]:
    return (item.acked is not None, KINDS.index(item.kind), item.since, item.id)


def gather_inbox(
    items: Iterable[AttentionItem], acks: Mapping[str, Ack], *, now: datetime
) -> Inbox:
    """The inbox of ``items`` with the acknowledgements in ``acks`` (by item id), at ``now``
    (aware). An acknowledgement covers an item when it was made after the item's problem
    began; an acknowledged task older than ``TASK_ACK_SHOWN`` leaves the list. Open items
    come first, most urgent kind first, then oldest first."""
    kept: list[AttentionItem] = []
    for item in items:
        ack = acks.get(item.id)
        if ack is not None and _parse(ack.at) >= _parse(item.since):
            if item.is_task and now - _parse(ack.at) > TASK_ACK_SHOWN:
                continue
            item = AttentionItem(**{**item.__dict__, "acked": ack})
        kept.append(item)
    return Inbox(tuple(sorted(kept, key=_rank)))


# --------------------------------------------------------------------------- for people


def _when(stamp: str) -> str:
    return stamp[:16].replace("T", " ") + " UTC"


def text_lines(inbox: Inbox) -> list[str]:
    """The inbox for a terminal: each open item in full (who, id, since, what, details, fix),
    then the acknowledged ones with their notes."""
    lines = [inbox.summary() + ("." if inbox.items else "; nothing to do.")]
    for item in inbox.open:
        lines += ["", f"[{item.who}] {item.id}  (since {_when(item.since)})", f"  {item.what}"]
        lines += [f"  - {detail}" for detail in item.details]
        lines.append(f"  fix: {item.fix}")
    if inbox.acknowledged:
        lines += ["", "Acknowledged:"]
        for item in inbox.acknowledged:
            assert item.acked is not None
            ack = item.acked
            lines.append(f"  {item.id}: {item.what}")
            lines.append(f"    acknowledged by {ack.by} at {_when(ack.at)}: {ack.note}")
    return lines


def brief_lines(inbox: Inbox, *, limit: int = 10) -> list[str]:
    """At most ``limit`` open items, one line each (who, what, the fix), and how many more:
    the head of a notice digest."""
    lines = [f"- [{item.who}] {item.what}. Fix: {item.fix}" for item in inbox.open[:limit]]
    more = len(inbox.open) - limit
    if more > 0:
        lines.append(f"... and {more} more: `zedonk-ordre attention` lists them all")
    return lines
