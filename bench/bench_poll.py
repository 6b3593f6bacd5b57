"""Order latency with the daemon: submitted on ORDRE -> visible in Zedonk, at the default
poll interval.

    python -m bench poll                    (or: python -m bench.bench_poll --orders 50)

The demo sandboxes (ORDRE populated) run in their own process and ``zedonk-ordre run`` on the
repository's catalogue, with ``daemon.poll_interval`` left at its default. Retailers submit
``--orders`` orders one after another at random moments (0 to 3 s apart, so they fall
anywhere in the poll cycle), and each order's latency runs from its submit's answer until
Zedonk lists a sales order carrying its connector reference. Printed: p50 and p95 next to
the poll interval, the floor, as ratios (target: p95 <= poll interval + 1 s).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.bench_daemon import free_port, wait_healthy, write_demo_repo
from daemon.sandbox.base import ADMIN_TOKEN
from daemon.sandbox.harness import ORDRE_TOKEN, ZEDONK_TOKEN
from daemon.tree.settings import DEFAULTS, parse_duration


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50)
    args = parser.parse_args(argv or [])
    poll = parse_duration(DEFAULTS["poll_interval"])
    with tempfile.TemporaryDirectory(prefix="bench-poll-") as temp:
        zport, oport = free_port(), free_port()
        command = [sys.executable, "-m", "daemon"]
        sandbox = subprocess.Popen(
            [*command, "sandbox", "--populated", "--zedonk-port", str(zport),
             "--ordre-port", str(oport)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        daemon: subprocess.Popen[bytes] | None = None
        try:
            zedonk, ordre = f"http://127.0.0.1:{zport}", f"http://127.0.0.1:{oport}"
            wait_healthy(zedonk)
            wait_healthy(ordre)
            root = Path(temp) / "repo"
            root.mkdir()
            write_demo_repo(root, zedonk, ordre, "2s")
            text = (root / "connector.yaml").read_text().replace("poll_interval: 60s, ", "")
            (root / "connector.yaml").write_text(text)
            env = {**os.environ, "ZEDONK_TOKEN": ZEDONK_TOKEN, "ORDRE_TOKEN": ORDRE_TOKEN}
            env.pop("NOTIFY_SOCKET", None)
            log = open(Path(temp) / "daemon.log", "wb")  # noqa: SIM115 - closed with the folder
            daemon = subprocess.Popen(
                [*command, "run", "--root", str(root)], env=env, stdout=log, stderr=log
            )
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            retailer = httpx.Client(base_url=ordre, headers=admin, timeout=30)
            listing = httpx.Client(
                base_url=f"{ordre}/api/v1", headers={"Authorization": f"Bearer {ORDRE_TOKEN}"}
            )
            barcodes = [
                size["gtin"]
                for item in listing.get("/listings", params={"limit": 200}).json()["items"]
                for size in item["sizes"]
            ]
            zedonk_api = httpx.Client(
                base_url=f"{zedonk}/api/v1", headers={"Authorization": f"Bearer {ZEDONK_TOKEN}"}
            )
            time.sleep(poll + 5)  # the daemon's first passes are done
            submitted: dict[str, float] = {}
            seen: dict[str, float] = {}
            done = threading.Event()

            def watch() -> None:
                token = None
                while not done.is_set() or len(seen) < len(submitted):
                    query: dict[str, Any] = {"limit": 200}
                    if token:
                        query["changed_since"] = token
                    body = zedonk_api.get("/sales-orders", params=query).json()
                    now = time.perf_counter()
                    for order in body["items"]:
                        ordre_id = order["connector_ref"].removeprefix("ordre:").split("#")[0]
                        seen.setdefault(ordre_id, now)
                    token = body["sync_token"] if not body["next_cursor"] else None
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            rng = random.Random(7)
            for _ in range(args.orders):
                time.sleep(rng.uniform(0, 3))
                line = {"barcode": rng.choice(barcodes), "quantity": 1}
                body = {"retailer": {"account_code": "ANT001"}, "lines": [line]}
                answer = retailer.post("/_retailer/orders", json=body).raise_for_status()
                submitted[answer.json()["id"]] = time.perf_counter()
            done.set()
            watcher.join(timeout=poll * 4)
            latencies = [seen[o] - at for o, at in submitted.items() if o in seen]
            missing = len(submitted) - len(latencies)
            p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
            print(
                f"order latency over {len(latencies)} orders (submitted -> in Zedonk): "
                f"p50 {p50:.1f} s, p95 {p95:.1f} s, max {max(latencies):.1f} s; poll interval "
                f"{poll:.0f} s (the floor): p50 {p50 / poll:.2f}x, p95 {p95 / poll:.2f}x "
                f"(target p95 <= {poll + 1:.0f} s)" + (f"; {missing} not seen" if missing else "")
            )
        finally:
            if daemon is not None:
                daemon.terminate()
                daemon.wait(timeout=60)
            sandbox.terminate()
            sandbox.wait(timeout=30)


if __name__ == "__main__":
    main(sys.argv[1:])
