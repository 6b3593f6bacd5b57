"""A state machine that edits the catalogue and ORDRE at random, injects failures, and checks
that apply always converges: once the faults stop, one apply makes ORDRE match the catalogue
and the next one has nothing to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
from sandbox_harness import Sandboxes
from test_apply import Brand, Tree, expected

PRODUCTS = (
    "ML-101/WOOL/NAVY",
    "ML-101/WOOL/CAMEL",
    "ML-105/ALPACA/RUST",
    "ML-205/CASH/BLACK",
    "ML-205/CASH/ECRU",
    "ML-510/COTTON/BLUE",
    "ML-510/COTTON/WHITE",
    "ML-303/LINEN/OLIVE",
    "ML-310/SILK/BLACK",
    "ML-310/SILK/IVORY",
    "ML-503/LINEN/ECRU",
    "ML-506/SILK/OLIVE",
)
FAULT_PATHS = ("/api/v1/looks", "/api/v1/collections", "/api/v1/listings", "/api/v1/customers")


@st.composite
def trees(draw: st.DrawFn) -> Tree:
    names = draw(st.lists(st.sampled_from(["AW26", "SS26", "Pre"]), min_size=1, unique=True))
    looks = st.lists(st.sampled_from(["L1", "L2", "L3"]), min_size=1, unique=True)
    shape = {c: draw(looks) for c in names}
    slots = [(c, look) for c, looks in shape.items() for look in looks]
    order = draw(st.permutations(PRODUCTS))
    # Every look needs a product; the rest go anywhere or nowhere.
    placed = {slot: [order[i]] for i, slot in enumerate(slots)}
    for product in order[len(slots) : draw(st.integers(len(slots), len(PRODUCTS)))]:
        placed[draw(st.sampled_from(slots))].append(product)
    return {c: [(look, placed[(c, look)]) for look in looks] for c, looks in shape.items()}


class ApplyMachine(RuleBasedStateMachine):
    brand: ClassVar[Brand]

    def __init__(self) -> None:
        super().__init__()
        self.brand.sandbox.pair.reset()
        self.tree: Tree = {"AW26": [("L1", list(PRODUCTS[:2]))]}
        self.brand.write(self.tree)

    @rule(tree=trees())
    def edit_catalogue(self, tree: Tree) -> None:
        self.tree = tree
        self.brand.write(tree)

    @rule(data=st.data(), how=st.sampled_from(["empty-look", "delete-look", "listing", "stray"]))
    def drift(self, data: st.DataObject, how: str) -> None:
        http = self.brand.sandbox.client("ordre")
        looks = http.get("/looks", params={"limit": 200}).json()["items"]
        listings = http.get("/listings", params={"limit": 200}).json()["items"]
        if how == "stray":
            http.post("/collections", json={"name": "Made by hand", "position": 0})
        elif how == "listing" and listings:
            item = data.draw(st.sampled_from(listings))
            body = {k: item[k] for k in ("style", "fabric", "colour", "category", "sizes")}
            http.put(f"/listings/{item['key']}", json={**body, "description": "hand-edited"})
        elif looks:
            look = data.draw(st.sampled_from(looks))
            if how == "delete-look":
                http.delete(f"/looks/{look['id']}")
            else:
                http.patch(f"/looks/{look['id']}", json={"product_keys": []})

    @rule(
        method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE"]),
        path=st.sampled_from(FAULT_PATHS),
        status=st.sampled_from([400, 409, 500]),
        times=st.integers(1, 3),
    )
    def inject_failure(self, method: str, path: str, status: int, times: int) -> None:
        rule_: dict[str, Any] = {
            "method": method,
            "path_prefix": path,
            "times": times,
            "action": "error",
            "status": status,
        }
        self.brand.sandbox.ordre.set_faults(rules=[rule_])

    @rule()
    def apply(self) -> None:
        result = self.brand.reconcile(allow_deletes=True)
        assert result.result in ("ok", "no-changes", "partial", "failed"), result.message

    def teardown(self) -> None:
        self.brand.sandbox.ordre.clear_faults()
        first = self.brand.reconcile(allow_deletes=True)
        assert first.result in ("ok", "no-changes"), first.message
        assert self.brand.showroom() == expected(self.tree)
        before = self.brand.sandbox.ordre.write_count()
        second = self.brand.reconcile(allow_deletes=True)
        assert second.result == "no-changes", second.message
        assert self.brand.sandbox.ordre.write_count() == before


def _run(sandbox: Sandboxes, root: Path, monkeypatch: pytest.MonkeyPatch, examples: int) -> None:
    monkeypatch.setenv("ZEDONK_TOKEN", sandbox.zedonk_token)
    monkeypatch.setenv("ORDRE_TOKEN", sandbox.ordre_token)
    ApplyMachine.brand = Brand(root, sandbox)
    run_state_machine_as_test(
        ApplyMachine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_apply_always_converges(
    sandbox: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(sandbox, tmp_path, monkeypatch, examples=5)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_apply_always_converges_long(
    sandbox: Sandboxes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    if "slow" not in (request.config.getoption("-m") or ""):
        pytest.skip("a long run: select it with -m slow")
    _run(sandbox, tmp_path, monkeypatch, examples=100)
