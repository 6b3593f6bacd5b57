"""The run, status, pause and resume commands, through the real console entry point."""

import json
import os
import subprocess
import sys
from pathlib import Path

from test_service import make_tree
from typer.testing import CliRunner

from daemon.cli import app
from daemon.store.history import History
from daemon.store.lock import StateLock


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


def test_run_exits_4_when_another_process_holds_the_lock(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    with StateLock(tmp_path / "state", "zedonk-ordre apply"):
        done = cli("run", "--root", str(root), env={"ZEDONK_TOKEN": "a", "ORDRE_TOKEN": "b"})
    assert done.returncode == 4, done.stderr
    assert "zedonk-ordre apply" in done.stderr


def test_status_before_anything_ran(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    done = cli("status", "--root", str(root))
    assert done.returncode == 0, done.stderr
    assert "daemon: not running" in done.stdout and "history: none yet" in done.stdout
    doc = json.loads(cli("status", "--root", str(root), "--format", "json").stdout)
    assert doc["version"] == 1 and doc["history"] is False and doc["lock"]["held"] is False


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
    assert "reconciling: active" in invoke("status", "--root", str(root))[1]
    assert "was not paused" in invoke("resume", "--root", str(root))[1]


def test_pause_needs_a_reason(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    code, _, err = invoke("pause", "--reason", "  ", "--root", str(root))
    assert code == 1 and "--reason is empty" in err
