"""The admin API's routes as data, and the OpenAPI 3.1 document built from them and the models."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

_ERRORS = {
    "400": "Malformed body",
    "401": "No valid bearer token",
    "404": "Unknown establishment, domain or mailbox",
    "409": "Conflicts with what exists (duplicate, address used before, transition not allowed)",
    "422": "Invalid field: which one and why",
}


@dataclass(frozen=True)
class Operation:
    """One route: what it does, what it accepts, who handles it."""

    method: str
    path: str
    summary: str
    body: type[BaseModel] | None
    handler: Callable[[Any], Awaitable[Any]]
    status: int = 200


def document(operations: list[Operation]) -> dict[str, Any]:
    """The OpenAPI document of ``operations``."""
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": re.sub(r"\W+", "_", f"{op.method.lower()}{op.path}").strip("_"),
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"{(\w+)}", op.path)
            ],
            "responses": {
                str(op.status): {"description": "Done", "content": {"application/json": {"schema": {}}}},
                **{code: {"$ref": f"#/components/responses/E{code}"} for code in _ERRORS},
            },
        }
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
        "info": {"title": "mss directory admin API", "version": "1"},
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
                for code, text in _ERRORS.items()
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
