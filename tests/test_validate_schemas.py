"""The JSON Schemas: strict, documented, usable in editors, and shipped with the package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from jsonschema import Draft202012Validator

from daemon.tree.resources import CATALOGUE_SCHEMA, CONNECTOR_SCHEMA, load_schema, schema_dir
from daemon.tree.schema import format_checker, validator

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = [CONNECTOR_SCHEMA, CATALOGUE_SCHEMA]
EXAMPLES = [REPO / "connector.yaml", *sorted((REPO / "catalogue").glob("*.yaml"))]


def subschemas(schema: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, dict):
        yield where, schema
        for key, value in schema.items():
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    yield from subschemas(sub, f"{where}/{key}/{name}")
            elif key in ("items", "then", "else", "if", "not"):
                yield from subschemas(value, f"{where}/{key}")
            elif key in ("anyOf", "oneOf", "allOf"):
                for i, sub in enumerate(value):
                    yield from subschemas(sub, f"{where}/{key}/{i}")


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_is_valid_2020_12(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_property_has_a_title_and_a_description(name: str) -> None:
    for where, schema in subschemas(load_schema(name)):
        for prop, sub in schema.get("properties", {}).items():
            assert sub.get("title") and sub.get("description"), f"{where}/properties/{prop}"


@pytest.mark.parametrize("name", SCHEMAS)
def test_objects_are_closed(name: str) -> None:
    """No unknown keys anywhere; unevaluatedProperties wherever composition is used."""
    for where, schema in subschemas(load_schema(name)):
        if "properties" not in schema:
            continue
        composed = any(k in schema for k in ("anyOf", "oneOf", "allOf", "if", "$ref"))
        if composed:
            assert schema.get("unevaluatedProperties") is False, where
        else:
            assert schema.get("additionalProperties") is False, where


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_pattern_is_explained_in_words(name: str) -> None:
    """Editors show patternErrorMessage instead of the regular expression (the YAML language
    server honours it), and validate gives it as the hint."""
    patterns = [s for _, s in subschemas(load_schema(name)) if "pattern" in s]
    assert patterns
    for schema in patterns:
        message = schema.get("patternErrorMessage")
        assert isinstance(message, str) and message and "\\" not in message, schema


def test_validate_hints_with_the_pattern_message(tmp_path: Path) -> None:
    from daemon.tree.validation import validate_tree

    shutil.copy(REPO / "connector.yaml", tmp_path / "connector.yaml")
    (tmp_path / "catalogue").mkdir()
    (tmp_path / "catalogue" / "c.yaml").write_text(
        "collection: C\nlooks:\n  - name: L\n    products: [ML-101/WOOL]\n"
    )
    [finding] = [f for f in validate_tree(tmp_path).findings if f.code == "schema-pattern"]
    assert finding.hint is not None and finding.hint.startswith(
        "a product id is STYLE/FABRIC/COLOUR"
    )


BAD_VALUES = {"date": "2026-02-30", "email": "nobody", "uri": "not a url"}
GOOD_VALUES = {"date": "2026-02-28", "email": "ops@example.com", "uri": "https://example.com"}


def test_every_format_used_is_enforced() -> None:
    used = {
        schema["format"]
        for name in SCHEMAS
        for _, schema in subschemas(load_schema(name))
        if "format" in schema
    }
    assert used == set(BAD_VALUES)
    checker = format_checker()
    for fmt in used:
        assert checker.conforms(GOOD_VALUES[fmt], fmt)
        assert not checker.conforms(BAD_VALUES[fmt], fmt)


@pytest.mark.parametrize("name", SCHEMAS)
def test_examples_in_the_schema_are_valid(name: str) -> None:
    checked = 0
    for where, schema in subschemas(load_schema(name)):
        for example in schema.get("examples", []):
            sub = validator(name).evolve(schema=schema)
            errors = [e.message for e in sub.iter_errors(example)]
            assert not errors, f"{where}: {example!r}: {errors}"
            checked += 1
    assert checked >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_files_point_editors_at_their_schema(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    target = (path.parent / first.removeprefix(prefix)).resolve()
    assert target.is_file()
    expected = CONNECTOR_SCHEMA if path.name == "connector.yaml" else CATALOGUE_SCHEMA
    assert target == REPO / "schemas" / expected
    # what an editor checks (another YAML reader + jsonschema) agrees that the example is valid
    data = yaml.load(path.read_text(), Loader=DatesAsText)
    plain = Draft202012Validator(json.loads(target.read_text()), format_checker=format_checker())
    assert [e.message for e in plain.iter_errors(data)] == []


class DatesAsText(yaml.SafeLoader):
    """PyYAML, but dates stay text as in YAML 1.2 (and in editors' YAML language server)."""

    yaml_implicit_resolvers: ClassVar = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def test_editable_checkout_reads_the_repository_schemas() -> None:
    assert Path(str(schema_dir())) == REPO / "schemas"


def run(*args: str | Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **env},
    )


def test_the_wheel_carries_the_schemas(tmp_path: Path) -> None:
    """Built as a wheel and installed (not editable), the package reads its own copies of the
    schemas and of the example workflow."""
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    pip = (sys.executable, "-m", "pip")
    built = run(*pip, "wheel", "--no-deps", "--quiet", "-w", wheels, REPO, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    [wheel] = wheels.glob("*.whl")
    installed = run(
        *pip, "install", "--no-deps", "--quiet", "--target", target, wheel, cwd=tmp_path
    )
    assert installed.returncode == 0, installed.stderr
    code = (
        "from daemon.tree.resources import schema_dir, load_schema; print(schema_dir()); "
        "print(load_schema('catalogue.schema.json')['title']); "
        "from daemon.tree.resources import example_dir, PR_WORKFLOW; print(example_dir()); "
        "print((example_dir() / PR_WORKFLOW).read_text().splitlines()[0])"
    )
    where = run(sys.executable, "-c", code, cwd=tmp_path, PYTHONPATH=str(target))
    assert where.stdout.splitlines() == [
        str(target / "daemon" / "schema_files"),
        "zedonk-ordre catalogue collection",
        str(target / "daemon" / "example_files"),  # the workflow that `init` writes
        (REPO / "docs/examples/catalogue-pr.yml").read_text().splitlines()[0],
    ], where.stderr


@pytest.mark.slow  # installs the project and its dependencies into a new venv: a minute or more
def test_pip_install_gives_a_working_command(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if "slow" not in (request.config.option.markexpr or ""):
        pytest.skip("slow: run with -m slow")
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", venv, cwd=tmp_path).returncode == 0
    install = run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", REPO, cwd=tmp_path)
    assert install.returncode == 0, install.stderr
    result = run(
        venv / "bin" / "zedonk-ordre", "validate", "--root", REPO, "--format", "json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["valid"] is True
