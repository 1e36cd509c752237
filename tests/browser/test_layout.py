"""Usable on a phone and from the keyboard: no sideways scrolling at 375 px, a skip link,
labelled fields, and visible focus."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, sign_in

PAGES = [
    "/?range=all",
    "/breakdown?range=all",
    "/feedback?range=all",
    "/feedback/1",
    "/contacts",
    "/contacts/1",
    "/campaigns",
    "/campaigns/new",
    "/campaigns/1",
    "/campaigns/1/preview",
    "/settings/segment",
    "/outbox",
]

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden' && !e.closest('[aria-hidden=true]'))
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.name || e.id)"""


def test_phone_width_has_no_sideways_scrolling(page: Page, backend: str) -> None:
    sign_in(page)
    page.set_viewport_size({"width": 375, "height": 800})
    for url in PAGES:
        page.goto(url)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, (url, overflow)
    page.goto("/?range=all")
    screenshot(page, backend, "overview-phone")


def test_every_field_has_a_label(page: Page) -> None:
    sign_in(page)
    for url in PAGES:
        page.goto(url)
        assert page.evaluate(UNLABELLED) == [], url


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
