"""Benchmarks: each ``bench/bench_*.py`` prints its figure next to a floor measured in the same
run, and their ratio. ``python -m bench`` (``make bench``) runs them all."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time


def start_sandboxes(*flags: str, wait: float = 300) -> tuple[subprocess.Popen[str], str, str]:
    """``zedonk-ordre sandbox`` in its own process (so the servers' work does not share a core
    with what is measured), on free ports; returns it and the two API base URLs."""
    command = [sys.executable, "-m", "daemon", "sandbox", *flags]
    command += ["--zedonk-port", "0", "--ordre-port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    urls: dict[str, str] = {}
    assert proc.stdout is not None
    deadline = time.monotonic() + wait
    while len(urls) < 2 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        found = re.match(r"(zedonk|ordre)\s+(http://\S+)", line.strip())
        if found:
            urls[found.group(1)] = found.group(2)
    if len(urls) < 2:
        proc.terminate()
        raise SystemExit("the sandboxes did not start")
    return proc, urls["zedonk"], urls["ordre"]


def cpu_model() -> str:
    """The CPU's model name, for the figures (the machine's architecture where it is unknown)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def machine() -> str:
    """Cores, CPU model and Python, for the figures."""
    return f"{os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}"
