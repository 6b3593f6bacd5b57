"""Installable the documented way: the base install runs validate (what the pre-commit hook
gets), `[all]` the rest, and every install line and hook reference names this release."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pre_commit.clientlib import load_manifest

from daemon import INSTALL_REQUIREMENT, PROJECT_URL, RELEASE_TAG, __version__
from daemon.cli import COMMANDS, FULL_INSTALL

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
VALIDATE_NEEDS = {"pyyaml", "jsonschema", "typer", "msgspec"}


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_base_install_is_what_validate_needs_and_all_adds_the_rest() -> None:
    project = PYPROJECT["project"]
    assert names(project["dependencies"]) == VALIDATE_NEEDS
    full = names(project["optional-dependencies"]["all"])
    assert full == {
        "httpx", "watchdog", "sqlite-utils", "starlette", "uvicorn", "jinja2",
        "prometheus-client",
    }  # fmt: skip
    assert {n.replace("-", "_") for n in full} <= FULL_INSTALL
    assert f"zedonk-ordre[all] @ git+{PROJECT_URL}@v{__version__}" == INSTALL_REQUIREMENT


# Runs the command line with the full install's packages impossible to import, as on a base
# install (the pre-commit hook's environment).
BASE_INSTALL = f"""
import sys
BLOCKED = {sorted(FULL_INSTALL)!r}
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Blocker())
from daemon.cli import main
sys.argv = ["zedonk-ordre", *sys.argv[1:]]
main()
"""


def base_install(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ZEDONK_TOKEN", "ORDRE_TOKEN")}
    return subprocess.run(
        [sys.executable, "-c", BASE_INSTALL, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
    )


def test_validate_init_and_schemas_run_on_the_base_install(tmp_path: Path) -> None:
    assert base_install("validate", "--root", str(REPO), cwd=tmp_path).returncode == 0
    made = base_install(
        "init", "brand", "--zedonk-url", "https://z.example/api", "--ordre-url",
        "https://o.example/api", "--season", "AW26", "--order-owner", "sophie",
        cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "not checked against Zedonk: the base install has no" in made.stderr
    assert base_install("validate", "--root", "brand", cwd=tmp_path).returncode == 0
    schemas = base_install("schemas", "--write", "copy", cwd=tmp_path)
    assert schemas.returncode == 0, schemas.stderr
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == [
        "catalogue.schema.json",
        "connector.schema.json",
    ]


def test_the_rest_says_how_to_install_it(tmp_path: Path) -> None:
    for args in (["plan", "--detailed-exitcode"], ["orders", "list"], ["dump"], ["run"]):
        done = base_install(*args, cwd=tmp_path)
        assert done.returncode == 1, args
        assert done.stderr.startswith(f"error: `zedonk-ordre {args[0]}` needs the full install")
        assert f'hint: pip install "{INSTALL_REQUIREMENT}"' in done.stderr
        assert "Traceback" not in done.stderr
    listed = base_install("--help", cwd=tmp_path)
    assert listed.returncode == 0
    for command in COMMANDS:
        assert re.search(rf"^  {command} ", listed.stdout, re.MULTILINE), command


# --------------------------------------------------------------------------- pre-commit


def test_the_pre_commit_hook_is_valid_and_runs_validate() -> None:
    [hook] = load_manifest(str(REPO / ".pre-commit-hooks.yaml"))
    assert hook["id"] == "zedonk-ordre-validate"
    assert hook["language"] == "python" and not hook["additional_dependencies"]
    command, *args = hook["entry"].split()
    assert PYPROJECT["project"]["scripts"][command] == "daemon.cli:main"
    assert args == ["validate"] and hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    for path in ("connector.yaml", "catalogue/aw26.yaml", "catalogue/.gitkeep"):
        assert files.search(path), path
    for path in ("README.md", "schemas/catalogue.schema.json", "old/connector.yaml"):
        assert not files.search(path), path


def test_every_install_line_and_hook_reference_names_this_release() -> None:
    install = f'pip install "{INSTALL_REQUIREMENT}"'
    for doc in ("README.md", "docs/service.md", "docs/examples/catalogue-pr.yml",
                "contrib/systemd/zedonk-ordre.service"):  # fmt: skip
        text = (REPO / doc).read_text()
        assert install in text, doc
        assert "pip install zedonk-ordre" not in text, doc  # no package index has it
    for doc in (".pre-commit-hooks.yaml", "docs/configuration.md", "README.md"):
        text = (REPO / doc).read_text()
        assert f"repo: {PROJECT_URL}" in text, doc
        assert re.findall(r"rev: (\S+)", text) == [RELEASE_TAG], doc


@pytest.mark.slow  # installs the hook's environment from the package index: a minute or more
def test_the_hook_installs_from_the_release_tag_and_runs(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The `.pre-commit-config.yaml` that init writes, pointed at a clone of this checkout
    tagged like the release: pre-commit installs the hook at `rev:` and runs validate."""
    if "slow" not in (request.config.option.markexpr or ""):
        pytest.skip("slow: run with -m slow")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip

    def run(*args: str | Path, cwd: Path = tmp_path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=900
        )

    # This checkout as it is now (tracked and new files), committed and tagged in a clone.
    clone = tmp_path / "zedonk-ordre"
    assert run("git", "clone", "-q", "--no-hardlinks", REPO, clone).returncode == 0
    listed = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO)
    for name in filter(None, listed.stdout.split("\0")):
        if (REPO / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, clone / name)
    run("git", "add", "-A", cwd=clone)
    run("git", "commit", "-q", "--allow-empty", "-m", "release", cwd=clone)
    # -f: the clone has the repository's own tag too; here it names this checkout
    assert run("git", "tag", "-f", "-a", RELEASE_TAG, "-m", RELEASE_TAG, cwd=clone).returncode == 0

    brand = tmp_path / "brand"
    made = run(sys.executable, "-m", "daemon", "init", brand, "--no-check", "--zedonk-url",
               "https://z.example/api", "--ordre-url", "https://o.example/api",
               "--season", "AW26", "--order-owner", "sophie")  # fmt: skip
    assert made.returncode == 0, made.stderr
    config = brand / ".pre-commit-config.yaml"
    config.write_text(config.read_text().replace(PROJECT_URL, str(clone)))
    shutil.copy(REPO / "catalogue" / "essentials.yaml", brand / "catalogue")
    assert run("git", "init", "-q", cwd=brand).returncode == 0
    run("git", "add", "-A", cwd=brand)
    pre_commit = [sys.executable, "-m", "pre_commit", "run", "--all-files"]
    passed = run(*pre_commit, cwd=brand)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert re.search(r"zedonk-ordre validate\.+Passed", passed.stdout), passed.stdout

    # the hook's environment holds the base install only
    [python] = (tmp_path / "cache").glob("repo*/py_env-*/bin/python")
    blocked = sorted(FULL_INSTALL)
    probe = f"import importlib.util as u; print([m for m in {blocked!r} if u.find_spec(m)])"
    found = run(python, "-c", probe)
    assert found.stdout.strip() == "[]", found.stdout + found.stderr

    (brand / "catalogue" / "essentials.yaml").write_text("collection: Essentials\nlokos: []\n")
    run("git", "add", "-A", cwd=brand)
    failed = run(*pre_commit, cwd=brand)
    assert failed.returncode == 1
    assert "unknown key `lokos`" in failed.stdout
