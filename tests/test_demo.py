"""`zedonk-ordre demo` end to end, as a newcomer runs it (a real subprocess, from the repo)."""

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def tree_digest(root: Path) -> dict[str, str]:
    """Every file the demo could be tempted to write to, with its content hash."""
    files = [root / "connector.yaml", *sorted((root / "catalogue").rglob("*"))]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


def demo(*args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    return subprocess.run(
        [sys.executable, "-m", "daemon", "demo", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_the_demo_tells_the_whole_story_and_leaves_the_repository_alone() -> None:
    before = tree_digest(REPO)
    state_before = (REPO / ".zedonk-ordre").exists()
    done = demo("--once", "--speed", "10")
    out = done.stdout
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    # The story, in order: publish, a clean order, an edit, a bad barcode, a new retailer,
    # a re-submission, a typo that applies nothing, the fix.
    expected = [
        "Console: http://127.0.0.1:",
        "ORDRE updated at start-up:",
        "became Zedonk sales order SO-",
        "ORDRE updated after the edit: 1 updated",
        "4006381333931): no Zedonk SKU has this barcode",
        "Boutique Nouvelle was new to Zedonk",
        "#2 (PO PO-2041)",
        "re-submitted",
        "The catalogue is invalid, so nothing was sent to ORDRE",
        "Checked after the edit: ORDRE already matches the catalogue",
        "Stopped cleanly",
    ]
    position = 0
    for text in expected:
        found = out.find(text, position)
        assert found >= 0, f"{text!r} missing after position {position}:\n{out}"
        position = found
    assert out.count("became Zedonk sales order") == 4
    assert tree_digest(REPO) == before
    assert (REPO / ".zedonk-ordre").exists() == state_before


def test_duration_stops_the_demo_on_time() -> None:
    started = time.monotonic()
    done = demo("--duration", "4", timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Time is up." in done.stdout and "Stopped cleanly" in done.stdout
    assert time.monotonic() - started < 30


def test_ctrl_c_stops_everything_cleanly() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "daemon", "demo"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "Console: http" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=40)
    assert proc.returncode == 0, out + err
    assert "Ctrl-C: stopping." in out and "Stopped cleanly" in out
    assert "Traceback" not in err, err
