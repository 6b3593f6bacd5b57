"""Sandbox state across restarts (SQLite file), the large brand, and the `sandbox` command."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from daemon.sandbox import SandboxError, run_in_thread, start_sandboxes
from daemon.sandbox.seed import LARGE_CUSTOMERS, LARGE_PRODUCTS, zedonk_tables

ROOT = Path(__file__).parent.parent


def test_state_file_keeps_both_servers_across_restart(tmp_path: Path) -> None:
    state = str(tmp_path / "sandbox.sqlite")
    with start_sandboxes(state=state) as pair:
        zedonk = httpx.Client(
            base_url=pair.zedonk.api_url,
            trust_env=False,
            headers={"Authorization": f"Bearer {pair.zedonk.token}"},
        )
        ordre = httpx.Client(
            base_url=pair.ordre.api_url,
            trust_env=False,
            headers={"Authorization": f"Bearer {pair.ordre.token}"},
        )
        customer = zedonk.post(
            "/customers", json={"name": "Kept Boutique", "currency": "GBP"}
        ).json()
        col = ordre.post("/collections", json={"name": "Kept", "position": 1}).json()
        order = pair.ordre.submit_order(
            {
                "retailer": {"name": "A"},
                "lines": [
                    {
                        "barcode": None,
                        "style": "S",
                        "colour": "C",
                        "size": "M",
                        "quantity": 1,
                        "unit_price": "1",
                    }
                ],
            }
        )
        zedonk.close()
        ordre.close()
    with start_sandboxes(state=state) as pair:
        headers = {"Authorization": f"Bearer {pair.zedonk.token}"}
        kept = httpx.get(f"{pair.zedonk.api_url}/customers/{customer['id']}", headers=headers)
        assert kept.json() == customer
        created = httpx.post(
            f"{pair.zedonk.api_url}/customers",
            headers=headers,
            json={"name": "Next Boutique", "currency": "EUR"},
        )
        assert created.json()["id"] > customer["id"], "id counters survive too"
        headers = {"Authorization": f"Bearer {pair.ordre.token}"}
        assert (
            httpx.get(f"{pair.ordre.api_url}/collections/{col['id']}", headers=headers).json()
            == col
        )
        assert (
            httpx.get(f"{pair.ordre.api_url}/orders/{order['id']}", headers=headers).json() == order
        )
        lines = [{k: v for k, v in x.items() if k != "line_no"} for x in order["lines"]]
        second = pair.ordre.submit_order({"retailer": {"name": "A"}, "lines": lines})
        assert second["number"] == "ORD-10002"
        pair.zedonk.reset()
    with start_sandboxes(state=state) as pair:
        headers = {"Authorization": f"Bearer {pair.zedonk.token}"}
        gone = httpx.get(f"{pair.zedonk.api_url}/customers/{customer['id']}", headers=headers)
        assert gone.status_code == 404, "a reset is saved as well"


def test_without_state_file_a_restart_starts_fresh() -> None:
    with start_sandboxes() as pair:
        pair.ordre.submit_order(
            {
                "retailer": {"name": "A"},
                "lines": [
                    {
                        "barcode": None,
                        "style": "S",
                        "colour": "C",
                        "size": "M",
                        "quantity": 1,
                        "unit_price": "1",
                    }
                ],
            }
        )
        assert pair.ordre.state()["orders"] == 1
    with start_sandboxes() as pair:
        assert pair.ordre.state()["orders"] == 0


def test_populated_ordre_mirrors_the_demo_catalogue() -> None:
    with start_sandboxes(populated=True) as pair:
        state = pair.ordre.state()
        assert state["collections"] == 1 and state["looks"] == 6
        assert state["listings"] >= 14 and state["customers"] >= 20


def test_large_brand_has_the_benchmark_size() -> None:
    tables, _ = zedonk_tables(1, large=True)
    products = tables["products"]
    assert len(products) == LARGE_PRODUCTS
    assert len(tables["customers"]) == LARGE_CUSTOMERS
    assert "ML-101/WOOL/NAVY" in products
    assert len({c["name"].casefold() for c in tables["customers"].values()}) == LARGE_CUSTOMERS
    barcodes = [s["barcode"] for p in products.values() for s in p["skus"] if s["barcode"]]
    assert len(barcodes) == len(set(barcodes))


def test_only_loopback_is_served() -> None:
    with pytest.raises(SandboxError, match="loopback"):
        run_in_thread(object(), host="0.0.0.0")


def test_a_taken_port_is_a_clear_error() -> None:
    with start_sandboxes() as pair, pytest.raises(SandboxError, match="cannot listen"):
        start_sandboxes(zedonk_port=pair.zedonk.server.port)


def test_sandbox_command_prints_urls_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daemon",
            "sandbox",
            "--zedonk-port",
            "0",
            "--ordre-port",
            "0",
            "--state",
            str(tmp_path / "state.sqlite"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        urls = [re.search(r"(http://\S+)\s+token (\S+)", line) for line in lines]
        assert all(urls), lines
        for match in urls:
            assert match is not None
            url, token = match.groups()
            answer = httpx.get(url + "/customers", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err


def test_sandbox_command_refuses_a_public_host() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "daemon", "sandbox", "--host", "0.0.0.0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "loopback" in proc.stderr and "Traceback" not in proc.stderr


def test_order_stamps_keep_increasing_after_a_restart(tmp_path: Path) -> None:
    state = str(tmp_path / "sandbox.sqlite")
    line = {
        "barcode": None,
        "style": "S",
        "colour": "C",
        "size": "M",
        "quantity": 1,
        "unit_price": "1",
    }
    with start_sandboxes(state=state) as pair:
        pair.ordre.advance_clock(86400)  # the offset itself is not kept across the restart
        first = pair.ordre.submit_order({"retailer": {"name": "A"}, "lines": [line]})
    with start_sandboxes(state=state) as pair:
        second = pair.ordre.submit_order({"retailer": {"name": "A"}, "lines": [line]})
    assert second["updated_at"] > first["updated_at"]
