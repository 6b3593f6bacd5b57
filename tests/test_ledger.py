"""The ledger's transitions, each against a real history file: from its legal state, and what
it does from a state it does not move (nothing, or an IntegrityError)."""

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from daemon.core.model import Customer, OrdreOrder, OrdreOrderLine, SalesOrder
from daemon.core.ordercopy import ledger_copy
from daemon.core.ordermap import LeftOutLine
from daemon.store.history import History, utcnow
from daemon.store.ledger import CURSOR_KEY, Ledger, find_import, import_details, list_imports


def order(ordre_id: str = "ord_1", submission: int = 1, *, status: str = "submitted") -> OrdreOrder:
    line = OrdreOrderLine(1, "4006381333931", "Coat", "Navy", "M", 2, Decimal("120.00"))
    return OrdreOrder(
        id=ordre_id,
        number=f"N-{ordre_id}",
        submission=submission,
        status=status,
        po_number="PO-7",
        retailer_name="Shop",
        retailer_account_code=None,
        currency="EUR",
        lines=(line, OrdreOrderLine(2, None, "Coat", "Navy", "L", 1, Decimal("120.00"))),
    )


def left_out(line_no: int = 2) -> LeftOutLine:
    return LeftOutLine(line_no, None, "Coat", "Navy", "L", 1, Decimal("120.00"), "missing", "x")


def sales_order(number: str = "SO-1") -> SalesOrder:
    return SalesOrder(
        season="AW26",
        customer_id="c1",
        order_ref="ref",
        connector_ref="ordre:ord_1#1",
        owner="anna",
        approved=False,
        currency="EUR",
        lines=(),
        id=f"id-{number}",
        number=number,
    )


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    with History.open(tmp_path / "state") as history:
        yield history


@pytest.fixture
def ledger(history: History) -> Ledger:
    return Ledger(history, history.start_run("import", "test"))


def add(ledger: Ledger, o: OrdreOrder, *, skip_reason: str | None = None) -> str:
    payload, fingerprint = ledger_copy(o)
    with ledger.transaction() as conn:
        ledger.add_new(conn, o, payload, fingerprint, at=utcnow(), skip_reason=skip_reason)
    return o.import_key


def row(ledger: Ledger, key: str) -> dict[str, Any]:
    found = ledger.get(key)
    assert found is not None
    return found


def sending(ledger: Ledger, o: OrdreOrder) -> str:
    key = add(ledger, o)
    [claimed] = ledger.claim([key])
    assert claimed["state"] == "pending"
    return key


def set_state(history: History, key: str, state: str, attempts: int = 0) -> None:
    with history.transaction() as conn:
        conn.execute(
            "UPDATE imports SET state = ?, attempts = ? WHERE import_key = ?",
            (state, attempts, key),
        )


# ---------------------------------------------------------------------- intake


def test_add_new_records_a_pending_row_with_the_copy(ledger: Ledger) -> None:
    o = order()
    key = add(ledger, o)
    r = row(ledger, key)
    assert (r["state"], r["attempts"], r["run_id"]) == ("pending", 0, ledger.run_id)
    assert r["connector_ref"] == "ordre:ord_1#1" and r["lines_total"] == 2
    assert (r["payload"], r["payload_sha256"]) == ledger_copy(o)
    skipped = add(ledger, order("ord_2"), skip_reason="created before go-live (2026-01-01)")
    assert row(ledger, skipped)["state"] == "skipped"
    assert row(ledger, skipped)["last_error"] == "created before go-live (2026-01-01)"


def test_a_second_row_for_one_submission_is_refused(ledger: Ledger) -> None:
    add(ledger, order())
    with pytest.raises(sqlite3.IntegrityError):
        add(ledger, order())


