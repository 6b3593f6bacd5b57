"""The daemon's machinery in-process, with stand-in reconcile and import passes.

The stand-ins record their calls and a run in the real history, so these tests watch the
loops, the watcher, the debounce, pause, isolation, back-off and stopping without a network.
The end-to-end tests against the sandboxes are in test_service_daemon.py.
"""

import contextlib
import logging
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from daemon.errors import ConfigError, LockHeld
from daemon.service import JournalFormatter, PassOutcome, Service, backoff, tree_fingerprint
from daemon.service.housekeeping import Housekeeping
from daemon.service.sdnotify import SystemdNotifier
from daemon.store import requests, retention
from daemon.store.history import History
from daemon.store.status import pause, resume
from daemon.tree.settings import load_settings

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def make_tree(
    tmp_path: Path,
    *,
    zedonk_url: str = "http://127.0.0.1:9/api/v1",
    ordre_url: str = "http://127.0.0.1:9/api/v1",
    notifications: dict[str, Any] | None = None,
    settle_window: str = "0s",
    **daemon: str,
) -> Path:
    """A copy of the repository's connector.yaml and catalogue/ with short daemon timings
    (and no settle window: the sandbox's search does not lag unless a test makes it)."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(REPO / "catalogue", root / "catalogue")
    doc = yaml.safe_load((REPO / "connector.yaml").read_text())
    doc.pop("notifications", None)
    if notifications is not None:
        doc["notifications"] = notifications
    doc["zedonk"]["url"] = zedonk_url
    doc["ordre"]["url"] = ordre_url
    doc["import"]["settle_window"] = settle_window
    doc["daemon"] = {
        "poll_interval": "1s",  # the shortest the schema allows
        "reconcile_interval": "1h",
        "debounce": "200ms",
        "status_listen": f"127.0.0.1:{free_port()}",
        "remote_down_alert_after": "10m",
        "state_dir": str(tmp_path / "state"),
        **daemon,
    }
    (root / "connector.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


@dataclass
class Outcome:
    run_id: int
    result: str
    message: str = ""


class StandIn:
    """A pass that records a run in the history; ``behaviour`` decides the result."""

    def __init__(self, kind: str, behaviour: Callable[[], str] | None = None) -> None:
        self.kind = kind
        self.behaviour = behaviour or (lambda: "ok")
        self.calls: list[str] = []
        self.times: list[float] = []

    def __call__(self, settings: Any, history: History, *, trigger: str, **_: Any) -> Outcome:
        self.calls.append(trigger)
        self.times.append(time.monotonic())
        run_id = history.start_run(self.kind, trigger)
        result = self.behaviour()
        history.finish_run(run_id, result)
        return Outcome(run_id, result, f"{self.kind} said {result}")

    def count(self, trigger: str) -> int:
        return self.calls.count(trigger)


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


class Running:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.exit: list[int] = []
        self.error: list[BaseException] = []
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        try:
            self.exit.append(self.service.run())
        except BaseException as exc:
            self.error.append(exc)

    def stop(self, timeout: float = 15) -> None:
        self.service.request_stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the service did not stop"


@pytest.fixture(autouse=True)
def tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEDONK_TOKEN", "zedonk-sandbox-token")
    monkeypatch.setenv("ORDRE_TOKEN", "ordre-sandbox-token")
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)


@pytest.fixture
def start() -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def _start(root: Path, **kwargs: Any) -> Running:
        kwargs.setdefault("reconcile", StandIn("reconcile"))
        kwargs.setdefault("import_orders", StandIn("import"))
        kwargs.setdefault("stop_grace", 5)
        service = Service(load_settings(root), **kwargs)
        running = Running(service)
        running.thread.start()
        assert wait_until(lambda: service.history is not None and service.watcher is not None)
        started.append(running)
        return running

    yield _start
    for running in started:
        if running.thread.is_alive():
            running.stop()


def test_startup_reconciles_once_and_the_import_loop_polls(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    root = make_tree(tmp_path)
    rec, imp = StandIn("reconcile"), StandIn("import")
    running = start(root, reconcile=rec, import_orders=imp)
    loops = running.service.loops
    assert wait_until(lambda: loops["reconcile"].passes == 1 and loops["import"].passes >= 2)
    assert imp.calls[:2] == ["startup", "timer"]
    assert 0.9 <= imp.times[1] - imp.times[0] < 2.0  # poll_interval 1s
    health = running.service.health()
    assert health["healthy"] and health["loops"]["import"]["passes"] >= 2
    running.stop()
    assert running.exit == [0]


class SeeingStandIn(StandIn):
    """A stand-in reconcile that keeps the settings each pass was given."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.settings: list[Any] = []

    def __call__(self, settings: Any, history: History, *, trigger: str, **_: Any) -> Outcome:
        self.settings.append(settings)
        return super().__call__(settings, history, trigger=trigger)


