"""Contacts pages: search and pagination, the profile, unsubscribing and (in)activating a
contact, another organization's contacts out of reach, and a sender's text escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from promoter.campaigns import service as campaigns
from promoter.contacts.lists import segment_list_id
from promoter.feedback.followup import add_tags
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, deliveries, events, surveys
from promoter.surveys.responses import find_survey, record_comment
from tests.analytics.dataset import answer_survey
from tests.conftest import Org, make_org
from tests.dashboard.conftest import Browser

LINK = re.compile(r'<a href="/contacts/(\d+)">')
XSS = "<script>alert(1)</script>"
ATTR = '"onmouseover="alert(1)'


def batch(client: TestClient, org: Org, *messages: dict[str, Any]) -> None:
    response = client.post("/v1/batch", json={"batch": list(messages), "writeKey": org.key})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(messages), response.text


def identify(user_id: str, email: str, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": user_id, "traits": {"email": email, **traits}}


def track(user_id: str, event: str, **extra: Any) -> dict[str, Any]:
    return {"type": "track", "userId": user_id, "event": event, **extra}


def contact_id(database: Database, org: Org, user_id: str) -> int:
    with database.read() as conn:
        found = conn.execute(
            select(contacts.c.id).where(
                contacts.c.organization_id == org.id, contacts.c.user_id == user_id
            )
        ).scalar_one()
    return int(found)


def status_of(database: Database, cid: int) -> str:
    with database.read() as conn:
        return str(conn.execute(select(contacts.c.status).where(contacts.c.id == cid)).scalar_one())


def post(browser: Browser, url: str) -> Any:
    """The response to a form posted with the session's CSRF token (not followed)."""
    return browser.post(url)


def listed(html: str) -> list[int]:
    return [int(i) for i in LINK.findall(html)]


def load_many(browser: Browser, n: int) -> None:
    batch(
        browser.client,
        browser.org,
        *[identify(f"acct-{i:03d}", f"person{i:03d}@example.com") for i in range(n)],
    )


# -- access ---------------------------------------------------------------------------------


def test_contacts_need_a_session(app_client: TestClient) -> None:
    for path in ("/contacts", "/contacts/1"):
        response = app_client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    response = app_client.post("/contacts/1/unsubscribe", data={}, follow_redirects=False)
    assert response.status_code == 401


# -- the list ---------------------------------------------------------------------------------


def test_list_is_newest_first_and_paginated(browser: Browser, database: Database) -> None:
    load_many(browser, 30)
    with database.read() as conn:
        ids = list(
            conn.execute(
                select(contacts.c.id)
                .where(contacts.c.organization_id == browser.org.id)
                .order_by(contacts.c.id.desc())
            ).scalars()
        )
    first = browser.client.get("/contacts")
    assert first.status_code == 200
    assert listed(first.text) == ids[:25]
    assert "30 contacts" in first.text and "Page 1 of 2" in first.text
    assert 'href="/contacts?page=2"' in first.text
    second = browser.client.get("/contacts", params={"page": 2})
    assert listed(second.text) == ids[25:]
    assert "Page 2 of 2" in second.text and 'href="/contacts?page=1"' in second.text
    beyond = browser.client.get("/contacts", params={"page": 7})
    assert beyond.status_code == 200 and listed(beyond.text) == []
    for bad in ("abc", "0", "-1", "99999999999999999999999", "1e3", "²"):
        page = browser.client.get("/contacts", params={"page": bad})
        assert page.status_code == 200 and listed(page.text) == ids[:25], bad


def test_search_by_email_user_id_list_and_status(browser: Browser, database: Database) -> None:
    load_many(browser, 30)
    client = browser.client

    def found(**params: Any) -> list[int]:
        page = client.get("/contacts", params=params)
        assert page.status_code == 200, page.text
        return listed(page.text)

    five = contact_id(database, browser.org, "acct-005")
    assert found(q="person005@example.com") == [five]
    assert found(q="PERSON005@") == [five]
    assert found(q="  acct-005 ") == [five]
    assert len(found(q="acct-01")) == 10
    assert found(q="nobody") == []
    assert "No contact matches this search." in client.get("/contacts", params={"q": "x%"}).text
    assert found(q="%") == [] and found(q="_") == []  # LIKE wildcards are plain text
    assert found(q="acct-005\x00") == [five]

    with database.read() as conn:
        list_id = segment_list_id(conn, organization_id=browser.org.id)
    assert len(found(list=list_id)) == 25
    assert found(list=list_id, q="acct-005") == [five]
    assert found(list=2**31 - 2) == []
    assert post(browser, f"/contacts/{five}/inactive").status_code == 303
    assert found(status="inactive") == [five]
    assert found(status="inactive", q="acct-006") == []
    assert len(found(status="active", q="acct-00")) == 9
    # Values that are no list, page or status are ignored, never a server error.
    for params in ({"list": "abc"}, {"list": "99999999999999"}, {"status": "bogus"}):
        assert len(found(**params)) == 25, params


