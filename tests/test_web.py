import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from daemon.service import metrics
from daemon.service.web import StatusServer
from daemon.service.web import app as web_app
from daemon.service.web import inbox as web_inbox
from daemon.service.web import server as web_server
from daemon.store import retention
from daemon.store.history import History, utcnow


def fill(history: History) -> None:
    """A small but varied history: runs, actions, an import with a left-out line, errors."""
    ok = history.start_run("reconcile", "watch")
    action = history.record_action(
        ok, 1, op="create", object_type="look", object_key="Coats/Look 1", intent="+ look Look 1"
    )
    history.finish_action(action, "ok", remote_id="L1")
    history.finish_run(ok, "ok", summary={"create": 1})
    bad = history.start_run("reconcile", "timer")
    history.finish_run(bad, "invalid", error="catalogue/coats.yaml:3:5: looks: unknown key 'lokos'")
    history.record_event(
        "error",
        "catalogue-invalid",
        "catalogue/coats.yaml is invalid <script>alert(1)</script>",
        run_id=bad,
        details={"findings": ["catalogue/coats.yaml:3:5: looks: unknown key 'lokos'"]},
    )
    imp = history.start_run("import", "timer")
    now = utcnow()
    with history.transaction() as conn:
        conn.execute(
            "INSERT INTO imports (import_key, ordre_id, ordre_number, submission, connector_ref,"
            " state, po_number, retailer_name, zedonk_order_number, lines_total, lines_imported,"
            " first_seen_at, updated_at, run_id)"
            " VALUES ('o-1#1', 'o-1', '1001', 1, 'ORDRE-1001/1', 'created', 'PO-77',"
            " 'Maison Lune', 'SO-5001', 3, 2, ?, ?, ?)",
            (now, now, imp),
        )
        conn.execute(
            "INSERT INTO import_lines (import_key, line_no, barcode, style, colour, size,"
            " quantity, reason) VALUES ('o-1#1', 3, '0000000000000', 'COAT-1', 'Navy', 'M', 2,"
            " 'unknown barcode')"
        )
        conn.execute(
            "INSERT INTO imports (import_key, ordre_id, ordre_number, submission, connector_ref,"
            " state, po_number, retailer_name, last_error, first_seen_at, updated_at, run_id)"
            " VALUES ('o-2#1', 'o-2', '1002', 1, 'ORDRE-1002/1', 'needs_attention', 'PO-88',"
            " 'New Shop Ltd', 'retailer not found in Zedonk', ?, ?, ?)",
            (now, now, imp),
        )
    history.finish_run(imp, "partial", summary={"created": 1, "needs_attention": 1})


