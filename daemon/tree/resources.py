"""Where the JSON Schemas live: inside the installed package, or in the repository checkout.

A wheel carries ``schemas/`` as ``daemon/schema_files/``; an editable install reads the
repository's ``schemas/`` next to the package.
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


def schema_dir() -> Traversable:
    packaged = files("daemon") / "schema_files"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "schemas"


@cache
def load_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((schema_dir() / name).read_text(encoding="utf-8"))
    return schema