def test_supersede_earlier_skips_only_failed_and_unstarted_submissions(
    ledger: Ledger, history: History
) -> None:
    unstarted, failed, tried, imported = (add(ledger, order(submission=n)) for n in (1, 2, 3, 4))
    set_state(history, failed, "failed", 1)
    set_state(history, tried, "pending", 1)
    set_state(history, imported, "created", 1)
    latest = order(submission=5)
    with ledger.transaction() as conn:
        superseded = ledger.supersede_earlier(conn, latest, at=utcnow())
    assert sorted(superseded) == [unstarted, failed]
    assert row(ledger, unstarted)["last_error"] == "superseded by submission 5"
    states = [row(ledger, k)["state"] for k in (unstarted, failed, tried, imported)]
    assert states == ["skipped", "skipped", "pending", "created"]


def test_refresh_unstarted_keeps_the_latest_content(ledger: Ledger) -> None:
    key = add(ledger, order())
    edited = replace(order(), po_number="PO-8", lines=order().lines[:1])
    payload, fingerprint = ledger_copy(edited)
    with ledger.transaction() as conn:
        ledger.refresh_unstarted(conn, edited, payload, fingerprint)
    r = row(ledger, key)
    assert (r["state"], r["po_number"], r["lines_total"]) == ("pending", "PO-8", 1)
    assert r["payload_sha256"] == fingerprint


def test_an_unreadable_order_is_failed_once_and_revived_when_it_reads(ledger: Ledger) -> None:
    with ledger.transaction() as conn:
        assert ledger.add_unreadable(conn, "ord_1#1", {"id": "ord_1"}, "cannot be read")
        assert not ledger.add_unreadable(conn, "ord_1#1", {"id": "ord_1"}, "cannot be read")
    r = row(ledger, "ord_1#1")
    assert (r["state"], r["payload_sha256"], r["ordre_number"]) == ("failed", None, "")
    assert json.loads(r["payload"]) == {"id": "ord_1"}
    o = order()
    payload, fingerprint = ledger_copy(o)
    with ledger.transaction() as conn:
        ledger.revive_unreadable(conn, o, payload, fingerprint)
    r = row(ledger, "ord_1#1")
    assert (r["state"], r["ordre_number"], r["last_error"]) == ("pending", "N-ord_1", None)


def test_note_cancelled_marks_open_copies_and_returns_imported(
    ledger: Ledger, history: History
) -> None:
    unstarted, tried, imported = (add(ledger, order(submission=n)) for n in (3, 2, 1))
    set_state(history, tried, "sending", 1)
    set_state(history, imported, "created", 1)
    with ledger.transaction() as conn:
        found = ledger.note_cancelled(conn, "ord_1")
    assert [r["import_key"] for r in found] == [imported]
    # Nobody tried it here, yet a lost history may have: Zedonk's orders decide, not intake.
    assert row(ledger, unstarted)["state"] == "pending"
    assert json.loads(row(ledger, unstarted)["payload"])["status"] == "cancelled"
    assert row(ledger, tried)["state"] == "sending"
    assert json.loads(row(ledger, tried)["payload"])["status"] == "cancelled"
    assert json.loads(row(ledger, imported)["payload"])["status"] == "submitted"


def test_a_report_is_recorded_once_per_kind_and_fingerprint(ledger: Ledger) -> None:
    key = add(ledger, order())
    with ledger.transaction() as conn:
        assert ledger.report(conn, key, "edited", "abc", "edited")
        assert not ledger.report(conn, key, "edited", "abc", "edited again")
        assert ledger.report(conn, key, "edited", "def", "edited twice")
        assert ledger.report(conn, key, "cancelled", "", "cancelled")
    assert [r["kind"] for r in import_details(ledger.history, key)["reports"]] == [
        "edited",
        "edited",
        "cancelled",
    ]


def test_the_cursor_only_moves_forward(ledger: Ledger, history: History) -> None:
    assert ledger.cursor() is None
    later, earlier = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
    for cursor in (later, earlier):
        with ledger.transaction() as conn:
            ledger.advance_cursor(conn, cursor)
    assert ledger.cursor() == later
    assert history.get_state(CURSOR_KEY) == later.isoformat()


