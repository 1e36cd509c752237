"""The web survey widget (/w/promoter.js) on a customer's page of its own origin, from a
real Promoter server (tests/browser/web_survey.py sets it up): how it looks under a strict
CSP, hostile CSS, on a phone, in right-to-left and in the visitor's language; the focus
it leaves to the page; reduced motion; axe-core. tests/browser/test_web_survey.py: what
it sends and what the server records."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from promoter.delivery.i18n import ENGLISH, words
from tests.browser.axe import violations
from tests.browser.conftest import screenshot
from tests.browser.web_survey import (
    BRAND,
    VISITOR,
    CustomerApp,
    Tab,
    at_rest,
    computed,
    customer_tab,
    identify,
    known_contact,
    responses_of,
    score,
    signed_in,
    tracked,
    widget,
)

#: How the widget looks and behaves in the browser does not depend on the database behind
#: the server: these run on SQLite only, to keep the serial run short; what the widget
#: records is checked on both databases in test_web_survey.py.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.one_database(reason="the widget's look and behaviour"),
]


HOSTILE_CSS = """
* { all: unset; font-size: 40px !important; color: red !important; }
button { display: none !important; }
div, p, span { background: black !important; line-height: 3 !important; }
promoter-survey { display: none !important; position: static !important; }
:root { direction: rtl; }
"""
PHONE = {"width": 390, "height": 844}
NONCE = "c2VjcmV0"


def strict_csp(app: CustomerApp, style: str = "'self'") -> str:
    """A Content-Security-Policy that lets in the site's own files and Promoter only."""
    return (
        f"default-src 'self'; script-src 'self' {app.site.url}; style-src {style}; "
        f"connect-src {app.site.url}; img-src 'self' {app.site.url}"
    )


def saved(tab: Tab, app: CustomerApp, n: int) -> None:
    """Score ``n`` chosen: the widget says it is saved, and the server has it."""
    score(tab.page, n).click()
    expect(widget(tab.page).get_by_role("status")).to_have_text(ENGLISH["saved"])
    assert [r["score"] for r in responses_of(app.database, VISITOR)] == [n]


def test_does_not_take_the_focus_from_a_field_being_typed_in(tab: Tab, app: CustomerApp) -> None:
    tracked(app.site, app.org, VISITOR)  # the survey is due when the visitor is identified
    tab.page.goto(app.publish("app", ""))
    search = tab.page.get_by_label("Search")
    search.type("invoices")
    tab.page.evaluate(f"() => {identify(VISITOR, app.web.sign(VISITOR))}")
    expect(widget(tab.page)).to_be_visible()
    expect(search).to_be_focused()
    tab.page.keyboard.type(" 2026")
    expect(search).to_have_value("invoices 2026")
    live = tab.page.locator("promoter-survey [aria-live=polite]")
    expect(live).to_have_text(words("en", BRAND)["question"])
    tab.check_clean()


def test_strict_csp_on_the_host_page(tab: Tab, app: CustomerApp) -> None:
    script = signed_in(app.web, VISITOR)
    tab.page.goto(app.publish("csp", script, csp=strict_csp(app)))
    expect(widget(tab.page)).to_be_visible()
    styles = computed(tab.page)
    assert styles["card"]["background-color"] == "rgb(255, 255, 255)"
    assert styles["card"]["border-top-color"] == "rgb(247, 201, 72)"  # the brand's colour
    assert styles["card"]["position"] == "relative"
    saved(tab, app, 10)
    assert tab.page.evaluate("() => window.cspViolations") == []
    tab.check_clean()


def test_the_nonce_when_constructed_stylesheets_are_missing(tab: Tab, app: CustomerApp) -> None:
    tab.context.add_init_script("CSSStyleSheet.prototype.replaceSync = undefined;")
    csp = strict_csp(app, style=f"'self' 'nonce-{NONCE}'")
    script = signed_in(app.web, VISITOR)
    tab.page.goto(app.publish("nonce", script, csp=csp, nonce=NONCE))
    expect(widget(tab.page)).to_be_visible()
    sheets = "() => document.querySelector('promoter-survey').shadowRoot.adoptedStyleSheets"
    assert tab.page.evaluate(f"{sheets}.length") == 0
    assert computed(tab.page)["card"]["background-color"] == "rgb(255, 255, 255)"
    assert tab.page.evaluate("() => window.cspViolations") == []
    tab.check_clean()