def test_search_by_name(browser: Browser, database: Database) -> None:
    other = make_org(database, "Other")
    batch(
        browser.client,
        browser.org,
        identify("u1", "a1@example.com", firstName="Uma", lastName="Tester"),
        identify("u2", "a2@example.com", firstName="Zoë", lastName="Ångström"),
        identify("u3", "a3@example.com", firstName="Ulrich"),
        identify("u4", "a4@example.com", lastName="Umarov"),
        identify("u5", "a5@example.com"),
    )
    batch(
        browser.client,
        other,
        identify("o1", "o1@other.example", firstName="Uma", lastName="Tester"),
        identify("o2", "o2@other.example", firstName="Zoë", lastName="Ångström"),
    )
    uma, zoe, umarov = (contact_id(database, browser.org, u) for u in ("u1", "u2", "u4"))

    def found(text: str) -> set[int]:
        page = browser.client.get("/contacts", params={"q": text})
        assert page.status_code == 200, page.text
        return set(listed(page.text))

    assert found("uma") == {uma, umarov}
    assert found("Uma Tester") == found("uma tester") == found("A TES") == {uma}
    assert found("tester") == {uma}
    assert found("zoë") == found("ZOË") == found("ångström") == found("ÅNGSTRÖM") == {zoe}
    assert found("zoë ång") == {zoe}
    assert found("ulrich") == {contact_id(database, browser.org, "u3")}
    assert found("zoe") == set()  # no accent folding: the letters as typed
    assert found("a2@") == {zoe}  # with the email and userId, as before
    assert found("Tester Uma") == found("%") == set()


# -- the profile ------------------------------------------------------------------------------


def test_profile_shows_attributes_lists_surveys_responses_events_orders(
    browser: Browser, database: Database
) -> None:
    client, org = browser.client, browser.org
    now = datetime.now(UTC)
    batch(
        client,
        org,
        identify(
            "ana",
            "ana@example.com",
            firstName="Ana",
            lastName="Lima",
            plan="Premium",
            seats=12,
            trial=True,
            renewal="2026-03-01",
            labels=["vip", "beta"],
        ),
        *[
            track("ana", f"Viewed Page {i}", timestamp=(now - timedelta(days=30 - i)).isoformat())
            for i in range(22)
        ],
        track(
            "ana",
            "Order Completed",
            properties={"order_id": "ord-77", "total": 99.5, "currency": "EUR", "products": []},
        ),
    )
    cid = contact_id(database, org, "ana")
    with database.write() as conn:
        campaign = campaigns.list_campaigns(conn, organization_id=org.id)[0]
        token, response_id = answer_survey(
            conn, org.id, cid, campaign.id, 3, now - timedelta(days=40)
        )
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_comment(conn, survey, comment="Checkout keeps failing", now=now)
        add_tags(conn, organization_id=org.id, response_id=response_id, tags=["bug"], now=now)
        answer_survey(conn, org.id, cid, campaign.id, 10, now - timedelta(days=20))

    page = client.get(f"/contacts/{cid}")
    assert page.status_code == 200
    html = page.text
    # identity
    assert "Ana Lima" in html and "ana@example.com" in html and "<code>ana</code>" in html
    # attributes with their types
    attributes = html.split('data-testid="attributes"', 1)[1].split("</table>", 1)[0]
    for name, kind, text in [
        ("plan", "string", "Premium"),
        ("seats", "number", "12"),
        ("trial", "boolean", "true"),
        ("renewal", "date", "2026-03-01"),
        ("labels", "list", "[&#34;vip&#34;,&#34;beta&#34;]"),
    ]:
        assert re.search(
            rf"<code>{name}</code></th><td><span class=\"badge\">{kind}</span></td>"
            rf"<td class=\"value\">{re.escape(text)}</td>",
            attributes,
        ), name
    # lists
    assert "Segment List" in html.split('data-testid="lists"', 1)[1].split("</ul>", 1)[0]
    # surveys: two answered, and one scheduled by the order (a track event just now)
    survey_table = html.split('data-testid="surveys"', 1)[1].split("</table>", 1)[0]
    assert survey_table.count(">answered<") == 2
    assert survey_table.count(">scheduled<") == 1
    assert "survey: pending" in survey_table
    assert campaign.name in survey_table
    # responses, with the colour of their type, comments and tags, and the chart
    answers = html.split('data-testid="responses"', 1)[1].split("</table>", 1)[0]
    assert '<span class="score detractor-bg" title="detractor">3</span>' in answers
    assert '<span class="score promoter-bg" title="promoter">10</span>' in answers
    assert answers.index(">10<") < answers.index(">3<")  # newest first
    assert "Checkout keeps failing" in answers and '<span class="chip">bug</span>' in answers
    assert '<svg class="chart scores"' in html
    assert 'class="bar-detractor"' in html and 'class="bar-promoter"' in html
    # the newest 20 of 23 events, with a note; the order
    event_table = html.split('data-testid="events"', 1)[1].split("</table>", 1)[0]
    assert event_table.count("<tr>") == 1 + 20
    assert "Order Completed" in event_table and "Viewed Page 21" in event_table
    assert "Viewed Page 1<" not in event_table  # among the oldest, not shown
    assert "&#34;order_id&#34;:&#34;ord-77&#34;" in event_table
    assert "3 older events not shown" in html
    orders = html.split('data-testid="orders"', 1)[1].split("</table>", 1)[0]
    assert "<code>ord-77</code>" in orders and "99.50" in orders and "EUR" in orders
    assert 'data-testid="orders-more"' not in html


