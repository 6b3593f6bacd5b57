"""The ``zedonk-ordre`` command line: thin commands over the library, one error renderer."""

from __future__ import annotations

# Each module registers its commands on ``app``; --help lists them in this order.
# isort: off
from daemon.cli import validate, plan, orders, service, sandbox  # noqa: F401

# isort: on
from daemon.cli.app import app


def main() -> None:
    app(prog_name="zedonk-ordre")


__all__ = ["app", "main"]
