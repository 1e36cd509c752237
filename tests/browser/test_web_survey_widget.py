"""The web survey widget (/w/promoter.js) alone in Chromium, on a customer's page of its own
origin, against a stand-in Promoter that answers as the widget's contract says: how it
looks under hostile CSS, a strict CSP, on a phone, in right-to-left; keyboard and screen
reader use; reduced motion; what it sends and when (nothing without a signature), with
Segment's analytics.js or without. tests/browser/test_web_survey.py runs it against a
real server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.axe import violations
from tests.browser.conftest import SCREENSHOTS
from tests.browser.customer_site import CustomerPage, CustomerSite
from tests.browser.web_survey import (
    COUNT_VIOLATIONS,
    FAKE_PROMOTER,
    FORGED,
    REFUSED,
    FakePromoter,
    Tab,
    computed,
    identify,
    on_load,
    open_tab,
    score,
    settle,
    survey,
    wait_until,
    widget,
)

pytestmark = pytest.mark.browser

SIGNATURE = "0123456789abcdef" * 4
STRICT_CSP = (
    f"default-src 'self'; script-src 'self' {FAKE_PROMOTER}; style-src 'self'; "
    f"connect-src {FAKE_PROMOTER}; img-src 'self'"
)
HOSTILE_CSS = """
* { all: unset; font-size: 40px !important; color: red !important; }
button { display: none !important; }
div, p, span { background: black !important; line-height: 3 !important; }
promoter-survey { display: none !important; position: static !important; }
:root { direction: rtl; }
"""
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def promoter() -> FakePromoter:
    return FakePromoter()


@contextmanager
def stand_in_tab(chromium: Browser, promoter: FakePromoter, **options: Any) -> Iterator[Tab]:
    """A tab of a new context (``options``) whose Promoter is ``promoter``."""
    context = chromium.new_context(**options)
    opened = open_tab(context)
    promoter.install(context)
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture
def tab(chromium: Browser, promoter: FakePromoter) -> Iterator[Tab]:
    with stand_in_tab(chromium, promoter, viewport={"width": 1280, "height": 900}) as opened:
        yield opened


def page_of(customer: CustomerSite, name: str, **options: Any) -> str:
    script = COUNT_VIOLATIONS + options.pop("script", identify("user-42", SIGNATURE))
    page = CustomerPage(FAKE_PROMOTER, "ps_testsitekey000000000000", script=script, **options)
    return page.publish(customer, name)


def screenshot(tab: Tab, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=str(SCREENSHOTS / f"web-survey-{name}.png"))


def test_identified_visitor_sees_the_survey_and_answers_it(
    tab: Tab, customer: CustomerSite, promoter: FakePromoter
) -> None:
    tab.page.goto(page_of(customer, "app", script=identify("user-42", SIGNATURE, {"plan": "pro"})))
    expect(widget(tab.page)).to_be_visible()
    expect(widget(tab.page)).to_have_accessible_name(survey()["text"]["question"])
    assert promoter.bodies("identify") == [
        {"site_key": "ps_testsitekey000000000000", "user_id": "user-42",
         "signature": SIGNATURE, "url": f"{customer.url}/app", "traits": {"plan": "pro"}}
    ]  # fmt: skip
    assert promoter.bodies("survey")[0]["languages"]
    score(tab.page, 3).click()
    expect(widget(tab.page).get_by_role("status")).to_have_text("Your score is saved")
    assert promoter.bodies("surveys/tok-1/answer")[0]["score"] == 3
    assert promoter.paths()[:4] == [
        "identify", "survey", "surveys/tok-1/shown", "surveys/tok-1/answer"
    ]  # fmt: skip

    # A detractor is asked the detractors' questions, not the promoters'.
    card = widget(tab.page)
    expect(card.get_by_label("What should we fix?")).to_be_visible()
    expect(card.get_by_text("What should we fix first?")).to_be_visible()
    expect(card.get_by_text("How easy was setup?")).to_be_hidden()
    card.get_by_role("button", name="Send").click()
    expect(card.get_by_text("Required")).to_be_visible()  # "What matters most?" is required
    card.get_by_label("Support").check()
    card.get_by_label("Docs").check()
    card.get_by_label("What should we fix?").fill("The export")
    card.get_by_role("button", name="Send").click()
    expect(card.get_by_text("Thank you!")).to_be_visible()
    last = promoter.bodies("surveys/tok-1/answer")[-1]
    assert last["score"] == 3
    assert last["comment"] == "The export"
    assert last["answers"] == {"why": ["Support"], "fix": ["Docs"]}
    card.get_by_role("button", name="Close").click()
    expect(widget(tab.page)).to_have_count(0)
    assert "surveys/tok-1/dismiss" not in promoter.paths()  # answered: closed, not dismissed
    tab.check_clean()


@pytest.mark.parametrize("signature", [None, "not-hex", "abc"])
def test_nothing_is_sent_without_a_signature(
    tab: Tab, customer: CustomerSite, promoter: FakePromoter, signature: str | None
) -> None:
    script = identify("user-42", signature) + "promoter('track', 'Signed Up');"
    tab.page.goto(page_of(customer, "app", script=script))
    settle(tab.page)
    assert promoter.calls == []
    expect(widget(tab.page)).to_have_count(0)
    tab.check_clean()


def test_escape_dismisses_and_gives_focus_back(
    tab: Tab, customer: CustomerSite, promoter: FakePromoter
) -> None:
    tab.page.goto(page_of(customer, "app"))
    expect(widget(tab.page)).to_be_visible()
    # The page's focus was on nothing: the widget takes it, on its first score.
    assert (
        tab.page.evaluate("() => document.activeElement.shadowRoot.activeElement.textContent")
        == "0"
    )
    assert promoter.paths()[0] == "survey"  # no traits: no identify call
    tab.page.keyboard.press("Escape")
    expect(widget(tab.page)).to_have_count(0)
    assert promoter.bodies("surveys/tok-1/dismiss")[0]["user_id"] == "user-42"
    assert "surveys/tok-1/answer" not in promoter.paths()
    assert tab.page.evaluate("() => document.activeElement === document.body")
    tab.page.evaluate("() => promoter('show')")  # one survey per page view
    tab.page.wait_for_timeout(200)
    assert promoter.paths().count("survey") == 1
    tab.check_clean()


def test_keyboard_only(tab: Tab, customer: CustomerSite, promoter: FakePromoter) -> None:
    """Arrows choose the score, Tab reaches the comment, the questions and Send."""
    tab.page.goto(page_of(customer, "app"))
    expect(widget(tab.page)).to_be_visible()
    keys = tab.page.keyboard
    for _ in range(9):
        keys.press("ArrowRight")
    expect(score(tab.page, 9)).to_have_attribute("aria-checked", "true")
    expect(score(tab.page, 9)).to_be_focused()
    keys.press("ArrowLeft")  # 8: a passive
    expect(score(tab.page, 8)).to_have_attribute("aria-checked", "true")
    expect(widget(tab.page).get_by_role("status")).to_have_text("Your score is saved")
    assert [b["score"] for b in promoter.bodies("surveys/tok-1/answer")] == [8]
    keys.press("Tab")
    expect(widget(tab.page).get_by_label("What would make it a 10?")).to_be_focused()
    keys.type("Faster exports")
    keys.press("Tab")
    keys.press("ArrowDown")  # the first choice's radio group: Support
    keys.press("Tab")
    keys.type("No")
    keys.press("Tab")
    expect(widget(tab.page).get_by_role("button", name="Send")).to_be_focused()
    keys.press("Enter")
    expect(widget(tab.page).get_by_text("Thank you!")).to_be_focused()
    last = promoter.bodies("surveys/tok-1/answer")[-1]
    assert last == {**last, "score": 8, "comment": "Faster exports",
                    "answers": {"why": ["Support"], "more": ["No"]}}  # fmt: skip
    keys.press("Escape")
    expect(widget(tab.page)).to_have_count(0)
    assert "surveys/tok-1/dismiss" not in promoter.paths()
    tab.check_clean()


def test_does_not_take_the_focus_from_a_field_being_typed_in(
    tab: Tab, customer: CustomerSite, promoter: FakePromoter
) -> None:
    page = page_of(customer, "app", script="")
    tab.page.goto(page)
    tab.page.get_by_label("Search").type("invoices")
    tab.page.evaluate(f"() => {identify('user-42', SIGNATURE)}")
    expect(widget(tab.page)).to_be_visible()
    expect(tab.page.get_by_label("Search")).to_be_focused()
    tab.page.keyboard.type(" 2026")
    expect(tab.page.get_by_label("Search")).to_have_value("invoices 2026")
    live = tab.page.locator("promoter-survey [aria-live=polite]")
    expect(live).to_have_text(survey()["text"]["question"])
    tab.check_clean()


def test_strict_csp_on_the_host_page(
    tab: Tab, customer: CustomerSite, promoter: FakePromoter
) -> None:
    tab.page.goto(page_of(customer, "csp", csp=STRICT_CSP))
    expect(widget(tab.page)).to_be_visible()
    styles = computed(tab.page)
    assert styles["card"]["background-color"] == "rgb(255, 255, 255)"
    assert styles["card"]["border-top-color"] == "rgb(247, 201, 72)"  # the brand's colour
    assert styles["card"]["position"] == "relative"
    score(tab.page, 10).click()
    expect(widget(tab.page).get_by_role("status")).to_have_text("Your score is saved")
    assert tab.page.evaluate("() => window.cspViolations") == []
    tab.check_clean()


def test_the_nonce_when_constructed_stylesheets_are_missing(
    tab: Tab, customer: CustomerSite
) -> None:
    tab.context.add_init_script("CSSStyleSheet.prototype.replaceSync = undefined;")
    csp = STRICT_CSP.replace("style-src 'self'", "style-src 'self' 'nonce-c2VjcmV0'")
    tab.page.goto(page_of(customer, "nonce", csp=csp, nonce="c2VjcmV0"))
    expect(widget(tab.page)).to_be_visible()
    assert (
        tab.page.evaluate(
            "() => document.querySelector('promoter-survey').shadowRoot.adoptedStyleSheets.length"
        )
        == 0
    )
    assert computed(tab.page)["card"]["background-color"] == "rgb(255, 255, 255)"
    assert tab.page.evaluate("() => window.cspViolations") == []
    tab.check_clean()


def test_hostile_css_on_the_host_page(
    tab: Tab, customer: CustomerSite, promoter: FakePromoter
) -> None:
    tab.page.goto(page_of(customer, "hostile", css=HOSTILE_CSS))
    expect(widget(tab.page)).to_be_visible()
    screenshot(tab, "hostile-css")
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
    assert (
        tab.page.evaluate("() => getComputedStyle(document.querySelector('#other')).display")
        == "none"
    )
    score(tab.page, 6).click()
    expect(widget(tab.page).get_by_role("status")).to_have_text("Your score is saved")
    tab.check_clean()


def test_a_bottom_sheet_on_a_phone(
    chromium: Browser, customer: CustomerSite, promoter: FakePromoter
) -> None:
    phone = {"viewport": PHONE, "is_mobile": True, "has_touch": True}
    with stand_in_tab(chromium, promoter, **phone) as tab:
        tab.page.goto(page_of(customer, "phone"))
        expect(widget(tab.page)).to_be_visible()
        score(tab.page, 9).tap()
        expect(widget(tab.page).get_by_role("status")).to_have_text("Your score is saved")
        screenshot(tab, "phone")
        styles = computed(tab.page)
        host, box = styles["host"], styles["cardBox"]
        assert (host["left"], host["right"], host["bottom"]) == (0, PHONE["width"], PHONE["height"])
        assert box["top"] >= PHONE["height"] * 0.15 - 1  # at most 85% of the screen
        for left, right in zip(styles["buttons"], styles["buttons"][1:], strict=False):
            assert left["right"] <= right["left"]
        assert all(b["width"] >= 24 and b["height"] >= 44 for b in styles["buttons"])
        tab.check_clean()


@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
def test_reduced_motion(
    chromium: Browser, customer: CustomerSite, promoter: FakePromoter, motion: str
) -> None:
    with stand_in_tab(chromium, promoter, reduced_motion=motion) as tab:
        tab.page.goto(page_of(customer, "motion"))
        expect(widget(tab.page)).to_be_visible()
        animation = computed(tab.page)["card"]["animation-name"]
        assert animation == ("none" if motion == "reduce" else "pin")
        tab.check_clean()


def test_right_to_left(tab: Tab, customer: CustomerSite, promoter: FakePromoter) -> None:
    promoter.survey = survey(language="ar", dir="rtl")
    tab.page.goto(page_of(customer, "rtl"))
    expect(widget(tab.page)).to_be_visible()
    screenshot(tab, "rtl")
    styles = computed(tab.page)
    assert styles["card"]["direction"] == "rtl"
    assert styles["host"]["left"] == 16  # the bottom left corner
    lefts = [b["left"] for b in styles["buttons"]]
    assert lefts == sorted(lefts)  # 0 on the left, 10 on the right, as on the email pages
    assert widget(tab.page).get_attribute("lang") == "ar"
    tab.check_clean()


def test_no_serious_accessibility_violations(
    tab: Tab, customer: CustomerSite, promoter: FakePromoter
) -> None:
    tab.page.goto(page_of(customer, "axe"))
    expect(widget(tab.page)).to_be_visible()
    assert violations(tab.page) == []
    score(tab.page, 2).click()
    expect(widget(tab.page).get_by_label("What should we fix?")).to_be_visible()
    assert violations(tab.page) == []
    widget(tab.page).get_by_role("button", name="Send").click()  # the required error shown
    assert violations(tab.page) == []
    tab.check_clean()


def test_identity_from_segment_analytics_js(
    tab: Tab, customer: CustomerSite, promoter: FakePromoter
) -> None:
    """analytics.identify with the signature in integrations.Promoter shows the survey and
    forwards the traits; analytics.track is forwarded; on the next page, analytics.js
    remembers the user and promoter('signature') signs for it."""
    script = on_load(
        "analytics.identify('user-7', {plan: 'pro'},"
        f" {{integrations: {{Promoter: {{signature: '{SIGNATURE}'}}}}}});\n"
        "analytics.track('Report Viewed', {report: 'nps'});\n"
    )
    tab.page.goto(page_of(customer, "segment", segment=True, script=script))
    expect(widget(tab.page)).to_be_visible()
    assert promoter.bodies("identify")[0]["user_id"] == "user-7"
    assert promoter.bodies("identify")[0]["traits"] == {"plan": "pro"}
    wait_until(tab.page, lambda: promoter.bodies("track"))
    assert promoter.bodies("track")[0]["event"] == "Report Viewed"
    assert promoter.bodies("track")[0]["properties"] == {"report": "nps"}
    assert {c["type"] for c in customer.segment_calls()} >= {"identify", "track"}

    wait_until(tab.page, lambda: "surveys/tok-1/shown" in promoter.paths())
    promoter.calls.clear()
    script = f"promoter('signature', '{SIGNATURE}');\n"
    tab.page.goto(page_of(customer, "segment-again", segment=True, script=script))
    expect(widget(tab.page)).to_be_visible()
    assert promoter.paths()[0] == "survey"
    assert promoter.bodies("survey")[0]["user_id"] == "user-7"
    tab.page.evaluate("() => analytics.reset()")
    expect(widget(tab.page)).to_have_count(0)
    tab.check_clean()


def test_segment_identify_without_a_signature_sends_nothing(
    tab: Tab, customer: CustomerSite, promoter: FakePromoter
) -> None:
    script = on_load("analytics.identify('user-7', {plan: 'pro'}); analytics.track('Viewed');")
    tab.page.goto(page_of(customer, "segment", segment=True, script=script))
    wait_until(tab.page, lambda: len(customer.segment_calls()) > 1)
    tab.page.wait_for_timeout(300)
    assert promoter.calls == []
    tab.check_clean()


def test_a_forged_signature_is_sent_and_refused_quietly(
    tab: Tab, customer: CustomerSite, promoter: FakePromoter
) -> None:
    """The widget cannot tell a forged signature; the server refuses it (403) and the page
    shows nothing and no error but the refused request's."""
    tab.context.route(
        f"{FAKE_PROMOTER}/w/v1/**",
        lambda route: route.fulfill(
            status=403,
            json={"error": "invalid signature"},
            headers={"Access-Control-Allow-Origin": customer.url},
        ),
    )
    tab.page.goto(page_of(customer, "forged", script=identify("user-42", FORGED)))
    settle(tab.page)
    expect(widget(tab.page)).to_have_count(0)
    tab.check_clean(allowed_errors=REFUSED)
