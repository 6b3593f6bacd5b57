"""YAML written by hand (dump, products --format yaml) reads back as exactly what was meant."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from daemon.core.yamlwrite import comment, is_plain, scalar
from daemon.tree.yamlload import load_bytes

TRICKY = [
    "AW26 Main Collection",
    "Look 1 - Outerwear",
    "ML-101/WOOL/NAVY",
    "NO",
    "yes",
    "null",
    "~",
    "00123",
    "1234",
    "12:30",
    "1_000",
    "1e3",
    "0x1F",
    ".inf",
    "2026-01-01",
    "Coats: the long ones",
    "Look #1",
    'Say "hello"',
    "it's",
    "- dash first",
    "[brackets]",
    "{braces}",
    "a, b",
    "&anchor",
    "*alias",
    "!tag",
    "%percent",
    "@at",
    "`tick`",
    "|pipe",
    ">fold",
    "  leading spaces",
    "trailing space ",
    "two\nlines",
    "tab\there",
    "Été à Paris — robes",
    "東京 コレクション",
    "emoji 🧥",
    "nel\x85line",
    "line\u2028separator",
    "bom\ufeff",
    "bell\x07",
    "back\\slash",
    "",
]


def read_back(text: str) -> object:
    """``text`` written as a value, as a block list item and in a flow list, read back by the
    project's strict loader and by PyYAML (YAML 1.1); all must agree."""
    written = scalar(text)
    document = f"a: {written}\nb:\n  - {written}\nc: [{written}]\n"
    loaded = load_bytes(document.encode("utf-8"), "x.yaml")
    assert not loaded.findings, (text, document, loaded.findings)
    assert loaded.document is not None
    data = loaded.document.data
    assert yaml.safe_load(document) == data
    assert data["b"] == [data["a"]] and data["c"] == [data["a"]]
    return data["a"]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_text_reads_back_as_itself(text: str) -> None:
    assert read_back(text) == text


@given(st.text())
@example("Look 1: Coats")
def test_any_text_reads_back_as_itself(text: str) -> None:
    assert read_back(text) == text


def test_plain_only_where_nothing_can_misread_it() -> None:
    assert scalar("ML-101/WOOL/NAVY") == "ML-101/WOOL/NAVY"
    assert scalar("Look 1 - Outerwear") == "Look 1 - Outerwear"
    for text in ("NO", "1234", "12:30", "a: b", "Look #1", "x ", " x"):
        assert not is_plain(text), text
    assert scalar('Say "hi"') == '"Say \\"hi\\""'


@given(st.text())
def test_a_comment_stays_on_its_line(text: str) -> None:
    document = f"a: 1  # {comment(text)}\nb: 2\n"
    loaded = load_bytes(document.encode("utf-8"), "x.yaml")
    assert loaded.document is not None and not loaded.findings
    assert loaded.document.data == {"a": 1, "b": 2}
