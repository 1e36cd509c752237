"""The web survey end to end: a customer's page on its own origin loads /w/promoter.js (and
Segment's analytics.js) from a real Promoter server set up through its REST API; what the
visitor does, what the widget sends and what the server records, with a valid signature,
a forged one or none, across channels. Nothing leaves this machine.
tests/browser/test_web_survey_widget.py: how the widget looks and behaves on the page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from promoter.delivery.i18n import ENGLISH, words
from tests.analytics.dataset import send_survey
from tests.browser.axe import violations
from tests.browser.conftest import screenshot
from tests.browser.web_survey import (
    BRAND,
    FORGED,
    REFUSED,
    TRIGGER,
    VISITOR,
    CustomerApp,
    Tab,
    answers_of,
    attributes_of,
    contact_id_of,
    events_of,
    identify,
    on_load,
    quiet,
    reply_to,
    responses_of,
    score,
    signed_in,
    surveys_of,
    tracked,
    wait_until,
    widget,
)

#: What the server records of a web survey is checked on both databases in-process
#: (tests/web/test_web_survey_api.py); here the journey in the browser, once, on SQLite.
pytestmark = [pytest.mark.browser, pytest.mark.one_database(reason="the web survey journey")]
QUESTION = words("en", BRAND)["question"]


def test_answer_recorded_on_the_web_channel(tab: Tab, app: CustomerApp, backend: str) -> None:
    traits = {"email": "someone@example.com", "plan": "pro"}
    url = app.publish("app", signed_in(app.web, VISITOR, traits))
    with tab.page.expect_response(reply_to("survey")) as asked:
        tab.page.goto(url)
    token = asked.value.json()["survey"]["token"]
    card = widget(tab.page)
    expect(card).to_be_visible()
    expect(card).to_have_accessible_name(QUESTION)
    assert tab.bodies("identify") == [
        {"site_key": app.web.site_key, "user_id": VISITOR, "signature": app.web.sign(VISITOR),
         "url": url, "traits": traits}
    ]  # fmt: skip
    assert tab.bodies("survey")[0]["languages"]
    # The page describes its user; it does not re-address the survey emails.
    assert attributes_of(app.database, VISITOR) == {"plan": "pro"}
    score(tab.page, 3).click()
    expect(card.get_by_role("status")).to_have_text(ENGLISH["saved"])
    assert tab.paths() == [
        "identify", "track", "survey", f"surveys/{token}/shown", f"surveys/{token}/answer"
    ]  # fmt: skip
    assert [r["score"] for r in responses_of(app.database, VISITOR)] == [3]

    # A detractor is asked the detractors' questions, not the promoters'.
    expect(card.get_by_text("What should we fix first?")).to_be_visible()
    expect(card.get_by_text("How easy was setup?")).to_be_hidden()
    card.get_by_role("button", name=ENGLISH["send"]).click()
    expect(card.get_by_text(ENGLISH["answer_required"])).to_be_visible()  # "why" is required
    card.get_by_label("Support").check()
    card.get_by_label("Docs").check()
    card.get_by_label(ENGLISH["comment_prompt"]).fill("The export")
    assert violations(tab.page) == []
    screenshot(tab.page, backend, "web-survey-answering")
    card.get_by_role("button", name=ENGLISH["send"]).click()
    expect(card.get_by_text(ENGLISH["thanks"])).to_be_visible()
    (response,) = responses_of(app.database, VISITOR)
    assert (response["score"], response["comment"]) == (3, "The export")
    assert response["channel"] == "web"
    assert response["page_url"] == url
    assert answers_of(app.database, response["id"]) == {"why": ["Support"], "fix": ["Docs"]}
    (survey,) = surveys_of(app.database, VISITOR)
    assert (survey["channel"], survey["campaign_id"]) == ("web", app.web.campaign_id)

    card.get_by_role("button", name=ENGLISH["close"]).click()
    expect(widget(tab.page)).to_have_count(0)
    assert f"surveys/{token}/dismiss" not in tab.paths()  # answered: closed, not dismissed
    assert surveys_of(app.database, VISITOR)[0]["dismissed_at"] is None
    tab.check_clean()


@pytest.mark.parametrize("signature", [None, "not-hex", "abc"])
def test_nothing_is_sent_or_recorded_without_a_signature(
    tab: Tab, app: CustomerApp, signature: str | None
) -> None:
    script = identify(VISITOR, signature, {"plan": "pro"}) + f"promoter('track', {TRIGGER!r});"
    tab.page.goto(app.publish("app", script))
    quiet(tab.page)
    assert tab.calls == []
    expect(widget(tab.page)).to_have_count(0)
    assert surveys_of(app.database, VISITOR) == []
    assert events_of(app.database, VISITOR) == []
    assert attributes_of(app.database, VISITOR) == {}
    tab.check_clean()


def test_a_forged_signature_is_refused_quietly(tab: Tab, app: CustomerApp) -> None:
    """The widget cannot tell a forged signature: it sends it, the server refuses every
    call (403) and records nothing, and the page shows nothing and no error but the
    refused requests'."""
    script = identify(VISITOR, FORGED, {"plan": "pro"}) + f"promoter('track', {TRIGGER!r});"
    with tab.page.expect_response(reply_to("survey")) as asked:
        tab.page.goto(app.publish("forged", script))
    assert asked.value.status == 403
    assert tab.paths() == ["identify", "track", "survey"]
    wait_until(tab.page, lambda: len(tab.statuses) == 3)
    assert {status for _, status in tab.statuses} == {403}
    expect(widget(tab.page)).to_have_count(0)
    assert surveys_of(app.database, VISITOR) == []
    assert events_of(app.database, VISITOR) == []
    assert attributes_of(app.database, VISITOR) == {}
    tab.check_clean(allowed_errors=REFUSED)


