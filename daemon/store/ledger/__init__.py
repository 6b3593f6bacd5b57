"""The exactly-once ledger of the order import: every statement on ``imports``,
``customer_creations``, ``import_reports`` and ``import_lines`` (the schema is in history.py).

One ``imports`` row per ORDRE order submission, keyed by ``id#submission``. Its ``state`` moves
only through the methods below; the import commits the intent (``claim``) before it creates
the Zedonk order, so a crash at any point leaves a row the next pass can finish without a
second create. The ledger is a cache of what Zedonk holds, not the truth: each pass reads
Zedonk's orders for its open rows before it sends anything (``daemon.orders.send``).

=====================  ================  ========================  ================================
from                   to                method                    when
=====================  ================  ========================  ================================
(no row)               pending           ``add_new``               intake meets a new submission
(no row)               skipped           ``add_new``               ... submitted before go-live, in
                                                                   a status not imported, or
                                                                   cancelled before go-live
                                                                   (``skipped_for`` says which)
(no row)               failed            ``add_unreadable``        ORDRE sent it unreadable
pending, attempts 0    pending           ``refresh_unstarted``     edited before its import began
failed, no copy        pending           ``revive_unreadable``     it reads now
failed; held           pending           ``revive_failed``         the retailer changed it in ORDRE
skipped (status)       pending           ``revive_skipped``        its status is imported now
skipped                skipped           ``reskip``                seen again, still not importable
failed; pending,       skipped           ``supersede_earlier``     a later submission of the order
attempts 0                                                         arrives
skipped (status)       skipped           ``note_cancelled``        cancelled in ORDRE
sending                unresolved        ``note_interrupted``      at the start of a pass: the pass
                                                                   that sent it died before it
                                                                   recorded the outcome
pending, unresolved    sending           ``claim``                 the intent, committed before the
                                                                   create (attempts + 1, sent_at);
                                                                   an unresolved row only once its
                                                                   settle window has passed and the
                                                                   lookups found nothing
sending                pending,          ``release``               claimed, never sent: the pass
                       unresolved                                  stopped (back to the state it
                                                                   was claimed from, attempts - 1)
pending, sending,      created, partial  ``confirm``               Zedonk holds the order (made now,
unresolved                                                         found by the pass's bulk read of
                                                                   Zedonk's orders, or by lookup);
                                                                   partial: lines left out
sending                failed            ``fail``                  unmappable, or Zedonk refused it
                                                                   (a 4xx about the order's data)
pending, sending,      needs_attention   ``hold_for_attention``    a person must decide: several
unresolved                                                         Zedonk orders carry it, the
                                                                   ledger refused the Zedonk order,
                                                                   or the copy cannot be read
sending                needs_attention   ``hold_for_review``       held for review (currency, 0.00
                       (held)                                      price, a look-alike customer
                                                                   name): ``last_error`` starts
                                                                   with ``HELD``
sending                unresolved        ``note_unknown_outcome``  the create's answer was lost:
                                                                   Zedonk may hold it; nothing is
                                                                   sent again within the window
pending, sending,       skipped           ``skip``                  cancelled, and Zedonk's orders
unresolved                                                         (the pass's read, a lookup)
                                                                   hold none for it; or tried,
                                                                   settled as not in Zedonk, and
                                                                   a later submission arrived
sending                pending           ``back_to_pending``       a remote refused before it
                                                                   processed the create
any but created,       pending (sending  ``reopen_for_retry``      ``orders retry`` (``--accept``
partial                and unresolved                              sets ``review_accepted``)
                       stay)
=====================  ================  ========================  ================================

``note_cancelled`` also marks the copy of the open submissions as cancelled (they keep their
state: what Zedonk holds decides). ``release``, ``back_to_pending``, ``claim``,
``note_cancelled``, ``supersede_earlier``, ``revive_failed``, ``revive_skipped`` and ``reskip``
check the from-state themselves: on a row in another state they do nothing. The others trust
their caller, which read the row in the same transaction (intake, retry) or holds its claim
(one pass at a time holds the orders lock); a
``confirm`` that would record a Zedonk order already recorded for another submission raises
``sqlite3.IntegrityError`` (the UNIQUE constraint is the last guard against a doubled import).

Besides ``state``: ``link_previous``, ``mark_inactivated`` and ``inactivation_refused`` follow a
re-submission's earlier Zedonk order (not before every earlier create has settled:
``earlier_in_doubt``); ``report`` records an edit or a cancellation once;
``customer_intent`` (no row → pending, committed before the create) and ``customer_created``
(→ created) make a new Zedonk customer exactly once; ``advance_cursor`` moves the listing
cursor forward only.

Methods taking ``conn`` write inside the caller's open ``transaction()``, so that what one
commit holds today stays one commit: intake commits its rows, reports, the cursor and the owed
notices together; a confirm commits the row, its left-out lines, its events and its owed notice
together. The others are one transaction each.

The methods live in four parts, by who calls them: ``intake`` (``IntakeTransitions``),
``claims`` (``ImportTransitions``: the claim, the outcomes, customers, re-submissions, retry),
``truth`` (``ZedonkTruth``: the rows a pass checks against Zedonk, the rows a dead pass left
``sending``, the ledger's age, a rebuild from Zedonk's orders and the last audit) and
``reports`` (``LedgerReports``: the read-only queries); ``Ledger`` is all four.
"""

from __future__ import annotations

from daemon.store.ledger.base import ATTENTION, CURSOR_KEY, DONE_STATES, HELD, OPEN_STATES
from daemon.store.ledger.claims import ImportTransitions
from daemon.store.ledger.intake import IntakeTransitions
from daemon.store.ledger.reports import LedgerReports, find_import, import_details, list_imports
from daemon.store.ledger.truth import ZedonkTruth

__all__ = [
    "ATTENTION",
    "CURSOR_KEY",
    "DONE_STATES",
    "HELD",
    "OPEN_STATES",
    "Ledger",
    "find_import",
    "import_details",
    "list_imports",
]


class Ledger(IntakeTransitions, ImportTransitions, ZedonkTruth, LedgerReports):
    """The ledger in ``history``: every transition and query above. ``run_id``: the import pass
    whose writes these are, recorded on the rows it adds, claims or confirms and on its events
    (None for a reader)."""
