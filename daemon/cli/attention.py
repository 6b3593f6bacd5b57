"""Commands: attention (the "needs a person" inbox) and attention ack (docs/service.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from daemon.cli.root import (
    FormatOption,
    OutputFormat,
    RootOption,
    app,
    echo,
    print_json,
    repository_root,
)
from daemon.core.attention import ATTENTION_VERSION, Inbox, text_lines
from daemon.errors import ConfigError, ExitCode
from daemon.store.attention import acknowledge, inbox
from daemon.store.history import History
from daemon.store.status import who
from daemon.tree.settings import Settings, load_settings

attention_app = typer.Typer(invoke_without_command=True)  # its help: the callback's docstring
app.add_typer(attention_app, name="attention")


def _settings(root: RootOption) -> Settings:
    return load_settings(repository_root(root))


@attention_app.callback()
def attention(
    ctx: typer.Context,
    root: RootOption = None,
    output: FormatOption = OutputFormat.text,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode",
            help="Exit 0 when nothing needs a person, 2 when something does, 1 for an error.",
        ),
    ] = False,
) -> None:
    """List what needs a person, most urgent first: what is wrong, who must act (ORDRE,
    Zedonk or the catalogue) and the exact fix; `attention ack ID --note TEXT` records that
    someone saw to one.

    Failed, held and partly imported orders, unresolved creates, earlier orders to
    inactivate, edits and cancellations after import, products held back from ORDRE or
    without a main image or a price, an invalid catalogue. Items leave once their problem
    clears; acknowledged ones are listed apart and not counted.

    Exit codes: 0 (also when items are listed), 1 an error; with --detailed-exitcode, 2
    when an item is open.
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(root)
    if History.exists(settings.state_dir):
        with History.open(settings.state_dir, read_only=True) as history:
            found = inbox(history)
    else:
        found = Inbox(())
    if output == OutputFormat.json:
        print_json(found.as_json())
    else:
        for line in text_lines(found):
            echo(line)
    if detailed_exitcode and found.open:
        raise typer.Exit(int(ExitCode.CHANGES))


@attention_app.command("ack")
def ack(
    item_ids: Annotated[
        list[str], typer.Argument(metavar="ID...", help="Item ids, as `attention` lists them.")
    ],
    note: Annotated[
        str, typer.Option("--note", help="What was done or decided, for the people after you.")
    ],
    root: RootOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Acknowledge items: recorded in the history with your note, name and the time.

    An acknowledged problem stays listed, marked, until it clears, and is not counted. An
    item fixed where the connector cannot see it (lines added to a Zedonk order by hand, an
    edit or a cancellation carried over, an earlier order inactivated) is done once
    acknowledged: it leaves the list a week later. Exit codes: 0 done, 1 an id names no item
    now or the note is empty (nothing is recorded then).
    """
    if not note.strip():
        raise ConfigError("--note is empty", hint="say what was done, e.g. --note 'lines added'")
    settings = _settings(root)
    with History.open(settings.state_dir) as history:
        done = acknowledge(history, item_ids, note.strip(), by=who())
    if output == OutputFormat.json:
        print_json(
            {"format_version": ATTENTION_VERSION, "acknowledged": [i.as_json() for i in done]}
        )
        return
    for item in done:
        assert item.acked is not None
        stamp = datetime.fromisoformat(item.acked.at).astimezone(UTC).strftime("%H:%M UTC")
        echo(f"acknowledged {item.id} ({item.kind}) at {stamp}: {item.acked.note}")
