"""Where things are: the catalogue root as the shell names it (symlinks kept, so that a swapped
release link is followed) and the state directory, which never depends on the checkout.

The state directory holds the order ledger, the record of what was imported from one ORDRE into
one Zedonk; every checkout and every release of a brand must find the same one
(docs/configuration.md, "The state directory").
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

# The state directory's name inside the catalogue checkout, before it moved out of it; still
# used where it holds a history (see ``state_dir_for``), and kept out of git by ``init``.
DEFAULT_STATE_DIR = ".zedonk-ordre"
STATE_HOME_NAME = "zedonk-ordre"  # under $XDG_STATE_HOME (~/.local/state)
HISTORY_FILE = "history.sqlite"  # the store's name for it (the tree room reads no store)


def absolute(path: Path) -> Path:
    """``path`` made absolute without following symlinks: a catalogue reached through a
    symlink (``current -> releases/r2``) keeps the link's name, so a swap of the link is
    followed. A relative path starts from the working directory as the shell names it."""
    return Path(os.path.normpath(path if path.is_absolute() else logical_cwd() / path))


def logical_cwd() -> Path:
    """The working directory as the shell names it (``$PWD``, which keeps the symlinks it was
    reached through) when that names the same directory; else the physical one."""
    cwd = Path.cwd()
    shell = Path(os.environ.get("PWD", ""))
    if shell.is_absolute():
        try:
            if shell.samefile(cwd):
                return shell
        except OSError:
            pass
    return cwd


def state_home() -> Path:
    """Where state directories live: systemd's ``$STATE_DIRECTORY`` (the first it lists),
    else ``$XDG_STATE_HOME/zedonk-ordre``, else ``~/.local/state/zedonk-ordre``."""
    systemd = os.environ.get("STATE_DIRECTORY", "")
    if systemd:
        return Path(systemd.split(":")[0])
    xdg = Path(os.environ.get("XDG_STATE_HOME", ""))
    base = xdg if xdg.is_absolute() else Path.home() / ".local" / "state"
    return base / STATE_HOME_NAME


def state_name(zedonk_url: str, ordre_url: str) -> str:
    """The default state directory's name for one pair of remotes: the ORDRE host and a short
    digest of both URLs. The ledger records what was imported from this ORDRE into this
    Zedonk, so every checkout and every release of one brand shares it."""
    host = re.sub(r"[^A-Za-z0-9.-]+", "-", urlsplit(ordre_url).hostname or "ordre")
    digest = hashlib.sha256(f"{zedonk_url}\n{ordre_url}".encode()).hexdigest()[:10]
    return f"{host}-{digest}"


def written_state_dir(written: str) -> Path:
    path = Path(written).expanduser()
    return Path(os.path.normpath(path if path.is_absolute() else state_home() / path))


def state_dir_for(
    root: Path, written: str | None, zedonk_url: str, ordre_url: str
) -> tuple[Path, str]:
    """The state directory and how it was chosen. It never depends on where the catalogue
    checkout is: a written relative ``state_dir`` is relative to ``state_home()``, and the
    default is ``$STATE_DIRECTORY`` under systemd, else ``state_home()/state_name(...)``. A
    history already kept inside the checkout (an older default, or a relative ``state_dir``
    from before) is used where it is until it is moved, and the origin says so."""
    checkout = root / (written or DEFAULT_STATE_DIR)
    if written:
        path = written_state_dir(written)
        origin = "daemon.state_dir in connector.yaml"
        if Path(written).expanduser().is_absolute():
            return path, origin
    elif os.environ.get("STATE_DIRECTORY"):
        return state_home(), "$STATE_DIRECTORY (systemd)"
    else:
        path = state_home() / state_name(zedonk_url, ordre_url)
        origin = "the default for this Zedonk and ORDRE"
    if (checkout / HISTORY_FILE).exists() and not (path / HISTORY_FILE).exists():
        return Path(os.path.normpath(checkout)), (
            f"a history inside the catalogue checkout; move the directory to {path} "
            "(or set daemon.state_dir to an absolute path) so that it outlives the checkout"
        )
    return path, origin
