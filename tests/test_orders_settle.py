"""Exactly once against a Zedonk whose search lags behind its writes: lost create answers with
an immediate re-run and under the daemon, a state directory deleted mid-import, and the
audit of duplicates. Real ``zedonk-ordre`` processes against the sandboxes on loopback.

Every count of Zedonk orders here is what Zedonk holds (``orders_per_ref``, the sandbox's
admin view), never its lagging search.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orders_support
import pytest
from orders_support import (
    CLI,
    barcodes,
    established,
    ledger,
    orders_per_ref,
    run_cli,
    submit,
    write_connector,
)

from daemon.clients import ZedonkClient
from daemon.sandbox import SandboxPair
from daemon.store.history import History
from daemon.tree.settings import Settings, load_settings

sandboxes, pair = orders_support.sandboxes, orders_support.pair  # fixtures

CREATE = "/api/v1/sales-orders"
OPEN = ("pending", "sending", "unresolved")  # the states a pass still works on
ORDERS, LOST = 10, 4  # submissions per lag case, and how many create answers are lost


def lose_answers(pair: SandboxPair, keys: list[str]) -> None:
    """Zedonk stores the create of each of ``keys`` and drops its answer."""
    pair.zedonk.set_faults(
        rules=[
            {"method": "POST", "path_prefix": CREATE, "body_contains": f"ordre:{key}",
             "times": 1, "action": "lose_response"}
            for key in keys
        ]
    )  # fmt: skip


def creates(pair: SandboxPair) -> int:
    """The sales-order creates the connector has sent."""
    return sum(1 for r in pair.zedonk.requests() if r["method"] == "POST" and r["path"] == CREATE)


def at_most_once(pair: SandboxPair) -> None:
    doubled = {ref: n for ref, n in orders_per_ref(pair).items() if n > 1}
    assert not doubled, doubled


def submissions(pair: SandboxPair, count: int) -> list[str]:
    return [
        f"{submit(pair, [{'barcode': code, 'quantity': 1}])['id']}#1"
        for code in barcodes(pair, count)
    ]


def until(check: Callable[[], bool], timeout: float, step: Callable[[], None]) -> None:
    """Call ``step`` until ``check`` holds, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not settled in time"
        step()


# ---------------------------------------------------------------------- an immediate re-run


def rerun_at_once(tmp_path: Path, pair: SandboxPair, lag: float) -> None:
    settings = write_connector(tmp_path, pair, settle_window=f"{lag + 2}s")
    established(settings)
    keys = submissions(pair, ORDERS)
    pair.zedonk.set_search_lag(lag)
    lose_answers(pair, keys[:LOST])

    first = run_cli(settings, "orders", "import", "--once")
    assert first.returncode == 3, first.stdout + first.stderr
    assert f"{LOST} unresolved" in first.stdout, first.stdout
    assert orders_per_ref(pair) == {f"ordre:{k}": 1 for k in keys}  # Zedonk stored them all

    # At once: the search may not show the orders yet, and nothing may be sent again.
    again = run_cli(settings, "orders", "import", "--once")
    assert again.returncode in (0, 3), again.stdout + again.stderr
    assert creates(pair) == ORDERS, again.stdout
    at_most_once(pair)

    def rerun() -> None:
        done = run_cli(settings, "orders", "import", "--once")
        assert done.returncode in (0, 3), done.stdout + done.stderr
        at_most_once(pair)
        time.sleep(0.3)

    until(lambda: {r["state"] for r in ledger(settings).values()} == {"created"}, 60, rerun)
    assert orders_per_ref(pair) == {f"ordre:{k}": 1 for k in keys}
    assert creates(pair) == ORDERS  # nothing was sent twice


