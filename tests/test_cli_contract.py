"""What scripts rely on, for every command: usage errors exit 64 (never 2, which
``plan --detailed-exitcode`` uses for "changes"), a closed pipe ends quietly, ``--debug``
works before or after the command name, and terminal control characters in files or remote
data are shown escaped."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from daemon.cli import app
from daemon.cli.root import hoist_global_options
from daemon.errors import ExitCode

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()


def command_paths() -> Iterator[list[str]]:
    """Every registered command, as the words that name it (``["orders", "list"]``)."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):
            for sub in command.commands:
                yield [name, sub]
        else:
            yield [name]


COMMANDS = list(command_paths())


def test_the_command_list_is_complete() -> None:
    names = {" ".join(path) for path in COMMANDS}
    assert {"validate", "plan", "apply", "history", "run", "status", "sandbox", "demo"} <= names
    assert {"orders import", "orders list", "orders show", "orders retry"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_an_unknown_option_is_a_usage_error_on_every_command(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--no-such-option"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "No such option: --no-such-option" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--detailed-exitcode", "--formt", "json"],  # the typo that posted empty plans
        ["plan", "--format", "yaml"],  # a value not allowed
        ["history", "--limit", "0"],  # out of range
        ["history", "--limit"],  # missing value
        ["orders", "show"],  # missing argument
        ["nosuch"],  # unknown command
        ["--no-such-global"],
        ["orders", "nosuch"],
    ],
    ids=" ".join,
)
def test_usage_errors_never_exit_2(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.USAGE, result.output


def test_the_installed_command_exits_64_on_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "daemon", "plan", "--detailed-exitcode", "--formt", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 64
    assert done.stdout == ""
    assert "Error: No such option: --formt" in done.stderr


def test_help_shows_flags_without_a_value_placeholder() -> None:
    for path in (["apply"], ["validate"], ["orders", "import"], []):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0
        assert "<bool>" not in result.output
    assert "-y, --yes" in runner.invoke(app, ["apply", "--help"]).output


def test_debug_moves_to_the_front_wherever_it_is_written() -> None:
    assert hoist_global_options(["plan", "--debug", "--root", "x"]) == [
        "--debug",
        "plan",
        "--root",
        "x",
    ]
    assert hoist_global_options(["orders", "show", "--debug", "A"]) == [
        "--debug",
        "orders",
        "show",
        "A",
    ]
    assert hoist_global_options(["pause", "--reason", "x", "--", "--debug"]) == [
        "pause",
        "--reason",
        "x",
        "--",
        "--debug",
    ]
    assert hoist_global_options(["status"]) == ["status"]


# --------------------------------------------------------------------------- closed pipes


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(REPO / "catalogue", root / "catalogue")
    shutil.copy(REPO / "connector.yaml", root / "connector.yaml")
    return root


@pytest.mark.parametrize(
    "args",
    [["history"], ["orders", "list"], ["status"], ["validate", "--show"], ["--help"]],
    ids=" ".join,
)
def test_a_reader_that_goes_away_ends_the_command_quietly(
    args: list[str], repository: Path
) -> None:
    """``zedonk-ordre history | head -1``: the reader closes the pipe before we write."""
    with subprocess.Popen(
        [sys.executable, "-m", "daemon", *args],
        cwd=repository,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # as `head` does once it has read what it wanted
        stderr = proc.stderr.read().decode()
        code = proc.wait(timeout=60)
    assert "internal error" not in stderr and "Traceback" not in stderr, stderr
    assert "BrokenPipe" not in stderr, stderr
    assert code == ExitCode.BROKEN_PIPE == 141, stderr  # as other tools, killed by SIGPIPE


def test_a_pipe_read_to_the_end_is_not_disturbed(repository: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "daemon", "validate", "--show"],
        cwd=repository,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.splitlines()[-1].startswith("valid: ")


# --------------------------------------------------------------------------- control characters


def test_terminal_control_characters_from_a_file_are_shown_escaped(repository: Path) -> None:
    """A key holding an OSC sequence would set the terminal's title if printed raw."""
    (repository / "catalogue" / "title.yaml").write_text(
        'collection: Title\n"\\e]0;pwned\\a\\e[2J": 1\n'
        "looks: [{name: L, select: [{season: AW26}]}]\n"
    )
    for output in ("text", "github"):
        result = runner.invoke(app, ["validate", "--root", str(repository), "--format", output])
        assert result.exit_code == ExitCode.ERROR
        assert "\x1b" not in result.output and "\x07" not in result.output
        assert "\\x1b]0;pwned\\x07\\x1b[2J" in result.output


def test_terminal_control_characters_in_json_stay_json_escaped(repository: Path) -> None:
    (repository / "catalogue" / "title.yaml").write_text(
        'collection: Title\n"\\e]0;pwned\\a": 1\nlooks: [{name: L, select: [{season: AW26}]}]\n'
    )
    result = runner.invoke(app, ["validate", "--root", str(repository), "--format", "json"])
    assert "\x1b" not in result.output and "\\u001b]0;pwned\\u0007" in result.output


def test_the_readme_documents_every_exit_code() -> None:
    table = (REPO / "README.md").read_text().split("Exit codes, the same for every command:")[1]
    documented = {
        int(line.split("|")[1]) for line in table.splitlines() if line.startswith("| ") and
        line.split("|")[1].strip().isdigit()
    }  # fmt: skip
    assert documented == {int(code) for code in ExitCode}