def test_profile_of_a_bare_contact(browser: Browser, database: Database) -> None:
    batch(browser.client, browser.org, identify("solo", "solo@example.com"))
    page = browser.client.get(f"/contacts/{contact_id(database, browser.org, 'solo')}")
    assert page.status_code == 200
    for text in ("No attributes.", "No responses yet.", "No surveys sent yet.", "No events."):
        assert text in page.text
    assert '<svg class="chart scores"' not in page.text


def test_bad_ids_are_not_found(browser: Browser) -> None:
    for bad in (
        "abc",
        "0",
        "-1",
        "1.5",
        "99999999999999999999999",
        "9223372036854775808",
        "%C2%B2",
    ):
        page = browser.client.get(f"/contacts/{bad}")
        assert page.status_code == 404, bad
        assert "Contact not found" in page.text
        assert post(browser, f"/contacts/{bad}/unsubscribe").status_code == 404
    assert browser.client.get("/contacts/9223372036854775807").status_code == 404
    assert post(browser, "/contacts/1/explode").status_code == 404


# -- actions ----------------------------------------------------------------------------------


def test_unsubscribe_stops_surveys(browser: Browser, database: Database) -> None:
    client, org = browser.client, browser.org
    batch(client, org, identify("bo", "bo@example.com"), track("bo", "Logged In"))
    cid = contact_id(database, org, "bo")
    with database.read() as conn:
        before = conn.execute(select(surveys.c.status).where(surveys.c.contact_id == cid)).all()
    assert [r.status for r in before] == ["scheduled"]

    response = post(browser, f"/contacts/{cid}/unsubscribe")
    assert response.status_code == 303
    location = response.headers["location"]
    assert location == f"/contacts/{cid}?done=contact-unsubscribed"
    assert status_of(database, cid) == "unsubscribed"
    with database.read() as conn:
        survey_states = conn.execute(select(surveys.c.status)).scalars().all()
        delivery_states = conn.execute(select(deliveries.c.status)).scalars().all()
    assert survey_states == ["cancelled"] and delivery_states == ["cancelled"]

    page = client.get(location)
    assert "Contact unsubscribed: no more surveys will be sent." in page.text
    assert f'action="/contacts/{cid}/unsubscribe"' not in page.text
    assert f'action="/contacts/{cid}/active"' not in page.text

    # The next trigger is refused by the eligibility rules.
    batch(client, org, track("bo", "Logged In Again"))
    with database.read() as conn:
        note = conn.execute(
            select(events.c.trigger_note).where(events.c.name == "Logged In Again")
        ).scalar_one()
    assert note == "Segment campaign: contact is unsubscribed"
    # An unsubscribed contact is not made active (or inactive) here.
    for action in ("active", "inactive"):
        refused = post(browser, f"/contacts/{cid}/{action}")
        assert refused.status_code == 409
        assert status_of(database, cid) == "unsubscribed"
    again = post(browser, f"/contacts/{cid}/unsubscribe")
    assert again.status_code == 303
    assert status_of(database, cid) == "unsubscribed"


