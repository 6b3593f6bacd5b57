"""Where the JSON Schemas and the example files live: in the installed package, or in the
repository checkout.

A wheel carries ``schemas/`` as ``daemon/schema_files/`` and ``docs/examples/`` as
``daemon/example_files/``; an editable install reads the repository's folders next to the
package.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

CONNECTOR_SCHEMA = "connector.schema.json"
CATALOGUE_SCHEMA = "catalogue.schema.json"
SCHEMAS = (CONNECTOR_SCHEMA, CATALOGUE_SCHEMA)
PR_WORKFLOW = "catalogue-pr.yml"  # the GitHub workflow for a brand's repository


def _shipped(packaged: str, checkout: str) -> Traversable:
    folder = files("daemon") / packaged
    if folder.is_dir():
        return folder
    return Path(__file__).resolve().parents[2] / checkout


def schema_dir() -> Traversable:
    return _shipped("schema_files", "schemas")


def example_dir() -> Traversable:
    return _shipped("example_files", "docs/examples")


@cache
def load_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((schema_dir() / name).read_text(encoding="utf-8"))
    return schema
