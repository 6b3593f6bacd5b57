"""JSON Schema checks for loaded YAML documents, reported as findings people can act on.

jsonschema finds every error; this module says each one in words that point at the key or
value to change: "unknown key `lokos`" with "did you mean `looks`?", "quote it" for a style
code that YAML read as a number, and so on. The schemas' own ``title``, ``description`` and
``examples`` supply the words, so the editor and ``validate`` explain things the same way.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Iterable
from datetime import date
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

from daemon.core.findings import Finding, PathPart, kind_of
from daemon.core.limits import too_long
from daemon.tree.resources import load_schema
from daemon.tree.yamlload import Document

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _is_date(value: object) -> bool:
    # fromisoformat also takes 20260101; the schema means YYYY-MM-DD only
    if isinstance(value, str):
        date.fromisoformat(value)
        return re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None
    return True


def _is_email(value: object) -> bool:
    return not isinstance(value, str) or _EMAIL.fullmatch(value) is not None


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    _ = parts.port  # raises ValueError for a port that is not a number
    return bool(parts.scheme and parts.hostname) and not any(c.isspace() for c in value)


def format_checker() -> FormatChecker:
    """The formats our schemas use, each checked for real (jsonschema skips unknown ones)."""
    checker = FormatChecker(formats=())
    checker.checks("date", raises=ValueError)(_is_date)
    checker.checks("email")(_is_email)
    checker.checks("uri", raises=ValueError)(_is_uri)
    return checker


@cache
def validator(schema_name: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(schema_name), format_checker=format_checker())


def schema_findings(
    document: Document,
    schema_name: str,
    skip: Collection[tuple[PathPart, ...]] = (),
) -> list[Finding]:
    """Every schema error in ``document``, except at paths under ``skip`` (already reported)."""
    skipped = set(skip) | document.flagged
    findings: list[Finding] = []
    for error in validator(schema_name).iter_errors(document.data):
        path = tuple(error.absolute_path)
        if any(path[:n] in skipped for n in range(len(path) + 1)):
            continue
        if error.validator in ("pattern", "format"):
            skipped.add(path)  # one complaint about a value's form is enough
        findings.extend(_explain(document, error, path))
    # jsonschema reports a "required" error once per missing key, each naming every key
    # that is missing: one finding per problem is enough.
    return list(dict.fromkeys(findings))


def _explain(
    doc: Document, error: ValidationError, path: tuple[PathPart, ...]
) -> Iterable[Finding]:
    kind = error.validator
    schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    if kind in ("additionalProperties", "unevaluatedProperties"):
        allowed = sorted(schema.get("properties", {}))
        for key in instance:
            if key not in allowed:
                yield doc.finding(
                    (*path, key),
                    "schema-unknown-key",
                    f"unknown key `{key}`",
                    hint=_did_you_mean(key, allowed, "key"),
                    key=True,
                )
    elif kind == "required":
        known = schema.get("properties", {})
        misspelt = {
            close
            for key in instance
            if key not in known
            for close in difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
        }
        for key in error.validator_value:
            # A missing key written misspelt is one mistake: the unknown key's finding says
            # "did you mean `name`?", which is what fixes it.
            if key not in instance and key not in misspelt:
                described = schema.get("properties", {}).get(key, {}).get("description")
                yield doc.finding(
                    path,
                    "schema-required",
                    f"missing `{key}`",
                    hint=f"add `{key}:` ({described})" if described else f"add `{key}:`",
                )
    elif kind == "anyOf" and all(set(branch) == {"required"} for branch in error.validator_value):
        keys = [branch["required"][0] for branch in error.validator_value]
        yield doc.finding(
            path,
            "schema-required",
            f"needs at least one of {_join(keys)}",
            hint=schema.get("description"),
        )
    elif kind == "type":
        yield _type_finding(doc, error, path)
    elif kind == "const":
        yield doc.finding(
            path, "schema-enum", f"must be {_show(error.validator_value)}, not {_show(instance)}"
        )
    elif kind == "enum":
        allowed = error.validator_value
        choices = ", ".join(_show(v) for v in allowed)
        hint = _did_you_mean(instance, allowed, "value") if isinstance(instance, str) else None
        yield doc.finding(
            path,
            "schema-enum",
            f"{_show(instance)} is not allowed here; use one of: {choices}",
            hint=hint,
        )
    elif kind == "pattern":
        yield doc.finding(
            path,
            "schema-pattern",
            f"{_show(instance)} is not a valid {_title(schema, path)}",
            hint=_form(schema),
        )
    elif kind == "format":
        yield doc.finding(
            path,
            "schema-format",
            f"{_show(instance)} is not a valid {_FORMAT_NAMES.get(error.validator_value, 'value')}",
            hint=_describe(schema),
        )
    elif kind == "maxProperties" and set(schema.get("properties", {})) == {"env", "credential"}:
        yield doc.finding(
            path,
            "schema-value",
            "give either `env` or `credential`, not both",
            hint=_describe(schema),
        )
    elif kind == "minProperties" and set(schema.get("properties", {})) == {"env", "credential"}:
        yield doc.finding(
            path,
            "schema-required",
            "name where the secret comes from",
            hint="write {env: NAME} for an environment variable, "
            "or {credential: NAME} for a systemd credential",
        )
    elif kind == "uniqueItems":
        yield doc.finding(
            path, "schema-value", "the list holds the same value twice", hint="remove the repeat"
        )
    elif kind == "maxLength" and isinstance(instance, str):
        limit = int(error.validator_value)
        yield doc.finding(
            path,
            "schema-value",
            too_long(f"the {_title(schema, path)}", instance, limit) or "",
            hint=f"shorten it to at most {limit:,} characters: ORDRE refuses a longer one",
        )
    elif kind == "minLength" and isinstance(instance, str):
        yield doc.finding(
            path,
            "schema-value",
            f"the {_title(schema, path)} is empty",
            hint=_describe(schema),
        )
    elif kind == "minItems" and error.validator_value == 1:
        yield doc.finding(
            path,
            "schema-value",
            f"the {_title(schema, path)} list is empty",
            hint=_describe(schema),
        )
    else:
        yield doc.finding(path, "schema-value", _short(error.message), hint=_describe(schema))


_FORMAT_NAMES = {"date": "date (YYYY-MM-DD)", "email": "e-mail address", "uri": "URL"}
_JSON_TYPES = {
    "string": "text",
    "object": "a mapping",
    "array": "a list",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing",
}


def _type_finding(doc: Document, error: ValidationError, path: tuple[PathPart, ...]) -> Finding:
    expected = (
        error.validator_value
        if isinstance(error.validator_value, list)
        else [error.validator_value]
    )
    instance = error.instance
    wanted = " or ".join(_JSON_TYPES.get(str(t), str(t)) for t in expected if t != "null")
    message = f"expected {wanted}, not {kind_of(instance)}"
    hint: str | None = None
    node = doc.node_at(path)
    text = getattr(node, "value", None)
    schema = error.schema if isinstance(error.schema, dict) else {}
    pattern = schema.get("pattern")
    if "string" in expected and isinstance(text, str) and not isinstance(instance, (dict, list)):
        if instance is None and text == "":
            hint = "write a value after the colon"
        elif schema.get("title") == "Duration" and isinstance(instance, (int, float)):
            hint = f'write it with a unit: "{text}s" (seconds) or "{text}m" (minutes)'
        elif isinstance(pattern, str) and not re.search(pattern, text):
            hint = _form(schema)
        else:
            hint = f'quote it: "{text}"'
    elif "array" in expected and not isinstance(instance, (dict, list)):
        hint = (
            f"write a list: [{text}]" if isinstance(text, str) and text else "write a list: [a, b]"
        )
    elif "object" in expected and isinstance(instance, list):
        hint = "remove the `- `: this is a mapping, not a list"
    elif "boolean" in expected:
        hint = "write true or false"
    return doc.finding(path, "schema-type", message, hint=hint)


def _title(schema: dict[str, Any], path: tuple[PathPart, ...]) -> str:
    title = schema.get("title")
    if isinstance(title, str):
        return title[0].lower() + title[1:] if not title[:2].isupper() else title
    return str(path[-1]) if path else "value"


def _describe(schema: dict[str, Any]) -> str | None:
    description = schema.get("description")
    examples = schema.get("examples")
    text = description.rstrip(".") if isinstance(description, str) else None
    if examples:
        example = f"for example {_show(examples[0])}"
        text = f"{text} ({example})" if text else example
    return text


def _form(schema: dict[str, Any]) -> str | None:
    """What a value of the right form looks like: the message editors show for the pattern
    (``patternErrorMessage``, which the YAML language server honours), else the description."""
    message = schema.get("patternErrorMessage")
    return message if isinstance(message, str) else _describe(schema)


def _did_you_mean(word: str, choices: Iterable[object], what: str) -> str:
    options = [str(c) for c in choices]
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    return f"allowed {what}s: {', '.join(options)}" if options else f"remove the {what}"


def _join(keys: list[str]) -> str:
    quoted = [f"`{k}`" for k in keys]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _short(message: str) -> str:
    """jsonschema's own message, which quotes the whole value: cut short, never 10 kB."""
    return message if len(message) <= 200 else message[:197] + "..."


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
