"""The Typer application, its global options, and the one error renderer.

Command modules (validate, init, showroom, plan, history, orders, service, sandbox) register on
``app``; commands share the options, helpers and JSON version defined here.
Library code raises ``ZedonkOrdreError`` subclasses; only ``render_error`` turns them into
words on the terminal, and a traceback appears only with ``--debug``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from daemon import __version__, redact
from daemon.core.words import printable
from daemon.errors import ConfigError, ExitCode, ZedonkOrdreError


class Options:
    """Global options, set by the root callback before any command runs."""

    debug: bool = False


def safe_text(text: str) -> str:
    """Text as the command line shows it: secrets redacted, control characters escaped."""
    return printable(redact.redact(text))


def echo(text: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Print text for people (the one way commands print): see ``safe_text``."""
    typer.echo(safe_text(text), err=err, nl=nl)


def say_waiting(line: str) -> None:
    """Tell, on stderr, that the command waits (for the daemon's pass in flight)."""
    echo(f"{line} ...", err=True)


# SGR codes by the style of a line (daemon.core.planfmt.text_lines names them).
STYLES = {
    "create": "32",  # green
    "move-in": "32",
    "update": "33",  # yellow
    "change": "33",
    "delete": "31",  # red
    "move-out": "31",
    "summary": "1",  # bold
    "heading": "1",
    "error": "1;31",
    "warning": "33",
    "note": "2",  # dim
}


def colour_wanted(*, err: bool = False) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set to anything
    (https://no-color.org) or the terminal is ``dumb``."""
    stream = sys.stderr if err else sys.stdout
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def echo_styled(lines: Iterable[tuple[str, str]], *, err: bool = False) -> None:
    """Print (style, text) lines: each made safe (``safe_text``) first, then coloured by
    its style when ``colour_wanted``, so no colour code can come from the data."""
    colour = colour_wanted(err=err)
    for style, text in lines:
        shown = safe_text(text)
        code = STYLES.get(style) if colour and shown else None
        typer.echo(f"\x1b[{code}m{shown}\x1b[0m" if code else shown, err=err, color=colour)


def render_error(exc: ZedonkOrdreError) -> None:
    """Print one error for people: what happened, then how to fix it."""
    for finding in getattr(exc, "findings", []) if isinstance(exc, ConfigError) else []:
        echo(f"{finding}", err=True)
    echo(f"error: {exc.message}", err=True)
    if exc.hint:
        echo(f"hint: {exc.hint}", err=True)


def fail(exc: BaseException, code: int) -> NoReturn:
    """End the command on ``exc`` with exit ``code``: its message and hint, after its
    traceback with ``--debug`` (redacted like everything else printed)."""
    if Options.debug:
        echo(traceback.format_exc().rstrip("\n"), err=True)
    if isinstance(exc, ZedonkOrdreError):
        render_error(exc)
    elif not Options.debug:  # else the traceback said it all
        echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "hint: this is a bug in zedonk-ordre; rerun with --debug for the traceback",
            err=True,
        )
    raise typer.Exit(code) from None


def quiet_broken_pipe() -> NoReturn:
    """The reader of our output went away (``| head``): stop quietly, as other tools do.

    What is still buffered for stdout goes to /dev/null, so that the interpreter's final
    flush does not fail again (the Python docs' "Note on SIGPIPE")."""
    with contextlib.suppress(OSError, ValueError):  # stdout may be no file (when embedded)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    raise SystemExit(int(ExitCode.BROKEN_PIPE))


class ErrorRenderingGroup(TyperGroup):
    """Turns library errors into clean messages and exit codes, for every command.

    Usage errors (an unknown option, a bad value) exit 64, EX_USAGE: never 2, which
    ``plan --detailed-exitcode`` uses for "changes". ``--debug`` is a global option that
    may also come after the command name.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if ctx.parent is None:
            args = hoist_global_options(args)
        try:
            with _usage_errors():
                return super().parse_args(ctx, args)  # --help and --version print here
        except BrokenPipeError:
            quiet_broken_pipe()

    def invoke(self, ctx: Any) -> Any:
        try:
            with _usage_errors():
                return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # Typer's own exits and usage errors render themselves
        except BrokenPipeError:
            quiet_broken_pipe()
        except ZedonkOrdreError as exc:
            fail(exc, int(exc.exit_code))
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except Exception as exc:
            fail(exc, int(ExitCode.ERROR))


@contextmanager
def _usage_errors() -> Iterator[None]:
    try:
        yield
    except typer.TyperException as exc:
        if getattr(exc, "exit_code", None) == 2:  # click's code for every usage error
            exc.exit_code = int(ExitCode.USAGE)
        raise


GLOBAL_FLAGS = ("--debug",)


def hoist_global_options(args: list[str]) -> list[str]:
    """``--debug`` anywhere before a ``--`` moves to the front, where the root reads it."""
    end = args.index("--") if "--" in args else len(args)
    found = [a for a in args[:end] if a in GLOBAL_FLAGS]
    if not found:
        return args
    rest = [a for a in args[:end] if a not in GLOBAL_FLAGS]
    return [*dict.fromkeys(found), *rest, *args[end:]]


app = typer.Typer(
    cls=ErrorRenderingGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: flags show no value placeholder, errors no boxes
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
        False,
        "--debug",
        help="Show tracebacks and debug logs (before or after the command name).",
        envvar="ZEDONK_ORDRE_DEBUG",
    ),
) -> None:
    Options.debug = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    redact.secure_logging()


# Every --format json document has its version under "format_version" (schemas/output/ holds
# each document's JSON Schema). A version goes up when a document changes in a way a script
# that reads it would notice.
JSON_VERSION = 1  # format_version of what apply, dump, products and schemas print
HISTORY_JSON_VERSION = 2  # history: 2 gave every event's details as JSON, not a JSON string
ORDERS_JSON_VERSION = 2  # orders list and show: 2 renamed "version" to "format_version"


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
    return find_root(Path())


def print_json(document: Any) -> None:
    """Write one JSON document to stdout: the shape every ``--format json`` uses. JSON
    escapes control characters itself; secrets are redacted in their JSON-escaped form."""
    typer.echo(redact.redact(json.dumps(document, indent=2, sort_keys=False, default=str)))
