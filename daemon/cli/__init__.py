"""The ``zedonk-ordre`` command line: thin commands over the library, one error renderer.

Each command module registers its commands on the Typer app of ``daemon.cli.root`` when it
is imported. ``main`` imports only the module of the command being run, so that ``validate``
(run by the pre-commit hook on every commit) starts without httpx, the history or the sandbox
servers; ``--help``, an unknown command and shell completion get every module.
``from daemon.cli import app`` gives the app with every command.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import typer

MODULES = (  # --help lists them so
    "validate",
    "init",
    "showroom",
    "plan",
    "history",
    "orders",
    "attention",
    "service",
    "sandbox",
)
COMMANDS = {
    "validate": "validate",
    "init": "init",
    "schemas": "init",
    "dump": "showroom",
    "products": "showroom",
    "plan": "plan",
    "apply": "plan",
    "history": "history",
    "orders": "orders",
    "attention": "attention",
    "run": "service",
    "status": "service",
    "pause": "service",
    "resume": "service",
    "reconcile": "service",
    "demo": "service",
    "sandbox": "sandbox",
}
PROG = "zedonk-ordre"


# What `zedonk-ordre[all]` adds to the base install (import names).
FULL_INSTALL = frozenset(
    {"httpx", "httpcore", "watchdog", "sqlite_utils", "starlette", "uvicorn"}
    | {"jinja2", "prometheus_client"}
)


def load(modules: Iterable[str] = MODULES) -> typer.Typer:
    """The app with the commands of ``modules`` registered (every command by default).

    On the base install, a module that needs the full install registers stand-ins instead,
    which say how to install it."""
    # Imported here: a module-level ``app`` would bypass ``__getattr__`` below.
    from daemon.cli.root import app

    for name in modules:
        try:
            importlib.import_module(f"daemon.cli.{name}")
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] not in FULL_INSTALL:
                raise
            _stand_ins(app, name, exc.name or "")
    return app


def _stand_ins(app: typer.Typer, module: str, missing: str) -> None:
    """Commands of ``module`` that fail, saying how to install what they need."""
    for command in (c for c, m in COMMANDS.items() if m == module):
        app.command(
            command,
            help="Needs the full install (the `all` extra); run it to see how.",
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
            add_help_option=False,
        )(_needs_full_install(command, missing))


def _needs_full_install(command: str, missing: str) -> Callable[[], None]:
    def stand_in() -> None:
        from daemon import INSTALL_REQUIREMENT
        from daemon.errors import ZedonkOrdreError

        raise ZedonkOrdreError(
            f"`{PROG} {command}` needs the full install: {missing} is not installed",
            hint=f'pip install "{INSTALL_REQUIREMENT}"',
        )

    return stand_in


def modules_for(args: list[str]) -> tuple[str, ...]:
    """The command modules a command line needs: the named command's alone when it names
    one, none for a bare ``--version``, else all of them."""
    if f"_{PROG.replace('-', '_').upper()}_COMPLETE" in os.environ:
        return MODULES
    first = next((arg for arg in args if not arg.startswith("-")), None)
    if first is None and "--version" in args:
        return ()
    module = COMMANDS.get(first or "")
    return (module,) if module else MODULES


def main() -> None:
    load(modules_for(sys.argv[1:]))(prog_name=PROG)


def __getattr__(name: str) -> Any:
    """``daemon.cli.app``: the app with every command, for tests and embedding."""
    if name == "app":
        return load()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "load", "main", "modules_for"]
