"""YAML nodes turned into plain data, typed the YAML 1.2 way, with findings for the rest.

``Builder`` walks the node tree libyaml composed (``yamlload``) and builds dicts, lists and
scalars itself: it refuses duplicate keys, explicit tags and keys that are not text, stops at
``MAX_DEPTH``, types plain scalars by the YAML 1.2 core schema, and records the scalars YAML 1.1
tools read differently (``NO``, ``00123``, ``12:30``) as ``Ambiguous`` instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from daemon.core.findings import Finding, PathPart, format_path, kind_of
from daemon.core.words import plural

MAX_DEPTH = 64  # our formats nest 6 deep; this only stops pathological files

IMPLICIT = "?"  # the tag our composer gives every untagged node: we type scalars ourselves
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


def tagged(text: str, node: yaml.Node) -> bool:
    """Whether the node is written with a tag (``!``, ``!!str``, ``!foo``): its start mark
    points at its properties. libyaml passes ``!`` on as if nothing were written."""
    return text.startswith("!", node.start_mark.index)


class TooDeep(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


class Builder:
    """Turns nodes into plain data, collecting findings instead of raising."""

    def __init__(self, name: str, findings: list[Finding], text: str) -> None:
        self.name = name
        self.findings = findings
        self.text = text
        self.lines = text.split("\n")
        self.ambiguous: dict[tuple[PathPart, ...], Ambiguous] = {}

    def build(self, node: yaml.Node, path: tuple[PathPart, ...]) -> Any:
        if len(path) > MAX_DEPTH:
            raise TooDeep(node)
        tag = node.tag
        if tag == IMPLICIT and tagged(self.text, node):
            tag = "!"  # the non-specific tag: libyaml reads it as no tag at all
        if tag != IMPLICIT and not (tag == _STR_TAG and isinstance(node, yaml.ScalarNode)):
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
                or key_node.tag not in (IMPLICIT, _STR_TAG)
                or (key_node.tag == IMPLICIT and tagged(self.text, key_node))
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
