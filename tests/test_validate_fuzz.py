"""validate never crashes on damaged files, and every finding points inside the file."""

from __future__ import annotations

import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.tree.validation import validate_tree

BASE = Path(__file__).parent / "configs" / "base"
FILES = ("catalogue/main.yaml", "connector.yaml")
PIECES = [
    ":",
    "- ",
    "  ",
    "\n",
    "[",
    "]",
    "{",
    "}",
    "&a ",
    "*a",
    "!t ",
    "'",
    '"',
    "#",
    "\t",
    "NO",
    "00123",
    "12:30",
    "~",
    "---\n",
    "é",
    "\x00",
    "\ufeff",
    "looks",
    "name: x\n",
]


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(FILES))
    text = (BASE / name).read_bytes()
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            piece = draw(st.sampled_from(PIECES) | st.text(max_size=3)).encode("utf-8", "replace")
            text = text[:at] + piece + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 8)) :]
    if draw(st.booleans()):
        text += bytes([draw(st.integers(0x80, 0xFF))])  # sometimes not UTF-8 at the end
    return name, text


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(damaged())
def test_damaged_files_give_findings_not_crashes(tmp_path: Path, case: tuple[str, bytes]) -> None:
    name, text = case
    root = tmp_path / "repo"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(BASE, root)
    (root / name).write_bytes(text)
    report = validate_tree(root)  # must not raise
    lines = len(text.decode("utf-8", "replace").splitlines()) + 1  # every kind of line break
    for finding in report.findings:
        assert finding.file in (*FILES, "catalogue")
        assert 0 <= finding.line <= lines, str(finding)
        assert finding.message
    if not report.ok:
        assert report.settings is None or report.catalogue is None
