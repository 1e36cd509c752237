"""Every dashboard page, on a desktop and on a phone: a screenshot of each (for review by
eye, in ``build/screenshots/pages/``), axe-core, labelled fields, readable charts, no
script errors, and on the phone no sideways scrolling, a one-row menu, readable text,
controls large enough to tap, and the feedback first; then a skip link and visible focus
from the keyboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from promoter.app import create_app
from promoter.services import Services
from promoter.storage.engine import Database
from tests.browser.axe import violations
from tests.browser.conftest import DESKTOP, PHONE, browser_context, screenshot, sign_in
from tests.browser.dashboard_pages import (
    PAGES,
    example_ids,
    page_name,
    send_a_survey,
    unlisted,
)
from tests.conftest import Org
from tests.e2e.conftest import ServerProcess

#: How the pages look does not depend on the database behind the server: checked on
#: SQLite only, to keep the serial run short.
pytestmark = [pytest.mark.browser, pytest.mark.one_database(reason="the dashboard's layout")]

#: The menu takes at most one row on a phone.
MENU_HEIGHT = 64
#: Smallest text, chart labels and tap targets on a phone, in CSS pixels.
SMALLEST_TEXT = 12
SMALLEST_CHART_TEXT = 11
SMALLEST_TARGET = 24
#: The pages (URLs starting so) that show a chart on the seeded data.
CHARTED = ("/?", "/breakdown?", "/contacts/")


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden' && !e.closest('[aria-hidden=true]'))
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.name || e.id)"""
#: Chart labels as rendered: the font size times the SVG's scale.
CHART_TEXT = """() => [...document.querySelectorAll('svg.chart text')]
  .filter(t => t.checkVisibility() && t.textContent.trim())
  .map(t => {
    const svg = t.ownerSVGElement;
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    return [t.textContent.trim(), parseFloat(getComputedStyle(t).fontSize) * scale];
  })"""
#: Text smaller than the given size, outside the charts.
SMALL_TEXT = """(smallest) => [...document.body.querySelectorAll('*')]
  .filter(e => !e.closest('svg, .sr') && e.checkVisibility())
  .filter(e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
  .filter(e => parseFloat(getComputedStyle(e).fontSize) < smallest)
  .map(e => `${e.tagName.toLowerCase()}.${e.className}: ${e.textContent.trim().slice(0, 30)}`)"""
#: Controls smaller than the given size, by their own box or their label's (links in
#: running text are exempt, as WCAG's target size allows; so is the skip link, off screen).
SMALL_TARGETS = """(smallest) => [...document.querySelectorAll(
    'a, button, select, input:not([type=hidden]), textarea, summary')]
  .filter(e => e.checkVisibility() && !e.closest('.sr'))
  .filter(e => !(e.tagName === 'A' && getComputedStyle(e).display === 'inline'))
  .filter(e => e.getBoundingClientRect().right > 0)
  .filter(e => [e, ...(e.labels || [])].every(box => {
    const r = box.getBoundingClientRect();
    return r.width < smallest || r.height < smallest;
  }))
  .map(e => `${e.tagName.toLowerCase()} ${e.name || e.textContent.trim().slice(0, 30)}`)"""
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
MENU = "() => document.querySelector('header.top').getBoundingClientRect().height"
FIRST_FEEDBACK = """() => {
  const item = document.querySelector('[data-testid=feedback-item]');
  return item && item.getBoundingClientRect().top;
}"""


def _watch(page: Page, found: list[str]) -> None:
    """Errors the page's scripts throw or log, added to ``found``."""
    page.on("pageerror", lambda e: found.append(f"{page.url}: {e}"))
    page.on(
        "console", lambda m: found.append(f"{page.url}: {m.text}") if m.type == "error" else None
    )


def _visit(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)


def _charts(page: Page, url: str) -> list[str]:
    sizes: list[Any] = page.evaluate(CHART_TEXT)
    if url.startswith(CHARTED) and not sizes:
        return [f"{url}: no chart shown"]
    return [f"{url}: chart text {t!r} at {px:.1f}px" for t, px in sizes if px < SMALLEST_CHART_TEXT]


def _desktop(page: Page, url: str) -> list[str]:
    found = [f"{url}: axe {v}" for v in violations(page)]
    found += [f"{url}: unlabelled field {name}" for name in page.evaluate(UNLABELLED)]
    return found + _charts(page, url)


def _phone(page: Page, url: str) -> list[str]:
    found = [f"{url}: axe {v}" for v in violations(page)] + _charts(page, url)
    if (overflow := page.evaluate(OVERFLOW)) > 1:
        found.append(f"{url}: scrolls sideways by {overflow}px")
    found += [f"{url}: small text {t}" for t in page.evaluate(SMALL_TEXT, SMALLEST_TEXT)]
    found += [f"{url}: small target {t}" for t in page.evaluate(SMALL_TARGETS, SMALLEST_TARGET)]
    if url != "/login" and (height := page.evaluate(MENU)) > MENU_HEIGHT:
        found.append(f"{url}: the menu is {height}px tall")
    if url.startswith("/feedback?"):
        top = page.evaluate(FIRST_FEEDBACK)
        if top is None or top > PHONE["height"]:
            found.append(f"{url}: the first feedback is not on the first screen ({top})")
    return found


def test_every_dashboard_page_on_a_desktop_and_a_phone(
    chromium: Browser,
    site: ServerProcess,
    seeded: Org,
    database: Database,
    services: Services,
    mail_dir: Path,
) -> None:
    problems = unlisted(create_app(services))
    assert not problems, "\n".join(problems)
    send_a_survey(site, seeded)
    ids = example_ids(database, seeded, mail_dir)
    urls = {route: url.format(**ids) for route, url in PAGES.items()}
    found: list[str] = []
    with browser_context(chromium, site, DESKTOP, bypass_csp=True) as desktop:
        page = desktop.new_page()
        _watch(page, found)
        for route, url in urls.items():  # the sign-in page first, then signed in
            _visit(page, url)
            screenshot(page, "pages", f"{page_name(route)}-desktop")
            found += _desktop(page, url)
            if route == "/login":
                sign_in(page)
        with browser_context(chromium, site, PHONE, bypass_csp=True) as phone:
            phone.add_cookies(desktop.cookies())  # signed in
            page = phone.new_page()
            _watch(page, found)
            for route, url in urls.items():
                _visit(page, url)
                screenshot(page, "pages", f"{page_name(route)}-phone")
                found += _phone(page, url)
    assert not found, "\n".join(found)


def test_a_new_dashboard_page_is_walked_or_excluded(services: Services) -> None:
    app = create_app(services)
    assert unlisted(app) == []

    async def new_page() -> None:
        return None

    new_page.__module__ = "promoter.web.dashboard.new_page"
    app.add_api_route("/settings/new-page", new_page, methods=["GET"])
    (problem,) = unlisted(app)
    assert "no walk visits: ['/settings/new-page']" in problem


def test_keyboard_reaches_the_content(page: Page) -> None:
    sign_in(page)
    page.goto("/?range=all")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.closest('main') !== null")
    assert focused
