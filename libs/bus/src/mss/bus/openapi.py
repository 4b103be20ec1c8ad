"""HTTP APIs' routes as data, and the OpenAPI 3.1 document built from them and their pydantic models
(the directory's admin API, the tracing service's audit API)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class Operation:
    """One route: what it does, what it accepts, who handles it."""

    method: str
    path: str
    summary: str
    body: type[BaseModel] | None
    handler: Callable[[Any], Awaitable[Any]]
    status: int = 200
    query: type[BaseModel] | None = None
    """The query parameters, one per field."""
    produces: str = "application/json"
    public: bool = False
    """Answered without a bearer token."""


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    return [
        {
            "name": name,
            "in": "query",
            "required": name in schema.get("required", []),
            "description": field.get("description", ""),
            "schema": {key: value for key, value in field.items() if key not in ("description", "title")},
        }
        for name, field in schema["properties"].items()
    ]


def document(operations: list[Operation], title: str, errors: dict[str, str]) -> dict[str, Any]:
    """The OpenAPI document of ``operations``; ``errors``: status code to what it means."""
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": re.sub(r"\W+", "_", f"{op.method.lower()}{op.path}").strip("_"),
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"{(\w+)}", op.path)
            ]
            + (_query_parameters(op.query) if op.query else []),
            "responses": {
                str(op.status): {"description": "Done", "content": {op.produces: {"schema": {}}}},
                **{code: {"$ref": f"#/components/responses/E{code}"} for code in errors},
            },
        }
        if op.public:
            entry["security"] = []
        if op.body is not None:
            schema = op.body.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[op.body.__name__] = schema
            entry["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}
                },
            }
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": {
                **schemas,
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string", "description": "Stable code, e.g. mss.conflict"},
                        "message": {"type": "string"},
                        "fields": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
            "responses": {
                f"E{code}": {
                    "description": f"{text}: nothing was changed",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
                for code, text in errors.items()
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