@pytest.mark.timeout(180)
@pytest.mark.parametrize("lag", [1, 3, 5])
def test_lost_creates_and_an_immediate_rerun_make_one_order_each(
    tmp_path: Path, pair: SandboxPair, lag: float
) -> None:
    rerun_at_once(tmp_path, pair, lag)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_lost_creates_and_an_immediate_rerun_with_a_30s_search_lag(
    tmp_path: Path, pair: SandboxPair, request: pytest.FixtureRequest
) -> None:
    if "slow" not in request.config.getoption("markexpr"):
        pytest.skip("a long run: select it with -m slow")
    rerun_at_once(tmp_path, pair, 30)


def test_an_unresolved_order_is_shown_as_needing_attention(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair, settle_window="1h")
    established(settings)
    [key] = submissions(pair, 1)
    pair.zedonk.set_search_lag(30)
    lose_answers(pair, [key])
    done = run_cli(settings, "orders", "import", "--once")
    assert done.returncode == 3
    assert "a pass from" in done.stdout and "settles them" in done.stdout, done.stdout
    status = run_cli(settings, "status", "--format", "json")
    doc = json.loads(status.stdout)
    assert [(o["import_key"], o["state"]) for o in doc["orders"]["needs_attention"]] == [
        (key, "unresolved")
    ]
    listed = run_cli(settings, "orders", "list", "--status", "attention")
    assert key in listed.stdout and "unresolved" in listed.stdout


# ---------------------------------------------------------------------- the daemon


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def for_the_daemon(settings: Settings, poll: str = "2s") -> Settings:
    """The connector with the daemon's timings; an empty catalogue that prunes nothing."""
    path = settings.root / "connector.yaml"
    text = path.read_text().replace(
        "daemon:\n",
        f"daemon:\n  poll_interval: {poll}\n  reconcile_interval: 1h\n"
        f"  status_listen: 127.0.0.1:{free_port()}\n",
    )
    path.write_text(text + "catalogue:\n  prune: false\n")
    (settings.root / "catalogue").mkdir(exist_ok=True)
    return load_settings(settings.root)


