"""The ``zedonk-ordre`` command line: thin commands over the library, one error renderer."""

from __future__ import annotations

from daemon.cli import orders, plan, sandbox, service, validate  # noqa: F401  (register commands)
from daemon.cli.app import app


def main() -> None:
    app(prog_name="zedonk-ordre")


__all__ = ["app", "main"]
