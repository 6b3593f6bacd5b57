"""The daemon on the large brand: save-to-ORDRE latency, idle memory, and a no-op reconcile.

    python -m bench daemon                       (or: python -m bench.bench_daemon --help)
    python -m bench.bench_daemon --demo-brand    (the same on the small demo brand)

Setup: the sandboxes serve the large brand (20,000 products, 2,000 customers) from their own
process; a catalogue of every product (40 files, 200 looks) is written to a temporary
repository; `zedonk-ordre run` starts on it and publishes everything (the initial sync takes
minutes and is not measured). Then, per debounce setting:

- latency: one look renamed with an editor-style atomic save, until the new name is visible
  through ORDRE's API. Floor: the debounce itself plus one direct look update on ORDRE,
  measured in the same run. Target: latency <= debounce + 1 s.
- idle RSS of the daemon (VmRSS), next to a floor: a Python process that imports the same
  modules and does nothing. Target: <= 150 MB.
- a reconcile of an unchanged tree (a comment added, so the daemon re-reads and re-plans):
  write requests seen by ORDRE and Zedonk meanwhile. Target (and floor): 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import httpx

from daemon.clients import OrdreClient
from daemon.sandbox.base import ADMIN_TOKEN, DEFAULT_SEED
from daemon.sandbox.harness import ORDRE_TOKEN, ZEDONK_TOKEN
from daemon.sandbox.seed import zedonk_tables
from daemon.store.history import History

FILES, LOOKS_PER_FILE = 40, 5
REPO = Path(__file__).resolve().parent.parent
RSS_TARGET_MB = 150


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def admin(url: str, path: str) -> Any:
    request = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def wait_healthy(url: str, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the sandbox at {url} did not come up")


def write_connector(root: Path, zedonk: str, ordre: str, debounce: str) -> None:
    (root / "connector.yaml").write_text(
        f"version: 1\n"
        f"zedonk: {{url: '{zedonk}/api/v1', token: {{env: ZEDONK_TOKEN}}}}\n"
        f"ordre: {{url: '{ordre}/api/v1', token: {{env: ORDRE_TOKEN}}}}\n"
        "import: {season: AW26, order_owner: sophie}\n"
        "prices: {seasons: [AW25, SS26, AW26]}\n"
        f"daemon: {{debounce: {debounce}, poll_interval: 60s, reconcile_interval: 1h,"
        f" status_listen: '127.0.0.1:{free_port()}', state_dir: '{root / 'state'}'}}\n"
    )


def write_demo_repo(root: Path, zedonk: str, ordre: str, debounce: str) -> tuple[Path, str]:
    """The repository's own catalogue, for the demo brand. Returns the file and look to rename."""
    shutil.copytree(REPO / "catalogue", root / "catalogue")
    write_connector(root, zedonk, ordre, debounce)
    return root / "catalogue" / "essentials.yaml", "Shirts"


