"""The catalogue's git commit, recorded with each run so a change on ORDRE traces back to a PR."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

GIT_TIMEOUT_SECONDS = 5.0


def _git(root: Path, *args: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        done = subprocess.run(
            [git, "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def catalogue_commit(root: Path) -> str | None:
    """HEAD's commit id, with ``-dirty`` when connector.yaml or catalogue/ has local edits.

    None when ``root`` is not in a git repository (or git is not installed).
    """
    commit = _git(root, "rev-parse", "--verify", "--quiet", "HEAD")
    if not commit:
        return None
    status = _git(root, "status", "--porcelain", "--", "connector.yaml", "catalogue")
    return f"{commit}-dirty" if status else commit


def path_prefix(root: Path) -> str:
    """What goes before a path relative to ``root`` to make it relative to the git top level
    (``"brands/maison/"`` for a catalogue in a monorepo's subfolder; ``""`` at the top), as
    GitHub wants an annotation's file. Outside git, relative to the current directory when
    ``root`` is inside it; else ``""``."""
    top = _git(root, "rev-parse", "--show-toplevel")
    base = Path(top) if top else Path.cwd()
    try:
        relative = root.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return ""
    return "" if relative == "." else relative + "/"
