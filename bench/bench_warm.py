"""Warm passes on the large sandbox brand (20,000 products in 200 looks, 2,000 customers).

    python -m bench warm

The sandboxes run in their own process. After a first apply (not measured) and the pass that
reads its writes back, figures, each next to a floor measured in the same run:

- an idle warm pass of the daemon (``reconcile``: nothing changed since the last pass): its
  bytes both ways next to a cold read's (every list the plan reads, read whole through the
  clients), target <= 2 %; its time next to the cold floor (the same pages fetched by a bare
  httpx client, one request in flight per remote, the two remotes side by side, as the plan
  reads them), target <= 0.25;
- a warm pass after k = 1, 100 and 1,000 products changed in Zedonk: the objects read
  (target O(k): k plus the listings the pass before it wrote) and its time, next to a cold
  plan's;
- an idle order poll: requests and bytes (target <= 1 request, <= 2 KB), next to the same
  request from a bare httpx client.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench import machine, start_sandboxes
from bench.bench_plan import ORDRE_TOKEN, ZEDONK_TOKEN, admin, write_catalogue
from daemon.clients.lists import ORDRE_FEEDS, ZEDONK_FEEDS
from daemon.notify import Notifier
from daemon.orders import import_orders
from daemon.reconcile import load_tree, plan_only, reconcile
from daemon.reconcile.gather import gather
from daemon.reconcile.warm import WarmReads, fetch_warm, open_cache
from daemon.remotes import open_clients
from daemon.store.history import History
from daemon.tree.settings import Settings

IDLE_BYTES_SHARE, IDLE_TIME_RATIO = 0.02, 0.25
POLL_BYTES = 2048


def traffic(*urls: str) -> tuple[int, int]:
    """Requests and bytes (both ways) the sandboxes logged since their logs were cleared."""
    requests = moved = 0
    for url in urls:
        counters = admin(url, "GET", "/_admin/counters")
        requests += counters["requests"]
        moved += counters["bytes_in"] + counters["bytes_out"]
    return requests, moved


def clear(*urls: str) -> None:
    for url in urls:
        admin(url, "DELETE", "/_admin/requests")


def bare_list(client: httpx.Client, path: str) -> None:
    params: dict[str, Any] = {"limit": 200}
    while True:
        body = client.get(path, params=params).raise_for_status().json()
        if not body["next_cursor"]:
            return
        params = {"limit": 200, "cursor": body["next_cursor"]}


def cold_floor(zedonk_url: str, ordre_url: str) -> None:
    """Every list the plan reads, whole, by a bare client: one remote per thread."""

    def remote(url: str, token: str, paths: list[str]) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
        with httpx.Client(base_url=url, headers=headers) as client:
            for path in paths:
                bare_list(client, path)

    with ThreadPoolExecutor(2) as pool:
        z = pool.submit(remote, zedonk_url, ZEDONK_TOKEN, [f.path for f in ZEDONK_FEEDS.values()])
        o = pool.submit(remote, ordre_url, ORDRE_TOKEN, [f.path for f in ORDRE_FEEDS.values()])
        z.result(), o.result()


def timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def daemon_pass(settings: Settings) -> Any:
    with History.open(settings.state_dir) as history:
        return reconcile(settings, history, trigger="bench")


def edit_products(zedonk_url: str, k: int, round_: int) -> None:
    """k products changed in Zedonk's screens (their description)."""
    headers = {"Authorization": f"Bearer {ZEDONK_TOKEN}"}
    ids: list[str] = []
    params: dict[str, Any] = {"limit": 200}
    with httpx.Client(base_url=zedonk_url, headers=headers) as zedonk:
        while len(ids) < k:
            body = zedonk.get("/products", params=params).raise_for_status().json()
            ids += [p["id"] for p in body["items"] if p["active"]]
            params["cursor"] = body["next_cursor"]
    base = zedonk_url.removesuffix("/api/v1")
    headers = {"Authorization": "Bearer sandbox-admin-token"}
    with httpx.Client(base_url=base, headers=headers) as screens:
        for pid in ids[:k]:
            body = {"description": f"Edited in round {round_}"}
            screens.patch(f"/_admin/products/{pid}", json=body).raise_for_status()


