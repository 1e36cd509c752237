"""The OpenAPI document, completed in one place: how to authenticate, and the error
answers every operation may give (the routers declare only their successes).

Under /api/: a ``Token`` key in ``Authorization``; 401 and 429 everywhere, 400 where
there is input to refuse, 403 where the key's role may not be enough (web/access.py),
404 where a path names an object, 413 where there is a body,
503 when the database is unreachable; never FastAPI's 422, since validation errors are
answered 400 in Django REST Framework's shape. The Segment endpoints take the write key
as Basic auth and answer errors in Segment's shape.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI

from promoter.domain.roles import Role
from promoter.web.access import role_needed
from promoter.web.docs_pages import install_docs_pages

API_PREFIX = "/api/"
INGEST_PREFIXES = ("/segment", "/v1/")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

SECURITY_SCHEMES: dict[str, Any] = {
    "Token": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "An API key of the organization, as `Token <key>` "
        "(`Bearer <key>` is accepted too).",
    },
    "WriteKey": {
        "type": "http",
        "scheme": "basic",
        "description": "The API key as the Basic auth user name, with no password "
        "(the Tracking API also reads `writeKey` from the body).",
    },
}

_FIELD_ERRORS = "#/components/schemas/FieldErrors"
SCHEMAS: dict[str, Any] = {
    "Detail": {
        "title": "Detail",
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "FieldErrors": {
        "title": "FieldErrors",
        "description": "Messages by field (`non_field_errors` for the request as a whole); "
        "an object's fields have their own messages, and so have a list's items.",
        "type": "object",
        "additionalProperties": {
            "anyOf": [
                {
                    "type": "array",
                    "items": {"anyOf": [{"type": "string"}, {"$ref": _FIELD_ERRORS}]},
                },
                {"$ref": _FIELD_ERRORS},
            ]
        },
    },
    "SegmentError": {
        "title": "SegmentError",
        "type": "object",
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        "required": ["code", "message"],
    },
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _answer(description: str, schema: str | dict[str, Any], *, retry: bool = False) -> Any:
    ref = {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else schema
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": ref}},
    }
    if retry:
        answer["headers"] = _RETRY_AFTER
    return answer


API_ERRORS: dict[str, Any] = {
    "400": _answer(
        "Invalid input: messages by field, or a `detail`",
        {
            "anyOf": [
                {"$ref": "#/components/schemas/FieldErrors"},
                {"$ref": "#/components/schemas/Detail"},
            ]
        },
    ),
    "401": _answer("Missing, unknown or revoked API key", "Detail"),
    "403": _answer(
        "The API key's role may not do this (see the key roles in docs/api.md)", "Detail"
    ),
    "404": _answer("No such object in the key's organization", "Detail"),
    "413": _answer("Request body too large", "Detail"),
    "415": _answer("The body's type is not one the operation takes", "Detail"),
    "429": _answer("Too many requests with this key (see `Retry-After`)", "Detail", retry=True),
    "503": _answer("The database is unavailable; retry later", "Detail", retry=True),
}

INGEST_ERRORS: dict[str, Any] = {
    "400": _answer("The body or a message is invalid", "SegmentError"),
    "401": _answer("Missing or unknown write key, or a wrong `X-Signature`", "SegmentError"),
    "429": _answer(
        "Too many requests with this key (see `Retry-After`)", "SegmentError", retry=True
    ),
    "503": _answer("The database is unavailable; retry later", "SegmentError", retry=True),
}


def _api_errors(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses an /api/ operation may answer."""
    codes = ["401", "429", "503"]
    if role_needed(method.upper(), path) not in (None, Role.READ_ONLY):
        codes.append("403")
    if operation.get("parameters") or "requestBody" in operation:
        codes.append("400")
    if "{" in path:
        codes.append("404")
    if "requestBody" in operation:
        codes.append("413")
    return sorted(codes)


def _add_errors(operation: dict[str, Any], codes: Iterable[str], errors: dict[str, Any]) -> None:
    """Declare the errors; one a router declared keeps its description, and gets the
    error's body when it gave none."""
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    for code in sorted({*codes, *(c for c in responses if c in errors)}):
        declared = responses.setdefault(code, {})
        if declared.get("content", {}).get("application/json", {}).get("schema") == {}:
            del declared["content"]
        for name, value in errors[code].items():
            declared.setdefault(name, value)


def _handler_name(operation_id: str, path: str, method: str) -> str | None:
    """The handler's name in FastAPI's operation id (``{name}{path}_{method}``, each
    non-word character an underscore), or ``None`` for an id set otherwise."""
    suffix = re.sub(r"\W", "_", path) + "_" + method
    if operation_id.endswith(suffix) and len(operation_id) > len(suffix):
        return operation_id[: -len(suffix)]
    return None


def _readable_operation_ids(paths: dict[str, Any]) -> None:
    """Name each operation after its handler (``contacts_list``; ``feedback_update_put``
    for a handler of several methods), for the method names of generated clients. Ids
    that would not be unique stay FastAPI's."""
    names: dict[tuple[str, str], str] = {}
    for path, item in paths.items():
        for method, operation in item.items():
            name = method in METHODS and _handler_name(operation["operationId"], path, method)
            if name:
                names[path, method] = name
    counts = Counter(names.values())
    names = {where: n if counts[n] == 1 else f"{n}_{where[1]}" for where, n in names.items()}
    counts = Counter(names.values())
    for (path, method), name in names.items():
        if counts[name] == 1:
            paths[path][method]["operationId"] = name


def _drop_unused_schemas(document: dict[str, Any]) -> None:
    schemas = document.get("components", {}).get("schemas", {})
    while True:
        text = json.dumps(document)
        unused = [n for n in schemas if f'"#/components/schemas/{n}"' not in text]
        if not unused:
            return
        for name in unused:
            del schemas[name]


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with security, error answers and readable operation ids."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    components.setdefault("schemas", {}).update(SCHEMAS)
    paths = document.setdefault("paths", {})
    _readable_operation_ids(paths)
    for path, item in paths.items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            if path.startswith(API_PREFIX):
                operation["security"] = [{"Token": []}]
                _add_errors(operation, _api_errors(path, method, operation), API_ERRORS)
            elif path.startswith(INGEST_PREFIXES):
                operation["security"] = [{"WriteKey": []}]
                _add_errors(operation, sorted(INGEST_ERRORS), INGEST_ERRORS)
    _drop_unused_schemas(document)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once, on first request), and
    the page that shows it, /docs, from the instance's own files."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    install_docs_pages(app)


def render(app: FastAPI) -> str:
    """The document as committed in docs/openapi.json: keys sorted, indented, one
    trailing newline, so that it changes only when the API does."""
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
