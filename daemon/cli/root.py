"""The Typer application, its global options, and the one error renderer.

Command modules (validate, init, showroom, plan, history, orders, service, sandbox) register on
``app``; commands share the options, helpers and JSON version defined here.
Library code raises ``ZedonkOrdreError`` subclasses; only ``render_error`` turns them into
words on the terminal, and a traceback appears only with ``--debug``.
"""

from __future__ import annotations

import json
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from daemon import __version__
from daemon.errors import ConfigError, ExitCode, ZedonkOrdreError


class Options:
    """Global options, set by the root callback before any command runs."""

    debug: bool = False


def render_error(exc: ZedonkOrdreError) -> None:
    """Print one error for people: what happened, then how to fix it."""
    err = typer.get_text_stream("stderr")
    for finding in getattr(exc, "findings", []) if isinstance(exc, ConfigError) else []:
        err.write(f"{finding}\n")
    err.write(f"error: {exc.message}\n")
    if exc.hint:
        err.write(f"hint: {exc.hint}\n")
    err.flush()


class ErrorRenderingGroup(TyperGroup):
    """Turns library errors into clean messages and exit codes, for every command."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # Typer's own exits and usage errors render themselves
        except ZedonkOrdreError as exc:
            if Options.debug:
                raise
            render_error(exc)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except Exception as exc:
            if Options.debug:
                raise
            typer.echo(
                f"internal error: {type(exc).__name__}: {exc}\n"
                "hint: this is a bug in zedonk-ordre; rerun with --debug for the traceback",
                err=True,
            )
            raise typer.Exit(int(ExitCode.ERROR)) from None


app = typer.Typer(
    cls=ErrorRenderingGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Keep an ORDRE showroom in step with a git catalogue; import its orders into Zedonk.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"zedonk-ordre {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show tracebacks and debug logs.", envvar="ZEDONK_ORDRE_DEBUG"
    ),
) -> None:
    Options.debug = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


JSON_VERSION = 1  # format_version of what apply, dump, products, schemas, history and orders print


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


RootOption = Annotated[
    Path | None,
    typer.Option(
        "--root",
        help="The directory that holds connector.yaml. Default: the nearest one upwards.",
        file_okay=False,
    ),
]
FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="text for people, json for scripts.")
]


def repository_root(root: Path | None) -> Path:
    """``--root`` as given, else the nearest directory upwards that holds connector.yaml."""
    from daemon.tree.settings import find_root  # loads the schemas: only commands that need it

    if root is not None:
        if not root.is_dir():
            raise ConfigError(f"--root {root} is not a directory", hint="pass the repository root")
        return root
    return find_root(Path.cwd())


def print_json(document: Any) -> None:
    """Write one JSON document to stdout: the shape every ``--format json`` uses."""
    typer.echo(json.dumps(document, indent=2, sort_keys=False, default=str))
