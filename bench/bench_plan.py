"""plan and apply against the large sandbox brand (20,000 products in 200 looks, 2,000 customers).

    python -m bench plan

The sandboxes run in their own process (``zedonk-ordre sandbox --large``), so the server's work
does not share a core with the connector's. Figures:

- a no-change plan: its time next to the floor measured in the same run, and their ratio
  (target <= 1.5 in every run). The floor fetches the pages the plan reads, with a bare httpx
  client, and parses their JSON, nothing else. It has as many requests in flight as the plan:
  two, one per remote. The plan reads Zedonk and ORDRE side by side, and each remote's lists
  one after the other, a page at a time (the next page is asked for once the last one is
  read, as its cursor is in it); the floor does the same on two threads. Each run times the
  plan and the floor back to back, twice, and keeps the best of each, so a run's two figures
  share the machine's load. The plan must make read requests only. The floor parses with
  ``Response.json()`` (the standard library's json, into dicts), as a bare client does; the
  plan decodes its bulk pages with msgspec, into typed structs (``daemon.clients.typed``).
- an apply of k changed products (listings edited on ORDRE by hand): how many write requests
  it makes (target <= k; ORDRE takes listings in batches of 100).

The machine (cores, CPU model, Python, load average) is printed with the figures.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench import machine, start_sandboxes
from daemon.reconcile import load_tree, plan_only, reconcile
from daemon.remotes import open_clients
from daemon.store.history import History
from daemon.tree.settings import load_settings

ADMIN = {"Authorization": "Bearer sandbox-admin-token"}
ZEDONK_TOKEN, ORDRE_TOKEN = "zedonk-sandbox-token", "ordre-sandbox-token"
LOOKS, FILES = 200, 40
ROUNDS = 2  # per run: the plan and the floor, back to back, best of each
RUNS = int(os.environ.get("BENCH_PLAN_RUNS", "5"))
TARGET = 1.5
# The lists a plan reads (daemon.reconcile.gather), in its order, one thread per remote.
ZEDONK_LISTS = ("/seasons", "/products", "/customers", "/users")
ORDRE_LISTS = ("/collections", "/looks", "/listings", "/customers")


def pages(client: httpx.Client, path: str) -> int:
    """Fetch every page of a listing; returns the number of items."""
    count, params = 0, {"limit": 200}
    while True:
        body = client.get(path, params=params).raise_for_status().json()
        count += len(body["items"])
        if not body["next_cursor"]:
            return count
        params = {"limit": 200, "cursor": body["next_cursor"]}


def read_lists(url: str, token: str, paths: tuple[str, ...]) -> int:
    """Every page of each list, one list after the other, one request at a time."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        return sum(pages(client, path) for path in paths)


def floor(zedonk_url: str, ordre_url: str) -> None:
    """The pages the plan reads, with a bare client: the least any plan must do. Two requests
    in flight, as in the plan: one per remote."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        zedonk = pool.submit(read_lists, zedonk_url, ZEDONK_TOKEN, ZEDONK_LISTS)
        ordre = pool.submit(read_lists, ordre_url, ORDRE_TOKEN, ORDRE_LISTS)
        zedonk.result(), ordre.result()


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def write_catalogue(root: Path, zedonk_url: str, ordre_url: str) -> int:
    """connector.yaml plus 200 looks in 40 files, over every product of the brand."""
    with httpx.Client(
        base_url=zedonk_url, headers={"Authorization": f"Bearer {ZEDONK_TOKEN}"}
    ) as zedonk:
        ids: list[str] = []
        params: dict[str, Any] = {"limit": 200}
        while True:
            body = zedonk.get("/products", params=params).raise_for_status().json()
            ids += [p["id"] for p in body["items"] if p["active"]]
            if not body["next_cursor"]:
                break
            params = {"limit": 200, "cursor": body["next_cursor"]}
    (root / "connector.yaml").write_text(
        "version: 1\n"
        f'zedonk: {{url: "{zedonk_url}", token: {{env: ZEDONK_TOKEN}}}}\n'
        f'ordre: {{url: "{ordre_url}", token: {{env: ORDRE_TOKEN}}}}\n'
        "import: {season: AW26, order_owner: sophie}\n"
        "prices: {seasons: [AW25, SS26, AW26]}\n"
        "catalogue: {prune: true}\n"
        f"daemon: {{state_dir: '{root / 'state'}'}}\n"
    )
    catalogue = root / "catalogue"
    catalogue.mkdir()
    per_look = -(-len(ids) // LOOKS)
    per_file = LOOKS // FILES
    for f in range(FILES):
        lines = [f"collection: Collection {f:03d}", f"order: {f}", "looks:"]
        for n in range(f * per_file, (f + 1) * per_file):
            chunk = ids[n * per_look : (n + 1) * per_look]
            if chunk:
                lines += [f"  - name: Look {n:03d}", "    products:"]
                lines += [f"      - {i}" for i in chunk]
        (catalogue / f"c{f:03d}.yaml").write_text("\n".join(lines) + "\n")
    return len(ids)


def admin(url: str, method: str, path: str) -> Any:
    base = url.removesuffix("/api/v1")
    reply = httpx.request(method, base + path, headers=ADMIN, timeout=30).raise_for_status()
    return reply.json() if reply.content else None


def interleaved(first: Callable[[], object], second: Callable[[], object]) -> tuple[float, float]:
    """Each function's best time over ``ROUNDS`` rounds, the two run back to back in each."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(ROUNDS):
        for fn, took in zip((first, second), times, strict=True):
            started = time.perf_counter()
            fn()
            took.append(time.perf_counter() - started)
    return min(times[0]), min(times[1])


