"""OpenAPI 3.1 description built from a server's own route table, so it cannot drift from it.

Each operation is summarised by its handler's docstring; docs/sandbox-api.md has the full
field-by-field contract.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from starlette.routing import BaseRoute, Route

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}
_PAGE = {
    "type": "object",
    "required": ["items", "next_cursor"],
    "properties": {
        "items": {"type": "array", "items": {"type": "object"}},
        "next_cursor": {"type": ["string", "null"]},
    },
}
_PAGE_PARAMS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
]


def describe(title: str, routes: list[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        path = re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(path, {})[method.lower()] = _operation(route, path, method)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": "1",
            "description": "Local stand-in server. Contract: docs/sandbox-api.md.",
        },
        "components": {
            "securitySchemes": {
                "connector": {"type": "http", "scheme": "bearer"},
                "admin": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {"Error": _ERROR, "Page": _PAGE},
        },
        "paths": paths,
    }


def _operation(route: Route, path: str, method: str) -> dict[str, Any]:
    doc = inspect.getdoc(route.endpoint) or ""
    summary = doc.splitlines()[0] if doc else ""
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()}_{route.name}",
        "summary": summary,
        "responses": {
            "default": {
                "description": "error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        },
    }
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in route.param_convertors
    ]
    is_list = method == "GET" and "paginated" in doc
    if is_list:
        params += _PAGE_PARAMS
        ok: dict[str, Any] = {"$ref": "#/components/schemas/Page"}
    else:
        ok = {"type": ["object", "array", "null"]}
    if params:
        operation["parameters"] = params
    operation["responses"]["200"] = {
        "description": "success",
        "content": {"application/json": {"schema": ok}},
    }
    if path.startswith("/api/"):
        operation["security"] = [{"connector": []}]
    elif path.startswith("/_"):
        operation["security"] = [{"admin": []}]
    else:
        operation["security"] = []
    if method in ("POST", "PUT", "PATCH"):
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": {}}},
        }
    return operation