def test_an_intake_commit_is_all_or_nothing(ledger: Ledger, history: History) -> None:
    with pytest.raises(RuntimeError), ledger.transaction() as conn:
        payload, fingerprint = ledger_copy(order())
        ledger.add_new(conn, order(), payload, fingerprint, at=utcnow())
        ledger.advance_cursor(conn, datetime(2026, 3, 1, tzinfo=UTC))
        ledger.event(conn, "info", "order-new", "new", "ord_1#1")
        raise RuntimeError("the process dies before the commit")
    assert ledger.get("ord_1#1") is None and ledger.cursor() is None
    assert history.events(subject="ord_1#1") == []


# ---------------------------------------------------------------------- import


def test_claim_commits_the_intent_for_open_rows_only(ledger: Ledger, history: History) -> None:
    first, second, done, sent = (add(ledger, order(f"ord_{n}")) for n in (1, 2, 3, 4))
    set_state(history, second, "unresolved", 1)  # settled by its window: sent again
    set_state(history, done, "created", 1)
    set_state(history, sent, "sending", 1)  # another pass holds it: never claimed twice
    rows = ledger.claim([second, done, first, sent, "ord_9#1"])
    assert [(r["import_key"], r["state"]) for r in rows] == [
        (second, "unresolved"),
        (first, "pending"),
    ]
    assert [(row(ledger, k)["state"], row(ledger, k)["attempts"]) for k in (first, second)] == [
        ("sending", 1),
        ("sending", 2),
    ]
    assert row(ledger, first)["sent_at"] is not None
    assert row(ledger, done)["state"] == "created" and row(ledger, done)["attempts"] == 1


def test_release_puts_back_the_state_a_row_was_claimed_from(
    ledger: Ledger, history: History
) -> None:
    claimed, unresolved, failed = (add(ledger, order(f"ord_{n}")) for n in (1, 2, 3))
    set_state(history, unresolved, "unresolved", 1)
    with history.transaction() as conn:
        conn.execute("UPDATE imports SET sent_at = 'then' WHERE import_key = ?", (unresolved,))
    before = ledger.claim([claimed, unresolved])
    set_state(history, failed, "failed", 1)
    ledger.release([*before, {"import_key": failed, "state": "pending", "sent_at": None}])
    assert (row(ledger, claimed)["state"], row(ledger, claimed)["attempts"]) == ("pending", 0)
    assert [row(ledger, unresolved)[c] for c in ("state", "attempts", "sent_at")] == [
        "unresolved",
        1,
        "then",
    ]
    assert (row(ledger, failed)["state"], row(ledger, failed)["attempts"]) == ("failed", 1)


def test_a_row_a_dead_pass_left_sending_is_unresolved_from_when_it_was_sent(
    ledger: Ledger, history: History
) -> None:
    key, other = sending(ledger, order("ord_1")), add(ledger, order("ord_2"))
    sent_at = row(ledger, key)["sent_at"]
    assert ledger.note_interrupted() == [key]
    assert [row(ledger, key)[c] for c in ("state", "sent_at")] == ["unresolved", sent_at]
    assert row(ledger, other)["state"] == "pending"
    assert [e["code"] for e in history.events(subject=key)] == ["order-outcome-unknown"]
    assert ledger.note_interrupted() == []


def test_the_ledger_dates_from_its_first_row_or_its_first_look(
    ledger: Ledger, history: History
) -> None:
    add(ledger, order("ord_1"))
    with history.transaction() as conn:
        conn.execute("UPDATE imports SET first_seen_at = '2026-01-02T03:04:05+00:00'")
    assert ledger.since() == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with history.transaction() as conn:
        conn.execute("UPDATE imports SET first_seen_at = '2027-01-01T00:00:00+00:00'")
    assert ledger.since() == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # recorded once


def test_a_rebuild_adds_up_and_holds_from_the_latest(ledger: Ledger, history: History) -> None:
    first = ledger.note_rebuilt(3, timedelta(minutes=2))
    second = ledger.note_rebuilt(2, timedelta(minutes=2))
    assert ledger.rebuilt() == second and second["found"] == 5
    assert second["at"] == first["at"] and second["hold_until"] >= first["hold_until"]
    assert [e["code"] for e in history.events()] == ["ledger-rebuilt", "ledger-rebuilt"]