def test_the_state_directory_and_status_address_stay_as_started_until_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_tree(tmp_path)
    started = load_settings(root)
    listen = ("127.0.0.1", free_port())  # what `run --status-listen` gives instead of the file
    rec = SeeingStandIn("reconcile")
    service = Service(
        replace(started, daemon=replace(started.daemon, status_listen=listen)),
        reconcile=rec,
        import_orders=StandIn("import"),
        stop_grace=5,
    )
    running = Running(service)
    caplog.set_level(logging.WARNING, logger="daemon.service.loops")
    running.thread.start()
    try:
        assert wait_until(lambda: rec.count("startup") == 1)
        assert "take effect after a restart" not in caplog.text  # the override is no change
        assert rec.settings[0].daemon.status_listen == listen
        connector = root / "connector.yaml"
        connector.write_text(
            connector.read_text().replace(str(tmp_path / "state"), str(tmp_path / "moved"))
        )
        assert wait_until(lambda: rec.count("watch") == 1)
        assert caplog.text.count("take effect after a restart") == 1
        seen = rec.settings[-1]
        assert seen.state_dir == started.state_dir and seen.daemon.status_listen == listen
        assert service.settings.state_dir == started.state_dir
        assert not (tmp_path / "moved").exists()
    finally:
        running.stop()


