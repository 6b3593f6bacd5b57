"""The shipped unit files, the single one and the template for many brands on one host: valid
for systemd, and hardened (exposure at most 2.0)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.systemd

UNITS = Path(__file__).resolve().parent.parent / "contrib" / "systemd"
UNIT = UNITS / "zedonk-ordre.service"
TEMPLATE = UNITS / "zedonk-ordre@.service"
ANALYZE = shutil.which("systemd-analyze")
SHIPPED_EXEC = "/opt/zedonk-ordre/.venv/bin/zedonk-ordre"


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    if ANALYZE is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing in CI: .ci/run should have installed it")
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=60, check=False)


def installed_copy(tmp_path: Path, unit: Path = UNIT) -> Path:
    """The unit as an installer would place it: ExecStart pointing at a real executable.
    For the template, the path of one instance of it (``zedonk-ordre@brand-a.service``)."""
    text = unit.read_text()
    assert SHIPPED_EXEC in text
    executable = Path(sys.executable).parent / "zedonk-ordre"
    if not executable.exists():
        executable = Path(sys.executable)
    copy = tmp_path / unit.name
    copy.write_text(text.replace(SHIPPED_EXEC, str(executable)))
    return copy.with_name(unit.name.replace("@.", "@brand-a.")) if "@." in unit.name else copy


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


def test_the_template_gives_each_brand_its_own_state_tokens_port_and_user() -> None:
    single, template = directives(UNIT.read_text()), directives(TEMPLATE.read_text())
    assert template["StateDirectory"] == ["zedonk-ordre/%i"]
    assert template["WorkingDirectory"] == ["/srv/zedonk-ordre/%i"]
    assert template["EnvironmentFile"] == ["/etc/zedonk-ordre/%i.env"]  # required: the port
    [start] = template["ExecStart"]
    assert "--root /srv/zedonk-ordre/%i" in start and "--status-listen ${STATUS_LISTEN}" in start
    sources = [value.split(":", 1)[1] for value in template["LoadCredential"]]
    assert sources and all("%i" in source for source in sources)
    assert template["DynamicUser"] == ["yes"]  # a user per instance
    # Otherwise the same service as the single unit: the same hardening, the same behaviour.
    per_brand = {
        "Description", "ExecStart", "WorkingDirectory", "StateDirectory", "LoadCredential",
        "EnvironmentFile", "AssertPathExists",
    }  # fmt: skip
    for key in set(single) | set(template):
        if key not in per_brand:
            assert single.get(key) == template.get(key), key


@pytest.mark.parametrize("unit", [UNIT, TEMPLATE], ids=lambda unit: unit.name)
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path, unit: Path) -> None:
    done = analyze("verify", str(installed_copy(tmp_path, unit)))
    assert done.returncode == 0, done.stderr
    assert unit.name not in done.stderr, done.stderr


@pytest.mark.parametrize("unit", [UNIT, TEMPLATE], ids=lambda unit: unit.name)
def test_the_security_exposure_is_at_most_2(tmp_path: Path, unit: Path) -> None:
    done = analyze("security", "--offline=true", "--no-pager", str(installed_copy(tmp_path, unit)))
    assert done.returncode == 0, done.stderr
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
    assert match, done.stdout[-2000:]
    assert float(match.group(1)) <= 2.0, done.stdout
