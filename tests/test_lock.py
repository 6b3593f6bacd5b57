import subprocess
import sys
from pathlib import Path

import pytest

from daemon.errors import ExitCode, LockHeld
from daemon.store.lock import StateLock, current_holder

HOLD = """
import sys, time
from pathlib import Path
from daemon.store.lock import StateLock
lock = StateLock(Path(sys.argv[1]), "test holder")
lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def _hold_in_subprocess(state: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(state)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()


def test_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    proc = _hold_in_subprocess(tmp_path)
    try:
        with pytest.raises(LockHeld) as caught:
            StateLock(tmp_path, "apply").acquire()
        assert caught.value.exit_code == ExitCode.LOCKED
        assert f"pid {proc.pid}" in caught.value.message
        assert "test holder" in caught.value.message
        holder = current_holder(tmp_path)
        assert holder is not None and holder["pid"] == proc.pid
    finally:
        _kill(proc)


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    _kill(_hold_in_subprocess(tmp_path))
    assert current_holder(tmp_path) is None
    with StateLock(tmp_path, "apply"):
        holder = current_holder(tmp_path)
        assert holder is not None and holder["purpose"] == "apply"
    assert current_holder(tmp_path) is None
