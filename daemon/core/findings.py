"""Findings: one problem in connector.yaml or catalogue/, with where it is and how to fix it.

``validate`` collects every finding of a run before it reports anything; plan, apply and the
daemon use the same findings to refuse an invalid tree. Codes are stable: scripts and the
documentation (docs/configuration.md) rely on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from daemon.core.spec import Location
from daemon.core.words import plural
from daemon.errors import ConfigError

Severity = Literal["error", "warning", "note"]

PathPart = str | int
KeyPath = tuple[PathPart, ...]


def format_path(path: Sequence[PathPart]) -> str:
    """``("looks", 0, "name")`` -> ``looks[0].name``: the key path people see."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def parse_path(text: str) -> KeyPath:
    """``looks[0].name`` -> ``("looks", 0, "name")``, for keys without dots or brackets."""
    return tuple(
        int(piece[1:-1]) if piece.startswith("[") else piece
        for piece in re.findall(r"[^.\[\]]+|\[\d+\]", text)
    )


def kind_of(value: object) -> str:
    """A loaded value's type as a finding names it: "nothing (null)", "the boolean true",
    "the number 3", "text", "a list" or "a mapping"."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


@dataclass(frozen=True)
class Finding:
    """One problem. ``line`` and ``column`` are 1-based; 0 when the problem has no place."""

    file: str  # relative to the root, with forward slashes
    line: int
    column: int
    path: str  # key path inside the file, e.g. "looks[0].products[2]"; "" for the whole file
    code: str  # stable identifier, e.g. "yaml-duplicate-key"
    severity: Severity
    message: str
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def where(self) -> str:
        """``file:line:column`` (or less, when the place is not known)."""
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"

    def __str__(self) -> str:
        head = f"{self.where}: "
        if self.path:
            head += f"{self.path}: "
        if self.severity != "error":
            head += f"{self.severity}: "
        text = f"{head}{self.message} [{self.code}]"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
        }


_SEVERITY_ORDER = {"error": 0, "warning": 1, "note": 2}


def sort_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Sorted by file, then place: the order people read a file in."""
    return tuple(
        sorted(
            findings,
            key=lambda f: (f.file, f.line, f.column, _SEVERITY_ORDER[f.severity], f.code),
        )
    )


def finding_at(
    where: Location | None,
    code: str,
    severity: Severity,
    message: str,
    hint: str | None = None,
    path: str = "",
) -> Finding:
    """A finding about the catalogue entry at ``where``; about Zedonk's own data when
    ``where`` is None (then named after where it is fixed)."""
    if where is None:
        return Finding("Zedonk", 0, 0, path, code, severity, message, hint)
    return Finding(where.file, where.line, where.column, path, code, severity, message, hint)


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.is_error for f in findings)


def invalid(
    what: str,
    findings: Iterable[Finding],
    *,
    hint: str = "run `zedonk-ordre validate` for the details",
) -> ConfigError:
    """The error to raise when ``what`` (a file, a directory, a tree) did not load: it says
    how many errors ``findings`` holds and carries each of them for the renderer."""
    errors: list[object] = [f for f in findings if f.is_error]
    return ConfigError(f"{what} is invalid ({plural(len(errors), 'error')})", errors, hint=hint)