def get(url: str) -> tuple[int, Message, str]:
    """Status, headers (case-insensitive, as HTTP's are) and body of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


class Health:
    def __init__(self) -> None:
        self.doc: dict[str, Any] = {
            "healthy": True,
            "problems": [],
            "paused": False,
            "loops": {
                "reconcile": {"stuck": False, "failures": 0},
                "import": {"stuck": False, "failures": 0},
            },
        }

    def __call__(self) -> dict[str, Any]:
        return self.doc


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[StatusServer, Health]]:
    with History.open(tmp_path) as history:
        fill(history)
    health = Health()
    server = StatusServer(tmp_path, ("127.0.0.1", 0), health)
    server.start()
    yield server, health
    server.stop()


def test_healthz_follows_the_live_health(served: tuple[StatusServer, Health]) -> None:
    server, health = served
    status, headers, body = get(server.url + "healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert headers["Content-Type"] == "application/json"
    health.doc = {**health.doc, "healthy": False, "problems": ["order import failing for 20 min"]}
    status, _, body = get(server.url + "healthz")
    assert status == 503
    assert json.loads(body)["problems"] == ["order import failing for 20 min"]


def scrape(url: str) -> dict[str, float]:
    """/metrics as prometheus_client's own parser reads it: every sample, by name{labels}."""
    status, headers, body = get(url + "metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return samples


def test_metrics_parse_with_prometheus_client_and_count_the_history(
    served: tuple[StatusServer, Health],
) -> None:
    server, _ = served
    samples = scrape(server.url)
    assert samples['zedonk_ordre_runs_total{kind="reconcile",result="ok"}'] == 1
    assert samples['zedonk_ordre_reconciles_total{result="invalid"}'] == 1
    assert samples['zedonk_ordre_actions_total{object_type="look",op="create",status="ok"}'] == 1
    assert samples["zedonk_ordre_orders_imported_total"] == 1
    assert samples['zedonk_ordre_orders_failed_total{state="needs_attention"}'] == 1
    assert samples['zedonk_ordre_orders_failed_total{state="failed"}'] == 0
    assert samples['zedonk_ordre_order_lines_unmatched_total{reason="unknown barcode"}'] == 1
    assert samples['zedonk_ordre_orders{state="created"}'] == 1
    assert 'zedonk_ordre_last_success_timestamp_seconds{kind="import"}' not in samples
    assert samples['zedonk_ordre_loop_stuck{loop="import"}'] == 0
    assert samples["zedonk_ordre_healthy"] == 1


def test_the_last_success_timestamp_keeps_its_microseconds(
    served: tuple[StatusServer, Health],
) -> None:
    server, _ = served
    with History.open(server.state_dir) as history:
        run = history.start_run("import", "timer")
        history.finish_run(run, "ok", summary={"created": 1})
        [row] = history.query("SELECT finished_at FROM runs WHERE id = ?", (run,))
    exact = datetime.fromisoformat(row["finished_at"]).timestamp()
    value = scrape(server.url)['zedonk_ordre_last_success_timestamp_seconds{kind="import"}']
    assert abs(value - exact) < 1e-5, (value, exact)
    # The staleness alert of docs/service.md, as Prometheus would compute it now: not firing.
    assert time.time() - value < 900


def test_counters_never_go_down(served: tuple[StatusServer, Health]) -> None:
    server, _ = served
    before = scrape(server.url)
    with History.open(server.state_dir) as history, history.transaction() as conn:
        # The order that needed a person is retried and imported; the old runs are pruned.
        conn.execute("UPDATE imports SET state = 'created' WHERE import_key = 'o-2#1'")
    with History.open(server.state_dir) as history:
        gone = retention.prune(history, "9999-01-01T00:00:00+00:00")
    assert gone["runs"] >= 2 and gone["actions"] == 1
    after = scrape(server.url)
    for name, value in before.items():
        if "_total" in name:
            assert after[name] >= value, name
    assert after['zedonk_ordre_orders_failed_total{state="needs_attention"}'] == 1
    assert after["zedonk_ordre_orders_imported_total"] == 2
    assert after['zedonk_ordre_orders{state="needs_attention"}'] == 0  # a gauge: now
    assert after['zedonk_ordre_orders{state="created"}'] == 2


def test_a_scrape_reads_the_same_few_rows_however_long_the_history(tmp_path: Path) -> None:
    def steps_of_a_scrape() -> int:
        with History.open(tmp_path, read_only=True) as history:
            steps = [0]

            def count() -> int:
                steps[0] += 1
                return 0

            history.conn.set_progress_handler(count, 100)
            collector = metrics.HistoryCollector(Health(), lambda: nullcontext(history))
            body, _ = metrics.exposition(collector)
            assert b"zedonk_ordre_runs_total" in body
            return steps[0]

    with History.open(tmp_path) as history:
        fill(history)
    small = steps_of_a_scrape()
    with History.open(tmp_path) as history, history.transaction() as conn:
        for _ in range(20):  # 20,000 more finished runs and actions, through the triggers
            conn.execute(
                "INSERT INTO runs (kind, trigger, started_at) SELECT 'reconcile', 'timer',"
                " '2026-01-01T00:00:00+00:00' FROM (SELECT 1 FROM json_each(?))",
                (json.dumps([0] * 1000),),
            )
        conn.execute(
            "UPDATE runs SET result = 'ok', finished_at = '2026-01-01T00:00:01.000000+00:00'"
            " WHERE result = 'running'"
        )
    large = steps_of_a_scrape()
    assert large <= small + 2, (small, large)


def test_without_history_the_page_says_so_and_creates_nothing(tmp_path: Path) -> None:
    server = StatusServer(tmp_path, ("127.0.0.1", 0))
    server.start()
    try:
        status, _, page = get(server.url)
        assert status == 200 and "No history yet" in page
        status, _, body = get(server.url + "metrics")
        assert status == 200 and "zedonk_ordre_up 1" in body
        assert get(server.url + "nope")[0] == 404
    finally:
        server.stop()
    assert list(tmp_path.iterdir()) == []


def test_a_connection_that_sends_no_whole_request_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_server, "HEAD_TIMEOUT", 0.5)
    server = StatusServer(tmp_path, ("127.0.0.1", 0))
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
            started = time.monotonic()
            assert slow.recv(1024) == b""  # closed by the server
            assert time.monotonic() - started < 3
    finally:
        server.stop()


def test_beyond_the_connection_limit_the_longest_idle_connection_makes_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_server, "MAX_CONNECTIONS", 5)
    server = StatusServer(tmp_path, ("127.0.0.1", 0))
    server.start()
    idle = []
    try:
        for _ in range(5):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        assert wait_for(lambda: server.connections == 5)
        status, _, body = get(server.url + "healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        assert idle[0].recv(1024) == b""  # the oldest idle one was closed for it
        assert server.connections <= 5
    finally:
        for s in idle:
            s.close()
        server.stop()


def test_an_answer_that_takes_too_long_is_a_503(
    served: tuple[StatusServer, Health], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = served
    monkeypatch.setattr(web_app, "ANSWER_SECONDS", 0.2)
    real_page = web_inbox.page

    def slow_page(*args: Any, **kwargs: Any) -> str:
        time.sleep(1.0)
        return real_page(*args, **kwargs)

    monkeypatch.setattr(web_inbox, "page", slow_page)
    status, _, body = get(server.url)
    assert status == 503 and "took too long" in body
    assert get(server.url + "healthz")[0] == 200  # the event loop was never held


def test_every_answer_carries_the_house_headers(served: tuple[StatusServer, Health]) -> None:
    server, _ = served
    for path in ("", "healthz", "metrics", "nope"):
        _, headers, _ = get(server.url + path)
        assert headers["Cache-Control"] == "no-store", path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert "default-src 'none'" in headers["Content-Security-Policy"], path
        assert "server" not in {k.lower() for k in headers}, path
    request = urllib.request.Request(server.url + "healthz", method="HEAD")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200 and answer.read() == b""
    request = urllib.request.Request(server.url + "healthz", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    refused.value.close()
    assert refused.value.code == 405


def wait_for(check: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False