def spread(values: list[float]) -> str:
    """Lowest to highest, and the median."""
    return f"{min(values):.2f}-{max(values):.2f} (median {statistics.median(values):.2f})"


def edit_listings(ordre_url: str, k: int) -> None:
    """Change k listings on ORDRE by hand, as drift the next apply puts back."""
    headers = {"Authorization": f"Bearer {ORDRE_TOKEN}"}
    with httpx.Client(base_url=ordre_url, headers=headers) as ordre:
        items = ordre.get("/listings", params={"limit": k}).raise_for_status().json()["items"]
        for item in items:
            body = {key: item[key] for key in ("style", "fabric", "colour", "category", "sizes")}
            body |= {"prices": item["prices"], "image_url": item["image_url"]}
            body["description"] = item["description"] + " (edited)"
            ordre.put(f"/listings/{item['key']}", json=body).raise_for_status()


def main() -> None:
    proc, zedonk_url, ordre_url = start_sandboxes("--large", wait=300)
    os.environ["ZEDONK_TOKEN"], os.environ["ORDRE_TOKEN"] = ZEDONK_TOKEN, ORDRE_TOKEN
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            products = write_catalogue(root, zedonk_url, ordre_url)
            settings = load_settings(root)
            print(f"brand: {products} products in {LOOKS} looks, {FILES} files")
            with History.open(settings.state_dir) as history:
                started = time.perf_counter()
                first = reconcile(settings, history, trigger="bench")
                took = time.perf_counter() - started
            counters = admin(ordre_url, "GET", "/_admin/counters")
            print(
                f"first apply: {first.result} in {took:.1f} s, {counters['writes']} write requests"
            )

            settings, catalogue, findings = load_tree(root)

            def no_change_plan() -> None:
                with open_clients(settings) as (zedonk, ordre):
                    result = plan_only(settings, catalogue, zedonk, ordre, findings=findings)
                assert not result.plan.has_changes, result.plan.counts()

            writes = admin(ordre_url, "GET", "/_admin/counters")["writes"]
            zwrites = admin(zedonk_url, "GET", "/_admin/counters")["writes"]
            print(f"machine: {machine()}; load average before: {load()}")
            plans, floors, ratios = [], [], []
            for run in range(1, RUNS + 1):
                measured, measured_floor = interleaved(
                    no_change_plan, lambda: floor(zedonk_url, ordre_url)
                )
                plans.append(measured)
                floors.append(measured_floor)
                ratios.append(measured / measured_floor)
                print(
                    f"run {run}: no-change plan {measured:.2f} s  floor {measured_floor:.2f} s  "
                    f"ratio {ratios[-1]:.2f}  (load {load()})"
                )
            assert admin(ordre_url, "GET", "/_admin/counters")["writes"] == writes
            assert admin(zedonk_url, "GET", "/_admin/counters")["writes"] == zwrites
            met = sum(ratio <= TARGET for ratio in ratios)
            print(
                f"no-change plan over {RUNS} runs: {spread(plans)} s  floor: {spread(floors)} s  "
                f"ratio: {spread(ratios)} (target <= {TARGET} in every run: met in {met} of "
                f"{RUNS}); write requests: 0"
            )

            for k in (1, 100):
                edit_listings(ordre_url, k)
                before = admin(ordre_url, "GET", "/_admin/counters")["writes"]
                with History.open(settings.state_dir) as history:
                    result = reconcile(settings, history, trigger="bench")
                made = admin(ordre_url, "GET", "/_admin/counters")["writes"] - before
                print(
                    f"apply of {k} changed products: {result.result}, {made} write requests "
                    f"(target <= {k})"
                )
            print(json.dumps({"ratios": [round(ratio, 2) for ratio in ratios]}))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
