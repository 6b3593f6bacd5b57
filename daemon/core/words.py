"""Small helpers for the messages people read."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """``"1 error"``, ``"3 errors"``; ``many`` for a word whose plural is not ``word + "s"``."""
    return f"{count} {word if count == 1 else many or word + 's'}"
