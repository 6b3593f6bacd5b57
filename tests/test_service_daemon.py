"""`zedonk-ordre run` as a real subprocess, against the sandboxes, with a NOTIFY_SOCKET we own."""

import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sandbox_harness import Sandboxes
from test_service import make_tree, wait_until

from daemon.store.history import History


def limit_files(soft: int) -> None:
    """In the child, before exec: at most ``soft`` open files."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class Daemon:
    """One daemon process, its notify socket, its history and its logs."""

    def __init__(self, root: Path, sandbox: Sandboxes, tmp_path: Path) -> None:
        self.root = root
        self.state = tmp_path / "state"
        self.sandbox = sandbox
        self.log_path = tmp_path / "daemon.log"
        self.name = f"zedonk-ordre-test-{uuid.uuid4().hex}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(b"\0" + self.name.encode())
        self.sock.settimeout(0.2)
        self.proc: subprocess.Popen[bytes] | None = None
        self.received: list[bytes] = []

    def start(self, *, open_files: int | None = None, **env: str) -> None:
        """Start ``run``; ``open_files`` sets its soft limit of open files, as systemd's
        ``LimitNOFILE=`` does (its default soft limit is 1024)."""
        environ = {
            **os.environ,
            "ZEDONK_TOKEN": self.sandbox.zedonk_token,
            "ORDRE_TOKEN": self.sandbox.ordre_token,
            "NOTIFY_SOCKET": "@" + self.name,
            "WATCHDOG_USEC": "600000",
            **env,
        }
        environ.pop("WATCHDOG_PID", None)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "daemon", "run", "--root", str(self.root)],
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=None if open_files is None else partial(limit_files, open_files),
            )

    def drain(self, seconds: float) -> list[bytes]:
        got, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            with contextlib.suppress(TimeoutError):
                got.append(self.sock.recv(4096))
        self.received += got
        return got

    def wait_message(self, prefix: bytes, timeout: float = 30) -> bytes:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for message in self.drain(0.2):
                if message.startswith(prefix):
                    return message
            assert self.proc is not None and self.proc.poll() is None, self.logs()
        raise AssertionError(f"no {prefix!r} within {timeout}s\n{self.logs()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    @property
    def url(self) -> str:
        """The status page's address, from connector.yaml."""
        text = (self.root / "connector.yaml").read_text()
        port = int(text.split("status_listen: 127.0.0.1:")[1].split()[0])
        return f"http://127.0.0.1:{port}/"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def runs(self, kind: str = "reconcile") -> list[dict[str, Any]]:
        """Finished runs of ``kind``, oldest first."""
        if not (self.state / "history.sqlite").exists():
            return []
        with History.open(self.state, read_only=True) as history:
            rows = history.runs(kind=kind, limit=1000)
        return [r for r in reversed(rows) if r["result"] != "running"]

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        with History.open(self.state, read_only=True) as history:
            return history.query(sql, params)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.sock.close()


