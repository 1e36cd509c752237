"""The routes an app serves, as (method, path template) pairs."""

from __future__ import annotations

from typing import Any

from fastapi.routing import iter_route_contexts


def app_routes(app: Any) -> set[tuple[str, str]]:
    """Every (method, path) the app routes; HEAD is GET's handler."""
    found = set()
    for context in iter_route_contexts(app.routes):
        methods = context.methods or {"GET"}  # a mount: the static files
        found |= {(method, str(context.path)) for method in methods - {"HEAD"}}
    return found