def test_mark_inactive_and_active(browser: Browser, database: Database) -> None:
    client, org = browser.client, browser.org
    batch(client, org, identify("cy", "cy@example.com"), track("cy", "Logged In"))
    cid = contact_id(database, org, "cy")
    page = client.get(f"/contacts/{cid}")
    assert 'data-confirm="Mark cy@example.com inactive?' in page.text
    assert 'data-confirm="Unsubscribe cy@example.com?' in page.text

    response = post(browser, f"/contacts/{cid}/inactive")
    assert response.status_code == 303
    assert response.headers["location"] == f"/contacts/{cid}?done=contact-inactive"
    assert status_of(database, cid) == "inactive"
    with database.read() as conn:
        assert conn.execute(select(surveys.c.status)).scalars().all() == ["cancelled"]
    batch(client, org, track("cy", "While Inactive"))
    with database.read() as conn:
        note = conn.execute(
            select(events.c.trigger_note).where(events.c.name == "While Inactive")
        ).scalar_one()
    assert note == "Segment campaign: contact is inactive"
    page = client.get(f"/contacts/{cid}?done=contact-inactive")
    assert "Contact marked inactive." in page.text
    assert f'action="/contacts/{cid}/active"' in page.text
    assert f'action="/contacts/{cid}/inactive"' not in page.text

    response = post(browser, f"/contacts/{cid}/active")
    assert response.headers["location"] == f"/contacts/{cid}?done=contact-active"
    assert status_of(database, cid) == "active"
    assert "Contact marked active." in client.get(f"/contacts/{cid}?done=contact-active").text
    batch(client, org, track("cy", "Back Again"))
    with database.read() as conn:
        note = conn.execute(
            select(events.c.trigger_note).where(events.c.name == "Back Again")
        ).scalar_one()
    assert note is not None and "survey scheduled" in note


def test_actions_need_the_csrf_token(browser: Browser, database: Database) -> None:
    batch(browser.client, browser.org, identify("dee", "dee@example.com"))
    cid = contact_id(database, browser.org, "dee")
    for action in ("unsubscribe", "inactive"):
        for data in ({}, {"csrf": "forged"}):
            refused = browser.client.post(
                f"/contacts/{cid}/{action}", data=data, follow_redirects=False
            )
            assert refused.status_code == 403
        assert status_of(database, cid) == "active"


# -- another organization ---------------------------------------------------------------------


def test_another_organizations_contact_is_out_of_reach(
    browser: Browser, database: Database
) -> None:
    other = make_org(database, "Other")
    batch(
        browser.client,
        other,
        identify("secret", "secret@other.example", plan="Hidden"),
        track("secret", "Private Event"),
    )
    batch(browser.client, browser.org, identify("mine", "mine@example.com"))
    theirs = contact_id(database, other, "secret")

    page = browser.client.get(f"/contacts/{theirs}")
    assert page.status_code == 404
    assert "secret@other.example" not in page.text and "Private Event" not in page.text
    for action in ("unsubscribe", "inactive", "active"):
        response = post(browser, f"/contacts/{theirs}/{action}")
        assert response.status_code == 404
        assert status_of(database, theirs) == "active"
    with database.read() as conn:
        assert conn.execute(select(surveys.c.status)).scalars().all() == ["scheduled"]

    listing = browser.client.get("/contacts", params={"q": "secret"})
    assert listed(listing.text) == []
    everyone = browser.client.get("/contacts")
    assert listed(everyone.text) == [contact_id(database, browser.org, "mine")]
    assert "secret@other.example" not in everyone.text


# -- a sender's text --------------------------------------------------------------------------


def test_a_senders_text_is_escaped(browser: Browser, database: Database) -> None:
    client, org = browser.client, browser.org
    batch(
        client,
        org,
        identify(
            "x<script>alert(1)</script>",
            "evil@example.com",
            firstName=XSS,
            lastName=ATTR,
            **{XSS: ATTR, ATTR: XSS},
        ),
        track(
            "x<script>alert(1)</script>",
            XSS,
            properties={XSS: ATTR, "order": ATTR},
        ),
    )
    cid = contact_id(database, org, "x<script>alert(1)</script>")
    with database.write() as conn:
        campaign = campaigns.list_campaigns(conn, organization_id=org.id)[0]
        token, response_id = answer_survey(
            conn, org.id, cid, campaign.id, 7, datetime.now(UTC) - timedelta(days=1)
        )
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_comment(conn, survey, comment=XSS + ATTR, now=datetime.now(UTC))
        add_tags(
            conn, organization_id=org.id, response_id=response_id, tags=[XSS], now=datetime.now(UTC)
        )

    for html in (
        client.get(f"/contacts/{cid}").text,
        client.get("/contacts").text,
        client.get("/contacts", params={"q": XSS}).text,
    ):
        assert "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert ATTR not in html
    profile = client.get(f"/contacts/{cid}").text
    assert "&#34;onmouseover=&#34;alert(1)" in profile
    assert f"<code>{XSS}</code>" not in profile
    assert listed(client.get("/contacts", params={"q": "x<script>"}).text) == [cid]