def test_escape_dismisses_gives_the_focus_back_and_is_recorded(tab: Tab, app: CustomerApp) -> None:
    url = app.publish("app", signed_in(app.web, VISITOR))
    with tab.page.expect_response(reply_to("survey")) as asked:
        tab.page.goto(url)
    token = asked.value.json()["survey"]["token"]
    expect(widget(tab.page)).to_be_visible()
    # The page's focus was on nothing: the widget takes it, on its first score.
    active = "() => document.activeElement.shadowRoot.activeElement.textContent"
    assert tab.page.evaluate(active) == "0"
    assert "identify" not in tab.paths()  # no traits: no identify call
    tab.page.keyboard.press("Escape")
    expect(widget(tab.page)).to_have_count(0)
    assert tab.page.evaluate("() => document.activeElement === document.body")
    wait_until(tab.page, lambda: surveys_of(app.database, VISITOR)[0]["status"] == "dismissed")
    assert tab.bodies(f"surveys/{token}/dismiss")[0]["user_id"] == VISITOR
    assert f"surveys/{token}/answer" not in tab.paths()
    # One survey a page view: asking again sends nothing.
    tab.page.evaluate("() => { promoter('show'); return new Promise((r) => setTimeout(r)); }")
    assert tab.paths().count("survey") == 1

    # Dismissed: not shown on the next page either.
    with tab.page.expect_response(reply_to("survey")) as asked:
        tab.page.goto(url)
    assert asked.value.json() == {"survey": None}
    expect(widget(tab.page)).to_have_count(0)
    assert responses_of(app.database, VISITOR) == []
    assert surveys_of(app.database, VISITOR)[0]["dismissed_at"] is not None
    tab.check_clean()


def test_keyboard_only(tab: Tab, app: CustomerApp) -> None:
    """Arrows choose the score (saved once they rest), Tab reaches the comment, the
    questions and Send; Escape then closes without dismissing."""
    tab.page.goto(app.publish("app", signed_in(app.web, VISITOR)))
    expect(widget(tab.page)).to_be_visible()
    keys = tab.page.keyboard
    for _ in range(9):
        keys.press("ArrowRight")
    expect(score(tab.page, 9)).to_have_attribute("aria-checked", "true")
    expect(score(tab.page, 9)).to_be_focused()
    keys.press("ArrowLeft")  # 8: a passive
    expect(score(tab.page, 8)).to_have_attribute("aria-checked", "true")
    expect(widget(tab.page).get_by_role("status")).to_have_text(ENGLISH["saved"])
    (token,) = {c.path.split("/")[1] for c in tab.calls if c.path.startswith("surveys/")}
    saved = [b["score"] for b in tab.bodies(f"surveys/{token}/answer")]
    assert saved[-1] == 8
    assert len(saved) < 9, "the arrows' every step was saved"
    assert [r["score"] for r in responses_of(app.database, VISITOR)] == [8]
    keys.press("Tab")
    expect(widget(tab.page).get_by_label(ENGLISH["comment_prompt"])).to_be_focused()
    keys.type("Faster exports")
    keys.press("Tab")
    keys.press("ArrowDown")  # the first choice's radio group: Support
    keys.press("Tab")
    keys.type("No")
    keys.press("Tab")
    expect(widget(tab.page).get_by_role("button", name=ENGLISH["send"])).to_be_focused()
    keys.press("Enter")
    expect(widget(tab.page).get_by_text(ENGLISH["thanks"])).to_be_focused()
    last = tab.bodies(f"surveys/{token}/answer")[-1]
    assert last == {**last, "score": 8, "comment": "Faster exports",
                    "answers": {"why": ["Support"], "more": ["No"]}}  # fmt: skip
    (response,) = responses_of(app.database, VISITOR)
    assert (response["score"], response["comment"]) == (8, "Faster exports")
    assert answers_of(app.database, response["id"]) == {"why": ["Support"], "more": ["No"]}
    keys.press("Escape")
    expect(widget(tab.page)).to_have_count(0)
    assert f"surveys/{token}/dismiss" not in tab.paths()
    assert surveys_of(app.database, VISITOR)[0]["status"] == "answered"
    tab.check_clean()