def test_an_atomic_save_through_a_rename_triggers_one_reconcile(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    root = make_tree(tmp_path)
    rec = StandIn("reconcile")
    start(root, reconcile=rec)
    assert wait_until(lambda: rec.calls == ["startup"])
    target = next((root / "catalogue").glob("*.yaml"))
    swap = target.with_name(f".{target.name}.swp")
    swap.write_text("swap")  # an editor's swap file alone changes nothing
    temp = target.with_name(f"{target.name}.tmp")
    temp.write_text(target.read_text() + "\n# edited\n")
    temp.replace(target)
    assert wait_until(lambda: rec.count("watch") == 1)
    time.sleep(1.0)  # long enough for a second reconcile to show up if there were one
    assert rec.calls == ["startup", "watch"]


def test_a_burst_of_500_file_changes_gives_at_most_two_reconciles(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    root = make_tree(tmp_path)
    rec = StandIn("reconcile")
    start(root, reconcile=rec)
    assert wait_until(lambda: rec.calls == ["startup"])
    files = sorted((root / "catalogue").glob("*.yaml"))
    for i in range(500):  # like a git checkout: many files rewritten at once
        target = files[i % len(files)]
        target.write_text(target.read_text() + f"# {i}\n")
    assert wait_until(lambda: rec.count("watch") >= 1)
    time.sleep(1.5)
    assert 1 <= rec.count("watch") <= 2, rec.calls


def test_touching_files_without_changing_them_does_not_reconcile_again(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    root = make_tree(tmp_path)
    rec = StandIn("reconcile")
    start(root, reconcile=rec)
    assert wait_until(lambda: rec.calls == ["startup"])
    target = next((root / "catalogue").glob("*.yaml"))
    target.write_text(target.read_text())
    time.sleep(1.0)
    assert rec.calls == ["startup"]


def test_an_invalid_connector_yaml_keeps_the_last_good_settings_and_is_recorded(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    root = make_tree(tmp_path)
    rec = StandIn("reconcile")
    running = start(root, reconcile=rec)
    assert wait_until(lambda: rec.calls == ["startup"])
    good = (root / "connector.yaml").read_text()
    (root / "connector.yaml").write_text(good.replace("import:", "imprt:"))
    assert wait_until(lambda: running.service.loops["reconcile"].last_result == "invalid")
    assert rec.calls == ["startup"]  # nothing was applied
    with History.open(tmp_path / "state", read_only=True) as history:
        [run] = history.runs(kind="reconcile", errors_only=True)
        assert run["result"] == "invalid" and "connector.yaml" in run["error"]
        [event] = history.events(level="error")
        assert event["code"] == "settings-invalid"
    (root / "connector.yaml").write_text(good)
    assert wait_until(lambda: rec.count("watch") == 1)


def test_an_invalid_catalogue_is_recorded_and_the_next_good_edit_applies(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    root = make_tree(tmp_path)
    verdicts = iter(["ok", "invalid", "ok"])
    rec = StandIn("reconcile", lambda: next(verdicts))
    running = start(root, reconcile=rec)
    assert wait_until(lambda: rec.calls == ["startup"])
    target = next((root / "catalogue").glob("*.yaml"))
    target.write_text(target.read_text() + "looks: [\n")
    assert wait_until(lambda: running.service.loops["reconcile"].last_result == "invalid")
    # An invalid tree is not retried on a timer: it waits for the next edit.
    time.sleep(0.8)
    assert rec.calls == ["startup", "watch"]
    target.write_text(target.read_text().replace("looks: [\n", ""))
    assert wait_until(lambda: running.service.loops["reconcile"].last_result == "ok")
    assert rec.calls == ["startup", "watch", "watch"]


def test_a_failing_import_loop_does_not_stop_reconciling_and_backs_off(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    root = make_tree(tmp_path)

    def explode() -> str:
        raise RuntimeError("ORDRE fell over")

    rec, imp = StandIn("reconcile"), StandIn("import", explode)
    running = start(root, reconcile=rec, import_orders=imp)
    assert wait_until(lambda: rec.calls == ["startup"])
    target = next((root / "catalogue").glob("*.yaml"))
    target.write_text(target.read_text() + "# edit\n")
    assert wait_until(lambda: rec.count("watch") == 1)
    loop = running.service.loops["import"]
    assert wait_until(lambda: loop.passes >= 3)
    assert loop.failures >= 3 and loop.last_result == "failed"
    assert "ORDRE fell over" in (loop.last_message or "")
    # Back-off: 1s, then 2s between failing passes, where the poll interval is 1s.
    first, second = imp.times[1] - imp.times[0], imp.times[2] - imp.times[1]
    assert 0.9 <= first < 1.5 and 1.9 <= second < 2.6, (first, second)
    with History.open(tmp_path / "state", read_only=True) as history:
        assert any(e["code"] == "import-error" for e in history.events(level="error"))


def test_an_import_pass_that_leaves_orders_waiting_does_not_slow_the_polls(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    """Orders waiting for a settle window or held for a person ("partial") are no sign of a
    remote in trouble: the next poll still comes after ``poll_interval``, so that an order
    submitted meanwhile is not kept waiting minutes."""
    root = make_tree(tmp_path)
    rec, imp = StandIn("reconcile"), StandIn("import", lambda: "partial")
    running = start(root, reconcile=rec, import_orders=imp)
    loop = running.service.loops["import"]
    assert wait_until(lambda: loop.passes >= 4)
    assert loop.last_result == "partial"
    # The poll interval is 1s; a back-off would wait 2s, then 4s.
    gaps = [later - earlier for earlier, later in zip(imp.times, imp.times[1:], strict=False)]
    assert all(0.9 <= gap < 1.9 for gap in gaps[:3]), gaps


def test_a_failing_reconcile_does_not_stop_the_import_loop(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    root = make_tree(tmp_path)

    def explode() -> str:
        raise RuntimeError("planner bug")

    rec, imp = StandIn("reconcile", explode), StandIn("import")
    running = start(root, reconcile=rec, import_orders=imp)
    assert wait_until(lambda: running.service.loops["reconcile"].failures == 1)
    before = len(imp.calls)
    assert wait_until(lambda: len(imp.calls) >= before + 2)
    assert running.service.loops["import"].failures == 0


def test_pause_holds_back_reconciles_and_resume_applies_what_changed(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    root = make_tree(tmp_path)
    rec = StandIn("reconcile")
    running = start(root, reconcile=rec)
    assert wait_until(lambda: rec.calls == ["startup"])
    with History.open(tmp_path / "state") as history:
        pause(history, "stock count", by="test")
    assert wait_until(lambda: running.service.health()["paused"] is not None)
    target = next((root / "catalogue").glob("*.yaml"))
    target.write_text(target.read_text() + "# edit while paused\n")
    time.sleep(1.0)
    assert rec.calls == ["startup"]
    with History.open(tmp_path / "state") as history:
        assert resume(history, by="test") is not None
    assert wait_until(lambda: rec.calls == ["startup", "watch"])
    assert running.service.health()["paused"] is None


def test_a_stuck_loop_stops_the_watchdog_pings_and_makes_health_fail(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    root = make_tree(tmp_path)
    release = threading.Event()
    imp = StandIn("import", lambda: "ok" if release.wait(30) else "failed")
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.3)
    try:
        systemd = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
        running = start(root, import_orders=imp, systemd=systemd, stuck_after=1.0)
        received: list[bytes] = []

        def drain(seconds: float) -> list[bytes]:
            got, end = [], time.monotonic() + seconds
            while time.monotonic() < end:
                with contextlib.suppress(TimeoutError):
                    got.append(sock.recv(4096))
            return got

        received = drain(0.6)
        assert any(m.startswith(b"READY=1") for m in received)
        assert b"WATCHDOG=1" in received
        assert wait_until(lambda: not running.service.health()["healthy"], timeout=5)
        assert "busy" in running.service.health()["problems"][0]
        drain(0.3)  # a ping may have been in flight
        assert b"WATCHDOG=1" not in drain(1.0)
        release.set()
        assert wait_until(lambda: running.service.health()["healthy"], timeout=5)
        assert b"WATCHDOG=1" in drain(1.0)
        running.stop()
        assert any(m.startswith(b"STOPPING=1") for m in drain(0.5))
    finally:
        sock.close()


def test_stop_lets_the_call_in_flight_finish_then_exits_0(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    root = make_tree(tmp_path)
    began, finished = threading.Event(), threading.Event()

    def slow() -> str:
        began.set()
        time.sleep(0.8)
        finished.set()
        return "ok"

    imp = StandIn("import", slow)
    running = start(root, import_orders=imp)
    assert began.wait(5)
    started = time.monotonic()
    running.stop()
    assert finished.is_set() and running.exit == [0]
    assert time.monotonic() - started < 5
    assert len(imp.calls) == 1  # no new work after the stop
    with History.open(tmp_path / "state", read_only=True) as history:
        assert history.events()[0]["code"] == "daemon-stopped"


def test_a_second_daemon_on_the_same_state_directory_is_refused(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    root = make_tree(tmp_path)
    start(root)
    second = Service(load_settings(root), reconcile=StandIn("r"), import_orders=StandIn("i"))
    with pytest.raises(LockHeld):
        second.run()


def test_a_missing_token_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_tree(tmp_path)
    monkeypatch.delenv("ORDRE_TOKEN")
    service = Service(load_settings(root), reconcile=StandIn("r"), import_orders=StandIn("i"))
    with pytest.raises(ConfigError, match="ORDRE_TOKEN"):
        service.run()


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n, 5) for n in range(1, 5)] == [5, 10, 20, 40]
    assert backoff(20, 60) == 300
    assert backoff(3, 600) == 600  # never shorter than the normal interval


def test_the_fingerprint_follows_content_not_editor_droppings(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    before = tree_fingerprint(root)
    (root / "catalogue" / ".x.yaml.swp").write_text("swap")
    (root / "catalogue" / "notes.txt").write_text("notes")
    assert tree_fingerprint(root) == before
    target = next((root / "catalogue").glob("*.yaml"))
    target.write_text(target.read_text() + "# edit\n")
    assert tree_fingerprint(root) != before


def test_a_loop_failing_for_longer_than_the_alert_delay_makes_health_fail(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    root = make_tree(tmp_path, remote_down_alert_after="1s")

    def down() -> str:
        return "failed"

    running = start(root, import_orders=StandIn("import", down))
    loop = running.service.loops["import"]
    assert wait_until(lambda: loop.failures >= 1)
    assert running.service.health()["healthy"] is True  # failing, but not for long yet
    assert wait_until(lambda: not running.service.health()["healthy"], timeout=10)
    [problem] = running.service.health()["problems"]
    assert problem.startswith("the import loop has been failing for")
    assert "import said failed" in problem


def test_journal_lines_carry_a_priority_prefix_and_no_timestamp() -> None:
    formatter = JournalFormatter("%(levelname)s %(name)s: %(message)s")
    record = logging.LogRecord("daemon.service", logging.WARNING, __file__, 1, "a\nb", None, None)
    assert formatter.format(record) == "<4>WARNING daemon.service: a\n<4>b"
    record = logging.LogRecord("daemon.service", logging.ERROR, __file__, 1, "boom", None, None)
    assert formatter.format(record) == "<3>ERROR daemon.service: boom"


def test_an_invalid_catalogue_is_announced_by_email_once_and_its_fix_too(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    from aiosmtpd.controller import Controller
    from test_notify import Inbox

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        email = {
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "starttls": False,
            "sender": "connector@example.com",
            "recipients": ["ops@example.com"],
        }
        root = make_tree(tmp_path, notifications={"email": email})
        verdicts = iter(["ok", "invalid", "invalid", "ok"])
        rec = StandIn("reconcile", lambda: next(verdicts))
        running = start(root, reconcile=rec)
        assert running.service.notifier is not None
        assert wait_until(lambda: rec.calls == ["startup"])
        target = next((root / "catalogue").glob("*.yaml"))
        for edit in ("# typo 1\n", "# typo 2\n"):
            target.write_text(target.read_text() + edit)
            assert wait_until(lambda: running.service.loops["reconcile"].last_result == "invalid")
            running.service.loops["reconcile"].last_result = None
        assert wait_until(lambda: len(inbox.messages) >= 1)  # the drainer sent the problem
        target.write_text(target.read_text() + "# fixed\n")
        assert wait_until(lambda: len(inbox.messages) >= 2)
        subjects = [" ".join(str(m["Subject"]).split()) for m in inbox.messages]
        assert subjects == [
            "[zedonk-ordre] problem: the catalogue is invalid; nothing was applied",
            "[zedonk-ordre] resolved: the catalogue is invalid; nothing was applied",
        ]
        assert "reconcile said invalid" in str(inbox.messages[0].get_payload())
    finally:
        controller.stop()


def test_a_dead_watcher_is_restarted_by_the_daemon_and_edits_are_seen_again(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    root = make_tree(tmp_path)
    rec = StandIn("reconcile")
    running = start(root, reconcile=rec)
    assert wait_until(lambda: rec.calls == ["startup"])
    watcher = running.service.watcher
    assert watcher is not None
    for emitter in list(watcher._observer.emitters):
        emitter.stop()
        emitter.join(5)
    assert wait_until(lambda: watcher.restarts == 1, timeout=5)
    time.sleep(0.5)
    assert rec.calls == ["startup"]  # the rescan found the files as they were applied
    target = next((root / "catalogue").glob("*.yaml"))
    target.write_text(target.read_text() + "# edit after the restart\n")
    assert wait_until(lambda: rec.calls == ["startup", "watch"])


def test_requests_are_answered_by_one_full_pass_and_refused_while_paused(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    root = make_tree(tmp_path)
    rec = StandIn("reconcile")
    running = start(root, reconcile=rec)
    history = running.service.history
    assert history is not None and wait_until(lambda: rec.calls == ["startup"])
    first = requests.ask(history, requests.RECONCILE)
    second = requests.ask(history, requests.RECONCILE)
    assert wait_until(lambda: requests.answer_of(history, second) is not None)
    one, two = requests.answer_of(history, first), requests.answer_of(history, second)
    assert one is not None and two is not None
    assert rec.calls == ["startup", "request"]  # two requests, one pass
    assert one["run_id"] == two["run_id"] and two["result"] == "ok"
    assert two["message"] == "reconcile said ok"
    pause(history, "stock count", by="ines")
    asked = requests.ask(history, requests.RECONCILE)
    assert wait_until(lambda: requests.answer_of(history, asked) is not None)
    answered = requests.answer_of(history, asked)
    assert answered is not None and answered["result"] == "paused"
    assert "stock count" in answered["message"]
    assert rec.calls == ["startup", "request"]


def test_a_pass_that_finds_a_command_at_work_waits_and_keeps_its_trigger(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    root = make_tree(tmp_path)
    calls: list[str] = []

    def reconcile(settings: Any, history: History, *, trigger: str) -> Any:
        calls.append(trigger)
        if len(calls) == 2:  # the watch pass finds `apply` holding the lock, once
            return PassOutcome(None, "busy", "apply (pid 42 on host, since now)")
        return StandIn("reconcile")(settings, history, trigger=trigger)

    running = start(root, reconcile=reconcile)
    assert wait_until(lambda: calls == ["startup"])
    target = next((root / "catalogue").glob("*.yaml"))
    target.write_text(target.read_text() + "\n# edited\n")
    assert wait_until(lambda: running.service.loops["reconcile"].waiting_for is not None)
    assert running.service.health()["loops"]["reconcile"]["waiting_for"].startswith("apply")
    assert wait_until(lambda: calls == ["startup", "watch", "watch"], timeout=10)
    loop = running.service.loops["reconcile"]
    assert wait_until(lambda: loop.passes == 2)  # the busy try was no pass
    assert loop.waiting_for is None and loop.last_result == "ok"


def test_housekeeping_prunes_with_the_retention_and_records_it(tmp_path: Path) -> None:
    settings = load_settings(make_tree(tmp_path))
    with History.open(settings.state_dir) as history:
        old = history.start_run("reconcile", "timer")
        history.finish_run(old, "failed", error="ordre: 503")
        with history.transaction() as conn:
            conn.execute(
                "UPDATE runs SET started_at = '2020-01-01T00:00:00.000000+00:00',"
                " finished_at = '2020-01-01T00:00:01.000000+00:00'"
            )
        keeper = Housekeeping(lambda: settings, first_after=0)
        keeper.tick(history)
        assert keeper.thread is not None
        keeper.thread.join(10)
        assert keeper.last == {**dict.fromkeys(retention.KINDS, 0), "runs": 1}
        [event] = history.events(limit=1)
        assert event["code"] == "history-pruned" and "older than 365 days" in event["message"]
        keeper.tick(history)  # not due again for hours
        assert not keeper.thread.is_alive() and keeper.last["runs"] == 1
