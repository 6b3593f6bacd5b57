"""The shipped unit file: valid for systemd, and hardened (exposure at most 2.0)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.systemd

UNIT = Path(__file__).resolve().parent.parent / "contrib" / "systemd" / "zedonk-ordre.service"
ANALYZE = shutil.which("systemd-analyze")
SHIPPED_EXEC = "/opt/zedonk-ordre/.venv/bin/zedonk-ordre"


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    if ANALYZE is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing in CI: .ci/run should have installed it")
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=60, check=False)


def installed_copy(tmp_path: Path) -> Path:
    """The unit as an installer would place it: ExecStart pointing at a real executable."""
    text = UNIT.read_text()
    assert SHIPPED_EXEC in text
    executable = Path(sys.executable).parent / "zedonk-ordre"
    if not executable.exists():
        executable = Path(sys.executable)
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(SHIPPED_EXEC, str(executable)))
    return copy


def directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_unit_asks_for_the_hardening_the_daemon_relies_on() -> None:
    d = directives(UNIT.read_text())
    assert d["Type"] == ["notify"]
    assert d["DynamicUser"] == ["yes"]
    assert d["StateDirectory"] == ["zedonk-ordre"]
    assert d["ProtectSystem"] == ["strict"]
    assert d["NoNewPrivileges"] == ["yes"]
    assert d["RestartPreventExitStatus"] == ["64 78"]
    assert d["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    assert "@system-service" in d["SystemCallFilter"]
    assert int(d["WatchdogSec"][0]) > 0
    credentials = {value.split(":", 1)[0] for value in d["LoadCredential"]}
    assert credentials == {"zedonk_token", "ordre_token"}


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    done = analyze("verify", str(installed_copy(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert UNIT.name not in done.stderr, done.stderr


def test_the_security_exposure_is_at_most_2(tmp_path: Path) -> None:
    done = analyze("security", "--offline=true", "--no-pager", str(installed_copy(tmp_path)))
    assert done.returncode == 0, done.stderr
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
    assert match, done.stdout[-2000:]
    assert float(match.group(1)) <= 2.0, done.stdout
