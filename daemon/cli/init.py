"""Commands: init and schemas, which make and refresh a brand's catalogue repository.

Both work with the base install (no HTTP client): ``init`` checks its answers against Zedonk
only when the clients are installed, the tokens are set and Zedonk answers.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from daemon import INSTALL_REQUIREMENT
from daemon.cli.root import JSON_VERSION, OutputFormat, app, print_json
from daemon.errors import ZedonkOrdreError
from daemon.tree.resources import schema_dir
from daemon.tree.scaffold import (
    SCHEMAS_DIR,
    Answers,
    Status,
    repository_files,
    write_files,
    write_schemas,
)
from daemon.tree.secrets import TokenRef
from daemon.tree.settings import CONNECTOR_FILE


def _interactive() -> bool:
    """Whether missing answers can be asked for (a person at a terminal)."""
    return sys.stdin.isatty()


def _ask(value: str | None, flag: str, question: str, example: str) -> str:
    if value:
        return value
    if not _interactive():
        raise ZedonkOrdreError(
            f"init needs {flag}, and there is no terminal to ask on",
            hint=f"pass {flag} {example}",
        )
    answer: str = typer.prompt(question)
    return answer.strip()


def _checked(answers: Answers) -> tuple[Answers, list[str]]:
    """The answers once Zedonk agrees with them (asking again at a terminal), and notes on
    what was checked. Raises ZedonkOrdreError when Zedonk disagrees and no one can be asked."""
    try:
        from daemon.reconcile.adopt import check_answers
    except ModuleNotFoundError as exc:
        return answers, [
            f"not checked against Zedonk: the base install has no {exc.name} "
            f'(pip install "{INSTALL_REQUIREMENT}")'
        ]
    tokens = (TokenRef(env=answers.zedonk_token_env), TokenRef(env=answers.ordre_token_env))
    while True:
        check = check_answers(
            answers.zedonk_url,
            answers.ordre_url,
            tokens,
            season=answers.season,
            order_owner=answers.order_owner,
        )
        if not check.problems:
            return answers, check.notes
        if not _interactive():
            raise ZedonkOrdreError(
                "; ".join(check.problems),
                hint="give values Zedonk has, or pass --no-check to write them anyway",
            )
        for problem in check.problems:
            typer.echo(f"Zedonk says: {problem}", err=True)
        season, owner = answers.season, answers.order_owner
        if season not in check.seasons:
            season = typer.prompt("Import season (Zedonk season code)").strip()
        if owner not in check.users:
            owner = typer.prompt("Order owner (Zedonk username)").strip()
        answers = replace(answers, season=season, order_owner=owner)


SYMBOL: dict[Status, str] = {"written": "+", "replaced": "~", "unchanged": "="}


@app.command()
def init(
    directory: Annotated[
        Path,
        typer.Argument(
            help="The repository to make (default: the current directory).", file_okay=False
        ),
    ] = Path(),
    zedonk_url: Annotated[
        str | None, typer.Option("--zedonk-url", help="Base URL of Zedonk's API.")
    ] = None,
    ordre_url: Annotated[
        str | None, typer.Option("--ordre-url", help="Base URL of ORDRE's API.")
    ] = None,
    season: Annotated[
        str | None,
        typer.Option("--season", help="The Zedonk season imported orders are created in."),
    ] = None,
    order_owner: Annotated[
        str | None,
        typer.Option("--order-owner", help="The Zedonk user who owns imported orders."),
    ] = None,
    zedonk_token_env: Annotated[
        str, typer.Option("--zedonk-token-env", help="Environment variable of Zedonk's token.")
    ] = "ZEDONK_TOKEN",
    ordre_token_env: Annotated[
        str, typer.Option("--ordre-token-env", help="Environment variable of ORDRE's token.")
    ] = "ORDRE_TOKEN",
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="Check the season and the order owner against Zedonk when it answers.",
        ),
    ] = True,
    force: Annotated[
        bool, typer.Option("--force", help="Replace files that are already there.")
    ] = False,
) -> None:
    """Make a brand's catalogue repository, ready to validate, dump and plan.

    Writes connector.yaml (every setting explained), an empty catalogue/, the JSON Schemas in
    schemas/, .gitignore, a pre-commit hook and the pull-request workflow; never replaces a
    file without --force. Asks for the URLs, the import season and the order owner when they
    are not given, and checks them against Zedonk when it answers.
    """
    answers = Answers(
        zedonk_url=_ask(
            zedonk_url, "--zedonk-url", "Zedonk API URL", "https://zedonk.example/api/v1"
        ),
        ordre_url=_ask(ordre_url, "--ordre-url", "ORDRE API URL", "https://ordre.example/api/v1"),
        season=_ask(season, "--season", "Import season (Zedonk season code)", "AW26"),
        order_owner=_ask(order_owner, "--order-owner", "Order owner (Zedonk username)", "sophie"),
        zedonk_token_env=zedonk_token_env,
        ordre_token_env=ordre_token_env,
    )
    notes = ["not checked against Zedonk (--no-check)"]
    if check:
        answers, notes = _checked(answers)
    catalogue = directory / "catalogue"
    empty_catalogue = not catalogue.is_dir() or not any(catalogue.iterdir())
    files = repository_files(answers, keep_catalogue=empty_catalogue)
    done = write_files(directory, files, force=force)
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"Made a catalogue repository in {directory}:")
    for name, status in done:
        typer.echo(f"  {SYMBOL[status]} {name}" + (f" ({status})" if status != "written" else ""))
    typer.echo(
        "Next: `zedonk-ordre validate`, then `zedonk-ordre dump` to take in the collections "
        f"ORDRE shows now (edit {CONNECTOR_FILE} first if needed), and `zedonk-ordre plan`."
    )


@app.command()
def schemas(
    write: Annotated[
        Path | None,
        typer.Option(
            "--write",
            help=f"Write the schemas into DIR (a repository's {SCHEMAS_DIR}/), replacing "
            "older copies.",
            file_okay=False,
        ),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text for people, json for scripts.")
    ] = OutputFormat.text,
) -> None:
    """The JSON Schemas of connector.yaml and catalogue files, for editors.

    Without --write, says where this installation keeps them. After an upgrade, refresh a
    repository's copies with: zedonk-ordre schemas --write schemas
    """
    if write is None:
        folder = schema_dir()
        if output is OutputFormat.json:
            print_json({"format_version": JSON_VERSION, "folder": str(folder)})
        else:
            typer.echo(str(folder))
        return
    done = write_schemas(write)
    if output is OutputFormat.json:
        print_json(
            {
                "format_version": JSON_VERSION,
                "folder": str(write),
                "files": [{"file": name, "status": status} for name, status in done],
            }
        )
        return
    for name, status in done:
        typer.echo(f"  {SYMBOL[status]} {write / name} ({status})")
