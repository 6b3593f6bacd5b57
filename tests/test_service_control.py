"""The commands beside a real running daemon (a subprocess, against the sandboxes): they act,
with their normal output and exit codes, and nothing is applied twice."""

from __future__ import annotations

import json
import os
import re
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from sandbox_harness import Sandboxes
from test_service import wait_until
from test_service_daemon import (  # noqa: F401  (the daemon fixture)
    Daemon,
    daemon,
    edit,
    look_names,
    started,
    zedonk_orders,
)

from daemon.store.lock import LOCK_FILE, current_holder, is_daemon_pass

UNKNOWN_BARCODE = "4006381333931"  # a valid GTIN no Zedonk product carries


def cli(d: Daemon, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """A command run in the daemon's repository, with its tokens."""
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args, "--root", str(d.root)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={
            **os.environ,
            "ZEDONK_TOKEN": d.sandbox.zedonk_token,
            "ORDRE_TOKEN": d.sandbox.ordre_token,
        },
        check=False,
    )


def looks(sandbox: Sandboxes) -> dict[str, dict[str, Any]]:
    items = sandbox.client("ordre").get("/looks", params={"limit": 200}).json()["items"]
    return {item["name"]: item for item in items}


def rename_on_ordre(sandbox: Sandboxes, old: str, new: str) -> None:
    """Drift: someone renames a look in ORDRE by hand."""
    look = looks(sandbox)[old]
    answer = sandbox.client("ordre").patch(f"/looks/{look['id']}", json={"name": new})
    assert answer.status_code == 200, answer.text


def look_writes(sandbox: Sandboxes) -> list[dict[str, Any]]:
    return [
        r
        for r in sandbox.requests("ordre")
        if r["method"] in ("PATCH", "PUT", "POST") and r["path"].startswith("/api/v1/looks")
    ]


def ledger_state(d: Daemon, key: str) -> str | None:
    rows = d.query("SELECT state FROM imports WHERE import_key = ?", (key,))
    return rows[0]["state"] if rows else None


