"""The API's documentation page, /docs: everything it loads comes from the instance, and
it is sent with the dashboard's security headers. /redoc leads to it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

#: Every src= and href= of a page.
REFERENCE = re.compile(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def references(page: str) -> list[str]:
    return REFERENCE.findall(page)


def test_the_docs_page_loads_only_files_of_the_instance(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    found = references(page.text)
    assert found, "the page loads nothing"
    for reference in found:
        assert reference.startswith("/") and not reference.startswith("//"), reference
        assert client.get(reference).status_code == 200, reference
    assert INLINE_SCRIPT.findall(page.text) == [], "an inline script"
    assert "<style" not in page.text and "style=" not in page.text, "an inline style"
    assert "googleapis" not in page.text and "cdn." not in page.text


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("swagger-init.js", "text/javascript"),
    ],
)
def test_the_assets_are_served_with_their_types(client: TestClient, name: str, kind: str) -> None:
    answer = client.get(f"/docs/assets/{name}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].split(";")[0] == kind
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert len(answer.content) > 50


def test_the_swagger_ui_bundle_is_the_pinned_packages(client: TestClient) -> None:
    bundle = client.get("/docs/assets/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle


def test_only_the_docs_own_assets_are_served(client: TestClient) -> None:
    assert client.get("/docs/assets/nothing.js").status_code == 404
    # The package's other files are not needed, so not served.
    assert client.get("/docs/assets/redoc.standalone.js").status_code == 404
    assert client.get("/docs/assets/favicon.png").status_code == 404


def test_redoc_leads_to_the_docs(client: TestClient) -> None:
    # ReDoc loads its logo from its vendor's CDN whatever it is told, so it is not served.
    answer = client.get("/redoc", follow_redirects=False)
    assert answer.is_redirect
    assert answer.headers["location"] == "/docs"


def test_the_oauth2_redirect_page_is_gone(client: TestClient) -> None:
    # The API has no OAuth2 flow, and FastAPI's page for it is an inline script.
    assert client.get("/docs/oauth2-redirect").status_code == 404


def directives(policy: str) -> dict[str, list[str]]:
    found = {}
    for directive in policy.split(";"):
        name, *values = directive.split()
        found[name] = values
    return found


def test_the_docs_page_has_the_dashboards_security_headers(client: TestClient) -> None:
    headers = client.get("/docs").headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    policy = directives(headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]
    for name, values in policy.items():
        for value in values:  # no other origin: only keywords, and data: or blob: URLs
            assert value.startswith("'") or value in ("data:", "blob:"), (name, value)