def test_a_contact_surveyed_by_email_is_not_shown_the_web_survey(
    tab: Tab, app: CustomerApp
) -> None:
    with app.database.write() as conn:
        contact_id = contact_id_of(conn, VISITOR)
        send_survey(conn, app.org.id, contact_id, app.web.email_campaign_id, datetime.now(UTC))
    with tab.page.expect_response(reply_to("survey")) as asked:
        tab.page.goto(app.publish("app", signed_in(app.web, VISITOR)))
    assert asked.value.json() == {"survey": None}
    expect(widget(tab.page)).to_have_count(0)
    assert [s["channel"] for s in surveys_of(app.database, VISITOR)] == ["email"]
    tab.check_clean()


def test_identity_from_segment_analytics_js(tab: Tab, app: CustomerApp) -> None:
    """analytics.identify with the signature in integrations.Promoter shows the survey and
    forwards the traits; analytics.track is forwarded; analytics.reset takes it away."""
    script = on_load(
        f"analytics.identify('{VISITOR}', {{plan: 'pro'}},"
        f" {{integrations: {{Promoter: {{signature: '{app.web.sign(VISITOR)}'}}}}}});\n"
        f"analytics.track({TRIGGER!r}, {{report: 'nps'}});\n"
    )
    tab.page.goto(app.publish("segment", script, segment=True))
    expect(widget(tab.page)).to_be_visible()
    assert [s["channel"] for s in surveys_of(app.database, VISITOR)] == ["web"]
    assert tab.bodies("identify")[0]["traits"] == {"plan": "pro"}
    assert attributes_of(app.database, VISITOR) == {"plan": "pro"}
    (event,) = events_of(app.database, VISITOR)
    assert (event["name"], event["properties"]) == (TRIGGER, {"report": "nps"})
    wait_until(
        tab.page, lambda: {c["type"] for c in app.customer.segment_calls()} >= {"identify", "track"}
    )
    tab.page.evaluate("() => analytics.reset()")
    expect(widget(tab.page)).to_have_count(0)
    tab.check_clean()


def test_analytics_js_remembers_the_visitor_on_the_next_page(tab: Tab, app: CustomerApp) -> None:
    """On a later page, analytics.js knows the user and promoter('signature') signs for
    them: the survey the customer's server triggered meanwhile is shown."""
    signature = app.web.sign(VISITOR)
    script = on_load(
        f"analytics.identify('{VISITOR}', {{}},"
        f" {{integrations: {{Promoter: {{signature: '{signature}'}}}}}});\n"
    )
    with tab.page.expect_response(reply_to("survey")) as asked:
        tab.page.goto(app.publish("segment", script, segment=True))
    assert asked.value.json() == {"survey": None}  # nothing triggered yet
    tracked(app.site, app.org, VISITOR)
    del tab.calls[:]
    script = f"promoter('signature', '{signature}');\n"
    with tab.page.expect_response(reply_to("survey")) as asked:
        tab.page.goto(app.publish("segment-again", script, segment=True))
    assert asked.value.json()["survey"] is not None
    expect(widget(tab.page)).to_be_visible()
    assert tab.paths()[0] == "survey"
    assert tab.bodies("survey")[0]["user_id"] == VISITOR
    wait_until(tab.page, lambda: surveys_of(app.database, VISITOR)[0]["shown_at"] is not None)
    assert [s["channel"] for s in surveys_of(app.database, VISITOR)] == ["web"]
    tab.page.evaluate("() => analytics.reset()")
    expect(widget(tab.page)).to_have_count(0)
    tab.check_clean()


def test_segment_identify_without_a_signature_sends_nothing(tab: Tab, app: CustomerApp) -> None:
    # The page's own listeners come after the widget's: once they have heard both calls,
    # the widget has handled them.
    script = on_load(
        "window.heard = [];\n"
        "analytics.on('identify', () => heard.push('identify'));\n"
        "analytics.on('track', () => heard.push('track'));\n"
        f"analytics.identify('{VISITOR}', {{plan: 'pro'}});\n"
        f"analytics.track({TRIGGER!r});\n"
    )
    tab.page.goto(app.publish("segment", script, segment=True))
    tab.page.wait_for_function("() => window.heard && heard.length === 2")
    tab.page.evaluate("() => new Promise((r) => setTimeout(r))")  # a survey check's turn
    wait_until(
        tab.page, lambda: {c["type"] for c in app.customer.segment_calls()} >= {"identify", "track"}
    )
    assert tab.calls == []
    expect(widget(tab.page)).to_have_count(0)
    assert surveys_of(app.database, VISITOR) == []
    assert events_of(app.database, VISITOR) == []
    assert attributes_of(app.database, VISITOR) == {}
    tab.check_clean()