def start_daemon(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [*CLI, "run", "--root", str(settings.root)], stdout=out, stderr=subprocess.STDOUT
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def under_the_daemon(tmp_path: Path, pair: SandboxPair, lag: float) -> None:
    settings = for_the_daemon(write_connector(tmp_path, pair, settle_window=f"{lag + 2}s"))
    established(settings)
    pair.zedonk.set_search_lag(lag)
    keys = submissions(pair, ORDERS)
    lose_answers(pair, keys[:LOST])
    proc = start_daemon(settings, tmp_path / "daemon.log")
    try:

        def watch() -> None:
            assert proc.poll() is None, (tmp_path / "daemon.log").read_text()
            at_most_once(pair)  # at every moment, not only at the end
            time.sleep(0.2)

        until(
            lambda: (
                {r["state"] for r in ledger(settings).values()} == {"created"}
                and len(ledger(settings)) == ORDERS
            ),
            lag + 60,
            watch,
        )
    finally:
        stop(proc)
    assert orders_per_ref(pair) == {f"ordre:{k}": 1 for k in keys}
    assert creates(pair) == ORDERS


@pytest.mark.timeout(180)
@pytest.mark.parametrize("lag", [1, 3, 5])
def test_lost_creates_under_the_daemon_at_a_2s_poll_make_one_order_each(
    tmp_path: Path, pair: SandboxPair, lag: float
) -> None:
    under_the_daemon(tmp_path, pair, lag)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_lost_creates_under_the_daemon_with_a_30s_search_lag(
    tmp_path: Path, pair: SandboxPair, request: pytest.FixtureRequest
) -> None:
    if "slow" not in request.config.getoption("markexpr"):
        pytest.skip("a long run: select it with -m slow")
    under_the_daemon(tmp_path, pair, 30)


# ---------------------------------------------------------------------- a lost state directory


def kill_when(proc: subprocess.Popen[str], check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert proc.poll() is None and time.monotonic() < deadline, "the pass ended first"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


@pytest.mark.timeout(300)
def test_a_state_directory_deleted_mid_import_loses_and_doubles_nothing(
    tmp_path: Path, pair: SandboxPair
) -> None:
    """200 orders; the pass is killed mid-way with creates in flight and answers lost; the
    state directory is deleted; passes over a new, empty history finish the job."""
    settings = write_connector(tmp_path, pair, settle_window="3s")
    established(settings)
    codes = barcodes(pair, 20)
    keys = [
        f"{submit(pair, [{'barcode': codes[i % len(codes)], 'quantity': 1}])['id']}#1"
        for i in range(200)
    ]
    pair.zedonk.set_search_lag(1)
    pair.zedonk.set_faults(
        seed=7,
        rules=[
            {"method": "POST", "path_prefix": CREATE, "rate": 0.1, "action": "lose_response"},
            {"method": "POST", "path_prefix": CREATE, "action": "delay", "ms": 15},
        ],
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with subprocess.Popen(
        [*CLI, "orders", "import", "--once", "--root", str(settings.root)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as killed:
        kill_when(killed, lambda: len(pair.zedonk.sales_orders()) >= 90, 120)
    made_before = len(pair.zedonk.sales_orders())
    assert 90 <= made_before < 200
    shutil.rmtree(settings.state_dir)
    pair.zedonk.clear_faults()

    def rerun() -> None:
        done = run_cli(settings, "orders", "import", "--once")
        assert done.returncode in (0, 3), done.stdout + done.stderr
        at_most_once(pair)
        time.sleep(0.3)

    first = run_cli(settings, "orders", "import", "--once")  # a new history: it waits
    assert first.returncode == 3, first.stdout + first.stderr
    assert "found in Zedonk already" in first.stdout, first.stdout
    until(lambda: {r["state"] for r in ledger(settings).values()} == {"created"}, 90, rerun)
    assert orders_per_ref(pair) == {f"ordre:{k}": 1 for k in keys}  # 0 doubled, 0 lost
    status = run_cli(settings, "status")
    assert "ledger rebuilt from Zedonk:" in status.stdout, status.stdout
    with History.open(settings.state_dir, read_only=True) as history:
        found = history.get_state("orders.rebuilt")["found"]
    assert found >= made_before - 5  # the ones in flight at the kill may be created now


def test_a_new_history_holds_its_orders_for_a_settle_window(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair, settle_window="2s")
    [key] = submissions(pair, 1)
    held = run_cli(settings, "orders", "import", "--once")
    assert held.returncode == 3 and "1 waiting" in held.stdout, held.stdout
    assert orders_per_ref(pair) == {}
    time.sleep(2.2)
    done = run_cli(settings, "orders", "import", "--once")
    assert done.returncode == 0, done.stdout
    assert orders_per_ref(pair) == {f"ordre:{key}": 1}


def test_the_window_of_a_new_history_runs_from_its_first_pass_not_its_first_order(
    tmp_path: Path, pair: SandboxPair
) -> None:
    """A daemon that has polled for longer than a settle window imports the first order it
    sees at once: its history began to watch Zedonk at its first pass, order or not."""
    settings = write_connector(tmp_path, pair, settle_window="2s")
    idle = run_cli(settings, "orders", "import", "--once")
    assert idle.returncode == 0, idle.stdout + idle.stderr
    time.sleep(2.2)
    [key] = submissions(pair, 1)
    done = run_cli(settings, "orders", "import", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    assert orders_per_ref(pair) == {f"ordre:{key}": 1}


def test_a_rebuilt_ledger_holds_for_the_settle_window_in_force_now(
    tmp_path: Path, pair: SandboxPair
) -> None:
    """The hold after a rebuild is worked out from the window set now: a window shortened
    since (a typo of 1h corrected to 1s) shortens the hold, and the wait names its date."""
    settings = write_connector(tmp_path, pair)
    established(settings)
    [imported] = submissions(pair, 1)
    assert run_cli(settings, "orders", "import", "--once").returncode == 0
    shutil.rmtree(settings.state_dir)  # the history is lost
    [waiting] = submissions(pair, 1)
    settings = write_connector(tmp_path, pair, settle_window="1h")
    held = run_cli(settings, "orders", "import", "--once")
    assert held.returncode == 3 and "1 waiting" in held.stdout, held.stdout
    assert re.search(r"a pass from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC on", held.stdout)
    settings = write_connector(tmp_path, pair, settle_window="1s")
    time.sleep(1.2)
    done = run_cli(settings, "orders", "import", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    assert orders_per_ref(pair) == {f"ordre:{imported}": 1, f"ordre:{waiting}": 1}


def put_back(settings: Settings, backup: Path) -> None:
    """Restore ``backup`` over the history, as SQLite's backup API does it."""
    with sqlite3.connect(backup) as source, sqlite3.connect(history_file(settings)) as target:
        source.backup(target)


def history_file(settings: Settings) -> Path:
    return settings.state_dir / "history.sqlite"


def test_a_history_put_back_from_a_backup_taken_just_before_a_create_does_not_double_it(
    tmp_path: Path, pair: SandboxPair
) -> None:
    """The backup was taken moments before the last create, and put back while Zedonk's
    search does not show that create yet: nothing in the history or the search tells it was
    sent, but the mark beside the history does, and the order waits a settle window."""
    settings = write_connector(tmp_path, pair, settle_window="4s")
    established(settings)
    assert run_cli(settings, "orders", "import", "--once").returncode == 0
    backup = tmp_path / "backup.sqlite"
    with sqlite3.connect(history_file(settings)) as source, sqlite3.connect(backup) as target:
        source.backup(target)
    pair.zedonk.set_search_lag(2.5)
    [key] = submissions(pair, 1)
    assert run_cli(settings, "orders", "import", "--once").returncode == 0
    assert orders_per_ref(pair) == {f"ordre:{key}": 1}
    put_back(settings, backup)
    held = run_cli(settings, "orders", "import", "--once")
    assert held.returncode == 3 and "1 waiting" in held.stdout, held.stdout + held.stderr
    assert orders_per_ref(pair) == {f"ordre:{key}": 1}
    with History.open(settings.state_dir) as history:
        [event] = history.query("SELECT message FROM events WHERE code = 'ledger-behind'")
    assert "put back from an older backup" in event["message"]
    time.sleep(4.2)  # the window after the create: the search shows it now
    done = run_cli(settings, "orders", "import", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    assert orders_per_ref(pair) == {f"ordre:{key}": 1}
    assert ledger(settings)[key]["state"] == "created"


def test_the_hold_of_a_history_put_back_lasts_past_a_create_made_since(
    tmp_path: Path, pair: SandboxPair
) -> None:
    """Put back behind its mark, a history sends an order whose create was in doubt first (its
    own latest create then passes the mark): the order the search still hides waits all the
    same, until a settle window after the mark."""
    settings = write_connector(tmp_path, pair, settle_window="6s")
    established(settings)
    [doubted] = submissions(pair, 1)
    drop = {"method": "POST", "path_prefix": CREATE, "body_contains": f"ordre:{doubted}",
            "times": 1, "action": "drop"}  # fmt: skip
    pair.zedonk.set_faults(rules=[drop])
    run_cli(settings, "orders", "import", "--once")
    started = time.monotonic()  # the doubted create was sent just before
    assert ledger(settings)[doubted]["state"] == "unresolved"
    backup = tmp_path / "backup.sqlite"
    with sqlite3.connect(history_file(settings)) as source, sqlite3.connect(backup) as target:
        source.backup(target)
    time.sleep(3)
    pair.zedonk.set_search_lag(5.5)
    [hidden] = submissions(pair, 1)
    imported = run_cli(settings, "orders", "import", "--once")
    assert "1 imported" in imported.stdout, imported.stdout + imported.stderr
    marked = time.monotonic()
    put_back(settings, backup)
    time.sleep(max(0.0, started + 6.3 - time.monotonic()))  # the doubted row's window is over
    for _ in range(2):  # the first sends the doubted order; neither sends the hidden one
        held = run_cli(settings, "orders", "import", "--once")
        assert "1 waiting" in held.stdout, held.stdout + held.stderr
    assert orders_per_ref(pair) == {f"ordre:{doubted}": 1, f"ordre:{hidden}": 1}
    time.sleep(max(0.0, marked + 6.3 - time.monotonic()))
    done = run_cli(settings, "orders", "import", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    assert orders_per_ref(pair) == {f"ordre:{doubted}": 1, f"ordre:{hidden}": 1}


@pytest.mark.parametrize(
    ("mark", "held"),
    [
        ("9999-12-31T23:59:59+00:00", True),  # a clock set wrong: held from when it was found
        ("9999-12-31T23:59:59-14:00", False),  # past what a clock can show in UTC
        ("0001-01-01T00:00:00+14:00", False),
        ("not a time", False),
        ("", False),
    ],
)
def test_a_sent_mark_dated_ahead_or_unreadable_holds_orders_a_window_at_most(
    tmp_path: Path, pair: SandboxPair, mark: str, held: bool
) -> None:
    settings = write_connector(tmp_path, pair, settle_window="1s")
    established(settings)
    assert run_cli(settings, "orders", "import", "--once").returncode == 0
    (settings.state_dir / "orders-sent.mark").write_text(mark)
    [key] = submissions(pair, 1)
    first = run_cli(settings, "orders", "import", "--once")
    assert "internal error" not in first.stdout + first.stderr, first.stderr
    if held:
        assert first.returncode == 3 and "1 waiting" in first.stdout, first.stdout
        time.sleep(1.2)
        assert run_cli(settings, "orders", "import", "--once").returncode == 0
    else:
        assert first.returncode == 0, first.stdout + first.stderr
    assert orders_per_ref(pair) == {f"ordre:{key}": 1}
    assert (settings.state_dir / "orders-sent.mark").read_text().strip() < "9999"


def test_an_order_cancelled_after_a_lost_history_imported_it_is_reported_not_skipped(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair, settle_window="1s")
    established(settings)
    [kept, cancelled_first, never_imported] = submissions(pair, 3)
    pair.ordre.cancel_order(never_imported.partition("#")[0])
    first = run_cli(settings, "orders", "import", "--once")
    assert first.returncode == 0, first.stdout + first.stderr
    assert set(orders_per_ref(pair)) == {f"ordre:{kept}", f"ordre:{cancelled_first}"}
    assert ledger(settings)[never_imported]["skipped_for"] == "cancelled"

    shutil.rmtree(settings.state_dir)  # the history is lost ...
    pair.ordre.cancel_order(cancelled_first.partition("#")[0])  # ... and then this one cancelled

    def rerun() -> None:
        done = run_cli(settings, "orders", "import", "--once")
        assert done.returncode in (0, 3), done.stdout + done.stderr
        time.sleep(0.3)

    def settled() -> bool:
        rows = ledger(settings)
        return bool(rows) and all(r["state"] not in OPEN for r in rows.values())

    until(settled, 30, rerun)
    rows = ledger(settings)
    # Zedonk holds it: the new ledger says so, and a person is asked to inactivate it
    assert rows[cancelled_first]["state"] == "created", rows[cancelled_first]
    assert rows[kept]["state"] == "created"
    assert (rows[never_imported]["state"], rows[never_imported]["skipped_for"]) == (
        "skipped",
        "cancelled",
    )
    assert orders_per_ref(pair) == {f"ordre:{kept}": 1, f"ordre:{cancelled_first}": 1}
    with History.open(settings.state_dir, read_only=True) as history:
        reports = history.query(
            "SELECT import_key, kind FROM import_reports WHERE kind = 'cancelled'"
        )
    assert [(r["import_key"], r["kind"]) for r in reports] == [(cancelled_first, "cancelled")]


# ---------------------------------------------------------------------- the audit


def plant_duplicate(pair: SandboxPair, key: str) -> str:
    """A person keys in the order again by hand, with the connector's reference."""
    with ZedonkClient(pair.zedonk.api_url, pair.zedonk.token) as zedonk:
        [original] = list(zedonk.find_sales_orders(connector_ref=f"ordre:{key}"))
        copy = zedonk.create_sales_order(original)
    return copy.number


def audit_json(settings: Settings) -> tuple[int, dict[str, Any]]:
    done = run_cli(settings, "orders", "audit", "--format", "json")
    assert done.returncode in (0, 3), done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)["audit"]


def test_a_duplicate_planted_in_zedonk_is_reported_by_the_audit(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    keys = submissions(pair, 3)
    assert run_cli(settings, "orders", "import", "--once").returncode == 0
    with History.open(settings.state_dir, read_only=True) as history:
        assert history.get_state("orders.audit") is None  # a pass that creates does not audit
    assert run_cli(settings, "orders", "import", "--once").returncode == 0
    with History.open(settings.state_dir, read_only=True) as history:
        assert history.get_state("orders.audit")["duplicates"] == []  # the next, quiet one does
    original = ledger(settings)[keys[1]]["zedonk_order_number"]
    planted = plant_duplicate(pair, keys[1])

    code, record = audit_json(settings)
    assert code == 3
    [duplicate] = record["duplicates"]
    assert duplicate["import_key"] == keys[1]
    assert sorted(o["number"] for o in duplicate["orders"]) == sorted([original, planted])
    text = run_cli(settings, "orders", "audit")
    assert f"{keys[1]}: {original}, {planted}" in text.stdout, text.stdout
    status = run_cli(settings, "status")
    assert "1 ORDRE submission(s) on more than one" in status.stdout, status.stdout
    assert f"{original}, {planted}" in status.stdout
    with History.open(settings.state_dir, read_only=True) as history:
        [event] = history.events(subject=keys[1], level="warning")
        notices = {r["key"]: r["state"] for r in history.query("SELECT * FROM notifications")}
    assert event["code"] == "order-duplicate" and planted in event["message"]
    assert notices == {f"order-duplicate:{keys[1]}": "open"}
    assert all(o["active"] for o in pair.zedonk.sales_orders())  # it inactivates nothing
    inbox = run_cli(settings, "attention", "--format", "json")
    [item] = [i for i in json.loads(inbox.stdout)["items"] if i["kind"] == "doubled_order"]
    number = ledger(settings)[keys[1]]["ordre_number"]
    assert item["id"] == f"order:{number}:doubled" and item["who"] == "Zedonk"
    assert original in item["what"] and planted in item["what"], item

    # A person inactivates the copy: the next audit finds none, and says it is resolved.
    with ZedonkClient(pair.zedonk.api_url, pair.zedonk.token) as zedonk:
        zedonk.inactivate_sales_order(planted)
    code, record = audit_json(settings)
    assert code == 0 and record["duplicates"] == []
    with History.open(settings.state_dir, read_only=True) as history:
        notices = {r["key"]: r["state"] for r in history.query("SELECT * FROM notifications")}
    assert notices == {f"order-duplicate:{keys[1]}": "resolved"}
    inbox = run_cli(settings, "attention", "--format", "json")
    assert not [i for i in json.loads(inbox.stdout)["items"] if i["kind"] == "doubled_order"]


def test_the_audit_reads_a_page_per_200_orders(tmp_path: Path, pair: SandboxPair) -> None:
    settings = write_connector(tmp_path, pair)
    submissions(pair, 5)
    assert run_cli(settings, "orders", "import", "--once").returncode == 0
    pair.zedonk.clear_requests()
    audit_json(settings)
    reads = [r for r in pair.zedonk.requests() if r["path"] == CREATE and r["method"] == "GET"]
    assert len(reads) == 1 and "season=AW26" in reads[0]["query"], reads
    assert "active=true" in reads[0]["query"] and "limit=200" in reads[0]["query"]
