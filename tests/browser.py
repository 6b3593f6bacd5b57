"""A headless Chromium driven over the DevTools protocol, for the console's browser tests.

One browser serves a whole test module: ``Browser.start()`` launches Debian's ``chromium``
(installed by .ci/run) with ``--remote-debugging-pipe``, so the protocol's JSON messages go
over two pipes (the browser reads fd 3, writes fd 4; each message ends with a NUL byte) and
no websocket library or port is needed. ``Browser.visit`` opens a page at a window size,
light or dark, and returns what a test checks: the DOM, the text, whether anything is wider
than the window, and a full-page screenshot (PNG).

Screenshots go to ``artifacts()``: ``$ZEDONK_ORDRE_ARTIFACTS/console`` when that is set,
else ``build/test-artifacts/console`` in the repository (``build/`` is git-ignored).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS_ENV = "ZEDONK_ORDRE_ARTIFACTS"
STEP_SECONDS = 30.0  # the longest one protocol call may take
SHIM = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4);"
    " os.execv(sys.argv[3], sys.argv[3:])"
)


def artifacts() -> Path:
    """Where the browser tests keep their screenshots (created)."""
    base = Path(os.environ.get(ARTIFACTS_ENV) or REPO / "build" / "test-artifacts")
    where = base / "console"
    where.mkdir(parents=True, exist_ok=True)
    return where


def require_chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run should have installed it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return CHROMIUM


@dataclass(frozen=True)
class Visit:
    """What a page showed: its DOM (as the browser parsed it), its visible text, its width
    in CSS pixels against the window's, and a screenshot of the whole page."""

    dom: str
    text: str
    scroll_width: int
    window_width: int
    png: bytes

    @property
    def fits(self) -> bool:
        """Nothing sticks out sideways: the page reads without scrolling left and right."""
        return self.scroll_width <= self.window_width


class Browser:
    """One headless Chromium and one tab, over the DevTools protocol on a pipe."""

    def __init__(self, profile: Path) -> None:
        binary = require_chromium()
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # A small Python shim puts the pipes on the descriptors the browser expects (3, 4).
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                SHIM,
                str(to_browser_r),
                str(from_browser_w),
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            pass_fds=(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.call("Page.enable", session=True)

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if not ready:
                raise TimeoutError("the browser did not answer in time")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("the browser closed its pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def call(self, method: str, *, session: bool = False, **params: Any) -> dict[str, Any]:
        """Call ``method`` (in the tab when ``session``) and return its result."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + STEP_SECONDS
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            if "method" in answer:
                self._events.append(answer)

    def _wait_for(self, event: str) -> None:
        deadline = time.monotonic() + STEP_SECONDS
        while True:
            for i, seen in enumerate(self._events):
                if seen["method"] == event:
                    del self._events[: i + 1]
                    return
            self._events.append(self._receive(deadline))

    def evaluate(self, expression: str) -> Any:
        found = self.call(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True
        )
        return found["result"].get("value")

    def visit(self, url: str, *, width: int, height: int = 900, dark: bool = False) -> Visit:
        """Open ``url`` in a window ``width`` × ``height`` CSS pixels (a phone's when narrow),
        in the dark colour scheme when ``dark``."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 800,
        )
        self.call(
            "Emulation.setEmulatedMedia",
            session=True,
            features=[{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}],
        )
        self._events.clear()
        self.call("Page.navigate", session=True, url=url)
        self._wait_for("Page.loadEventFired")
        size = self.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth,"
            " document.documentElement.scrollHeight]"
        )
        shot = self.call(
            "Page.captureScreenshot",
            session=True,
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": min(size[2], 8000), "scale": 1},
        )
        return Visit(
            dom=self.evaluate("document.documentElement.outerHTML"),
            text=self.evaluate("document.body.innerText"),
            scroll_width=size[0],
            window_width=size[1],
            png=base64.b64decode(shot["data"]),
        )

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self._to_browser)
        os.close(self._from_browser)
