"""kill -9 at each step of an import, then restart (also with a lagging search, or with the
state directory lost): every submission ends as exactly one order.

The importer runs as a real subprocess (``zedonk-ordre orders import --once``) against the
sandboxes on loopback. Each crash point runs CRASH_RUNS times in every test run and SLOW_RUNS
times in the ``-m slow`` soak (each run starts two processes, about a second each).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orders_support
import pytest
from orders_support import (
    barcodes,
    established,
    ledger,
    orders_per_ref,
    run_cli,
    submit,
    write_connector,
)

from daemon.clients import ZedonkClient
from daemon.orders import CRASH_POINTS
from daemon.sandbox import SandboxPair
from daemon.store.history import History

sandboxes, pair = orders_support.sandboxes, orders_support.pair  # fixtures

CRASH_RUNS = 14  # 42 kill -9 cycles over the three points in every run; the soak runs 100 each
SLOW_RUNS = 100
WORLD_RUNS, SLOW_WORLD_RUNS = 2, 20  # per crash point, with a lagging search or a lost state
WORLDS = ("search-lag", "lost-state")


def crash_and_restart(tmp_path: Path, pair: SandboxPair, point: str, runs: int) -> None:
    settings = write_connector(tmp_path, pair)
    codes = barcodes(pair, runs)
    keys = []
    for i in range(runs):
        # Every other order comes from a retailer Zedonk does not know yet.
        retailer = {"name": f"Crash Test {i // 2}", "account_code": None, "email": None}
        order = submit(
            pair,
            [{"barcode": codes[i], "quantity": 1 + i}],
            **({"retailer": retailer} if i % 2 else {}),
        )
        keys.append(f"{order['id']}#1")
        crashed = run_cli(settings, "orders", "import", "--once", crash_at=point)
        assert crashed.returncode == -9, crashed.stdout + crashed.stderr
        restarted = run_cli(settings, "orders", "import", "--once")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        assert orders_per_ref(pair) == {f"ordre:{k}": 1 for k in keys}, f"run {i}"
        with History.open(settings.state_dir, read_only=True) as history:
            done, killed = history.runs(kind="import", limit=2)  # newest first
        # the pass cut off by kill -9 is closed by the next one, not left running forever
        assert killed["result"] == "interrupted", killed
        assert done["result"] in ("ok", "no-changes"), done
    rows = ledger(settings)
    assert {rows[k]["state"] for k in keys} == {"created"}
    assert sorted(int(rows[k]["lines_imported"]) for k in keys) == [1] * runs
    with ZedonkClient(pair.zedonk.api_url, pair.zedonk.token) as zedonk:
        names = [c.name for c in zedonk.customers() if c.name.startswith("Crash Test")]
    assert sorted(names) == sorted({f"Crash Test {i // 2}" for i in range(runs) if i % 2})


@pytest.mark.timeout(600)
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_kill_9_at_each_crash_point_then_restart(
    tmp_path: Path, pair: SandboxPair, point: str
) -> None:
    crash_and_restart(tmp_path, pair, point, CRASH_RUNS)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_kill_9_at_each_crash_point_100_times(
    tmp_path: Path, pair: SandboxPair, point: str, request: pytest.FixtureRequest
) -> None:
    if "slow" not in request.config.getoption("markexpr"):
        pytest.skip("a soak run: select it with -m slow")
    crash_and_restart(tmp_path, pair, point, SLOW_RUNS)


def crash_in_a_world(tmp_path: Path, pair: SandboxPair, point: str, world: str, runs: int) -> None:
    """kill -9 at ``point``; then Zedonk's search lags 1 s behind its writes, or the state
    directory is deleted; passes run at once and again until the order is imported: each
    submission ends on exactly one Zedonk order, and none is ever on two."""
    settings = write_connector(tmp_path, pair, settle_window="2s")
    established(settings)
    if world == "search-lag":
        pair.zedonk.set_search_lag(1)
    codes = barcodes(pair, runs)
    keys: list[str] = []
    for i in range(runs):
        keys.append(f"{submit(pair, [{'barcode': codes[i], 'quantity': 1}])['id']}#1")
        if world == "lost-state" and i:
            time.sleep(2.1)  # the new history of the run before has waited its window out
        crashed = run_cli(settings, "orders", "import", "--once", crash_at=point)
        assert crashed.returncode == -9, crashed.stdout + crashed.stderr
        if world == "lost-state":
            shutil.rmtree(settings.state_dir)
        deadline = time.monotonic() + 30
        while True:
            done = run_cli(settings, "orders", "import", "--once")
            assert done.returncode in (0, 3), done.stdout + done.stderr
            per_ref = orders_per_ref(pair)
            assert all(n == 1 for n in per_ref.values()), (i, per_ref)
            rows = ledger(settings)
            if per_ref == {f"ordre:{k}": 1 for k in keys} and all(
                rows[k]["state"] == "created" for k in keys
            ):
                break
            assert time.monotonic() < deadline, (i, per_ref, done.stdout)
            time.sleep(0.3)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("world", WORLDS)
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_kill_9_then_a_lagging_search_or_a_lost_state_directory(
    tmp_path: Path, pair: SandboxPair, point: str, world: str
) -> None:
    crash_in_a_world(tmp_path, pair, point, world, WORLD_RUNS)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("world", WORLDS)
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_kill_9_then_a_lagging_search_or_a_lost_state_directory_20_times(
    tmp_path: Path, pair: SandboxPair, point: str, world: str, request: pytest.FixtureRequest
) -> None:
    if "slow" not in request.config.getoption("markexpr"):
        pytest.skip("a soak run: select it with -m slow")
    crash_in_a_world(tmp_path, pair, point, world, SLOW_WORLD_RUNS)


def test_a_second_import_command_is_refused_while_one_runs(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(settings.state_dir), "command", "60"],
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            refused = run_cli(settings, "orders", "import", "--once")
            assert refused.returncode == 4, refused.stderr
            assert "another process holds the lock: orders retry (pid" in refused.stderr
        finally:
            holder.kill()


def test_an_import_command_waits_for_the_daemons_pass(tmp_path: Path, pair: SandboxPair) -> None:
    settings = write_connector(tmp_path, pair)
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(settings.state_dir), "daemon", "2"],
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            waited = run_cli(settings, "orders", "import", "--once")
            assert waited.returncode == 0, waited.stderr
            assert "waiting for order import pass" in waited.stderr
        finally:
            holder.kill()


HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from daemon.store import lock
    if sys.argv[2] == "daemon":  # as the daemon's import pass holds it
        lock.mark_as_daemon_pass()
        purpose = "order import pass"
    else:
        purpose = "orders retry"
    with lock.StateLock(Path(sys.argv[1]), purpose, name=lock.ORDERS_LOCK_FILE):
        print("locked", flush=True)
        time.sleep(float(sys.argv[3]))
    """
)

IMPORT_ONCE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from daemon.tree.settings import load_settings
    from daemon.store.history import History
    from daemon.orders import import_orders
    settings = load_settings(Path(sys.argv[1]))
    with History.open(settings.state_dir) as history:
        print(import_orders(settings, history, trigger="test").result)
    """
)


def test_two_import_passes_at_once_make_no_duplicate(tmp_path: Path, pair: SandboxPair) -> None:
    """Without the command's lock (as two daemons on one state directory would be)."""
    settings = write_connector(tmp_path, pair)
    codes = barcodes(pair, 6)
    keys = [f"{submit(pair, [{'barcode': c, 'quantity': 1}])['id']}#1" for c in codes]
    History.open(settings.state_dir).close()  # the state directory exists, as after any run
    pair.zedonk.set_faults(latency_ms=30)  # keep both passes busy at the same time
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", IMPORT_ONCE, str(settings.root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    assert sorted(out.strip() for out, _ in outputs) == ["no-orders", "ok"]
    assert orders_per_ref(pair) == {f"ordre:{k}": 1 for k in keys}
