"""A Hypothesis state machine over submit / re-submit / edit / cancel / fault / search lag /
crash / restart / lost state directory / time passing.

Invariant after every step: no connector reference is on two Zedonk orders (as Zedonk holds
them, not as its lagging search shows them). At the end, once the faults and the lag stop and
the settle windows have passed: every submission ORDRE shows as importable is on exactly one
Zedonk order, and no ledger row is left open. A crash is simulated in-process at the same named
points the subprocess tests kill at (every point sits just after a commit, so nothing is lost
that a real kill -9 would keep); a restart is a fresh History connection and a new pass; a lost
state directory is deleted, and the next pass starts a new, empty history.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orders_support
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from orders_support import (
    barcodes,
    established,
    known_retailer,
    orders_per_ref,
    ordre_order,
    write_connector,
)

import daemon.orders
from daemon.orders import CRASH_POINTS, OPEN_STATES, import_orders
from daemon.sandbox import SandboxPair
from daemon.store.history import History
from daemon.tree.settings import Settings

sandboxes, pair = orders_support.sandboxes, orders_support.pair  # fixtures

FAULTS: dict[str, dict[str, Any]] = {
    "lose-create-answer": {
        "rules": [
            {"method": "POST", "path_prefix": "/api/v1/sales-orders", "times": 1,
             "action": "lose_response"}
        ]
    },
    "zedonk-503-storm": {"seed": 3, "error_rates": {"503": 0.4}, "retry_after": 0},
    "zedonk-drops": {"seed": 5, "rules": [{"action": "drop", "rate": 0.3}]},
}  # fmt: skip


SETTLE = 1.0  # seconds: the settle window, longer than any search lag set here
LAGS = (0.0, 0.5)  # seconds Zedonk's search may trail its writes


class SimulatedCrash(BaseException):
    """Stands in for kill -9: nothing after the crash point runs, nothing is cleaned up."""


class ImportMachine(RuleBasedStateMachine):
    pair: SandboxPair
    root: Path

    def __init__(self) -> None:
        super().__init__()
        self.pair.reset()
        self.tmp = tempfile.TemporaryDirectory()
        self.settings: Settings = write_connector(
            Path(self.tmp.name), self.pair, settle_window=f"{SETTLE}s"
        )
        established(self.settings)
        self.codes = barcodes(self.pair, 6)
        self.account_code = known_retailer(self.pair).account_code
        self.orders: list[str] = []  # ORDRE ids
        self.history = History.open(self.settings.state_dir)

    def teardown(self) -> None:
        self.history.close()
        self.tmp.cleanup()

    def _lines(self, seed: int) -> list[dict[str, Any]]:
        return [{"barcode": self.codes[seed % len(self.codes)], "quantity": 1 + seed % 3}]

    # ------------------------------------------------------------------ the retailer

    @initialize()
    def first_orders(self) -> None:
        self.submit(seed=0, new_retailer=False)
        self.submit(seed=1, new_retailer=True)

    @rule(seed=st.integers(0, 20), new_retailer=st.booleans())
    def submit(self, seed: int, new_retailer: bool) -> None:
        retailer = (
            {"name": f"Machine Boutique {seed % 3}", "account_code": None, "email": None}
            if new_retailer
            else {"account_code": self.account_code}
        )
        order = self.pair.ordre.submit_order({"retailer": retailer, "lines": self._lines(seed)})
        self.orders.append(order["id"])

    @precondition(lambda self: self.orders)
    @rule(
        action=st.sampled_from(["resubmit", "edit", "cancel"]),
        pick=st.integers(0, 100),
        seed=st.integers(0, 20),
    )
    def change(self, action: str, pick: int, seed: int) -> None:
        order_id = self.orders[pick % len(self.orders)]
        if self._status(order_id) == "cancelled":
            return
        if action == "resubmit":
            self.pair.ordre.resubmit_order(order_id, {"lines": self._lines(seed)})
        elif action == "edit":
            self.pair.ordre.edit_order(order_id, {"lines": self._lines(seed)})
        else:
            self.pair.ordre.cancel_order(order_id)

    def _status(self, order_id: str) -> str:
        status: str = ordre_order(self.pair, order_id)["status"]
        return status

    # ------------------------------------------------------------------ the world

    @rule(fault=st.none() | st.sampled_from(sorted(FAULTS)))
    def set_fault(self, fault: str | None) -> None:
        if fault is None:
            self.pair.zedonk.clear_faults()
        else:
            self.pair.zedonk.set_faults(FAULTS[fault])

    @rule(seconds=st.sampled_from(LAGS))
    def search_lag(self, seconds: float) -> None:
        self.pair.zedonk.set_search_lag(seconds)

    @rule()
    def restart(self) -> None:
        self.history.close()
        self.history = History.open(self.settings.state_dir)

    @rule()
    def lose_state(self) -> None:
        """The state directory is deleted (or restored from nothing): a new, empty history."""
        self.history.close()
        shutil.rmtree(self.settings.state_dir)
        self.history = History.open(self.settings.state_dir)

    @rule(seconds=st.sampled_from([0.2, SETTLE + 0.1]))
    def time_passes(self, seconds: float) -> None:
        time.sleep(seconds)

    @rule(crash_at=st.none() | st.sampled_from(CRASH_POINTS))
    def import_pass(self, crash_at: str | None) -> None:
        original = daemon.orders.crash_point

        def crash(name: str) -> None:
            if name == crash_at:
                raise SimulatedCrash(name)

        daemon.orders.crash_point = crash
        try:
            import_orders(self.settings, self.history, trigger="test")
        except SimulatedCrash:
            self.restart()  # the process died: the next pass is a new one
        finally:
            daemon.orders.crash_point = original

    # ------------------------------------------------------------------ the invariants

    @invariant()
    def no_connector_reference_twice(self) -> None:
        doubled = {ref: n for ref, n in orders_per_ref(self.pair).items() if n > 1}
        assert not doubled, doubled

    def check_converged(self) -> None:
        self.pair.zedonk.clear_faults()
        self.pair.zedonk.set_search_lag(0)
        deadline = time.monotonic() + 4 * SETTLE + 10
        while True:
            import_orders(self.settings, self.history, trigger="test")
            rows = {r["import_key"]: r for r in self.history.query("SELECT * FROM imports")}
            open_rows = [k for k, r in rows.items() if r["state"] in OPEN_STATES]
            if not open_rows:
                break
            assert time.monotonic() < deadline, [rows[k] for k in open_rows]
            time.sleep(0.3)
        per_ref = orders_per_ref(self.pair)
        assert all(n == 1 for n in per_ref.values()), per_ref
        current, cancelled = {}, set()
        for order_id in self.orders:
            order = ordre_order(self.pair, order_id)
            current[order_id] = order["submission"]
            if order["status"] == "cancelled":
                cancelled.add(order_id)
            key = f"{order_id}#{order['submission']}"
            if order["status"] == "cancelled":
                continue
            assert per_ref.get(f"ordre:{key}") == 1, (key, rows.get(key))
        for ref in per_ref:  # every Zedonk order belongs to a ledger row that says so
            key = ref.removeprefix("ordre:")
            if key in rows:
                assert rows[key]["state"] in ("created", "partial"), rows[key]
            else:  # imported before a lost history: since re-submitted, or cancelled
                ordre_id, _, submission = key.rpartition("#")
                assert int(submission) < current[ordre_id] or ordre_id in cancelled, key


@pytest.fixture
def machine(pair: SandboxPair) -> Iterator[type[ImportMachine]]:
    class Machine(ImportMachine):
        def teardown(self) -> None:
            try:
                self.check_converged()
            finally:
                super().teardown()

    Machine.pair = pair
    yield Machine


def test_exactly_once_under_random_sequences(machine: type[ImportMachine]) -> None:
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=10,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_exactly_once_under_many_random_sequences(
    machine: type[ImportMachine], request: pytest.FixtureRequest
) -> None:
    if "slow" not in request.config.getoption("markexpr"):
        pytest.skip("a soak run: select it with -m slow")
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=100,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
