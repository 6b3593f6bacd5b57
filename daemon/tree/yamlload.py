"""Safe, line-aware YAML loading for connector.yaml and catalogue/*.yaml.

libyaml (PyYAML's C parser) builds the node tree, which keeps a line and column for every
value; this module turns nodes into plain dicts, lists and scalars itself, so that it can:

- refuse what PyYAML accepts silently: duplicate keys, anchors and aliases (alias bombs),
  explicit tags, several documents in one file;
- type plain scalars the YAML 1.2 way (``true``/``false``, ``null``, decimal numbers) and flag
  the YAML 1.1 readings that surprise people (``NO``, ``00123``, ``12:30``, ``1_000``) instead
  of guessing;
- refuse oversize files before parsing, non-UTF-8 files (naming the byte), and symlinks that
  lead outside the repository. A UTF-8 BOM and CRLF line endings are fine.

Every problem is a ``Finding``; loading never raises for bad input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.cyaml import CParser  # type: ignore[attr-defined]

from daemon.core.findings import Finding, PathPart, format_path, parse_path
from daemon.core.spec import Location
from daemon.tree.yamlbuild import IMPLICIT, MAX_DEPTH, Ambiguous, Builder, TooDeep, tagged

MAX_FILE_BYTES = 2 * 1024 * 1024  # far above any real catalogue file


class _Composer(CParser):  # libyaml builds the nodes, with marks; typing is ours
    def resolve(self, kind: object, value: object, implicit: object) -> str:
        return IMPLICIT

    def descend_resolver(self, *args: object) -> None:
        pass

    def ascend_resolver(self, *args: object) -> None:
        pass


@dataclass
class Document:
    """A loaded file: plain data, plus the node tree to find where any value is written."""

    file: str
    data: Any
    root: yaml.Node
    ambiguous: dict[tuple[PathPart, ...], Ambiguous] = field(default_factory=dict)
    flagged: set[tuple[PathPart, ...]] = field(default_factory=set)  # already has a finding
    digest: str = ""  # of the file's bytes: equal bytes load to an equal document

    def node_at(self, path: Sequence[PathPart]) -> yaml.Node:
        """The node for ``path``, or its deepest ancestor that exists."""
        node = self.root
        for part in path:
            child = _child(node, part)
            if child is None:
                break
            node = child
        return node

    def key_node_at(self, path: Sequence[PathPart]) -> yaml.Node:
        """The key node of the mapping entry at ``path`` (the value's node for list items)."""
        if not path or isinstance(path[-1], int):
            return self.node_at(path)
        parent = self.node_at(path[:-1])
        if isinstance(parent, yaml.MappingNode):
            for key, _value in parent.value:
                if key.value == path[-1]:
                    return key  # type: ignore[no-any-return]
        return parent

    def position(self, path: Sequence[PathPart], *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the value (or key) at ``path``."""
        node = self.key_node_at(path) if key else self.node_at(path)
        return node.start_mark.line + 1, node.start_mark.column + 1

    def places(self) -> dict[str, Location]:
        """Where every value is written, by its key path (``import.season``,
        ``prices.seasons[1]``; ``""`` for the whole document)."""
        found: dict[str, Location] = {}
        stack: list[tuple[yaml.Node, tuple[PathPart, ...]]] = [(self.root, ())]
        while stack:
            node, path = stack.pop()
            mark = node.start_mark
            found[format_path(path)] = Location(self.file, mark.line + 1, mark.column + 1)
            if isinstance(node, yaml.MappingNode):
                stack += [(value, (*path, key.value)) for key, value in node.value]
            elif isinstance(node, yaml.SequenceNode):
                stack += [(item, (*path, i)) for i, item in enumerate(node.value)]
        return found

    def finding(
        self,
        path: Sequence[PathPart],
        code: str,
        message: str,
        *,
        hint: str | None = None,
        severity: str = "error",
        key: bool = False,
    ) -> Finding:
        line, column = self.position(path, key=key)
        return Finding(
            self.file,
            line,
            column,
            format_path(path),
            code,
            severity,  # type: ignore[arg-type]
            message,
            hint,
        )


def _child(node: yaml.Node, part: PathPart) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == part:
                return value  # type: ignore[no-any-return]
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]  # type: ignore[no-any-return]
    return None


@dataclass
class LoadResult:
    document: Document | None
    findings: list[Finding]


def load_file(path: Path, root: Path, *, max_bytes: int = MAX_FILE_BYTES) -> LoadResult:
    """Load one YAML file that must hold a mapping. ``root`` bounds where symlinks may lead."""
    name = _display_name(path, root)
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        return _fail(name, "file-unreadable", f"cannot read the file: {exc}")
    if not real.is_relative_to(root.resolve()):
        return _fail(
            name,
            "file-outside-root",
            f"the file is a symlink to {real}, outside the repository",
            "copy the file into the repository instead of linking to it",
        )
    if not real.is_file():
        return _fail(
            name, "file-unreadable", "not a regular file", "remove it or replace it by a file"
        )
    try:
        size = real.stat().st_size
        if size > max_bytes:
            return _fail(
                name,
                "yaml-too-large",
                f"the file is {size:,} bytes; the limit is {max_bytes:,}",
                "split it: one collection per file",
            )
        raw = real.read_bytes()
    except OSError as exc:
        return _fail(name, "file-unreadable", f"cannot read the file: {exc.strerror}")
    return load_bytes(raw, name, max_bytes=max_bytes)


def load_bytes(raw: bytes, name: str, *, max_bytes: int = MAX_FILE_BYTES) -> LoadResult:
    """Load YAML text that must hold one mapping. ``name`` is how findings name the file."""
    if len(raw) > max_bytes:
        return _fail(
            name, "yaml-too-large", f"the file is {len(raw):,} bytes; the limit is {max_bytes:,}"
        )
    try:
        text = raw.decode("utf-8-sig")  # a BOM is fine
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return LoadResult(
            None,
            [
                Finding(
                    name,
                    line,
                    column,
                    "",
                    "yaml-encoding",
                    "error",
                    f"the file is not UTF-8: byte {exc.start} (0x{raw[exc.start]:02x}) is invalid",
                    "save the file as UTF-8",
                )
            ],
        )
    if "&" in text or "*" in text:  # rare in these files: only then look for anchors properly
        anchors = _anchor_findings(text, name)
        if anchors:
            return LoadResult(None, anchors)
    try:
        text, root, extra = _compose(text)
    except _Unparsable as failed:
        return LoadResult(None, [_syntax_finding(failed.error, name, failed.text)])
    except yaml.YAMLError as exc:  # reader errors without a mark
        return _fail(name, "yaml-syntax", str(exc))
    if root is not None and extra is not None:
        mark = extra.start_mark
        return LoadResult(
            None,
            [
                Finding(
                    name,
                    mark.line + 1,
                    mark.column + 1,
                    "",
                    "yaml-multi-document",
                    "error",
                    "the file holds more than one YAML document",
                    "remove the second `---` line and what follows, or move it to its own file",
                )
            ],
        )
    if root is None or (
        isinstance(root, yaml.ScalarNode)
        and root.value == ""
        and not root.style
        and not tagged(text, root)
    ):
        return _fail(
            name,
            "yaml-empty",
            "the file is empty",
            "write `key: value` lines (see docs/configuration.md), or delete the file",
        )
    findings: list[Finding] = []
    builder = Builder(name, findings, text)
    try:
        data = builder.build(root, ())
    except TooDeep as exc:
        mark = exc.node.start_mark
        findings.append(
            Finding(
                name,
                mark.line + 1,
                mark.column + 1,
                "",
                "yaml-too-deep",
                "error",
                f"values are nested more than {MAX_DEPTH} levels deep",
                "these files nest a few levels at most; check the brackets",
            )
        )
        return LoadResult(None, findings)
    if not isinstance(root, yaml.MappingNode):
        if data is None and findings:  # a tag on the only value: that finding says it
            return LoadResult(None, findings)
        kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        findings.append(
            Finding(
                name,
                root.start_mark.line + 1,
                root.start_mark.column + 1,
                "",
                "yaml-not-mapping",
                "error",
                f"the file holds {kind}; it must hold a mapping of keys to values",
                "start each top-level line with `key: value`, not `- `",
            )
        )
        return LoadResult(None, findings)
    flagged = {parse_path(f.path) for f in findings if f.path}
    digest = hashlib.blake2b(raw, digest_size=16).hexdigest()
    return LoadResult(Document(name, data, root, builder.ambiguous, flagged, digest), findings)


def _compose(text: str) -> tuple[str, yaml.Node | None, yaml.Node | None]:
    """The first document's node tree, and the start of a second document if there is one.

    libyaml refuses a line holding only spaces and a tab where YAML 1.2 reads a blank line
    (a tab is allowed in separating whitespace): such a line is read as the empty line it
    is, and the text the nodes' marks point into is returned with it. Raises _Unparsable
    (with that text), or yaml.YAMLError for an error without a place.
    """
    for _ in range(text.count("\t") + 1):
        composer = _Composer(text)
        try:
            root = composer.get_node() if composer.check_node() else None
            extra = composer.get_node() if root is not None and composer.check_node() else None
            return text, root, extra
        except yaml.MarkedYAMLError as exc:
            blank = _tab_only_line(text, exc)
            if blank is None or "block scalar" in (exc.context or ""):
                raise _Unparsable(exc, text) from None
            start, end = blank
            text = text[:start] + text[end:]
        finally:
            composer.dispose()
    raise AssertionError("unreachable: each retry removes a tab")  # pragma: no cover


class _Unparsable(Exception):
    def __init__(self, error: yaml.MarkedYAMLError, text: str) -> None:
        self.error = error
        self.text = text


def _tab_only_line(text: str, exc: yaml.MarkedYAMLError) -> tuple[int, int] | None:
    """(start, end) of the line the error points at when it holds only spaces and tabs,
    at least one of them a tab; else None."""
    mark = exc.problem_mark
    if mark is None:
        return None
    start = text.rfind("\n", 0, mark.index) + 1
    end = text.find("\n", mark.index)
    end = len(text) if end < 0 else end
    line = text[start:end].removesuffix("\r")
    if "\t" in line and not line.strip(" \t"):
        return start, start + len(line)
    return None


def _anchor_findings(text: str, name: str) -> list[Finding]:
    """Anchors and aliases, found from parser events (nothing is expanded)."""
    findings: list[Finding] = []
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, yaml.AliasEvent):
                what = f"the alias `*{event.anchor}`"
            elif isinstance(event, yaml.NodeEvent) and event.anchor is not None:
                what = f"the anchor `&{event.anchor}`"
            else:
                continue
            mark = event.start_mark
            if mark is None:  # pragma: no cover - the C parser always sets marks
                continue
            findings.append(
                Finding(
                    name,
                    mark.line + 1,
                    mark.column + 1,
                    "",
                    "yaml-anchor",
                    "error",
                    f"{what}: anchors and aliases are not allowed",
                    "write the values out in full; each look lists its own products",
                )
            )
    except yaml.YAMLError:
        return []  # the composer reports the syntax error with its place
    return findings


def _syntax_finding(exc: yaml.MarkedYAMLError, name: str, text: str) -> Finding:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    problem = exc.problem or "invalid YAML"
    if mark is not None and _tab_only_line(text, exc) is not None:
        return Finding(
            name,
            line,
            1,
            "",
            "yaml-syntax",
            "error",
            "invalid YAML: this line holds only a tab, inside a block of text (`|` or `>`), "
            "where YAML takes a tab for the end of the text",
            "delete the tab: an empty line inside the text is fine",
        )
    if mark is not None and text[mark.index : mark.index + 1] == "\t" and "tab" not in problem:
        problem += " (a tab)"
    message = f"invalid YAML: {problem}"
    if exc.context:
        message += f" ({exc.context}"
        if exc.context_mark is not None and exc.context_mark is not mark:
            message += f" at line {exc.context_mark.line + 1}"
        message += ")"
    return Finding(name, line, column, "", "yaml-syntax", "error", message, _syntax_hint(problem))


def _syntax_hint(problem: str) -> str | None:
    if "tab" in problem:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "quote a value that contains ': ', or check the indentation"
    if "could not find expected ':'" in problem:
        return "each line of a mapping needs `key: value`; check the indentation"
    if "unacceptable character" in problem:
        return "remove the control character; the file must be plain text"
    return None


def _fail(name: str, code: str, message: str, hint: str | None = None) -> LoadResult:
    return LoadResult(None, [Finding(name, 0, 0, "", code, "error", message, hint)])


def _display_name(path: Path, root: Path) -> str:
    try:
        return path.absolute().relative_to(root.absolute()).as_posix()
    except ValueError:
        return path.as_posix()