@pytest.fixture
def daemon(sandbox: Sandboxes, tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    made: list[Daemon] = []

    def make(**timings: str) -> Daemon:
        root = make_tree(
            tmp_path, zedonk_url=sandbox.zedonk_url, ordre_url=sandbox.ordre_url, **timings
        )
        d = Daemon(root, sandbox, tmp_path)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


def started(d: Daemon, **env: str) -> Daemon:
    """Start and wait for READY and the first (startup) reconcile to finish."""
    d.start(**env)
    d.wait_message(b"READY=1")
    assert wait_until(lambda: len(d.runs()) >= 1, timeout=60), d.logs()
    assert d.runs()[0]["result"] == "ok", d.runs()
    return d


def look_names(sandbox: Sandboxes) -> set[str]:
    items = sandbox.client("ordre").get("/looks", params={"limit": 200}).json()["items"]
    return {item["name"] for item in items}


def edit(path: Path, old: str, new: str) -> None:
    """An editor's atomic save: write a temp file next to it, then rename it over."""
    text = path.read_text()
    assert old in text
    temp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    temp.write_text(text.replace(old, new))
    temp.replace(path)


def submit_order(sandbox: Sandboxes, po: str) -> dict[str, Any]:
    listing = sandbox.client("ordre").get("/listings", params={"limit": 1}).json()["items"][0]
    customers = sandbox.client("ordre").get("/customers", params={"limit": 1}).json()["items"]
    gtin = listing["sizes"][0]["gtin"]
    return sandbox.submit_order(
        retailer={"account_code": customers[0]["account_code"]},
        po_number=po,
        lines=[{"barcode": gtin, "quantity": 2}],
    )


def zedonk_orders(sandbox: Sandboxes, connector_ref: str) -> list[dict[str, Any]]:
    response = sandbox.client("zedonk").get(
        "/sales-orders", params={"connector_ref": connector_ref}
    )
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_ready_and_watchdog_pings_arrive_and_sigterm_stops_cleanly(
    daemon: Callable[..., Daemon],
) -> None:
    d = daemon()
    d.start()
    ready = d.wait_message(b"READY=1")
    assert b"STATUS=started" in ready
    pings = [m for m in d.drain(2.0) if m == b"WATCHDOG=1"]
    assert len(pings) >= 3  # every 0.3s with WATCHDOG_USEC=600000
    assert any(m.startswith(b"STATUS=") for m in d.received)
    assert d.stop() == 0, d.logs()
    assert any(m.startswith(b"STOPPING=1") for m in d.drain(0.5) + d.received)


def test_a_hung_main_loop_stops_the_watchdog_pings(daemon: Callable[..., Daemon]) -> None:
    d = daemon()
    d.start(ZEDONK_ORDRE_TEST_HANG_AFTER="3")
    d.wait_message(b"READY=1")
    d.drain(2.0)
    assert d.received.count(b"WATCHDOG=1") == 3
    assert b"WATCHDOG=1" not in d.drain(1.5)  # systemd would now abort and restart it
    assert d.proc is not None and d.proc.poll() is None
    assert d.stop(signal.SIGKILL) == -signal.SIGKILL


def test_an_atomic_save_triggers_one_reconcile_that_reaches_ordre(
    daemon: Callable[..., Daemon], sandbox: Sandboxes
) -> None:
    d = started(daemon())
    assert "Shirts" in look_names(sandbox)
    edit(d.root / "catalogue" / "essentials.yaml", "- name: Shirts", "- name: Shirts and tees")
    assert wait_until(lambda: "Shirts and tees" in look_names(sandbox), timeout=30), d.logs()
    time.sleep(1.5)
    watch = [r for r in d.runs() if r["trigger"] == "watch"]
    assert [r["result"] for r in watch] == ["ok"]
    # A rename needs only ORDRE's collections and looks: no full read of both remotes.
    assert "collections and looks only" in d.logs()
    assert d.stop() == 0


def test_a_burst_of_500_file_changes_gives_at_most_two_reconciles(
    daemon: Callable[..., Daemon],
) -> None:
    d = started(daemon())
    files = sorted((d.root / "catalogue").glob("*.yaml"))
    for i in range(500):
        target = files[i % len(files)]
        target.write_text(target.read_text() + f"# change {i}\n")
    assert wait_until(lambda: any(r["trigger"] == "watch" for r in d.runs()), timeout=30)
    time.sleep(2.0)
    watch = [r for r in d.runs() if r["trigger"] == "watch"]
    assert 1 <= len(watch) <= 2, watch
    assert all(r["result"] == "no-changes" for r in watch)  # comments change nothing remotely
    assert d.stop() == 0


def test_an_invalid_edit_keeps_the_last_good_state_and_records_the_error(
    daemon: Callable[..., Daemon], sandbox: Sandboxes
) -> None:
    d = started(daemon())
    writes = sandbox.write_count("ordre")
    path = d.root / "catalogue" / "essentials.yaml"
    edit(path, "- name: Shirts", "- nme: Shirts")
    assert wait_until(lambda: d.runs()[-1]["result"] == "invalid", timeout=30), d.logs()
    assert sandbox.write_count("ordre") == writes  # nothing reached ORDRE
    assert "Shirts" in look_names(sandbox)
    errors = d.query("SELECT code, message FROM events WHERE level = 'error'")
    assert any("essentials.yaml" in e["message"] for e in errors), errors
    status = subprocess.run(
        [sys.executable, "-m", "daemon", "status", "--root", str(d.root), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "ZEDONK_TOKEN": "x", "ORDRE_TOKEN": "y"},
    )
    doc = json.loads(status.stdout)
    assert doc["last_reconcile"]["result"] == "invalid"
    assert doc["last_good_reconcile"]["result"] == "ok"
    assert doc["daemon"]["running"] is True
    assert doc["daemon"]["holder"]["pid"] == d.proc.pid if d.proc else False
    assert any("essentials.yaml" in p["message"] for p in doc["problems"]), doc["problems"]
    edit(path, "- nme: Shirts", "- name: Shirts")
    assert wait_until(lambda: d.runs()[-1]["result"] in ("ok", "no-changes"), timeout=30)
    assert d.stop() == 0


def test_sigterm_during_an_import_then_a_restart_gives_exactly_one_order(
    daemon: Callable[..., Daemon], sandbox: Sandboxes
) -> None:
    d = started(daemon())
    # Zedonk answers order creates slowly, so SIGTERM lands while one is in flight.
    sandbox.set_faults(
        "zedonk",
        rules=[
            {"method": "POST", "path_prefix": "/api/v1/sales-orders", "action": "delay", "ms": 2500}
        ],
    )
    order = submit_order(sandbox, "PO-SIGTERM")
    key = f"{order['id']}#{order['submission']}"
    assert wait_until(
        lambda: bool(
            d.query("SELECT 1 FROM imports WHERE import_key = ? AND state = 'sending'", (key,))
        ),
        timeout=30,
    ), d.logs()
    assert d.stop() == 0, d.logs()
    sandbox.clear_faults("zedonk")
    d.start()
    d.wait_message(b"READY=1")
    assert wait_until(
        lambda: bool(
            d.query("SELECT 1 FROM imports WHERE import_key = ? AND state = 'created'", (key,))
        ),
        timeout=30,
    ), d.logs()
    [row] = d.query("SELECT connector_ref FROM imports WHERE import_key = ?", (key,))
    assert len(zedonk_orders(sandbox, row["connector_ref"])) == 1
    creates = [
        r
        for r in sandbox.requests("zedonk")
        if r["method"] == "POST" and r["path"] == "/api/v1/sales-orders"
    ]
    assert len(creates) == 1, creates
    assert d.stop() == 0


def test_the_two_loops_stay_isolated_when_one_meets_a_fault(
    daemon: Callable[..., Daemon], sandbox: Sandboxes
) -> None:
    d = started(daemon())
    port = int(
        d.root.joinpath("connector.yaml")
        .read_text()
        .split("status_listen: 127.0.0.1:")[1]
        .split()[0]
    )
    # 1. ORDRE's order list is down: imports fail, reconciling goes on.
    sandbox.set_faults(
        "ordre",
        rules=[
            {"method": "GET", "path_prefix": "/api/v1/orders", "action": "error", "status": 500}
        ],
    )
    assert wait_until(
        lambda: d.runs("import") and d.runs("import")[-1]["result"] == "failed", timeout=30
    )
    edit(d.root / "catalogue" / "essentials.yaml", "- name: Shirts", "- name: Shirts (isolated)")
    assert wait_until(lambda: "Shirts (isolated)" in look_names(sandbox), timeout=30), d.logs()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
        health = json.loads(resp.read())
    assert health["loops"]["import"]["failures"] >= 1
    assert health["loops"]["reconcile"]["failures"] == 0
    # 2. ORDRE's looks are down: reconciling fails, orders still come in.
    # (writes only, so that this test can still read the looks)
    sandbox.set_faults(
        "ordre",
        rules=[
            {"method": m, "path_prefix": "/api/v1/looks", "action": "error", "status": 500}
            for m in ("PATCH", "PUT", "POST")
        ],
    )
    edit(
        d.root / "catalogue" / "essentials.yaml",
        "- name: Shirts (isolated)",
        "- name: Shirts again",
    )
    assert wait_until(lambda: d.runs()[-1]["result"] in ("failed", "partial"), timeout=30)
    order = submit_order(sandbox, "PO-ISOLATED")
    key = f"{order['id']}#{order['submission']}"
    assert wait_until(
        lambda: bool(
            d.query("SELECT 1 FROM imports WHERE import_key = ? AND state = 'created'", (key,))
        ),
        timeout=30,
    ), d.logs()
    assert "Shirts again" not in look_names(sandbox)
    # 3. ORDRE recovers: the reconcile loop retries on its own.
    sandbox.clear_faults("ordre")
    assert wait_until(lambda: "Shirts again" in look_names(sandbox), timeout=40), d.logs()
    assert d.stop() == 0
