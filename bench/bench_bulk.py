"""What "Zedonk is the truth" costs: the read requests of the import's bulk check on the large
brand.

    python -m bench bulk

Before it sends anything, an import pass with open rows lists the Zedonk orders those rows may
have (one paginated read, 200 a page); a pass with none reads nothing. On the large brand
(``zedonk-ordre sandbox --large --populated``, in its own process), with 2,000 ORDRE orders of
5 lines:

- a first pass into an empty Zedonk and a new history;
- the history deleted, then a pass that finds all 2,000 in Zedonk (a ledger rebuilt);
- 10 new orders, then a pass on that history (the steady state: the read reaches back a day);
- a pass with nothing new; and the daily audit of the season's orders.

For each: the open rows, the Zedonk orders the read listed, its GET /sales-orders requests, and
the target, at most one request per 200 orders listed (a page).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench import start_sandboxes
from bench.bench_import import ADMIN, ORDRE_TOKEN, ZEDONK_TOKEN, items
from daemon.orders import audit_orders, import_orders
from daemon.store.history import History
from daemon.tree.settings import Settings, load_settings

ORDERS, LINES, NEW = 2000, 5, 10


def submit(ordre_url: str, count: int, start: int = 0) -> None:
    with httpx.Client(
        base_url=ordre_url, headers={"Authorization": f"Bearer {ORDRE_TOKEN}"}, timeout=60
    ) as ordre:
        gtins = [size["gtin"] for item in items(ordre, "/listings") for size in item["sizes"]]
        codes = [c["account_code"] for c in items(ordre, "/customers")]
    with httpx.Client(base_url=ordre_url.removesuffix("/api/v1"), headers=ADMIN) as admin:
        for n in range(start, start + count):
            lines = [
                {"barcode": gtins[(n * LINES + i) % len(gtins)], "quantity": 1 + i % 3}
                for i in range(LINES)
            ]
            order = {"retailer": {"account_code": codes[n % len(codes)]}, "lines": lines}
            admin.post("/_retailer/orders", json=order).raise_for_status()


def sales_order_reads(zedonk_url: str, since: int) -> tuple[list[dict[str, Any]], int]:
    """The connector's GET /sales-orders requests after ``since``, and the last seq."""
    base = zedonk_url.removesuffix("/api/v1")
    log = httpx.get(f"{base}/_admin/requests", params={"since": since}, headers=ADMIN).json()
    entries = log["items"]
    last = entries[-1]["seq"] if entries else since
    reads = [
        e
        for e in entries
        if e["method"] == "GET"
        and e["path"] == "/api/v1/sales-orders"
        and e["actor"] == "connector"
    ]
    return reads, last


def settings_in(root: Path, zedonk_url: str, ordre_url: str) -> Settings:
    (root / "connector.yaml").write_text(
        "version: 1\n"
        f'zedonk: {{url: "{zedonk_url}", token: {{env: ZEDONK_TOKEN}}}}\n'
        f'ordre: {{url: "{ordre_url}", token: {{env: ORDRE_TOKEN}}}}\n'
        # the sandbox's search does not lag: no window to wait out between the passes
        "import: {season: AW26, order_owner: sophie, settle_window: 0s}\n"
        f"daemon: {{state_dir: '{root / 'state'}'}}\n"
    )
    return load_settings(root)


def main() -> None:
    proc, zedonk_url, ordre_url = start_sandboxes("--large", "--populated", wait=300)
    os.environ["ZEDONK_TOKEN"], os.environ["ORDRE_TOKEN"] = ZEDONK_TOKEN, ORDRE_TOKEN
    rows: list[tuple[str, int, int, int]] = []
    try:
        submit(ordre_url, ORDERS)
        with tempfile.TemporaryDirectory() as tmp:
            settings = settings_in(Path(tmp), zedonk_url, ordre_url)
            _, seq = sales_order_reads(zedonk_url, 0)

            def measure(label: str) -> None:
                nonlocal seq
                with History.open(settings.state_dir) as history:
                    result = import_orders(settings, history, trigger="bench")
                    waiting = history.query(
                        "SELECT COUNT(*) AS n FROM imports"
                        " WHERE state IN ('pending', 'sending', 'unresolved')"
                    )[0]["n"]
                assert result.result in ("ok", "no-orders") and not waiting, result
                reads, seq = sales_order_reads(zedonk_url, seq)
                # the bulk check's read (the audit's, in a quiet pass, has no created_since)
                bulk = [r for r in reads if "created_since" in r["query"]]
                listed = result.counts.get("zedonk_listed", 0)
                rows.append((label, result.counts.get("new", 0), listed, len(bulk)))

            measure(f"{ORDERS} new orders, empty Zedonk, new history")
            shutil.rmtree(settings.state_dir)
            measure(f"history deleted: {ORDERS} found in Zedonk (rebuilt)")
            submit(ordre_url, NEW, start=ORDERS)
            measure(f"{NEW} new orders, steady state")
            measure("nothing new")
            with History.open(settings.state_dir) as history:
                _, duplicates = audit_orders(settings, history)
                record = history.get_state("orders.audit")
            audit_reads, seq = sales_order_reads(zedonk_url, seq)
            assert duplicates == [], duplicates
            rows.append(("daily audit of AW26", 0, record["checked"], len(audit_reads)))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"large brand, {ORDERS} orders x {LINES} lines, then {NEW} more")
    print(f"{'pass':<52} {'new rows':>8} {'listed':>7} {'reads':>6} {'target':>7}")
    for label, new, listed, reads in rows:
        target = max(1, math.ceil(listed / 200))
        print(f"{label:<52} {new:>8} {listed:>7} {reads:>6} {'<= ' + str(target):>7}")