def test_hostile_css_on_the_host_page(tab: Tab, app: CustomerApp, backend: str) -> None:
    script = signed_in(app.web, VISITOR)
    tab.page.goto(app.publish("hostile", script, css=HOSTILE_CSS))
    expect(widget(tab.page)).to_be_visible()
    at_rest(tab.page)
    screenshot(tab.page, backend, "web-survey-hostile-css")
    styles = computed(tab.page)
    card, host, viewport = styles["card"], styles["host"], styles["viewport"]
    assert card["font-size"] == "16px"
    assert card["color"] == "rgb(31, 41, 51)"
    assert card["background-color"] == "rgb(255, 255, 255)"
    assert card["direction"] == "ltr"
    # Its corner of the window: bottom right, 16 px in.
    assert host["right"] == viewport["width"] - 16
    assert host["bottom"] == viewport["height"] - 16
    assert host["width"] == 380
    for button in styles["buttons"]:
        assert button["display"] == "block"
        assert button["font-size"] == "16px"
        assert button["color"] != "rgb(255, 0, 0)"
        assert button["height"] >= 40
    # And the page's own styles still hold on the page.
    other = "() => getComputedStyle(document.querySelector('#other')).display"
    assert tab.page.evaluate(other) == "none"
    saved(tab, app, 6)
    tab.check_clean()


def test_a_bottom_sheet_on_a_phone(chromium: Browser, app: CustomerApp, backend: str) -> None:
    phone = {"viewport": PHONE, "is_mobile": True, "has_touch": True}
    with customer_tab(chromium, **phone) as tab:
        tab.page.goto(app.publish("phone", signed_in(app.web, VISITOR)))
        expect(widget(tab.page)).to_be_visible()
        score(tab.page, 9).tap()
        expect(widget(tab.page).get_by_role("status")).to_have_text(ENGLISH["saved"])
        assert [r["score"] for r in responses_of(app.database, VISITOR)] == [9]
        screenshot(tab.page, backend, "web-survey-phone")
        styles = computed(tab.page)
        host, box = styles["host"], styles["cardBox"]
        assert (host["left"], host["right"], host["bottom"]) == (0, PHONE["width"], PHONE["height"])
        assert box["top"] >= PHONE["height"] * 0.15 - 1  # at most 85% of the screen
        for left, right in zip(styles["buttons"], styles["buttons"][1:], strict=False):
            assert left["right"] <= right["left"]
        assert all(b["width"] >= 24 and b["height"] >= 44 for b in styles["buttons"])
        tab.check_clean()


@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
def test_reduced_motion(chromium: Browser, app: CustomerApp, motion: str) -> None:
    with customer_tab(chromium, reduced_motion=motion) as tab:
        tab.page.goto(app.publish("motion", signed_in(app.web, VISITOR)))
        expect(widget(tab.page)).to_be_visible()
        animation = computed(tab.page)["card"]["animation-name"]
        assert animation == ("none" if motion == "reduce" else "pin")
        tab.check_clean()


def test_right_to_left(tab: Tab, app: CustomerApp, backend: str) -> None:
    """An Arabic-speaking contact: the server sends Arabic words, right to left."""
    known_contact(app.site, app.org, "web-ar", language="ar")
    tab.page.goto(app.publish("rtl", signed_in(app.web, "web-ar")))
    card = widget(tab.page)
    expect(card).to_be_visible()
    expect(card).to_have_attribute("lang", "ar")
    expect(card).to_have_accessible_name(words("ar", BRAND)["question"])
    expect(card.get_by_role("button", name=words("ar", BRAND)["close"])).to_be_visible()
    at_rest(tab.page)
    screenshot(tab.page, backend, "web-survey-rtl")
    styles = computed(tab.page)
    assert styles["card"]["direction"] == "rtl"
    assert styles["host"]["left"] == 16  # the bottom left corner
    lefts = [b["left"] for b in styles["buttons"]]
    assert lefts == sorted(lefts)  # 0 on the left, 10 on the right, as on the email pages
    tab.check_clean()


def test_the_close_button_is_labelled_in_the_visitors_language(tab: Tab, app: CustomerApp) -> None:
    known_contact(app.site, app.org, "web-de", language="de")
    tab.page.goto(app.publish("de", signed_in(app.web, "web-de")))
    card = widget(tab.page)
    expect(card).to_have_attribute("lang", "de")
    close = card.get_by_role("button", name="Schließen", exact=True)
    expect(close).to_be_visible()
    close.click()
    expect(widget(tab.page)).to_have_count(0)
    tab.check_clean()


def test_no_serious_accessibility_violations(tab: Tab, app: CustomerApp) -> None:
    tab.page.goto(app.publish("axe", signed_in(app.web, VISITOR)))
    card = widget(tab.page)
    expect(card).to_be_visible()
    at_rest(tab.page)
    assert violations(tab.page) == []
    score(tab.page, 2).click()
    expect(card.get_by_label(ENGLISH["comment_prompt"])).to_be_visible()
    assert violations(tab.page) == []
    card.get_by_role("button", name=ENGLISH["send"]).click()
    expect(card.get_by_text(ENGLISH["answer_required"])).to_be_visible()
    assert violations(tab.page) == []
    tab.check_clean()
