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
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.cyaml import CParser  # type: ignore[attr-defined]

from daemon.core.findings import Finding, PathPart, format_path, kind_of, parse_path
from daemon.core.spec import Location
from daemon.core.words import plural

MAX_FILE_BYTES = 2 * 1024 * 1024  # far above any real catalogue file
MAX_DEPTH = 64  # our formats nest 6 deep; this only stops pathological files

_IMPLICIT = "?"  # the tag our composer gives every untagged node: we type scalars ourselves
_STR_TAG = "tag:yaml.org,2002:str"

# YAML 1.2 core schema: the only plain scalars that are not strings. Where YAML 1.1 tools read
# a scalar differently (NO, 00123, 12:30, 1_000, 1e3), it is flagged, never guessed.
_NULL = re.compile(r"~|null|Null|NULL|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_INT_OTHER = re.compile(r"0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_FLOAT_SPECIAL = {
    ".inf": float("inf"),
    "+.inf": float("inf"),
    "-.inf": float("-inf"),
    ".Inf": float("inf"),
    "+.Inf": float("inf"),
    "-.Inf": float("-inf"),
    ".INF": float("inf"),
    "+.INF": float("inf"),
    "-.INF": float("-inf"),
    ".nan": float("nan"),
    ".NaN": float("nan"),
    ".NAN": float("nan"),
}
_INT_DIGITS = re.compile(r"[-+]?[0-9]+")  # 1.2 reads 0123 as 123 (1.1: octal 83)
_YAML11_RESOLVER = yaml.resolver.Resolver()
# Plain scalars that start with anything else are strings: a cheap first test.
_MAYBE_TYPED = frozenset("0123456789+-.~nNtTfFyYoO")


@dataclass(frozen=True)
class Ambiguous:
    """A plain scalar that YAML 1.1 and YAML 1.2 read differently."""

    text: str
    reading: str  # what YAML 1.1 makes of it, e.g. "the boolean false"


class _Composer(CParser):  # libyaml builds the nodes, with marks; typing is ours
    def resolve(self, kind: object, value: object, implicit: object) -> str:
        return _IMPLICIT

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
        and not _tagged(text, root)
    ):
        return _fail(
            name,
            "yaml-empty",
            "the file is empty",
            "write `key: value` lines (see docs/configuration.md), or delete the file",
        )
    findings: list[Finding] = []
    builder = _Builder(name, findings, text)
    try:
        data = builder.build(root, ())
    except _TooDeep as exc:
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


def _tagged(text: str, node: yaml.Node) -> bool:
    """Whether the node is written with a tag (``!``, ``!!str``, ``!foo``): its start mark
    points at its properties. libyaml passes ``!`` on as if nothing were written."""
    return text.startswith("!", node.start_mark.index)