def write_repo(root: Path, zedonk: str, ordre: str, debounce: str, products: int) -> None:
    tables, _ = zedonk_tables(DEFAULT_SEED, large=True)
    ids = sorted(tables["products"])[:products]
    per_look = max(1, len(ids) // (FILES * LOOKS_PER_FILE))
    (root / "catalogue").mkdir(parents=True)
    write_connector(root, zedonk, ordre, debounce)
    n = 0
    for f in range(FILES):
        lines = [f"collection: Collection {f:02d}", f"order: {f + 1}", "looks:"]
        for look in range(LOOKS_PER_FILE):
            lines += [f"  - name: Look {f:02d}-{look}", "    products:"]
            lines += [f"      - {pid}" for pid in ids[n : n + per_look]]
            n += per_look
        (root / "catalogue" / f"collection-{f:02d}.yaml").write_text("\n".join(lines) + "\n")


def finished_runs(state: Path) -> list[dict[str, Any]]:
    if not (state / "history.sqlite").exists():
        return []
    try:
        with History.open(state, read_only=True) as history:
            runs = history.runs(kind="reconcile", limit=1000)
    except sqlite3.OperationalError:  # created a moment ago, tables not there yet
        return []
    return [r for r in runs if r["result"] != "running"]


def wait_runs(state: Path, count: int, timeout: float) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        runs = finished_runs(state)
        if len(runs) >= count:
            return runs[0]
        time.sleep(0.2)
    raise SystemExit(f"no reconcile #{count} within {timeout:.0f}s")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def floor_rss_mb() -> float:
    """A Python process with the daemon's modules imported, doing nothing."""
    code = (
        "import daemon.service, daemon.reconcile, daemon.orders, daemon.service.web,"
        " daemon.service.watch, sys;"
        "print('ready', flush=True); sys.stdin.read()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    time.sleep(0.5)
    value = rss_mb(proc.pid)
    proc.communicate("")
    return value


def save_atomically(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text.replace(old, new, 1))
    temp.replace(path)


def look_id(client: OrdreClient, name: str) -> str:
    return next(look.id for look in client.looks() if look.name == name)


def look_named(ordre: httpx.Client, look: str, name: str) -> bool:
    """Whether ORDRE shows look ``look`` under ``name`` yet: one small read per poll, so that
    polling adds little to the latency it measures."""
    return bool(ordre.get(f"/looks/{look}").raise_for_status().json()["name"] == name)


def direct_update_seconds(client: OrdreClient, name: str) -> float:
    """One look update straight through the client: the least a reconcile must do remotely."""
    look = next(lk for lk in client.looks() if lk.name == name)
    started = time.perf_counter()
    client.update_look(look, if_match=look.version)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debounce", nargs="+", default=["1s", "2s"], help="settings to measure")
    parser.add_argument("--products", type=int, default=20_000, help="products in the catalogue")
    parser.add_argument(
        "--demo-brand", action="store_true", help="the small demo brand and catalogue instead"
    )
    args = parser.parse_args(argv or [])
    python = platform.python_version()
    print(f"machine:   {platform.machine()}, {os.cpu_count()} CPUs, Python {python}")
    with tempfile.TemporaryDirectory(prefix="bench-daemon-") as temp:
        zport, oport = free_port(), free_port()
        exe = Path(sys.executable).parent / "zedonk-ordre"
        command = [str(exe)] if exe.exists() else [sys.executable, "-m", "daemon"]
        sandbox = subprocess.Popen(
            [
                *command,
                "sandbox",
                *([] if args.demo_brand else ["--large"]),
                "--zedonk-port",
                str(zport),
                "--ordre-port",
                str(oport),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        daemon: subprocess.Popen[bytes] | None = None
        try:
            zedonk, ordre = f"http://127.0.0.1:{zport}", f"http://127.0.0.1:{oport}"
            wait_healthy(zedonk)
            wait_healthy(ordre)
            root = Path(temp) / "repo"
            if args.demo_brand:
                root.mkdir()
                target, name = write_demo_repo(root, zedonk, ordre, args.debounce[0])
                described = "the repository's catalogue on the demo brand"
            else:
                write_repo(root, zedonk, ordre, args.debounce[0], args.products)
                target = root / "catalogue" / "collection-07.yaml"
                name = "Look 07-2"
                described = (
                    f"{args.products} products of the large brand, "
                    f"{FILES * LOOKS_PER_FILE} looks, {FILES} files"
                )
            state = root / "state"
            env = {**os.environ, "ZEDONK_TOKEN": ZEDONK_TOKEN, "ORDRE_TOKEN": ORDRE_TOKEN}
            env.pop("NOTIFY_SOCKET", None)
            log = open(Path(temp) / "daemon.log", "wb")  # noqa: SIM115 - closed with the folder
            daemon = subprocess.Popen(
                [*command, "run", "--root", str(root)], env=env, stdout=log, stderr=log
            )
            started = time.perf_counter()
            first = wait_runs(state, 1, timeout=3600)
            print(
                f"catalogue: {described}; initial sync {first['result']} in "
                f"{time.perf_counter() - started:.0f} s (not measured)"
            )
            client = OrdreClient(f"{ordre}/api/v1", ORDRE_TOKEN, deadline=120)
            poller = httpx.Client(
                base_url=f"{ordre}/api/v1", headers={"Authorization": f"Bearer {ORDRE_TOKEN}"}
            )
            runs = 1
            print("latency (saved file -> visible in ORDRE):")
            for i, debounce in enumerate(args.debounce):
                if i:  # a new debounce setting, adopted by the daemon on its next reconcile
                    save_atomically(
                        root / "connector.yaml", f"debounce: {args.debounce[i - 1]}",
                        f"debounce: {debounce}",
                    )  # fmt: skip
                    runs += 1
                    wait_runs(state, runs, timeout=3600)
                new = f"{name.split(' renamed')[0]} renamed {i}"
                renamed = look_id(client, name)
                t0 = time.perf_counter()
                save_atomically(target, f"- name: {name}\n", f"- name: {new}\n")
                while not look_named(poller, renamed, new):
                    time.sleep(0.02)
                latency = time.perf_counter() - t0
                runs += 1
                wait_runs(state, runs, timeout=3600)
                name = new
                seconds = float(debounce.rstrip("s"))
                floor = seconds + direct_update_seconds(client, name)
                ok = "ok" if latency <= seconds + 1 else "MISSED"
                print(
                    f"  debounce {debounce:>4}: {latency:7.2f} s   floor {floor:6.2f} s   "
                    f"ratio {latency / floor:6.2f}   target <= {seconds + 1:.1f} s: {ok}"
                )
            time.sleep(3)
            idle, base = rss_mb(daemon.pid), floor_rss_mb()
            verdict = "ok" if idle <= RSS_TARGET_MB else "MISSED"
            print(
                f"idle RSS:  {idle:7.1f} MB   floor {base:6.1f} MB (modules imported, idle)   "
                f"ratio {idle / base:5.2f}   target <= {RSS_TARGET_MB} MB: {verdict}"
            )
            writes_before = admin(ordre, "/_admin/counters")["writes"]
            writes_before += admin(zedonk, "/_admin/counters")["writes"]
            text = target.read_text()
            target.write_text(text + "# a comment: the tree means the same\n")
            runs += 1
            noop = wait_runs(state, runs, timeout=3600)
            writes = admin(ordre, "/_admin/counters")["writes"]
            writes += admin(zedonk, "/_admin/counters")["writes"] - writes_before
            verdict = "ok" if writes == 0 and noop["result"] == "no-changes" else "MISSED"
            print(
                f"no-op reconcile: {noop['result']}, {writes} write calls   floor 0   "
                f"target 0: {verdict}"
            )
            client.close()
        finally:
            if daemon is not None:
                daemon.terminate()
                daemon.wait(120)
            sandbox.terminate()
            sandbox.wait(60)
            shutil.rmtree(Path(temp) / "repo", ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
