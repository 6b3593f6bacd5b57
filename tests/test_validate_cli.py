"""`zedonk-ordre validate` through Typer's runner, and once through the installed script."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from daemon.cli import COMMANDS, MODULES, app, modules_for

REPO = Path(__file__).resolve().parent.parent
CONFIGS = Path(__file__).parent / "configs"
runner = CliRunner()


def make_tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """The base fixture tree with some files replaced."""
    root = tmp_path / "repo"
    shutil.copytree(CONFIGS / "base", root)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


BAD_CATALOGUE = """\
collection: Main
lokos:
  - name: Coats
    products: [ML-101/WOOL/NAVY]
"""


def test_repository_example_is_valid() -> None:
    result = runner.invoke(app, ["validate", "--root", str(REPO)])
    assert result.exit_code == 0, result.output
    assert (
        result.output.strip().splitlines()[-1].startswith("valid: connector.yaml and 3 collections")
    )


def test_show_prints_the_example_catalogue() -> None:
    result = runner.invoke(app, ["validate", "--root", str(REPO), "--show"])
    assert result.exit_code == 0, result.output
    for text in (
        "AW26 Main Collection  (catalogue/aw26-main.yaml)",
        "Look 1 - Outerwear",
        "ML-101/WOOL/NAVY",
        "ML-205/CASH in BLACK, ECRU",
        "+ every product with season 'AW26', category 'Dresses'",
        "token from environment variable ZEDONK_TOKEN",
    ):
        assert text in result.output


def test_invalid_tree_reports_every_finding_and_exits_1(tmp_path: Path) -> None:
    connector = (CONFIGS / "base" / "connector.yaml").read_text().replace("AW26", "1234")
    root = make_tree(tmp_path, {"catalogue/main.yaml": BAD_CATALOGUE, "connector.yaml": connector})
    result = runner.invoke(app, ["validate", "--root", str(root)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    finding = re.compile(
        r"^(?P<file>[\w./-]+):(?P<line>\d+):(?P<col>\d+): "
        r"(?:(?P<path>[\w.\[\]]+): )?.+ \[[a-z-]+\]$"
    )
    located = [m.groupdict() for line in lines if (m := finding.match(line))]
    assert {(f["file"], f["line"], f["path"]) for f in located} == {
        # `lokos` for `looks` is one mistake: no second finding for the missing `looks`
        ("catalogue/main.yaml", "2", "lokos"),
        ("connector.yaml", "9", "import.season"),
    }
    assert "    hint: did you mean `looks`?" in lines
    assert lines[-1] == "invalid: 2 errors"


def test_json_format_is_one_versioned_document(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"catalogue/main.yaml": BAD_CATALOGUE})
    result = runner.invoke(app, ["validate", "--root", str(root), "--format", "json"])
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert document["format_version"] == 1
    assert document["valid"] is False
    assert document["summary"]["errors"] == 1
    unknown = next(f for f in document["findings"] if f["code"] == "schema-unknown-key")
    assert unknown == {
        "file": "catalogue/main.yaml",
        "line": 2,
        "column": 1,
        "path": "lokos",
        "code": "schema-unknown-key",
        "severity": "error",
        "message": "unknown key `lokos`",
        "hint": "did you mean `looks`?",
    }


def test_json_format_for_a_valid_tree() -> None:
    result = runner.invoke(app, ["validate", "--root", str(REPO), "--format", "json"])
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert document["valid"] is True
    assert document["summary"] == {
        "errors": 0,
        "warnings": 0,
        "notes": 0,
        "collections": 3,
        "looks": 6,
    }


def test_github_format_prints_workflow_commands(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"catalogue/main.yaml": BAD_CATALOGUE, "catalogue/notes.txt": "x\n"})
    result = runner.invoke(app, ["validate", "--root", str(root), "--format", "github"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert (
        "::error file=catalogue/main.yaml,line=2,col=1,title=schema-unknown-key::"
        "lokos: unknown key `lokos`%0Ahint: did you mean `looks`?"
    ) in lines
    assert (
        "::notice file=catalogue/notes.txt,title=file-ignored::"
        "ignored: only *.yaml and *.yml files in catalogue/ are read"
    ) in lines


def test_default_root_is_the_nearest_parent_with_connector_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_tree(tmp_path, {"catalogue/main.yaml": BAD_CATALOGUE})
    monkeypatch.chdir(root / "catalogue")
    result = runner.invoke(app, ["validate", "--format", "json"])
    assert json.loads(result.output)["root"] == str(root.resolve())
    assert result.exit_code == 1


def test_no_connector_yaml_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1
    assert "connector.yaml: there is no connector.yaml in" in result.output


def test_bad_root_is_an_error_without_traceback_unless_debug(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = runner.invoke(app, ["validate", "--root", str(missing)])
    assert result.exit_code == 1
    assert f"error: --root {missing} is not a directory" in result.output
    assert "Traceback" not in result.output
    for args in (["--debug", "validate"], ["validate", "--debug"]):  # before or after
        debug = runner.invoke(app, [*args, "--root", str(missing)])
        assert debug.exit_code == 1
        assert "Traceback (most recent call last)" in debug.output
        assert "daemon.errors.ConfigError: --root" in debug.output


def test_installed_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "zedonk-ordre"
    assert script.exists(), f"{script} is missing: install the project (make test does)"
    ok = subprocess.run(
        [str(script), "validate"],
        cwd=REPO / "catalogue",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("valid: ")
    root = make_tree(tmp_path, {"catalogue/main.yaml": BAD_CATALOGUE})
    bad = subprocess.run(
        [str(script), "validate", "--root", str(root), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert bad.stderr == ""
    codes = sorted(f["code"] for f in json.loads(bad.stdout)["findings"])
    assert codes == ["schema-unknown-key"]


def test_validate_has_help() -> None:
    result = runner.invoke(app, ["validate", "--help"])
    assert result.exit_code == 0
    for option in ("--root", "--format", "--show"):
        assert option in result.output
    assert "--debug" in runner.invoke(app, ["--help"]).output  # global, before or after


def test_each_command_line_loads_only_the_module_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("_ZEDONK_ORDRE_COMPLETE", raising=False)
    assert modules_for(["validate", "--format", "json"]) == ("validate",)
    assert modules_for(["--debug", "apply", "--yes"]) == ("plan",)
    assert modules_for(["orders", "list"]) == ("orders",)
    assert modules_for(["--version"]) == ()
    for everything in ([], ["--help"], ["nosuch"], ["--debug"]):
        assert modules_for(everything) == MODULES
    monkeypatch.setenv("_ZEDONK_ORDRE_COMPLETE", "complete_bash")
    assert modules_for(["validate"]) == MODULES


def test_every_command_is_found_in_the_module_the_loader_names() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):  # a command with subcommands, e.g. orders
            command = next(iter(command.commands.values()))
        assert command.callback is not None
        assert command.callback.__module__ == f"daemon.cli.{COMMANDS[name]}", name


def test_validate_starts_without_the_remote_clients_history_or_sandbox() -> None:
    probe = (
        "import sys\n"
        "from daemon.cli import main\n"
        f"sys.argv = ['zedonk-ordre', 'validate', '--root', {str(REPO)!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    print('exit', exit.code)\n"
        "print(sorted(m for m in ('httpx', 'sqlite_utils', 'starlette', 'uvicorn')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines()[-2:] == ["exit 0", "[]"], done.stdout + done.stderr
