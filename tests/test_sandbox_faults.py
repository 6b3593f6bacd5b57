"""Rate limit, fault injection and the request log, seen from a plain httpx client."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sandbox_harness import Sandboxes

from daemon.sandbox import SandboxError

DROPPED = (httpx.RemoteProtocolError, httpx.ReadError)  # a hang-up, or a reset under load
ORDER = {
    "season": "AW26",
    "customer_id": "C00001",
    "order_ref": "PO-1",
    "connector_ref": "ordre:ord_000042#1",
    "owner": "sophie",
    "currency": "EUR",
    "lines": [{"product_id": "ML-101/WOOL/NAVY", "size": "38", "quantity": 1, "unit_price": "1"}],
}


def orders_with_ref(client: httpx.Client, ref: str) -> list[Any]:
    items: list[Any] = client.get("/sales-orders", params={"connector_ref": ref}).json()["items"]
    return items


def test_rate_limit_answers_429_with_retry_after(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    sandbox.zedonk.set_rate_limit(3, window_seconds=30)
    statuses = [client.get("/seasons").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = client.get("/seasons")
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 30
    # admin and the open endpoints are never limited
    assert sandbox.zedonk.counters()["by_status"]["429"] == 3
    sandbox.zedonk.clear_rate_limit()
    assert client.get("/seasons").status_code == 200


def test_rate_limit_window_resets(sandbox: Sandboxes) -> None:
    client = sandbox.client("ordre")
    sandbox.ordre.set_rate_limit(1, window_seconds=1)
    assert client.get("/listings").status_code == 200
    limited = client.get("/listings")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    time.sleep(1.05)
    assert client.get("/listings").status_code == 200


def test_fail_next_n_matching_requests_then_succeed(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    sandbox.fail_next("zedonk", "POST", "/sales-orders", status=503, times=2)
    assert client.get("/seasons").status_code == 200, "other routes are untouched"
    first = client.post("/sales-orders", json=ORDER)
    assert first.status_code == 503
    assert first.json()["error"]["code"] == "injected_fault"
    assert client.post("/sales-orders", json=ORDER).status_code == 503
    assert orders_with_ref(client, "ordre:ord_000042#1") == [], "an injected error stores nothing"
    assert client.post("/sales-orders", json=ORDER).status_code == 201
    faults = sandbox.admin_client("zedonk").get("/_admin/faults").json()
    assert faults["rules"][0]["times"] == 0


def test_injected_429_carries_retry_after(sandbox: Sandboxes) -> None:
    client = sandbox.client("ordre")
    sandbox.set_faults(
        "ordre", rules=[{"action": "error", "status": 429, "retry_after": 7, "times": 1}]
    )
    answer = client.get("/orders")
    assert (answer.status_code, answer.headers["retry-after"]) == (429, "7")
    assert answer.json()["error"]["code"] == "rate_limited"
    assert client.get("/orders").status_code == 200


def test_error_rates_are_reproducible_with_a_seed(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")

    def run() -> list[int]:
        sandbox.set_faults("zedonk", seed=42, error_rates={"503": 0.4, "500": 0.2})
        return [client.get("/seasons").status_code for _ in range(30)]

    first, second = run(), run()
    assert first == second
    assert {200, 500, 503} <= set(first)
    assert 6 <= first.count(200) <= 24
    sandbox.set_faults("zedonk", seed=43, error_rates={"503": 0.4, "500": 0.2})
    assert [client.get("/seasons").status_code for _ in range(30)] != first


def test_dropped_connection_has_no_answer_and_no_effect(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    sandbox.set_faults("zedonk", rules=[{"method": "POST", "action": "drop", "times": 1}])
    with pytest.raises(DROPPED):
        client.post("/sales-orders", json=ORDER)
    assert orders_with_ref(client, ORDER["connector_ref"]) == []
    entry = next(e for e in sandbox.requests("zedonk") if e["method"] == "POST")
    assert (entry["status"], entry["fault"], entry["write"]) == (None, "drop", True)


def test_lose_response_commits_then_drops(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    sandbox.set_faults(
        "zedonk",
        rules=[
            {
                "method": "POST",
                "path_prefix": "/api/v1/sales-orders",
                "action": "lose_response",
                "times": 1,
            }
        ],
    )
    with pytest.raises(DROPPED):
        client.post("/sales-orders", json=ORDER)
    stored = orders_with_ref(client, ORDER["connector_ref"])
    assert len(stored) == 1, "the order was stored although no answer came back"


def test_lose_response_stall_hits_the_client_timeout(sandbox: Sandboxes) -> None:
    client = sandbox.client("ordre", timeout=0.5)
    sandbox.set_faults(
        "ordre",
        rules=[{"method": "POST", "action": "lose_response", "mode": "stall", "stall_seconds": 5}],
    )
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        client.post("/collections", json={"name": "AW26", "position": 1})
    assert time.monotonic() - started < 3
    sandbox.clear_faults()
    assert [c["name"] for c in client.get("/collections").json()["items"]] == ["AW26"]


def test_drip_sends_the_real_answer_slowly(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    fast = client.get("/seasons").content
    sandbox.set_faults("zedonk", rules=[{"action": "drip", "bytes_per_second": 400, "times": 1}])
    started = time.monotonic()
    with client.stream("GET", "/seasons") as answer:
        assert answer.status_code == 200
        assert int(answer.headers["content-length"]) == len(fast)
        chunks = list(answer.iter_bytes())
    elapsed = time.monotonic() - started
    assert b"".join(chunks) == fast
    assert len(chunks) > 3
    assert elapsed >= len(fast) / 400 * 0.7


def test_drip_outlasts_a_deadline(sandbox: Sandboxes) -> None:
    """Each chunk comes well inside the read timeout, so only an overall deadline stops it."""
    client = sandbox.client("zedonk", timeout=1.0)
    sandbox.set_faults("zedonk", rules=[{"action": "drip", "bytes_per_second": 20}])
    started = time.monotonic()
    received = 0
    with client.stream("GET", "/products") as answer:
        for chunk in answer.iter_bytes():
            received += len(chunk)
            if time.monotonic() - started > 1.5:
                break
    assert received < int(answer.headers["content-length"])


def test_delay_and_latency_slow_every_answer(sandbox: Sandboxes) -> None:
    client = sandbox.client("ordre")
    sandbox.set_faults("ordre", latency_ms=100, rules=[{"action": "delay", "ms": 500, "times": 1}])
    started = time.monotonic()
    assert client.get("/listings").status_code == 200
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    assert client.get("/listings").status_code == 200
    assert 0.1 <= time.monotonic() - started < 0.5


def test_malformed_answer_is_not_json(sandbox: Sandboxes) -> None:
    client = sandbox.client("ordre")
    sandbox.set_faults(
        "ordre", rules=[{"method": "GET", "path_prefix": "/api/v1/orders", "action": "malformed"}]
    )
    answer = client.get("/orders")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    with pytest.raises(ValueError):
        answer.json()


def test_a_rule_can_pick_requests_by_their_body(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    sandbox.set_faults(
        "zedonk",
        rules=[{"action": "error", "status": 409, "body_contains": "ordre:ord_000042#1"}],
    )
    assert client.post("/sales-orders", json=ORDER).status_code == 409
    other = client.post("/sales-orders", json={**ORDER, "connector_ref": "ordre:ord_000043#1"})
    assert other.status_code == 201, "the body reached the app whole"
    assert other.json()["connector_ref"] == "ordre:ord_000043#1"
    assert client.get("/seasons").status_code == 200, "a GET has no body to match"


def test_a_rule_can_pick_requests_by_their_query(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    rule = {"action": "error", "status": 400, "query_contains": "connector_ref_prefix=ordre:o-1#"}
    sandbox.set_faults("zedonk", rules=[rule])
    picked = client.get("/sales-orders", params={"connector_ref_prefix": "ordre:o-1#"})
    assert picked.status_code == 400  # matched as decoded: "#" travels as %23
    assert client.get("/sales-orders", params={"connector_ref_prefix": "ordre:o-2#"}).is_success
    assert client.get("/sales-orders").is_success


def test_rate_rule_with_seed_fires_reproducibly(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")

    def run() -> list[int]:
        sandbox.set_faults(
            "zedonk", seed=5, rules=[{"action": "error", "status": 502, "rate": 0.5}]
        )
        return [client.get("/users").status_code for _ in range(20)]

    first = run()
    assert first == run()
    assert set(first) == {200, 502}


def test_faults_spare_admin_retailer_and_open_endpoints(sandbox: Sandboxes) -> None:
    sandbox.set_faults("ordre", error_rates={"503": 1.0})
    assert sandbox.client("ordre").get("/orders").status_code == 503
    order = sandbox.submit_order(
        retailer={"name": "A"},
        lines=[
            {
                "barcode": None,
                "style": "S",
                "colour": "C",
                "size": "M",
                "quantity": 1,
                "unit_price": "1",
            }
        ],
    )
    assert order["status"] == "submitted"
    assert httpx.get(sandbox.ordre.url + "/healthz").status_code == 200
    assert sandbox.ordre.counters()["requests"] >= 2


def test_bad_fault_config_is_rejected(sandbox: Sandboxes) -> None:
    for config in (
        {"rules": [{"action": "explode"}]},
        {"error_rates": {"200": 0.5}},
        {"error_rates": {"503": 0.7, "500": 0.7}},
        {"rules": [{"action": "error", "colour": "red"}]},
        {"rules": [{"action": "error", "body_contains": ""}]},
        {"rules": [{"action": "error", "query_contains": 5}]},
        {"latency": 5},
    ):
        with pytest.raises(SandboxError, match="422"):
            sandbox.zedonk.set_faults(config)


def test_request_log_counts_connector_writes_only(sandbox: Sandboxes) -> None:
    zedonk = sandbox.client("zedonk")
    zedonk.get("/products")
    zedonk.post("/customers", json={"name": "Counted Boutique", "currency": "EUR"})
    zedonk.post(
        "/customers", json={"name": "Counted Boutique", "currency": "EUR"}
    )  # 409 still counts
    sandbox.client("zedonk", token="wrong").post("/customers", json={})
    assert sandbox.write_count("zedonk") == 2
    log = sandbox.requests("zedonk")
    assert [(e["method"], e["status"], e["actor"]) for e in log] == [
        ("GET", 200, "connector"),
        ("POST", 201, "connector"),
        ("POST", 409, "connector"),
        ("POST", 401, "anonymous"),
    ]
    assert log[1]["path"] == "/api/v1/customers"
    newer = sandbox.zedonk.requests(since=log[1]["seq"])
    assert [e["seq"] for e in newer] == [log[2]["seq"], log[3]["seq"]]
    answer = zedonk.get("/seasons")
    assert int(answer.headers["x-request-id"]) == log[3]["seq"] + 1
    sandbox.submit_order(
        retailer={"name": "A"},
        lines=[
            {
                "barcode": None,
                "style": "S",
                "colour": "C",
                "size": "M",
                "quantity": 1,
                "unit_price": "1",
            }
        ],
    )
    assert sandbox.write_count("ordre") == 0
    assert sandbox.requests("ordre")[-1]["actor"] == "retailer"
    sandbox.zedonk.clear_requests()
    assert sandbox.write_count("zedonk") == 0


def test_reset_clears_knobs_and_state(sandbox: Sandboxes) -> None:
    client = sandbox.client("zedonk")
    client.post("/sales-orders", json=ORDER)
    sandbox.set_faults("zedonk", error_rates={"503": 1.0})
    sandbox.zedonk.set_rate_limit(1)
    sandbox.reset()
    assert client.get("/sales-orders").json()["items"] == []
    assert sandbox.zedonk.counters()["requests"] == 1
