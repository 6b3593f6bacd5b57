"""The activity page in a real headless Chromium (Debian's ``chromium``, installed by .ci/run)."""

import os
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.service.web import StatusServer
from daemon.store.history import History
from tests.test_web import fill

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run should have installed it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[StatusServer]:
    state = tmp_path / "state"
    with History.open(state) as history:
        fill(history)
    srv = StatusServer(state, ("127.0.0.1", 0))
    srv.start()
    yield srv
    srv.stop()


def test_chromium_renders_the_filtered_activity_page(server: StatusServer, tmp_path: Path) -> None:
    done = chromium(tmp_path, "--dump-dom", server.url + "?show=imports&problems=1")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert "<title>zedonk-ordre activity</title>" in dom
    assert "New Shop Ltd" in dom and "retailer not found in Zedonk" in dom
    assert "Maison Lune" not in dom  # filtered out: it imported fine
    # The filter form reflects the query, as the browser parsed it.
    assert 'name="problems" value="1" checked=""' in dom
    assert '<option value="imports" selected="">' in dom


def test_chromium_draws_the_page_at_phone_width(server: StatusServer, tmp_path: Path) -> None:
    shot = tmp_path / "phone.png"
    done = chromium(
        tmp_path,
        f"--screenshot={shot}",
        "--window-size=390,844",
        "--hide-scrollbars",
        server.url,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert (width, height) == (390, 844)
