"""The line-aware YAML loader: typing of plain scalars, places, and the pitfalls it refuses."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.tree.yamlload import load_bytes, load_file


def load(text: str | bytes) -> tuple[Any, list[str]]:
    result = load_bytes(text.encode() if isinstance(text, str) else text, "f.yaml")
    data = result.document.data if result.document else None
    return data, [f.code for f in result.findings]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("null", None),
        ("~", None),
        ("", None),
        ("12", 12),
        ("-3", -3),
        ("0", 0),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("1.5e+3", 1500.0),
        ("0.5", 0.5),
        ("-.inf", -math.inf),
        ("ML-101/WOOL/NAVY", "ML-101/WOOL/NAVY"),
        ("2026-01-01", "2026-01-01"),  # dates stay text; the schema checks their form
        ("'NO'", "NO"),
        ('"00123"', "00123"),
        ("nothing", "nothing"),
        ("Tuesday", "Tuesday"),
        ("offset", "offset"),
        ("1.2.3", "1.2.3"),
    ],
)
def test_plain_scalars_are_typed_the_yaml_1_2_way(text: str, value: object) -> None:
    data, codes = load(f"v: {text}\n")
    assert codes == []
    assert data["v"] == value
    assert type(data["v"]) is type(value)


@pytest.mark.parametrize(
    ("text", "reading"),
    [
        ("NO", "the boolean false"),
        ("yes", "the boolean true"),
        ("On", "the boolean true"),
        ("off", "the boolean false"),
        ("y", "the boolean true"),
        ("00123", "the number 83"),
        ("012", "the number 10"),
        ("12:30", "the number 750"),
        ("1_000", "the number 1000"),
        ("0b101", "the number 5"),
        ("1e3", "text, YAML 1.2 the number 1000.0"),
        ("0o17", "text, YAML 1.2 the number 15"),
        ("08", "text, YAML 1.2 the number 8"),
    ],
)
def test_yaml_1_1_readings_are_refused(text: str, reading: str) -> None:
    result = load_bytes(f"colour: {text}\n".encode(), "f.yaml")
    [finding] = result.findings
    assert (finding.code, finding.line, finding.column, finding.path) == (
        "yaml-ambiguous",
        1,
        9,
        "colour",
    )
    assert reading in finding.message
    assert f'"{text}"' in (finding.hint or "")
    assert result.document is not None and result.document.data == {"colour": text}


def test_places_of_values_and_keys() -> None:
    text = "collection: X\nlooks:\n  - name: A\n    products:\n      - ML-1/W/N\n      - ML-2/W/N\n"
    doc = load_bytes(text.encode(), "f.yaml").document
    assert doc is not None
    assert doc.position(("looks", 0, "products", 1)) == (6, 9)
    assert doc.position(("looks", 0, "name")) == (3, 11)
    assert doc.position(("looks", 0, "name"), key=True) == (3, 5)
    assert doc.position(("looks", 0, "missing", 3)) == (3, 5)  # nearest existing ancestor


def test_bom_and_crlf_change_nothing() -> None:
    text = "a: 1\nb:\n  - x\n  - y\n"
    plain = load_bytes(text.encode(), "f.yaml").document
    windows = load_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode(), "f.yaml").document
    assert plain is not None and windows is not None
    assert plain.data == windows.data
    assert plain.position(("b", 1)) == windows.position(("b", 1)) == (4, 5)


def test_non_utf8_names_the_byte() -> None:
    [finding] = load_bytes(b"a: 1\nb: caf\xe9\n", "f.yaml").findings
    assert (finding.code, finding.line, finding.column) == ("yaml-encoding", 2, 7)
    assert "byte 11 (0xe9)" in finding.message


def test_duplicate_key_names_the_first() -> None:
    [finding] = load_bytes(b"a: 1\nb: 2\na: 3\n", "f.yaml").findings
    assert (finding.code, finding.line, finding.path) == ("yaml-duplicate-key", 3, "a")
    assert "first at line 1, column 1" in finding.message


def test_alias_bomb_is_refused_without_expanding() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefghi", "bcdefghij", strict=False):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    start = time.perf_counter()
    result = load_bytes("\n".join(lines).encode(), "f.yaml")
    assert time.perf_counter() - start < 5  # expanding it would take minutes and gigabytes
    assert result.document is None
    assert {f.code for f in result.findings} == {"yaml-anchor"}


def test_size_cap_applies_before_parsing() -> None:
    result = load_bytes(b"a: [" + b"1, " * 100 + b"]", "f.yaml", max_bytes=100)
    assert [f.code for f in result.findings] == ["yaml-too-large"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "yaml-empty"),
        ("# only a comment\n", "yaml-empty"),
        ("---\n", "yaml-empty"),
        ("- a\n- b\n", "yaml-not-mapping"),
        ("just text\n", "yaml-not-mapping"),
        ("a: 1\n---\nb: 2\n", "yaml-multi-document"),
        ("a: [1, 2\n", "yaml-syntax"),
        ("a: !!binary aGk=\n", "yaml-tag"),
        ("? [a, b]\n: c\n", "yaml-key"),
    ],
)
def test_shapes_that_get_a_clear_message(text: str, code: str) -> None:
    _, codes = load(text)
    assert codes == [code]


def test_symlinks_may_not_leave_the_root(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    outside = tmp_path / "secret.yaml"
    outside.write_text("a: 1\n")
    (root / "link.yaml").symlink_to(outside)
    (root / "inside.yaml").write_text("b: 2\n")
    (root / "ok.yaml").symlink_to(root / "inside.yaml")
    assert [f.code for f in load_file(root / "link.yaml", root).findings] == ["file-outside-root"]
    loaded = load_file(root / "ok.yaml", root)
    assert loaded.document is not None and loaded.document.data == {"b": 2}
    assert loaded.document.file == "ok.yaml"


# YAML folds NEL and the Unicode line separators into line breaks: not text it keeps
text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x85\u2028\u2029"),
    max_size=20,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(text.filter(bool), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(text.filter(bool), json_values, min_size=1, max_size=5))
def test_what_pyyaml_writes_is_read_back_or_flagged(data: dict[str, Any]) -> None:
    """Never silently different: PyYAML (YAML 1.1) leaves some text unquoted that YAML 1.2
    reads as a number (08, 1e3) or that the 1.1 spec makes a boolean (y, n); those are
    flagged, and every other value reads back exactly."""
    result = load_bytes(yaml.safe_dump(data, allow_unicode=True).encode(), "f.yaml")
    assert result.document is not None
    assert {f.code for f in result.findings} <= {"yaml-ambiguous"}
    for path, ambiguous in result.document.ambiguous.items():
        original: Any = data
        for part in path:
            original = original[part]
        assert original == ambiguous.text
    assert result.document.data == data


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_never_raises_on_arbitrary_input(raw: bytes) -> None:
    result = load_bytes(raw, "f.yaml")
    assert result.document is not None or result.findings


# ------------------------------------------------------------------- messages that are right


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\n\t\nb: 2\n",  # between two keys
        "\t\na: 1\n",  # first
        "a: 1\n \t \n",  # last, with spaces around
        "a:\n  - x\n\t\n  - z\n",  # inside a list
        "a: 1\r\n\t\r\nb: 2\r\n",  # with CRLF
    ],
)
def test_a_line_holding_only_a_tab_is_a_blank_line(text: str) -> None:
    data, codes = load(text)
    assert codes == []
    assert data in ({"a": 1, "b": 2}, {"a": 1}, {"a": ["x", "z"]})


def test_a_tab_line_keeps_every_place_on_the_lines_after_it() -> None:
    result = load_bytes(b"a: 1\n\t\n  \t\nb: [x, oops: 1]\n", "f.yaml")
    assert result.document is not None
    assert result.document.position(("b",)) == (4, 4)


def test_a_tab_line_in_a_block_of_text_says_so() -> None:
    result = load_bytes(b"a: |\n  one\n\t\n  two\n", "f.yaml")
    [finding] = result.findings
    assert (finding.code, finding.line, finding.column) == ("yaml-syntax", 3, 1)
    assert "holds only a tab, inside a block of text" in finding.message
    assert "indent with spaces" not in (finding.hint or "")


def test_a_tab_used_for_indenting_is_still_indenting_with_a_tab() -> None:
    result = load_bytes(b"a:\n\t- x\n", "f.yaml")
    [finding] = result.findings
    assert finding.hint == "indent with spaces, not tabs"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("!\n", 1),
        ("--- !\n", 1),
        ("a: !\n", 1),
        ("a: ! 12\n", 1),  # libyaml reads this as 12, as if no tag were written
        ("a: ! [1]\n", 1),
        ("a:\n  ! b: 1\n", 2),  # on a key
    ],
)
def test_a_bare_tag_is_a_tag_not_an_empty_file(text: str, line: int) -> None:
    result = load_bytes(text.encode(), "f.yaml")
    codes = [f.code for f in result.findings]
    assert "yaml-empty" not in codes
    assert codes[0] in ("yaml-tag", "yaml-key") and result.findings[0].line == line
    assert len(codes) == 1


def test_the_str_tag_is_what_the_docs_say_is_accepted() -> None:
    assert load("a: !!str 12\nb: '12'\n") == ({"a": "12", "b": "12"}, [])
    docs = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    assert "no tags\n  (`!tag`, or a bare `!`) but `!!str`" in docs
    assert load("a: !str 12\n")[1] == ["yaml-tag"]


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("a:\n  b: [x,\nz]\n", 3, 1),
        ("a:\n  b: [x,\n  z]\n", 3, 3),  # at the key's own indentation
        ("a: [x,\nz]\n", 2, 1),  # the top level needs one space
        ("a: {x: 1,\ny: 2}\n", 2, 1),
        ("- [x,\nz]\n", 2, 1),
    ],
)
def test_a_flow_list_continued_too_far_left_is_refused_as_yaml_1_2_does(
    text: str, line: int, column: int
) -> None:
    result = load_bytes(text.encode(), "f.yaml")
    problems = [f for f in result.findings if f.code == "yaml-syntax"]
    assert [(f.line, f.column) for f in problems] == [(line, column)]
    assert "not indented more than" in problems[0].message


@pytest.mark.parametrize(
    "text",
    [
        "a:\n  b: [x,\n    z]\n",
        "a:\n  b: [x,\n     z\n  ]\n",  # the closing bracket under the key
        "a: [x,\n z]\n",
        "a: [\n  x,\n]\n",
        "a: [x,\n\n z]\n",  # a blank line
    ],
)
def test_a_flow_list_indented_further_is_read(text: str) -> None:
    data, codes = load(text)
    assert codes == []
    assert data["a"] in (["x", "z"], ["x"], {"b": ["x", "z"]})


def test_a_file_missing_two_required_keys_says_each_once(tmp_path: Path) -> None:
    from daemon.tree.resources import CATALOGUE_SCHEMA
    from daemon.tree.schema import schema_findings

    result = load_bytes(b"description: x\n", "f.yaml")
    assert result.document is not None
    found = schema_findings(result.document, CATALOGUE_SCHEMA)
    assert [f.message for f in found] == ["missing `collection`", "missing `looks`"]
