"""Commands: validate (see the README for each command and its exit codes)."""

from __future__ import annotations

from daemon.cli.app import app  # noqa: F401