def test_open_since_is_the_oldest_submission_of_an_open_row(ledger: Ledger) -> None:
    old = replace(order("ord_1"), submitted_at=datetime(2026, 2, 1, tzinfo=UTC))
    new = replace(order("ord_2"), submitted_at=datetime(2026, 3, 1, tzinfo=UTC))
    done = replace(order("ord_3"), submitted_at=datetime(2026, 1, 1, tzinfo=UTC))
    for o in (old, new, done):
        add(ledger, o)
    with ledger.transaction() as conn:
        ledger.confirm(conn, done.import_key, sales_order(), lines_total=1, left_out=())
    assert ledger.open_since() == datetime(2026, 2, 1, tzinfo=UTC)


def test_confirm_records_the_zedonk_order_and_the_lines_left_out(ledger: Ledger) -> None:
    whole, part = sending(ledger, order("ord_1")), sending(ledger, order("ord_2"))
    with ledger.transaction() as conn:
        ledger.confirm(conn, whole, sales_order("SO-1"), lines_total=2, left_out=())
        ledger.confirm(conn, part, sales_order("SO-2"), lines_total=2, left_out=(left_out(),))
    r = row(ledger, whole)
    assert (r["state"], r["zedonk_order_number"], r["customer_id"]) == ("created", "SO-1", "c1")
    assert (r["lines_total"], r["lines_imported"], r["last_error"]) == (2, 0, None)
    assert row(ledger, part)["state"] == "partial"
    assert [x["line_no"] for x in ledger.left_out_lines(part)] == [2]
    assert ledger.left_out_lines(whole) == []


def test_confirming_a_zedonk_order_recorded_for_another_submission_is_refused(
    ledger: Ledger,
) -> None:
    first, second = sending(ledger, order("ord_1")), sending(ledger, order("ord_2"))
    with ledger.transaction() as conn:
        ledger.confirm(conn, first, sales_order("SO-1"), lines_total=2, left_out=())
    with pytest.raises(sqlite3.IntegrityError), ledger.transaction() as conn:
        ledger.confirm(conn, second, sales_order("SO-1"), lines_total=2, left_out=(left_out(),))
    assert row(ledger, second)["state"] == "sending" and ledger.left_out_lines(second) == []


def test_fail_hold_and_unknown_outcome(ledger: Ledger) -> None:
    failed, held, unknown = (sending(ledger, order(f"ord_{n}")) for n in (1, 2, 3))
    with ledger.transaction() as conn:
        ledger.fail(conn, failed, "no line matched", (left_out(1), left_out(2)))
        ledger.hold_for_attention(conn, held, "two Zedonk orders carry it")
        ledger.note_unknown_outcome(conn, unknown, "the answer was lost")
    assert (row(ledger, failed)["state"], row(ledger, failed)["last_error"]) == (
        "failed",
        "no line matched",
    )
    assert [x["line_no"] for x in ledger.left_out_lines(failed)] == [1, 2]
    assert row(ledger, held)["state"] == "needs_attention"
    assert (row(ledger, unknown)["state"], row(ledger, unknown)["last_error"]) == (
        "unresolved",
        "the answer was lost",
    )


def test_skip_and_back_to_pending(ledger: Ledger, history: History) -> None:
    skipped, refused, done = (sending(ledger, order(f"ord_{n}")) for n in (1, 2, 3))
    set_state(history, done, "created", 1)
    ledger.skip(skipped, "cancelled in ORDRE before it was imported", "cancelled")
    ledger.back_to_pending(refused, "Zedonk is busy")
    ledger.back_to_pending(done, "Zedonk is busy")  # only a sending row goes back
    assert (row(ledger, skipped)["state"], row(ledger, skipped)["skipped_for"]) == (
        "skipped",
        "cancelled",
    )
    assert [row(ledger, refused)[c] for c in ("state", "attempts", "last_error")] == [
        "pending",
        1,
        "Zedonk is busy",
    ]
    assert (row(ledger, done)["state"], row(ledger, done)["last_error"]) == ("created", None)