def test_commands_act_beside_the_running_daemon(
    daemon: Callable[..., Daemon],  # noqa: F811
    sandbox: Sandboxes,
) -> None:
    d = started(daemon())

    # orders retry: an order the daemon could not import, fixed in ORDRE, retried now.
    customer = sandbox.client("ordre").get("/customers", params={"limit": 1}).json()["items"][0]
    bad = sandbox.submit_order(
        retailer={"account_code": customer["account_code"]},
        po_number="PO-RETRY",
        lines=[
            {
                "barcode": UNKNOWN_BARCODE,
                "style": "ML-999",
                "colour": "RED",
                "size": "M",
                "quantity": 1,
                "unit_price": "99.00",
            }
        ],
    )
    key = f"{bad['id']}#{bad['submission']}"
    assert wait_until(lambda: ledger_state(d, key) == "failed", timeout=30), d.logs()
    listing = sandbox.client("ordre").get("/listings", params={"limit": 1}).json()["items"][0]
    sandbox.edit_order(bad["id"], lines=[{"barcode": listing["sizes"][0]["gtin"], "quantity": 1}])
    retried = cli(d, "orders", "retry", key)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert f"{key}: created" in retried.stdout
    assert len(zedonk_orders(sandbox, f"ordre:{key}")) == 1

    # apply --yes: repairs drift the daemon's timer has not reached yet.
    rename_on_ordre(sandbox, "Shirts", "Shirts (by hand)")
    applied = cli(d, "apply", "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert re.search(r"Apply \(run \d+\): ok", applied.stdout), applied.stdout
    assert "Shirts" in look_names(sandbox)

    # apply PLANFILE: a reviewed plan, applied exactly.
    rename_on_ordre(sandbox, "Shirts", "Shirts (by hand again)")
    plan_file = d.root.parent / "reviewed.plan"
    planned = cli(d, "plan", "--out", str(plan_file))
    assert planned.returncode == 0, planned.stderr
    saved = cli(d, "apply", str(plan_file))
    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert "Shirts" in look_names(sandbox)

    # reconcile: the daemon runs a full pass now, and the command reports it.
    rename_on_ordre(sandbox, "Shirts", "Shirts (by hand, third time)")
    asked = cli(d, "reconcile")
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert "asked the daemon" in asked.stderr
    assert asked.stdout.startswith("Reconcile (run ") and ": ok: applied 1 change" in asked.stdout
    assert "Shirts" in look_names(sandbox)
    request = d.runs()[-1]
    assert request["trigger"] == "request" and request["result"] == "ok"
    answer = json.loads(cli(d, "reconcile", "--format", "json").stdout)
    assert answer["result"] == "no-changes" and answer["by"] == "daemon"

    # pause and resume: the daemon follows them, and `reconcile` respects the pause.
    paused = cli(d, "pause", "--reason", "stock count")
    assert paused.returncode == 0 and "reconciling paused: stock count" in paused.stdout
    refused = cli(d, "reconcile")
    assert refused.returncode == 1 and "reconciling is paused: stock count" in refused.stderr
    status = json.loads(cli(d, "status", "--format", "json").stdout)
    assert status["reconciling"] == "paused" and status["daemon"]["running"] is True
    resumed = cli(d, "resume")
    assert resumed.returncode == 0 and "reconciling resumed" in resumed.stdout
    assert cli(d, "reconcile").returncode == 0

    # A second daemon on the same state directory is refused.
    second = cli(d, "run", timeout=60)
    assert second.returncode == 4, second.stderr
    assert "one daemon runs per state directory" in second.stderr
    assert d.proc is not None and d.proc.poll() is None
    assert d.stop() == 0, d.logs()


def test_an_apply_while_the_daemon_reconciles_an_edit_applies_it_once(
    daemon: Callable[..., Daemon],  # noqa: F811
    sandbox: Sandboxes,
) -> None:
    d = started(daemon())
    # ORDRE answers look writes slowly, so the apply comes while the daemon's pass is on them.
    sandbox.set_faults(
        "ordre",
        rules=[
            {"method": method, "path_prefix": "/api/v1/looks", "action": "delay", "ms": 4000}
            for method in ("PATCH", "PUT")
        ],
    )
    writes = len(look_writes(sandbox))
    edit(d.root / "catalogue" / "essentials.yaml", "- name: Shirts", "- name: Shirts and tees")
    state = d.root.parent / "state"
    assert wait_until(lambda: is_daemon_pass(current_holder(state, LOCK_FILE)), timeout=30)
    applied = cli(d, "apply", "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "waiting for the daemon's reconcile pass" in applied.stderr
    assert "No changes" in applied.stdout  # planned after the daemon's pass: nothing left
    assert "Shirts and tees" in look_names(sandbox)
    assert len(look_writes(sandbox)) - writes == 1, look_writes(sandbox)[writes:]
    sandbox.clear_faults("ordre")
    assert d.stop() == 0, d.logs()


def test_a_saved_plan_the_daemon_applied_meanwhile_is_refused_as_stale(
    daemon: Callable[..., Daemon],  # noqa: F811
    sandbox: Sandboxes,
) -> None:
    d = started(daemon())
    assert cli(d, "pause", "--reason", "review a plan first").returncode == 0
    edit(d.root / "catalogue" / "essentials.yaml", "- name: Shirts", "- name: Shirts and tees")
    plan_file = d.root.parent / "rename.plan"
    assert cli(d, "plan", "--out", str(plan_file)).returncode == 0
    assert cli(d, "resume").returncode == 0  # the daemon applies the edit itself
    assert wait_until(lambda: "Shirts and tees" in look_names(sandbox), timeout=30), d.logs()
    writes = sandbox.write_count("ordre")
    stale = cli(d, "apply", str(plan_file))
    assert stale.returncode == 5, stale.stdout + stale.stderr
    assert "the saved plan no longer matches ORDRE" in stale.stderr
    assert sandbox.write_count("ordre") == writes
    assert d.stop() == 0, d.logs()


def _room_for(files: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < files:
        if hard != resource.RLIM_INFINITY and hard < files:
            pytest.skip(f"this test opens {files} sockets; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (files, hard))


def test_healthz_answers_within_a_second_beside_1100_idle_connections(
    daemon: Callable[..., Daemon],  # noqa: F811
) -> None:
    _room_for(1400)
    d = daemon()
    d.start(open_files=1024)  # systemd's default soft limit
    d.wait_message(b"READY=1")
    host, port = "127.0.0.1", int(d.url.rsplit(":", 1)[1].strip("/"))
    idle: list[socket.socket] = []
    try:
        for _ in range(1100):
            idle.append(socket.create_connection((host, port), timeout=10))
        started_at = time.monotonic()
        with urllib.request.urlopen(d.url + "healthz", timeout=5) as answer:
            body = json.loads(answer.read())
        took = time.monotonic() - started_at
        assert answer.status == 200 and body["status"] == "ok"
        assert took < 1.0, took
        # The daemon still has files to spare: the history opens for /metrics.
        with urllib.request.urlopen(d.url + "metrics", timeout=5) as answer:
            assert b"zedonk_ordre_up 1.0" in answer.read()
    finally:
        for s in idle:
            s.close()
    assert "Too many open files" not in d.logs()
    assert d.stop() == 0, d.logs()
