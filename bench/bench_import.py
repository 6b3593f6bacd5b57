"""Order import: 1,000 ORDRE orders of 20 lines each into Zedonk, in one pass.

    python -m bench import

The sandboxes run in their own process (``zedonk-ordre sandbox --populated``), so the
servers do not share a core with the importer. Figures:

- the import's orders per second, next to the floor: the same 1,000 sales-order creates
  posted one after another by a bare httpx loop, measured in the same run; and their ratio
  (target <= 1.5), best of three alternating rounds. Besides the creates, the import lists
  the orders from ORDRE, reads Zedonk's customers and products, maps every line and keeps
  its ledger (two commits per batch of 50 orders). It keeps up to three creates on the wire,
  as it does in use; the floor posts one at a time, as a plain client would;
- the latency each order adds: the import's time per order minus the floor's.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import start_sandboxes
from daemon.orders import ImportResult, import_orders
from daemon.store.history import History
from daemon.tree.settings import load_settings

ORDERS, LINES = 1000, 20
ROUNDS = 3
ADMIN = {"Authorization": "Bearer sandbox-admin-token"}
ZEDONK_TOKEN, ORDRE_TOKEN = "zedonk-sandbox-token", "ordre-sandbox-token"
CREATE_FIELDS = (
    "season", "customer_id", "order_ref", "connector_ref", "owner", "approved", "currency",
    "delivery_start", "delivery_end", "delivery_address", "accounts_address", "comments",
)  # fmt: skip
ADDRESS_FIELDS = ("kind", "company", "line1", "line2", "city", "region", "postcode", "country")
LINE_FIELDS = ("product_id", "size", "barcode", "quantity", "unit_price")


def items(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 200}
    while True:
        body = client.get(path, params=params).raise_for_status().json()
        found += body["items"]
        if not body["next_cursor"]:
            return found
        params = {"limit": 200, "cursor": body["next_cursor"]}


def submit_orders(ordre_url: str) -> None:
    """1,000 retailer orders of 20 lines, over the barcodes ORDRE lists."""
    with httpx.Client(
        base_url=ordre_url, headers={"Authorization": f"Bearer {ORDRE_TOKEN}"}, timeout=30
    ) as ordre:
        gtins = [size["gtin"] for item in items(ordre, "/listings") for size in item["sizes"]]
        codes = [c["account_code"] for c in items(ordre, "/customers")]
    with httpx.Client(base_url=ordre_url.removesuffix("/api/v1"), headers=ADMIN) as admin:
        for n in range(ORDERS):
            lines = [
                {"barcode": gtins[(n * LINES + i) % len(gtins)], "quantity": 1 + i % 4}
                for i in range(LINES)
            ]
            order = {"retailer": {"account_code": codes[n % len(codes)]}, "lines": lines}
            admin.post("/_retailer/orders", json=order).raise_for_status()


def create_bodies(zedonk: httpx.Client) -> list[dict[str, Any]]:
    """The create requests behind the orders the import made, for the floor to repeat."""

    def address(a: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if a is None else {k: a[k] for k in ADDRESS_FIELDS}

    bodies = []
    for order in items(zedonk, "/sales-orders"):
        body = {k: order[k] for k in CREATE_FIELDS}
        body["delivery_address"] = address(order["delivery_address"])
        body["accounts_address"] = address(order["accounts_address"])
        body["lines"] = [{k: line[k] for k in LINE_FIELDS} for line in order["lines"]]
        bodies.append(body)
    return bodies


def reset_zedonk(zedonk_url: str) -> None:
    """Zedonk back to its seed: no sales orders."""
    base = zedonk_url.removesuffix("/api/v1")
    httpx.post(base + "/_admin/reset", headers=ADMIN, timeout=60).raise_for_status()


def timed_import(zedonk_url: str, ordre_url: str) -> tuple[float, ImportResult]:
    """One import pass over every order, into a fresh Zedonk and a fresh history."""
    reset_zedonk(zedonk_url)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "connector.yaml").write_text(
            "version: 1\n"
            f'zedonk: {{url: "{zedonk_url}", token: {{env: ZEDONK_TOKEN}}}}\n'
            f'ordre: {{url: "{ordre_url}", token: {{env: ORDRE_TOKEN}}}}\n'
            # A new history holds its first orders for a settle window (Zedonk's search may
            # lag); the sandbox's does not, and the benchmark times a pass, not that wait.
            "import: {season: AW26, order_owner: sophie, settle_window: 0s}\n"
            f"daemon: {{state_dir: '{root / 'state'}'}}\n"
        )
        settings = load_settings(root)
        with History.open(settings.state_dir) as history:
            started = time.perf_counter()
            result = import_orders(settings, history, trigger="bench")
            took = time.perf_counter() - started
    created = result.counts.get("created", 0) + result.counts.get("partial", 0)
    assert created == ORDERS, result
    return took, result


def timed_floor(zedonk_url: str, bodies: list[dict[str, Any]]) -> float:
    """The same creates, posted one after another by a bare httpx client."""
    reset_zedonk(zedonk_url)
    headers = {"Authorization": f"Bearer {ZEDONK_TOKEN}"}
    with httpx.Client(base_url=zedonk_url, headers=headers, timeout=30) as zedonk:
        started = time.perf_counter()
        for body in bodies:
            zedonk.post("/sales-orders", json=body).raise_for_status()
        return time.perf_counter() - started


def main() -> None:
    proc, zedonk_url, ordre_url = start_sandboxes("--populated", wait=120)
    os.environ["ZEDONK_TOKEN"], os.environ["ORDRE_TOKEN"] = ZEDONK_TOKEN, ORDRE_TOKEN
    try:
        submit_orders(ordre_url)
        imports, floors = [], []
        bodies: list[dict[str, Any]] = []
        for _ in range(ROUNDS):  # alternate, so both see the same machine
            took, result = timed_import(zedonk_url, ordre_url)
            imports.append(took)
            if not bodies:
                headers = {"Authorization": f"Bearer {ZEDONK_TOKEN}"}
                with httpx.Client(base_url=zedonk_url, headers=headers, timeout=30) as zedonk:
                    bodies = create_bodies(zedonk)
            floors.append(timed_floor(zedonk_url, bodies))
        took, floor = min(imports), min(floors)
        rate, floor_rate = ORDERS / took, ORDERS / floor
        per_order, floor_per_order = took / ORDERS * 1000, floor / ORDERS * 1000
        print(f"{ORDERS} orders x {LINES} lines, best of {ROUNDS}: {result.result}")
        print(
            f"import: {rate:.0f} orders/s ({took:.2f} s)  floor: {floor_rate:.0f} orders/s "
            f"({floor:.2f} s)  ratio: {took / floor:.2f} (target <= 1.5)"
        )
        print(
            f"latency per order: {per_order:.1f} ms, floor {floor_per_order:.1f} ms, "
            f"added by the import {per_order - floor_per_order:.1f} ms"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