def test_open_rows_in_the_order_first_seen(ledger: Ledger, history: History) -> None:
    keys = [add(ledger, order(f"ord_{n}")) for n in (3, 1, 2)]
    set_state(history, keys[1], "failed")
    assert ledger.open_keys() == [keys[0], keys[2]]
    assert ledger.count_open() == 2 and ledger.count_settled() == 1
    assert ledger.count_by_state() == {"pending": 2, "failed": 1}


# ---------------------------------------------------------------------- customers


def test_a_customer_intent_is_committed_once_and_created_once(
    ledger: Ledger, history: History
) -> None:
    wanted = Customer("", "Shop", "SHOP", active=True, currency="EUR")
    assert not ledger.customer_intent("shop", wanted, "ord_1#1")
    assert ledger.customer_intent("shop", wanted, "ord_2#1")  # tried before: look it up
    with ledger.transaction() as conn:
        ledger.customer_created(conn, "shop", "c42")
    [made] = history.query("SELECT * FROM customer_creations")
    assert (made["state"], made["attempts"], made["import_key"]) == ("created", 2, "ord_1#1")
    assert ledger.customers_created_for("ord_1#1") == [{"name": "Shop", "customer_id": "c42"}]


# ---------------------------------------------------------------------- re-submissions and retry


def test_a_resubmission_is_linked_then_marked_inactivated(ledger: Ledger) -> None:
    first, second = sending(ledger, order(submission=1)), sending(ledger, order(submission=2))
    with ledger.transaction() as conn:
        ledger.confirm(conn, first, sales_order("SO-1"), lines_total=2, left_out=())
        ledger.confirm(conn, second, sales_order("SO-2"), lines_total=2, left_out=())
    assert [r["import_key"] for r in ledger.resubmissions()] == [second]
    previous = ledger.previous_import("ord_1", 2)
    assert previous is not None and previous["import_key"] == first
    with ledger.transaction() as conn:
        ledger.link_previous(conn, second, first)
    assert [r["previous_import_key"] for r in ledger.resubmissions()] == [first]
    with ledger.transaction() as conn:
        ledger.mark_inactivated(conn, second)
    assert ledger.resubmissions() == []
    assert ledger.previous_import("ord_1", 1) is None


def test_reopen_for_retry_keeps_a_sending_row_sending(ledger: Ledger) -> None:
    failed, interrupted = sending(ledger, order("ord_1")), sending(ledger, order("ord_2"))
    with ledger.transaction() as conn:
        ledger.fail(conn, failed, "bad barcode")
    for key in (failed, interrupted):
        payload, fingerprint = ledger_copy(order(key.partition("#")[0]))
        with ledger.transaction() as conn:
            ledger.reopen_for_retry(conn, key, payload, fingerprint)
    assert row(ledger, failed)["state"] == "pending"
    assert row(ledger, interrupted)["state"] == "sending"


# ---------------------------------------------------------------------- readers


def test_the_readers(ledger: Ledger, history: History) -> None:
    first, second = sending(ledger, order(submission=1)), add(ledger, order(submission=2))
    with ledger.transaction() as conn:
        ledger.fail(conn, first, "bad barcode")
        ledger.event(conn, "error", "order-unknown", "bad barcode", first)
    assert [r["import_key"] for r in list_imports(history, states=("attention",))] == [first]
    assert {r["import_key"] for r in list_imports(history)} == {first, second}
    assert find_import(history, "N-ord_1") == second  # the latest submission
    assert find_import(history, first) == first and find_import(history, "nope") is None
    details = import_details(history, first)
    assert details["order"]["id"] == "ord_1" and "payload" not in details
    assert [e["code"] for e in details["events"]] == ["order-unknown"]
    assert [s["import_key"] for s in details["other_submissions"]] == [second]
    assert ledger.outcome(first) == {"state": "failed", "last_error": "bad barcode"}
    assert [r["import_key"] for r in ledger.recent(("failed",), limit=5)] == [first]
    assert len(ledger.recent(limit=5)) == 2
    assert [r["state"] for r in ledger.summaries(("pending", "sending"), limit=5)] == ["pending"]
    assert [r["import_key"] for r in ledger.in_order_seen()] == [first, second]
    assert ledger.count_left_out() == 0
