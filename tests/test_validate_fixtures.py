"""The fixture corpus: every tree in tests/configs/valid/ passes, every tree in
tests/configs/invalid/ fails with exactly the findings its expected.yaml names.

A fixture is ``expected.yaml`` plus a ``tree/`` laid over tests/configs/base/. expected.yaml
may also ``remove`` base files, add ``symlinks`` (to a file OUTSIDE the repository, or to a
MISSING one), ``generate`` an oversize file, and set ``environment`` variables (the secrets
that are set are checked); ``exact: false`` checks only that the named findings occur.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from daemon.tree.validation import validate_tree
from daemon.tree.yamlload import MAX_FILE_BYTES

CONFIGS = Path(__file__).parent / "configs"
FIXTURES = sorted(p for p in CONFIGS.glob("*valid/*") if p.is_dir())


def build_tree(fixture: Path, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    meta: dict[str, Any] = yaml.safe_load((fixture / "expected.yaml").read_text())
    root = tmp_path / "repo"
    shutil.copytree(CONFIGS / "base", root)
    for rel in meta.get("remove", []):
        target = root / rel
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    if (fixture / "tree").is_dir():
        shutil.copytree(fixture / "tree", root, dirs_exist_ok=True)
    connector = root / "connector.yaml"
    if connector.is_file() and "{ROOT}" in connector.read_text():  # a path in the tree
        connector.write_text(connector.read_text().replace("{ROOT}", str(root)))
    outside = tmp_path / "outside.yaml"
    outside.write_text("collection: Outside\nlooks:\n  - name: x\n    select: [{season: AW26}]\n")
    for rel, target in meta.get("symlinks", {}).items():
        (root / rel).symlink_to(outside if target == "OUTSIDE" else tmp_path / "missing.yaml")
    for rel in meta.get("generate", {}):
        line = b"# padding to make the file larger than the limit\n"
        (root / rel).write_bytes(line * (MAX_FILE_BYTES // len(line) + 1))
    return root, meta


def expected_findings(meta: dict[str, Any]) -> set[tuple[str, str, int, str]]:
    return {(f["code"], f["file"], f["line"], f.get("severity", "error")) for f in meta["findings"]}


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture(fixture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, meta = build_tree(fixture, tmp_path)
    for name in ("ZEDONK_TOKEN", "ORDRE_TOKEN", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)  # only what the fixture sets
    for name, value in meta.get("environment", {}).items():
        monkeypatch.setenv(name, value)
    report = validate_tree(root)
    actual = {(f.code, f.file, f.line, f.severity) for f in report.findings}
    expected = expected_findings(meta)
    shown = "\n".join(str(f) for f in report.findings)
    if meta.get("exact", True):
        assert actual == expected, shown
    else:
        assert expected <= actual, shown
    assert report.ok == (fixture.parent.name == "valid"), shown
    if report.ok:
        assert report.settings is not None and report.catalogue is not None
    else:
        assert expected and any(code for code, _, _, severity in expected if severity == "error")


def test_corpus_covers_every_finding_code() -> None:
    """Each code documented in docs/configuration.md has a fixture that produces it."""
    covered = set()
    for fixture in FIXTURES:
        meta = yaml.safe_load((fixture / "expected.yaml").read_text())
        covered |= {f["code"] for f in meta["findings"]}
    documented = set(documented_codes())
    assert documented, "docs/configuration.md lists no finding codes"
    missing = documented - covered
    assert not missing, f"no fixture produces {sorted(missing)}"


def documented_codes() -> list[str]:
    """The codes in the finding codes table of docs/configuration.md (rows like
    `| `code` | ... |` under "### Finding codes"; dump's own codes have their own table)."""
    docs = Path(__file__).parent.parent / "docs" / "configuration.md"
    codes = []
    text = docs.read_text().split("### Finding codes", 1)[1].split("\n## ", 1)[0]
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 2 and cells[1].startswith("`") and cells[1].endswith("`"):
            code = cells[1].strip("`")
            if code.replace("-", "").isalnum() and "-" in code:
                codes.append(code)
    return codes