def warm_plan(settings: Settings, catalogue: Any, findings: Any) -> WarmReads:
    """The daemon's pass up to its plan: the changes since the read cache, then the plan."""
    cache = open_cache(settings.state_dir, settings)
    assert cache is not None
    with cache, open_clients(settings) as (zedonk, ordre):
        reads = fetch_warm(cache, settings, zedonk, ordre)
        gathered = reads.snapshots
        plan_only(settings, catalogue, zedonk, ordre, findings=findings, gathered=gathered)
    return reads


def main() -> None:
    proc, zedonk_url, ordre_url = start_sandboxes("--large", wait=300)
    os.environ["ZEDONK_TOKEN"], os.environ["ORDRE_TOKEN"] = ZEDONK_TOKEN, ORDRE_TOKEN
    both = (zedonk_url, ordre_url)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            products = write_catalogue(root, zedonk_url, ordre_url)
            settings, catalogue, findings = load_tree(root)
            print(f"brand: {products} products; machine: {machine()}")
            first = daemon_pass(settings)
            assert first.result == "ok", first.message
            assert daemon_pass(settings).result == "no-changes"  # reads the apply back

            clear(*both)
            floor_s, _ = timed(lambda: cold_floor(zedonk_url, ordre_url))
            _, floor_bytes = traffic(*both)
            clear(*both)
            with open_clients(settings) as (zedonk, ordre):
                cold_s, _ = timed(lambda: gather(zedonk, ordre))
            _, cold_bytes = traffic(*both)
            clear(*both)
            idle_s, idle = timed(lambda: daemon_pass(settings))
            idle_requests, idle_bytes = traffic(*both)
            assert idle.unchanged, idle.message
            print(
                f"cold read: {cold_s:.2f} s, {cold_bytes / 1e6:.1f} MB; cold floor "
                f"{floor_s:.2f} s, {floor_bytes / 1e6:.1f} MB"
            )
            print(
                f"idle warm pass: {idle_s * 1000:.0f} ms, {idle_requests} requests, "
                f"{idle_bytes} bytes; bytes {idle_bytes / cold_bytes:.4%} of a cold read "
                f"(target <= {IDLE_BYTES_SHARE:.0%}); time {idle_s / floor_s:.3f} x the cold "
                f"floor (target <= {IDLE_TIME_RATIO})"
            )

            for round_, k in enumerate((1, 100, 1000), start=1):
                edit_products(zedonk_url, k, round_)
                clear(*both)
                warm_s, reads = timed(lambda: warm_plan(settings, catalogue, findings))
                _, warm_bytes = traffic(*both)
                with open_clients(settings) as (zedonk, ordre):
                    cold_plan_s, _ = timed(
                        lambda: plan_only(settings, catalogue, zedonk, ordre, findings=findings)
                    )
                print(
                    f"warm plan after {k} Zedonk changes: {reads.objects} objects read "
                    f"({reads.objects / k:.1f} per change), {warm_bytes / 1e3:.0f} kB, "
                    f"{warm_s:.2f} s; cold plan {cold_plan_s:.2f} s (ratio "
                    f"{warm_s / cold_plan_s:.2f})"
                )
                applied = daemon_pass(settings)  # writes the k listings; the next reads them
                assert applied.result == "ok", applied.message

            with History.open(settings.state_dir) as history:
                import_orders(
                    settings, history, trigger="bench", notifier=Notifier(settings, history)
                )
                clear(*both)
                import_orders(
                    settings, history, trigger="bench", notifier=Notifier(settings, history)
                )
            poll_requests, poll_bytes = traffic(*both)
            clear(*both)
            headers = {"Authorization": f"Bearer {ORDRE_TOKEN}"}
            with httpx.Client(base_url=ordre_url, headers=headers) as bare:
                token = bare.get("/orders", params={"limit": 200}).json()["sync_token"]
                clear(*both)
                bare.get("/orders", params={"changed_since": token, "limit": 200})
            _, bare_bytes = traffic(*both)
            print(
                f"idle order poll: {poll_requests} request, {poll_bytes} bytes (target <= 1, "
                f"<= {POLL_BYTES}); the same request by a bare client {bare_bytes} bytes "
                f"(ratio {poll_bytes / bare_bytes:.2f})"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
