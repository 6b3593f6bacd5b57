"""The read cache can never make a wrong plan: a state machine edits Zedonk (products and
customers: edits, deletes, re-creations under the same id) and ORDRE by hand (collections,
looks, listings and retailers: edits, deletes, re-creations under the same name or key), and
reconciles now and then; after every step the plan read warm through a cache equals the plan
read cold, and a full read finds no defect in the cache.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sandbox_harness import Sandboxes
from test_apply import MAIN, Brand

from daemon.core.planfmt import plan_json
from daemon.errors import ConfigError
from daemon.reconcile import load_tree, plan_tree
from daemon.reconcile.warm import WarmReads, open_cache
from daemon.remotes import open_clients

WORDS = st.sampled_from(["Coat", "Reworked coat", "Jumper", "Shirt", "  Shirt ", ""])
SEASONS = ("AW25", "SS26", "AW26")


def outcome(root: Path, cache: Path | None) -> Any:
    """The plan as JSON with its findings, or the error a plan stops with."""
    try:
        result = plan_tree(root, cache=cache)
    except ConfigError as exc:
        return ("error", exc.message, [str(f) for f in exc.findings])
    return (plan_json(result.plan), [str(f) for f in result.findings])


class WarmMachine(RuleBasedStateMachine):
    brand: ClassVar[Brand]

    def __init__(self) -> None:
        super().__init__()
        brand = self.brand
        brand.sandbox.pair.reset()
        brand.write(MAIN)
        self.cache = brand.root / "ci-cache"
        shutil.rmtree(self.cache, ignore_errors=True)
        shutil.rmtree(brand.state_dir, ignore_errors=True)
        self.zedonk = brand.sandbox.client("zedonk")
        self.ordre = brand.sandbox.client("ordre")
        products = self.zedonk.get("/products", params={"limit": 200}).json()["items"]
        self.products = {p["id"]: p for p in products}
        self.deleted: dict[str, dict[str, Any]] = {}  # ORDRE listings deleted by hand
        assert brand.reconcile().result == "ok"

    def _all(self, client: httpx.Client, path: str) -> list[dict[str, Any]]:
        items = client.get(path, params={"limit": 200}).json()["items"]
        return list(items)

    def _held(self, pid: str) -> dict[str, Any]:
        """The product as Zedonk holds it now; empty once a step deleted it."""
        reply = self.zedonk.get(f"/products/{pid}")
        return reply.json() if reply.status_code == 200 else {}

    # ------------------------------------------------------------------ Zedonk

    @rule(data=st.data(), field=st.sampled_from(["description", "image", "active", "seasons"]))
    def edit_product(self, data: st.DataObject, field: str) -> None:
        pid = data.draw(st.sampled_from(sorted(self.products)))
        changes: dict[str, Any] = {
            "description": {"description": data.draw(WORDS)},
            "image": {"image_1": data.draw(st.sampled_from([None, "https://img.example/a.jpg"]))},
            "active": {"active": data.draw(st.booleans())},
            "seasons": {"seasons": data.draw(st.lists(st.sampled_from(SEASONS), unique=True))},
        }[field]
        if self._held(pid):
            self.brand.sandbox.zedonk.edit_product(pid, **changes)

    @rule(data=st.data(), wsp=st.sampled_from(["0.00", "1.00", "999.50"]))
    def reprice(self, data: st.DataObject, wsp: str) -> None:
        pid = data.draw(st.sampled_from(sorted(self.products)))
        prices = self._held(pid).get("prices")
        if prices:
            prices[0]["wsp"] = wsp
            self.brand.sandbox.zedonk.edit_product(pid, prices=prices)

    @rule(data=st.data())
    def drop_barcode(self, data: st.DataObject) -> None:
        pid = data.draw(st.sampled_from(sorted(self.products)))
        skus = self._held(pid).get("skus")
        if skus:
            self.brand.sandbox.zedonk.set_barcodes(pid, {skus[0]["size"]: None})

    @rule(data=st.data())
    def delete_product(self, data: st.DataObject) -> None:
        pid = data.draw(st.sampled_from(sorted(self.products)))
        if self.zedonk.get(f"/products/{pid}").status_code == 200:
            self.brand.sandbox.zedonk.delete_product(pid)

    @rule(data=st.data())
    def recreate_product(self, data: st.DataObject) -> None:
        """The product as first read, under the same id (its barcodes may be taken by now)."""
        pid = data.draw(st.sampled_from(sorted(self.products)))
        body = {k: v for k, v in self.products[pid].items() if k not in ("id", "updated_at")}
        try:
            self.brand.sandbox.zedonk.put_product(pid, body)
        except Exception as exc:  # a barcode another product took meanwhile
            assert "409" in str(exc), exc

    @rule(data=st.data(), name=st.sampled_from(["Atelier Nord ApS", "Shop X", "Maison Y"]))
    def edit_customer(self, data: st.DataObject, name: str) -> None:
        customers = self._all(self.zedonk, "/customers")
        customer = data.draw(st.sampled_from(customers))
        try:
            self.brand.sandbox.zedonk.edit_customer(customer["id"], name=name)
        except Exception as exc:  # the name is another customer's
            assert "409" in str(exc), exc

    # ------------------------------------------------------------------ ORDRE by hand

    @rule(name=st.sampled_from(["Made by hand", "AW26 Main", "Essentials"]))
    def create_collection(self, name: str) -> None:
        self.ordre.post("/collections", json={"name": name, "position": 0})

    @rule(data=st.data(), name=st.sampled_from(["Renamed", "essentials", "Made by hand"]))
    def rename_collection(self, data: st.DataObject, name: str) -> None:
        collections = self._all(self.ordre, "/collections")
        if collections:
            target = data.draw(st.sampled_from(collections))
            self.ordre.patch(f"/collections/{target['id']}", json={"name": name})

    @rule(data=st.data())
    def delete_collection(self, data: st.DataObject) -> None:
        """Its looks first; the next rule may create one of the same name again."""
        collections = self._all(self.ordre, "/collections")
        if collections:
            target = data.draw(st.sampled_from(collections))
            for look in self._all(self.ordre, "/looks"):
                if look["collection_id"] == target["id"]:
                    self.ordre.delete(f"/looks/{look['id']}")
            self.ordre.delete(f"/collections/{target['id']}")

    @rule(data=st.data(), how=st.sampled_from(["delete", "empty", "recreate"]))
    def edit_look(self, data: st.DataObject, how: str) -> None:
        looks = self._all(self.ordre, "/looks")
        if not looks:
            return
        look = data.draw(st.sampled_from(looks))
        if how == "delete":
            self.ordre.delete(f"/looks/{look['id']}")
        elif how == "empty":
            self.ordre.patch(f"/looks/{look['id']}", json={"product_keys": []})
        else:
            self.ordre.delete(f"/looks/{look['id']}")
            body = {k: look[k] for k in ("collection_id", "name", "position")}
            self.ordre.post("/looks", json={**body, "product_keys": []})

    @rule(data=st.data(), how=st.sampled_from(["describe", "delete", "recreate"]))
    def edit_listing(self, data: st.DataObject, how: str) -> None:
        listings = self._all(self.ordre, "/listings")
        if how == "recreate":
            if self.deleted:
                key = data.draw(st.sampled_from(sorted(self.deleted)))
                self.ordre.put(f"/listings/{key}", json=self.deleted.pop(key))
            return
        if not listings:
            return
        item = data.draw(st.sampled_from(listings))
        body = {
            k: item[k]
            for k in ("style", "fabric", "colour", "description", "category", "sizes", "prices")
        }
        body["image_url"] = item.get("image_url")
        if how == "describe":
            self.ordre.put(f"/listings/{item['key']}", json={**body, "description": "by hand"})
            return
        for look in self._all(self.ordre, "/looks"):
            if item["key"] in look["product_keys"]:
                keys = [k for k in look["product_keys"] if k != item["key"]]
                self.ordre.patch(f"/looks/{look['id']}", json={"product_keys": keys})
        if self.ordre.delete(f"/listings/{item['key']}").status_code == 204:
            self.deleted[item["key"]] = body

    @rule(data=st.data(), how=st.sampled_from(["rename", "delete"]))
    def edit_retailer(self, data: st.DataObject, how: str) -> None:
        customers = self._all(self.ordre, "/customers")
        if not customers:
            return
        customer = data.draw(st.sampled_from(customers))
        if how == "delete":
            self.ordre.delete(f"/customers/{customer['account_code']}")
            return
        body = {
            k: customer[k]
            for k in (
                "name",
                "currency",
                "delivery_address",
                "accounts_address",
                "contact_name",
                "contact_email",
            )
        }
        self.ordre.put(f"/customers/{customer['account_code']}", json={**body, "name": "Hand"})

    # ------------------------------------------------------------------ the connector

    @rule()
    def reconcile(self) -> None:
        """The daemon's pass, warm through the state directory's cache; when it stops early
        for nothing having changed, a cold plan must agree that nothing is to be done."""
        result = self.brand.reconcile(allow_deletes=True, allow_updates=True)
        if result.unchanged:
            cold = outcome(self.brand.root, None)
            assert cold[0]["changes"] is False, cold

    @invariant()
    def warm_plan_is_the_cold_plan(self) -> None:
        warm = outcome(self.brand.root, self.cache)
        cold = outcome(self.brand.root, None)
        assert warm == cold

    def teardown(self) -> None:
        """A full read of both remotes finds the cache exactly as they are."""
        settings_, _, _ = load_tree(self.brand.root)
        cache = open_cache(self.cache, settings_)
        assert cache is not None
        with cache, open_clients(settings_) as (zedonk, ordre):
            reads = WarmReads(cache, zedonk, ordre, full=True)
            reads.fetch()
            reads.snapshots()
            assert reads.defects == []


def _run(sandbox: Sandboxes, root: Path, monkeypatch: pytest.MonkeyPatch, examples: int) -> None:
    monkeypatch.setenv("ZEDONK_TOKEN", sandbox.zedonk_token)
    monkeypatch.setenv("ORDRE_TOKEN", sandbox.ordre_token)
    WarmMachine.brand = Brand(root, sandbox)
    run_state_machine_as_test(
        WarmMachine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_a_warm_plan_is_the_cold_plan(
    sandbox: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(sandbox, tmp_path, monkeypatch, examples=10)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_a_warm_plan_is_the_cold_plan_long(
    sandbox: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(sandbox, tmp_path, monkeypatch, examples=200)
