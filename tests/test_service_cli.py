"""The run, status, pause and resume commands, through the real console entry point."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sandbox_harness import Sandboxes
from test_service import make_tree
from typer.testing import CliRunner

from daemon.cli import app
from daemon.store.history import History
from daemon.store.lock import DAEMON_LOCK_FILE, StateLock


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("ZEDONK_TOKEN", "ORDRE_TOKEN")}
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**environ, **(env or {})},
        check=False,
    )


def invoke(*args: str) -> tuple[int, str, str]:
    """In-process, for the quick commands: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_run_exits_78_on_an_invalid_connector_yaml(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    path = root / "connector.yaml"
    path.write_text(path.read_text().replace("import:", "imprt:"))
    done = cli("run", "--root", str(root), env={"ZEDONK_TOKEN": "a", "ORDRE_TOKEN": "b"})
    assert done.returncode == 78, done.stderr
    assert "connector.yaml:" in done.stderr and "did you mean `import`?" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_exits_78_when_a_token_is_missing(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    done = cli("run", "--root", str(root), env={"ZEDONK_TOKEN": "a"})
    assert done.returncode == 78, done.stderr
    assert "ORDRE_TOKEN is not set" in done.stderr


def test_run_exits_4_when_another_daemon_runs_on_the_state_directory(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    with StateLock(tmp_path / "state", "zedonk-ordre run (the daemon)", name=DAEMON_LOCK_FILE):
        done = cli("run", "--root", str(root), env={"ZEDONK_TOKEN": "a", "ORDRE_TOKEN": "b"})
    assert done.returncode == 4, done.stderr
    assert "zedonk-ordre run (the daemon) (pid" in done.stderr
    assert "one daemon runs per state directory" in done.stderr


def test_status_before_anything_ran(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    done = cli("status", "--root", str(root))
    assert done.returncode == 0, done.stderr
    assert "daemon: not running" in done.stdout and "history: none yet" in done.stdout
    assert "reconciling: off (no daemon runs" in done.stdout
    doc = json.loads(cli("status", "--root", str(root), "--format", "json").stdout)
    assert doc["format_version"] == 4 and doc["history"] is False and "version" not in doc
    assert doc["daemon"] == {"running": False, "holder": None}
    assert doc["reconciling"] == "off"


def test_status_says_in_words_what_a_partial_import_pass_left(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    with History.open(tmp_path / "state") as history:
        run = history.start_run("import", "cli")
        history.finish_run(run, "partial", summary={"seen": 10, "created": 6, "unresolved": 4})
    text = invoke("status", "--root", str(root))[1]
    assert "  import: partial: 6 imported, 4 unresolved (Zedonk may hold them) (" in text, text
    assert "partial: partial" not in text


def test_pause_shows_in_status_and_resume_lifts_it(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    with History.open(tmp_path / "state") as history:
        run = history.start_run("reconcile", "watch")
        history.finish_run(run, "invalid", error="catalogue/a.yaml:3:5: looks: unknown key")
        with history.transaction() as conn:
            conn.execute(
                "INSERT INTO imports (import_key, ordre_id, ordre_number, submission,"
                " connector_ref, state, retailer_name, last_error, first_seen_at, updated_at)"
                " VALUES ('o#1', 'o', 'ORD-1', 1, 'ordre:o#1', 'needs_attention', 'Shop',"
                " 'no such customer', 'now', 'now')"
            )
    code, out, _ = invoke("pause", "--reason", "stock count", "--root", str(root))
    assert code == 0 and "paused: stock count" in out
    text = invoke("status", "--root", str(root))[1]
    assert "reconciling: PAUSED" in text and "stock count" in text
    assert "last reconcile: invalid (reconcile, watch)" in text
    assert "catalogue/a.yaml:3:5" in text
    assert "orders needing attention: 1" in text and "ORD-1 (Shop)" in text
    doc = json.loads(invoke("status", "--root", str(root), "--format", "json")[1])
    assert doc["paused"]["reason"] == "stock count"
    assert doc["orders"]["needs_attention"][0]["ordre_number"] == "ORD-1"
    code, out, _ = invoke("resume", "--root", str(root))
    assert code == 0 and "resumed (it was paused: stock count)" in out
    assert "reconciling: off" in invoke("status", "--root", str(root))[1]  # no daemon runs
    assert "was not paused" in invoke("resume", "--root", str(root))[1]


def test_status_tells_the_present_and_leaves_cleared_errors_to_the_history(
    tmp_path: Path,
) -> None:
    root = make_tree(tmp_path)
    with History.open(tmp_path / "state") as history:
        bad = history.start_run("reconcile", "watch")
        history.record_event("error", "catalogue-invalid", "a.yaml: broken", run_id=bad)
        history.finish_run(bad, "invalid", error="a.yaml: broken")
        failed = history.start_run("import", "timer")
        history.record_event("error", "import-failed", "ordre: 503 from /orders", run_id=failed)
        history.finish_run(failed, "failed", error="ordre: 503 from /orders")
    text = invoke("status", "--root", str(root))[1]
    assert "problems now:" in text
    assert "reconcile: catalogue-invalid: a.yaml: broken" in text
    assert "import: import-failed: ordre: 503 from /orders" in text
    with History.open(tmp_path / "state") as history:
        for kind in ("reconcile", "import"):
            fixed = history.start_run(kind, "timer")
            history.finish_run(fixed, "ok")
    text = invoke("status", "--root", str(root))[1]
    assert "problems now: none" in text and "a.yaml: broken" not in text
    doc = json.loads(invoke("status", "--root", str(root), "--format", "json")[1])
    assert doc["problems"] == [] and "recent_errors" not in doc
    with StateLock(tmp_path / "state", "zedonk-ordre run (the daemon)", name=DAEMON_LOCK_FILE):
        text = invoke("status", "--root", str(root))[1]
    assert f"daemon: running - zedonk-ordre run (the daemon) (pid {os.getpid()}" in text
    assert "reconciling: active" in text


def test_pause_needs_a_reason(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    code, _, err = invoke("pause", "--reason", "  ", "--root", str(root))
    assert code == 1 and "--reason is empty" in err


def test_run_exits_78_on_a_webhook_url_that_cannot_be_sent_to(tmp_path: Path) -> None:
    """Checked at start: later it would fail every notice, long after anyone was looking."""
    root = make_tree(tmp_path, notifications={"webhook": {"url": {"env": "HOOK_URL"}}})
    tokens = {"ZEDONK_TOKEN": "a", "ORDRE_TOKEN": "b"}
    for url, problem in (
        ("http://[::1", "does not hold a URL that can be read"),
        ("http://127.0.0.1:1/hook\n", "holds a line break at its end"),
        ("127.0.0.1:1/hook", "does not hold an http:// or https:// URL"),
    ):
        done = cli("run", "--root", str(root), env={**tokens, "HOOK_URL": url})
        assert done.returncode == 78, done.stderr
        assert f"environment variable HOOK_URL {problem}" in done.stderr
        assert "/hook" not in done.stderr  # the URL is a secret: never repeated
    unset = cli("run", "--root", str(root), env=tokens)
    assert unset.returncode == 78 and "HOOK_URL is not set" in unset.stderr


def test_a_state_directory_that_cannot_be_written_is_a_configuration_error(
    tmp_path: Path, sandbox: Sandboxes
) -> None:
    (tmp_path / "blocker").write_text("a file where the state directory's parent should be\n")
    state = tmp_path / "blocker" / "state"
    root = make_tree(
        tmp_path, zedonk_url=sandbox.zedonk_url, ordre_url=sandbox.ordre_url, state_dir=str(state)
    )
    tokens = {"ZEDONK_TOKEN": sandbox.zedonk_token, "ORDRE_TOKEN": sandbox.ordre_token}
    for args, code in ((["run"], 78), (["apply", "--yes"], 1), (["pause", "--reason", "x"], 1)):
        done = cli(*args, "--root", str(root), env=tokens)
        assert done.returncode == code, done.stderr
        assert f"error: cannot write in the state directory {state}" in done.stderr
        assert "daemon.state_dir" in done.stderr  # the hint says what to change
        assert "internal error" not in done.stderr and "bug" not in done.stderr
    assert sandbox.write_count("ordre") == 0  # the lock comes before any call


def test_a_read_only_file_system_is_named_as_such(tmp_path: Path) -> None:
    """As under systemd's ProtectSystem=strict with state_dir outside StateDirectory=."""
    if (
        shutil.which("unshare") is None
        or subprocess.run(
            ["unshare", "-rm", "mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(tmp_path)],
            capture_output=True,
            check=False,
        ).returncode
    ):
        pytest.skip("no user and mount namespaces here to mount a read-only file system")
    state = tmp_path / "ro" / "state"
    state.parent.mkdir()
    root = make_tree(tmp_path, state_dir=str(state))
    script = (
        f"mount -t tmpfs -o ro tmpfs {state.parent} && "
        f"exec {sys.executable} -m daemon run --root {root}"
    )
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ZEDONK_TOKEN": "a", "ORDRE_TOKEN": "b"},
        check=False,
    )
    assert done.returncode == 78, done.stderr
    assert f"cannot write in the state directory {state}: Read-only file system" in done.stderr
    assert "ProtectSystem=strict" in done.stderr