class _TooDeep(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


class _Builder:
    """Turns nodes into plain data, collecting findings instead of raising."""

    def __init__(self, name: str, findings: list[Finding], text: str) -> None:
        self.name = name
        self.findings = findings
        self.text = text
        self.lines = text.split("\n")
        self.ambiguous: dict[tuple[PathPart, ...], Ambiguous] = {}

    def build(self, node: yaml.Node, path: tuple[PathPart, ...]) -> Any:
        if len(path) > MAX_DEPTH:
            raise _TooDeep(node)
        tag = node.tag
        if tag == _IMPLICIT and _tagged(self.text, node):
            tag = "!"  # the non-specific tag: libyaml reads it as no tag at all
        if tag != _IMPLICIT and not (tag == _STR_TAG and isinstance(node, yaml.ScalarNode)):
            self._add(
                node,
                path,
                "yaml-tag",
                f"explicit YAML tags like `{tag}` are not supported",
                "remove the tag; quote the value if it must stay text",
            )
            return None
        if isinstance(node, yaml.ScalarNode):
            if node.style or tag == _STR_TAG:
                return node.value
            return self._plain(node, path)
        if isinstance(node, yaml.SequenceNode):
            self._flow_lines(node, path)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._mapping(node, path)

    def _flow_lines(self, node: yaml.Node, path: tuple[PathPart, ...]) -> None:
        """A ``[...]`` or ``{...}`` written in a block collection and continued on more lines:
        YAML 1.2 wants each further line indented more than the block collection (a closing
        bracket may stand at its indentation). libyaml reads them anyway, editors that follow
        YAML 1.2 refuse them: the first line too far left is reported, so both agree."""
        if getattr(node, "flow_style", False):
            return
        for child in node.value:
            value = child[1] if isinstance(child, tuple) else child
            if not (isinstance(value, yaml.CollectionNode) and value.flow_style):
                continue
            start, end = value.start_mark.line, value.end_mark.line
            indent = node.start_mark.column
            for number in range(start + 1, end + 1):
                text = self.lines[number] if number < len(self.lines) else ""
                content = text.lstrip(" ").rstrip("\r")
                column = len(text) - len(text.lstrip(" "))
                if not content.strip(" \t") or content.startswith("#") or column > indent:
                    continue  # blank and comment lines may stand anywhere
                if column == indent and content[0] in "]}" and number == end:
                    continue
                what = "`[...]` list" if isinstance(value, yaml.SequenceNode) else "`{...}` mapping"
                key = f"`{child[0].value}`" if isinstance(child, tuple) else "its list"
                self.findings.append(
                    Finding(
                        self.name,
                        number + 1,
                        column + 1,
                        format_path((*path, child[0].value) if isinstance(child, tuple) else path),
                        "yaml-syntax",
                        "error",
                        f"invalid YAML: this line goes on with the {what} begun on line "
                        f"{start + 1}, but is not indented more than {key} (YAML 1.2 needs "
                        "that; editors refuse it)",
                        f"indent the line by at least {plural(indent + 1, 'space')}, or "
                        "write it all on one line",
                    )
                )
                break

    def _mapping(self, node: yaml.Node, path: tuple[PathPart, ...]) -> dict[str, Any]:
        self._flow_lines(node, path)
        result: dict[str, Any] = {}
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if (
                not isinstance(key_node, yaml.ScalarNode)
                or key_node.tag not in (_IMPLICIT, _STR_TAG)
                or (key_node.tag == _IMPLICIT and _tagged(self.text, key_node))
            ):
                self._add(key_node, path, "yaml-key", "a key must be plain text", "quote the key")
                continue
            key = key_node.value
            if key in first_seen:
                first = first_seen[key].start_mark
                self._add(
                    key_node,
                    (*path, key),
                    "yaml-duplicate-key",
                    f"the key `{key}` appears twice in this mapping "
                    f"(first at line {first.line + 1}, column {first.column + 1})",
                    "remove one of them; YAML does not merge repeated keys",
                )
                continue
            first_seen[key] = key_node
            result[key] = self.build(value_node, (*path, key))
        return result

    def _plain(self, node: yaml.Node, path: tuple[PathPart, ...]) -> Any:
        text: str = node.value
        if text == "" or text[0] not in _MAYBE_TYPED:
            return None if text == "" else text
        value = _yaml12_value(text)
        old = _yaml11_value(text)
        if type(value) is type(old) and (value == old or value != value):  # nan != nan
            return value
        self.ambiguous[path] = Ambiguous(text, kind_of(old))
        quote = '"' + text + '"'
        if isinstance(old, bool) or isinstance(value, bool):
            hint = f"write true or false for a yes/no setting, or quote it ({quote}) for text"
        else:
            hint = f"quote it ({quote}) if it is text, e.g. a style code"
        self._add(
            node,
            path,
            "yaml-ambiguous",
            f"`{text}` means different things to different YAML tools: "
            f"YAML 1.1 reads {kind_of(old)}, YAML 1.2 {kind_of(value)}",
            hint,
        )
        return text

    def _add(
        self,
        node: yaml.Node,
        path: tuple[PathPart, ...],
        code: str,
        message: str,
        hint: str | None = None,
    ) -> None:
        mark = node.start_mark
        self.findings.append(
            Finding(
                self.name,
                mark.line + 1,
                mark.column + 1,
                format_path(path),
                code,
                "error",
                message,
                hint,
            )
        )


def _yaml12_value(text: str) -> Any:
    """A plain scalar as the YAML 1.2 core schema types it."""
    if _NULL.fullmatch(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.fullmatch(text) or _INT_DIGITS.fullmatch(text):
        return int(text)
    if _INT_OTHER.fullmatch(text):
        return int(text, 0)
    if _FLOAT.fullmatch(text) and any(c.isdigit() for c in text):
        return float(text)
    return _FLOAT_SPECIAL.get(text, text)


def _yaml11_value(text: str) -> Any:
    """A plain scalar as YAML 1.1 tools (PyYAML, and the spec's y/n) type it; dates stay text."""
    if text in ("y", "Y", "n", "N"):
        return text in ("y", "Y")
    tag: str = _YAML11_RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    if tag.rsplit(":", 1)[-1] not in ("bool", "int", "float", "null"):
        return text
    try:
        return yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:  # pragma: no cover - the resolver admitted it
        return text


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
