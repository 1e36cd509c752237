"""The API's documentation page, /docs (Swagger UI), served whole by the instance, so
that it works offline and no request leaves it.

Swagger UI's files come from the fastapi-offline package (pinned in pyproject.toml), the
script that starts it from ``docs_static/``; each is served under /docs/assets/. The page
has no inline script or style, and a Content-Security-Policy that allows nothing but the
instance. /redoc, FastAPI's other viewer, leads to /docs: ReDoc loads its logo from its
vendor's CDN, whatever it is told, and needs inline styles.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, HTTPException
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

DOCS = "/docs"
REDOC = "/redoc"
ASSETS = "/docs/assets"
_VIEWER = Path(fastapi_offline.__file__).parent / "static"
_OURS = Path(__file__).parent / "docs_static"
_JS = "text/javascript"
#: What /docs/assets/ serves, and nothing else: file and content type by name.
ASSET_FILES = {
    "swagger-ui-bundle.js": (_VIEWER / "swagger-ui-bundle.js", _JS),
    "swagger-ui.css": (_VIEWER / "swagger-ui.css", "text/css"),
    "swagger-init.js": (_OURS / "swagger-init.js", _JS),
}

#: The dashboard's headers; Swagger UI's pictures are data: URLs in its stylesheet, and
#: "Try it out" calls the instance.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Promoter API</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-url="/openapi.json"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="{ASSETS}/swagger-init.js"></script>
</body>
</html>
"""


def _is_fastapis_page(route: BaseRoute, app: FastAPI) -> bool:
    pages = {app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    return isinstance(route, Route) and route.path in pages


def install_docs_pages(app: FastAPI) -> None:
    """Replace FastAPI's pages (which load their viewers from a CDN, and start them with
    inline scripts) with /docs served whole by the instance; drop the OAuth2 redirect
    page (the API has no OAuth2 flow)."""
    app.router.routes[:] = [r for r in app.router.routes if not _is_fastapis_page(r, app)]
    app.docs_url = app.redoc_url = app.swagger_ui_oauth2_redirect_url = None

    @app.get(DOCS, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(PAGE, headers=HEADERS)

    @app.get(ASSETS + "/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> Response:
        if name not in ASSET_FILES:
            raise HTTPException(404, "Not found.")
        path, kind = ASSET_FILES[name]
        return FileResponse(path, media_type=kind, headers={"X-Content-Type-Options": "nosniff"})

    @app.get(REDOC, include_in_schema=False)
    async def redoc() -> Response:
        return RedirectResponse(DOCS)
