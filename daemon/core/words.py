"""Small helpers for the messages people read."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime


def plural(count: int, word: str, many: str | None = None) -> str:
    """``"1 error"``, ``"3 errors"``; ``many`` for a word whose plural is not ``word + "s"``."""
    return f"{count} {word if count == 1 else many or word + 's'}"


REMOTE_NAMES = {"zedonk": "Zedonk", "ordre": "ORDRE"}


def remote_name(remote: str) -> str:
    """A remote's name as its makers write it: ``"zedonk"`` -> Zedonk, ``"ordre"`` -> ORDRE."""
    return REMOTE_NAMES.get(remote, remote)


# C0 controls but tab and line feed, DEL, C1 controls, and the Unicode bidi controls that
# can make text read differently from what it holds.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    char = match[0]
    if char == "\r":
        return "\\r"
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def printable(text: str) -> str:
    """``text`` safe to show on a terminal: control characters that come with data (an ESC
    that starts a terminal escape sequence, a carriage return that overwrites a line, a bidi
    override) are shown escaped, ``\\x1b``, ``\\r``, ``\\u202e``; tabs and line breaks stay."""
    return _CONTROL.sub(_escaped, text)


def import_summary(counts: Mapping[str, int], waiting_until: datetime | None = None) -> str:
    """An import pass's counts in words: ``{"created": 6, "unresolved": 4}`` -> "6 imported,
    4 unresolved (Zedonk may hold them)", with when a pass settles what waits (UTC)."""
    parts = []
    for key, label in (
        ("created", "imported"),
        ("found", "found in Zedonk already"),
        ("partial", "imported with lines left out"),
        ("failed", "failed"),
        ("needs_attention", "need attention"),
        ("held", "held for review"),
        ("unresolved", "unresolved (Zedonk may hold them)"),
        ("waiting", "waiting for the next pass"),
        ("skipped", "skipped"),
        ("reported", "reported"),
        ("duplicates", "Zedonk order(s) held by more than one order (see status)"),
    ):
        if counts.get(key):
            parts.append(f"{counts[key]} {label}")
    text = ", ".join(parts) or "nothing to import"
    if waiting_until is not None and (counts.get("unresolved") or counts.get("waiting")):
        text += f"; a pass from {waiting_until:%Y-%m-%d %H:%M:%S} UTC on settles them"
    return text
