"""The API's documentation page in Chromium: every request it makes goes to the instance,
Swagger UI renders the API's operations, and the Content-Security-Policy refuses nothing."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import screenshot
from tests.e2e.conftest import ServerProcess

#: The documentation page is the instance's OpenAPI document in Swagger UI, the same whatever
#: the database behind the server: SQLite only.
pytestmark = pytest.mark.one_database(reason="the documentation page")

#: Run before the page's scripts (and not subject to its policy): notes each violation.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Watch:
    """The URLs a page requested and the CSP violations its console reported."""

    def __init__(self, page: Page) -> None:
        self.urls: list[str] = []
        self.console: list[str] = []
        page.add_init_script(WATCH_VIOLATIONS)
        page.on("request", self._request)
        page.on("console", lambda m: self.console.append(m.text))

    def _request(self, request: Request) -> None:
        self.urls.append(request.url)

    def check(self, page: Page, site: ServerProcess) -> None:
        elsewhere = [u for u in self.urls if _origin(u) != _origin(site.url)]
        assert elsewhere == [], "requests that left the instance"
        assert page.evaluate("window.__violations") == []
        assert [m for m in self.console if "Content Security Policy" in m] == []


def test_swagger_ui_renders_the_api_from_the_instance_alone(
    page: Page, site: ServerProcess, backend: str
) -> None:
    watch = Watch(page)
    page.goto("/docs")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() > 20
    expect(
        page.locator(".opblock-summary-path", has_text="/api/v2/contacts/").first
    ).to_be_visible()
    # Trying an operation calls the instance from the page.
    health = page.locator(".opblock", has=page.locator(".opblock-summary-path", has_text="/health"))
    health.first.locator(".opblock-summary-control").click()
    health.first.get_by_role("button", name="Try it out").click()
    health.first.get_by_role("button", name="Execute").click()
    status = health.first.locator(".live-responses-table tbody .response-col_status")
    expect(status).to_have_text("200")
    screenshot(page, backend, "api-docs")
    assert any(urlsplit(u).path == "/health" for u in watch.urls)
    watch.check(page, site)
