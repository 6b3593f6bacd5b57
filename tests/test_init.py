"""init and schemas: a brand's repository that validates at once, and is never overwritten."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sandbox_harness import Sandboxes
from typer.testing import CliRunner

from daemon import INSTALL_REQUIREMENT, PROJECT_URL, RELEASE_TAG
from daemon.cli import app
from daemon.tree.resources import load_schema
from daemon.tree.scaffold import Answers, connector_text
from daemon.tree.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()
ANSWERS = ["--zedonk-url", "https://zedonk.example/api/v1", "--ordre-url",
           "https://ordre.example/api/v1", "--season", "AW26",
           "--order-owner", "sophie"]  # fmt: skip
MODELINE = "# yaml-language-server: $schema="


@pytest.fixture(autouse=True)
def _no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZEDONK_TOKEN", raising=False)
    monkeypatch.delenv("ORDRE_TOKEN", raising=False)


def init(root: Path, *args: str) -> Any:
    return runner.invoke(app, ["init", str(root), *args])


def files_under(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_init_makes_a_repository_that_validates_with_its_schemas(tmp_path: Path) -> None:
    root = tmp_path / "brand"
    done = runner.invoke(app, ["init", str(root), *ANSWERS])
    assert done.exit_code == 0, done.output
    assert set(files_under(root)) == {
        "connector.yaml",
        "catalogue/.gitkeep",
        "schemas/connector.schema.json",
        "schemas/catalogue.schema.json",
        ".gitignore",
        ".pre-commit-config.yaml",
        ".github/workflows/catalogue-pr.yml",
    }
    assert "not checked: the environment variable ZEDONK_TOKEN is not set" in done.output
    valid = runner.invoke(app, ["validate", "--root", str(root), "--format", "json"])
    assert valid.exit_code == 0, valid.output
    assert json.loads(valid.stdout)["summary"]["errors"] == 0
    # the editor's schema line points at a file that is there, and is this version's schema
    first = (root / "connector.yaml").read_text().splitlines()[0]
    assert first.startswith(MODELINE)
    schema = root / first.removeprefix(MODELINE)
    assert json.loads(schema.read_text()) == load_schema("connector.schema.json")
    catalogue_schema = root / "catalogue" / "../schemas/catalogue.schema.json"
    assert json.loads(catalogue_schema.read_text()) == load_schema("catalogue.schema.json")
    settings = load_settings(root)
    assert (settings.import_.season, settings.import_.order_owner) == ("AW26", "sophie")
    assert settings.zedonk.url == "https://zedonk.example/api/v1"
    assert str(settings.ordre.token) == "environment variable ORDRE_TOKEN"


def test_init_again_refuses_to_overwrite_and_force_replaces(tmp_path: Path) -> None:
    root = tmp_path / "brand"
    assert init(root, *ANSWERS).exit_code == 0
    before = files_under(root)
    same = init(root, *ANSWERS)
    assert same.exit_code == 0, same.output
    assert "= connector.yaml (unchanged)" in same.output

    other = [*ANSWERS[:-1], "marc"]
    refused = init(root, *other)
    assert refused.exit_code == 1
    assert "already has connector.yaml; nothing was written" in refused.output
    assert "--force" in refused.output
    assert files_under(root) == before

    (root / ".gitignore").write_text("node_modules/\n")
    refused = init(root, *other)
    assert "already has connector.yaml, .gitignore" in refused.output
    assert (root / ".gitignore").read_text() == "node_modules/\n"

    forced = init(root, *other, "--force")
    assert forced.exit_code == 0, forced.output
    assert "order_owner: marc" in (root / "connector.yaml").read_text()
    assert (root / ".gitignore").read_text() == before[".gitignore"]


def test_init_keeps_a_catalogue_that_is_there(tmp_path: Path) -> None:
    root = tmp_path / "brand"
    (root / "catalogue").mkdir(parents=True)
    shutil.copy(REPO / "catalogue" / "essentials.yaml", root / "catalogue")
    assert init(root, *ANSWERS).exit_code == 0
    assert not (root / "catalogue" / ".gitkeep").exists()
    assert runner.invoke(app, ["validate", "--root", str(root)]).exit_code == 0


def test_without_a_terminal_init_names_the_answers_it_needs(tmp_path: Path) -> None:
    done = init(tmp_path / "brand", "--zedonk-url", "https://z.example/api")
    assert done.exit_code == 1
    assert "init needs --ordre-url, and there is no terminal to ask on" in done.output
    assert not (tmp_path / "brand").exists()


def test_at_a_terminal_init_asks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("daemon.cli.init._interactive", lambda: True)
    answers = "https://z.example/api\nhttps://o.example/api\nSS26\nmarc\n"
    done = runner.invoke(app, ["init", str(tmp_path / "b"), "--no-check"], input=answers)
    assert done.exit_code == 0, done.output
    settings = load_settings(tmp_path / "b")
    assert (settings.zedonk.url, settings.ordre.url) == (
        "https://z.example/api",
        "https://o.example/api",
    )
    assert (settings.import_.season, settings.import_.order_owner) == ("SS26", "marc")


def test_every_commented_setting_is_valid_and_shows_its_default(tmp_path: Path) -> None:
    """Uncommenting the settings of connector.yaml changes nothing but the example values."""
    text = connector_text(
        Answers("https://z.example/api", "https://o.example/api", "AW26", "sophie")
    )
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "connector.yaml").write_text(text)
    uncommented = re.sub(r"(?m)^(\s*)# ?(\s*[a-z_]+:)", r"\1\2", text)
    assert uncommented.count("#") < text.count("#") - 20
    full = tmp_path / "full"
    full.mkdir()
    (full / "connector.yaml").write_text(uncommented)
    a, b = load_settings(plain), load_settings(full)
    assert b.email is not None and b.webhook is not None  # the examples came alive
    assert b.import_.go_live is not None
    assert replace(b, root=a.root, email=None, webhook=None, state_dir=a.state_dir) == replace(
        a, import_=replace(a.import_, go_live=b.import_.go_live)
    )
    assert b.state_dir == a.state_dir and not b.state_dir.is_relative_to(full)


def test_gitignore_keeps_the_state_directory_and_secrets_out(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path / "brand"
    assert init(root, *ANSWERS).exit_code == 0
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    paths = [".zedonk-ordre/history.sqlite", ".env", "zedonk.token", "catalogue/a.yaml",
             "connector.yaml", "schemas/catalogue.schema.json"]  # fmt: skip
    ignored = subprocess.run(
        ["git", "-C", str(root), "check-ignore", "--no-index", *paths],
        capture_output=True,
        text=True,
    ).stdout.split()
    assert ignored == [".zedonk-ordre/history.sqlite", ".env", "zedonk.token"]


def test_the_hook_and_workflow_point_at_this_release(tmp_path: Path) -> None:
    root = tmp_path / "brand"
    assert init(root, *ANSWERS).exit_code == 0
    hook = (root / ".pre-commit-config.yaml").read_text()
    assert f"repo: {PROJECT_URL}\n" in hook and f"rev: {RELEASE_TAG}\n" in hook
    assert "id: zedonk-ordre-validate" in hook
    workflow = (root / ".github/workflows/catalogue-pr.yml").read_text()
    assert workflow == (REPO / "docs/examples/catalogue-pr.yml").read_text()
    assert f'pip install "{INSTALL_REQUIREMENT}"' in workflow


def test_schemas_write_refreshes_a_repositorys_copies(tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    folder.mkdir()
    (folder / "catalogue.schema.json").write_text("{}")
    done = runner.invoke(app, ["schemas", "--write", str(folder), "--format", "json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["files"] == [
        {"file": "connector.schema.json", "status": "written"},
        {"file": "catalogue.schema.json", "status": "replaced"},
    ]
    assert json.loads((folder / "catalogue.schema.json").read_text()) == load_schema(
        "catalogue.schema.json"
    )
    where = runner.invoke(app, ["schemas"])
    assert Path(where.stdout.strip()) == REPO / "schemas"


# --------------------------------------------------------------------------- against Zedonk


@pytest.fixture
def tokens(sandbox: Sandboxes, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandboxes]:
    monkeypatch.setenv("ZEDONK_TOKEN", sandbox.zedonk_token)
    monkeypatch.setenv("ORDRE_TOKEN", sandbox.ordre_token)
    yield sandbox


def sandbox_answers(sandbox: Sandboxes, season: str = "AW26", owner: str = "sophie") -> list[str]:
    return ["--zedonk-url", sandbox.zedonk_url, "--ordre-url", sandbox.ordre_url,
            "--season", season, "--order-owner", owner]  # fmt: skip


def test_init_checks_the_season_and_owner_against_zedonk(tokens: Sandboxes, tmp_path: Path) -> None:
    done = init(tmp_path / "ok", *sandbox_answers(tokens))
    assert done.exit_code == 0, done.output
    assert f"Zedonk at {tokens.zedonk_url} answered" in done.output
    assert f"ORDRE at {tokens.ordre_url} answered" in done.output

    wrong = init(tmp_path / "wrong", *sandbox_answers(tokens, "AW99", "intern"))
    assert wrong.exit_code == 1
    output = wrong.output
    assert "Zedonk has no season 'AW99' (it has AW25, SS26, AW26)" in output
    assert "Zedonk has no active user 'intern' (active users: marc, sophie)" in output
    assert "--no-check" in output
    assert not (tmp_path / "wrong").exists()
    unchecked = init(tmp_path / "wrong", *sandbox_answers(tokens, "AW99", "intern"), "--no-check")
    assert unchecked.exit_code == 0


def test_at_a_terminal_a_wrong_answer_is_asked_again(
    tokens: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("daemon.cli.init._interactive", lambda: True)
    done = runner.invoke(
        app, ["init", str(tmp_path / "b"), *sandbox_answers(tokens, "AW99")], input="SS26\n"
    )
    assert done.exit_code == 0, done.output
    assert "Zedonk says: Zedonk has no season 'AW99'" in done.output
    assert load_settings(tmp_path / "b").import_.season == "SS26"


def test_an_unreachable_zedonk_is_noted_not_fatal(tokens: Sandboxes, tmp_path: Path) -> None:
    tokens.set_faults("zedonk", error_rates={"503": 1.0})
    done = init(tmp_path / "b", *sandbox_answers(tokens))
    assert done.exit_code == 0, done.output
    assert "note: Zedonk not checked: " in done.output
