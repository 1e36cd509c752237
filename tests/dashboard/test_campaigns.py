"""The campaigns pages: list, create, edit every setting and the email template, pause and
resume, preview; validation keeps the input; other organizations' campaigns stay unseen."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, update

from promoter.campaigns import service
from promoter.campaigns.models import Campaign, CampaignSettings, EmailTemplate, TemplateSettings
from promoter.storage.engine import Database
from promoter.storage.tables import contact_lists, surveys
from tests.analytics.dataset import answer_survey, send_survey
from tests.conftest import make_org
from tests.dashboard.campaign_form import add_campaign, every_setting, load, status_of
from tests.dashboard.campaign_form import add_contact as contact
from tests.dashboard.conftest import Browser

SENT = re.compile(
    r'data-campaign="(\d+)".*?data-testid="sent">([^<]+)<.*?'
    r'data-testid="responses">([^<]+)<.*?data-testid="nps">([^<]+)<',
    re.S,
)


def campaigns_of(database: Database, org_id: int) -> list[Campaign]:
    with database.read() as conn:
        return service.list_campaigns(conn, organization_id=org_id)


def add_list(database: Database, org_id: int, name: str = "Customers") -> int:
    with database.write() as conn:
        return int(
            conn.execute(
                insert(contact_lists)
                .values(
                    organization_id=org_id,
                    name=name,
                    is_segment=False,
                    created_at=datetime.now(UTC),
                )
                .returning(contact_lists.c.id)
            ).scalar_one()
        )


CAMPAIGN_KEYS = [
    "name",
    "kind",
    "status",
    "channel",
    "trigger_events",
    "delay_minutes",
    "throttle_days",
    "weekdays_only",
    "send_window_start",
    "send_window_end",
    "reminder_days",
    "forward_email",
    "contact_list_id",
]


def assert_every_setting(campaign: Campaign, template: EmailTemplate, list_id: int) -> None:
    assert campaign.name == "Onboarding <b>NPS</b>"
    assert campaign.kind == "segment" and campaign.status == "paused"
    assert campaign.channel == "both"
    assert campaign.trigger_events == ["Signed Up", "Order Completed"]
    assert campaign.delay_minutes == 120 and campaign.throttle_days == 30
    assert campaign.weekdays_only is True
    assert (campaign.send_window_start, campaign.send_window_end) == (9, 17)
    assert campaign.reminder_days == 5
    assert campaign.forward_email == "feedback@acme.example.com"
    assert campaign.contact_list_id == list_id
    assert template.subject == "A quick question about <Acme>"
    assert template.from_name == "Ana from Acme"
    assert template.reply_to == "ana@acme.example.com"
    assert template.intro_message == "Thanks for signing up & welcome."
    assert template.brand_name == "Acme Shop"
    assert template.language == "fr"
    assert template.logo_url == "https://acme.example.com/logo.png"


# The list ---------------------------------------------------------------------------


def test_list_shows_campaigns_with_their_counts(browser: Browser, database: Database) -> None:
    org = browser.org.id
    (default,) = campaigns_of(database, org)
    second = add_campaign(database, org, "<script>alert(1)</script>")
    at = datetime.now(UTC) - timedelta(days=1)
    people = [contact(database, org, f"u{i}") for i in range(4)]
    with database.write() as conn:
        for person, score in zip(people, [10, 9, 0], strict=False):
            answer_survey(conn, org, person, second.id, score, at)
        send_survey(conn, org, people[3], second.id, at)
    page = browser.client.get("/campaigns")
    assert status_of(page) == 200
    text = page.text
    assert "Segment campaign" in text and "any track event" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>alert" not in text
    assert "<code>Order Completed</code>" in text and "once per 90 days" in text
    assert "Segment List" in text and 'class="badge status-active"' in text
    rows = {int(m[0]): m[1:] for m in SENT.findall(text)}
    assert rows[default.id] == ("0", "0", "\u2013")
    assert rows[second.id] == ("4", "3", "+33")
    assert f'href="/campaigns/{second.id}"' in text and 'href="/campaigns/new"' in text
    assert 'href="/static/campaigns.css"' in text
    assert "style=" not in text and "<script>" not in text


def test_other_organizations_campaigns_are_not_listed(browser: Browser, database: Database) -> None:
    other = make_org(database, "Other")
    add_campaign(database, other.id, "Their secret campaign")
    page = browser.client.get("/campaigns")
    assert "Their secret campaign" not in page.text


# Creating ---------------------------------------------------------------------------


def test_create_with_every_setting(browser: Browser, database: Database) -> None:
    org = browser.org.id
    form = browser.client.get("/campaigns/new")
    assert status_of(form) == 200 and 'action="/campaigns"' in form.text
    for name in [*CAMPAIGN_KEYS, *TemplateSettings.model_fields]:
        # Every field has a label (each of a radio group's choices its own).
        assert f'for="{name}"' in form.text or f'for="{name}-' in form.text, name
    list_id = add_list(database, org)
    created = browser.post("/campaigns", every_setting(list_id))
    assert status_of(created) == 303
    location = created.headers["location"]  # type: ignore[attr-defined]
    match = re.fullmatch(r"/campaigns/(\d+)\?done=campaign-created", location)
    assert match
    campaign, template = load(database, org, int(match.group(1)))
    assert_every_setting(campaign, template, list_id)
    assert template.name == campaign.name
    page = browser.client.get(location)
    assert "Campaign created." in page.text
    assert "Onboarding &lt;b&gt;NPS&lt;/b&gt;" in page.text and "<b>NPS" not in page.text


def test_create_with_only_the_required_fields(browser: Browser, database: Database) -> None:
    created = browser.post(
        "/campaigns",
        {
            "name": "Plain",
            "delay_minutes": "0",
            "throttle_days": "90",
            "subject": "Hi",
            "from_name": "Acme",
            "brand_name": "Acme",
        },
    )
    assert status_of(created) == 303
    plain = next(c for c in campaigns_of(database, browser.org.id) if c.name == "Plain")
    assert plain.trigger_events == [] and plain.status == "active" and plain.kind == "segment"
    assert plain.reminder_days is None and plain.send_window_start is None
    assert plain.weekdays_only is False and plain.forward_email is None
    _, template = load(database, browser.org.id, plain.id)
    assert template.reply_to is None and template.logo_url is None and template.language == "en"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"throttle_days": "-1"}, "throttle_days", "Must be 1 or more."),
        ({"throttle_days": "lots"}, "throttle_days", "Enter a whole number."),
        ({"delay_minutes": "99999999"}, "delay_minutes", "Must be 43200 or less."),
        ({"name": "   "}, "name", "Required."),
        ({"kind": "robot"}, "kind", "Choose &#39;segment&#39; or &#39;manual&#39;."),
        ({"status": "deleted"}, "status", "Choose"),
        ({"forward_email": "not-an-email"}, "forward_email", "Not a valid email address"),
        ({"reply_to": "ana@"}, "reply_to", "Not a valid email address"),
        ({"logo_url": "javascript:alert(1)"}, "logo_url", "Must start with http://"),
        ({"language": "xx"}, "language", "Choose"),
        ({"subject": ""}, "subject", "Required."),
        ({"reminder_days": "4"}, "reminder_days", "A reminder goes after 3, 5 or 7 days"),
        (
            {"send_window_start": "17", "send_window_end": "9"},
            "send_window",
            "The send window must start before it ends.",
        ),
        (
            {"send_window_start": "9", "send_window_end": ""},
            "send_window",
            "A send window needs both a start and an end hour.",
        ),
        ({"contact_list_id": "999999"}, "contact_list_id", "There is no such list."),
        ({"contact_list_id": "x"}, "contact_list_id", "Choose one of the lists."),
    ],
)
def test_invalid_input_is_explained_and_nothing_is_created(
    browser: Browser, database: Database, changes: dict[str, str], field: str, message: str
) -> None:
    org = browser.org.id
    before = campaigns_of(database, org)
    form = every_setting(add_list(database, org)) | changes
    page = browser.post("/campaigns", form)
    assert status_of(page) == 400
    text = page.text  # type: ignore[attr-defined]
    assert f'id="{field}-error">' in text
    assert message in text
    assert campaigns_of(database, org) == before
    # What the user typed is still there.
    assert 'value="Ana from Acme"' in text and ">Thanks for signing up &amp; welcome.<" in text
    assert "Signed Up\r\nOrder Completed" in text or "Signed Up\nOrder Completed" in text
    if field not in {"send_window", "contact_list_id", "kind", "status", "language"}:
        kept = html.escape(str(changes[field]), quote=True)
        assert f'value="{kept}"' in text or f">{kept}</textarea>" in text


def test_several_problems_are_all_shown(browser: Browser, database: Database) -> None:
    page = browser.post(
        "/campaigns",
        every_setting(add_list(database, browser.org.id))
        | {"name": "", "throttle_days": "0", "reply_to": "x"},
    )
    assert status_of(page) == 400
    text = page.text  # type: ignore[attr-defined]
    for field in ("name", "throttle_days", "reply_to"):
        assert f'id="{field}-error"' in text and f'href="#{field}"' in text
    assert 'aria-invalid="true"' in text and 'role="alert"' in text


# Editing ----------------------------------------------------------------------------


def test_edit_page_is_prefilled(browser: Browser, database: Database) -> None:
    campaign = add_campaign(database, browser.org.id)
    page = browser.client.get(f"/campaigns/{campaign.id}")
    assert status_of(page) == 200
    text = page.text
    assert 'value="Post-purchase"' in text and ">Order Completed</textarea>" in text
    assert 'value="How was your order?"' in text and 'value="Acme Shop"' in text
    assert '<option value="segment" selected>' in text
    assert f'action="/campaigns/{campaign.id}/template"' in text
    assert f'action="/campaigns/{campaign.id}/pause"' in text
    assert f'href="/campaigns/{campaign.id}/preview"' in text


def test_edit_every_setting(browser: Browser, database: Database) -> None:
    org = browser.org.id
    campaign = add_campaign(database, org)
    list_id = add_list(database, org)
    form = every_setting(list_id)
    settings = {k: v for k, v in form.items() if k in CAMPAIGN_KEYS}
    saved = browser.post(f"/campaigns/{campaign.id}", settings)
    assert status_of(saved) == 303
    location = saved.headers["location"]  # type: ignore[attr-defined]
    assert location == f"/campaigns/{campaign.id}?done=campaign-saved"
    assert "Campaign saved." in browser.client.get(location).text
    template_form = {k: v for k, v in form.items() if k not in CAMPAIGN_KEYS}
    saved = browser.post(f"/campaigns/{campaign.id}/template", template_form)
    assert status_of(saved) == 303
    assert "done=template-saved" in saved.headers["location"]  # type: ignore[attr-defined]
    updated, template = load(database, org, campaign.id)
    assert_every_setting(updated, template, list_id)
    # And back: unchecking, emptying the optional settings, any event.
    saved = browser.post(
        f"/campaigns/{campaign.id}",
        settings
        | {
            "trigger_events": "",
            "send_window_start": "",
            "send_window_end": "",
            "reminder_days": "",
            "forward_email": "",
            "status": "active",
            "kind": "manual",
            "channel": "email",
            "weekdays_only": None,
        },
    )
    assert status_of(saved) == 303
    saved = browser.post(
        f"/campaigns/{campaign.id}/template", template_form | {"reply_to": "", "logo_url": ""}
    )
    assert status_of(saved) == 303
    updated, template = load(database, org, campaign.id)
    assert updated.trigger_events == [] and updated.kind == "manual"
    assert updated.channel == "email"
    assert updated.status == "active" and updated.weekdays_only is False
    assert updated.send_window_start is None and updated.send_window_end is None
    assert updated.reminder_days is None and updated.forward_email is None
    assert template.reply_to is None and template.logo_url is None


@pytest.mark.one_database(reason="what the form refuses does not depend on the database")
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"throttle_days": "-1"}, "throttle_days", "Must be 1 or more."),
        ({"name": ""}, "name", "Required."),
        ({"kind": "robot"}, "kind", "Choose"),
        ({"forward_email": "nobody@"}, "forward_email", "Not a valid email address"),
        (
            {"send_window_start": "10", "send_window_end": "10"},
            "send_window",
            "must start before it ends",
        ),
    ],
)
def test_invalid_edit_changes_nothing(
    browser: Browser, database: Database, changes: dict[str, str], field: str, message: str
) -> None:
    org = browser.org.id
    campaign = add_campaign(database, org)
    before = load(database, org, campaign.id)
    form = {k: v for k, v in every_setting(add_list(database, org)).items() if k in CAMPAIGN_KEYS}
    page = browser.post(f"/campaigns/{campaign.id}", form | changes)
    assert status_of(page) == 400
    text = page.text  # type: ignore[attr-defined]
    assert f'id="{field}-error">' in text and message in text
    assert 'value="Onboarding &lt;b&gt;NPS&lt;/b&gt;"' in text or field == "name"
    assert load(database, org, campaign.id) == before


@pytest.mark.one_database(reason="what the form refuses does not depend on the database")
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"reply_to": "not an email"}, "reply_to", "Not a valid email address"),
        ({"subject": " "}, "subject", "Required."),
        ({"brand_name": ""}, "brand_name", "Required."),
        ({"logo_url": "ftp://x"}, "logo_url", "Must start with http://"),
        ({"language": "tlh"}, "language", "Choose"),
        ({"intro_message": "x" * 5001}, "intro_message", "At most 5000 characters."),
    ],
)
def test_invalid_template_changes_nothing(
    browser: Browser, database: Database, changes: dict[str, str], field: str, message: str
) -> None:
    org = browser.org.id
    campaign = add_campaign(database, org)
    before = load(database, org, campaign.id)
    form = {k: v for k, v in every_setting(0).items() if k not in CAMPAIGN_KEYS}
    page = browser.post(f"/campaigns/{campaign.id}/template", form | changes)
    assert status_of(page) == 400
    text = page.text  # type: ignore[attr-defined]
    assert f'id="{field}-error">' in text and message in text
    assert 'value="Ana from Acme"' in text  # the input is kept
    assert 'value="Post-purchase"' in text  # the settings form shows the stored campaign
    assert load(database, org, campaign.id) == before


def test_shared_template_is_pointed_out(browser: Browser, database: Database) -> None:
    org = browser.org.id
    (default,) = campaigns_of(database, org)
    with database.write() as conn:
        other = service.create_campaign(
            conn,
            organization_id=org,
            settings=CampaignSettings(name="Also uses it", kind="manual"),
            template_id=default.email_template_id,
        )
    page = browser.client.get(f"/campaigns/{default.id}")
    assert "This template is also sent by" in page.text
    assert f'<a href="/campaigns/{other.id}">Also uses it</a>' in page.text


# Pausing ----------------------------------------------------------------------------


def test_pause_and_resume(browser: Browser, database: Database) -> None:
    org = browser.org.id
    campaign = add_campaign(database, org)
    paused = browser.post(f"/campaigns/{campaign.id}/pause")
    assert status_of(paused) == 303
    location = paused.headers["location"]  # type: ignore[attr-defined]
    assert location == f"/campaigns/{campaign.id}?done=campaign-paused"
    assert load(database, org, campaign.id)[0].status == "paused"
    page = browser.client.get(location)
    assert "Campaign paused." in page.text and f"/campaigns/{campaign.id}/resume" in page.text
    resumed = browser.post(f"/campaigns/{campaign.id}/resume", {"return": "list"})
    assert status_of(resumed) == 303
    location = resumed.headers["location"]  # type: ignore[attr-defined]
    assert location == "/campaigns?done=campaign-resumed"
    assert load(database, org, campaign.id)[0].status == "active"
    assert "Campaign resumed." in browser.client.get(location).text


# Preview ----------------------------------------------------------------------------


def test_preview_shows_subject_and_score_links(browser: Browser, database: Database) -> None:
    campaign = add_campaign(database, browser.org.id)
    with database.write() as conn:
        service.update_template(
            conn,
            organization_id=browser.org.id,
            template_id=campaign.email_template_id,
            changes={"intro_message": "<img src=x onerror=alert(1)>", "reply_to": "a@acme.io"},
        )
    page = browser.client.get(f"/campaigns/{campaign.id}/preview")
    assert status_of(page) == 200
    text = page.text
    assert 'data-testid="subject">How was your order?<' in text
    assert "Acme" in text and "a@acme.io" in text and "alex@example.com" in text
    assert "How likely are you to recommend Acme Shop" in text
    for score in range(11):
        assert re.search(rf"{score}: http://testserver/s/[^/\s]+/{score}\n", text), score
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "<img src=x" not in text
    assert (
        f'<iframe class="email-frame" sandbox src="/campaigns/{campaign.id}/preview/email"' in text
    )
    assert page.headers["content-security-policy"].startswith("default-src 'self'")

    email = browser.client.get(f"/campaigns/{campaign.id}/preview/email")
    assert status_of(email) == 200
    csp = email.headers["content-security-policy"]
    assert csp.startswith("default-src 'none'") and "frame-ancestors 'self'" in csp
    assert "script-src" not in csp and email.headers["x-frame-options"] == "SAMEORIGIN"
    assert "<title>How was your order?</title>" in email.text
    assert len(re.findall(r'href="http://testserver/s/[^"]+/\d+"', email.text)) == 11
    assert "<img src=x" not in email.text

    reminder = browser.client.get(f"/campaigns/{campaign.id}/preview", params={"reminder": "1"})
    assert 'data-testid="subject">Reminder: How was your order?<' in reminder.text


def test_preview_in_the_templates_language(browser: Browser, database: Database) -> None:
    (default,) = campaigns_of(database, browser.org.id)
    with database.write() as conn:
        service.update_template(
            conn,
            organization_id=browser.org.id,
            template_id=default.email_template_id,
            changes={"language": "de", "subject": "Eine Frage, kurz und gut"},
        )
    page = browser.client.get(f"/campaigns/{default.id}/preview")
    assert "Eine Frage, kurz und gut" in page.text and "Deutsch" in page.text
    assert "Wie wahrscheinlich" in page.text


# Who may do what --------------------------------------------------------------------


def post_routes(campaign_id: int) -> list[str]:
    return [
        "/campaigns",
        f"/campaigns/{campaign_id}",
        f"/campaigns/{campaign_id}/template",
        f"/campaigns/{campaign_id}/pause",
        f"/campaigns/{campaign_id}/resume",
    ]


def test_posts_need_the_csrf_token(browser: Browser, database: Database) -> None:
    org = browser.org.id
    campaign = add_campaign(database, org)
    before = campaigns_of(database, org), load(database, org, campaign.id)
    form = every_setting(add_list(database, org))
    for url in post_routes(campaign.id):
        for token in (None, "wrong", ""):
            data = dict(form) if token is None else {**form, "csrf": token}
            response = browser.client.post(url, data=data, follow_redirects=False)
            assert response.status_code == 403, (url, token)
            assert "Form refused" in response.text
    assert (campaigns_of(database, org), load(database, org, campaign.id)) == before


def test_another_organizations_campaign_is_not_found(browser: Browser, database: Database) -> None:
    other = make_org(database, "Other")
    theirs = add_campaign(database, other.id, "Their secret campaign")
    before = load(database, other.id, theirs.id)
    form = every_setting(add_list(database, browser.org.id))
    for url in (
        f"/campaigns/{theirs.id}",
        f"/campaigns/{theirs.id}/preview",
        f"/campaigns/{theirs.id}/preview/email",
        "/campaigns/987654",
        f"/campaigns/{2**40}",
    ):
        page = browser.client.get(url)
        assert page.status_code == 404, url
        assert "There is no such campaign." in page.text
        assert "Their secret campaign" not in page.text and "How was your order" not in page.text
    for url in post_routes(theirs.id)[1:]:
        response = browser.post(url, form)
        assert status_of(response) == 404, url
        assert "Their secret campaign" not in response.text  # type: ignore[attr-defined]
    assert load(database, other.id, theirs.id) == before


def test_another_organizations_list_cannot_be_chosen(browser: Browser, database: Database) -> None:
    other = make_org(database, "Other")
    their_list = add_list(database, other.id, "Their list")
    campaign = add_campaign(database, browser.org.id)
    form = every_setting(their_list)
    assert "Their list" not in browser.client.get("/campaigns/new").text
    created = browser.post("/campaigns", form)
    assert status_of(created) == 400
    assert "There is no such list." in created.text  # type: ignore[attr-defined]
    settings = {k: v for k, v in form.items() if k in CAMPAIGN_KEYS}
    saved = browser.post(f"/campaigns/{campaign.id}", settings)
    assert status_of(saved) == 400
    assert load(database, browser.org.id, campaign.id)[0].contact_list_id != their_list


def test_pages_need_a_session(app_client: TestClient, database: Database) -> None:
    for url in ("/campaigns", "/campaigns/new", "/campaigns/1", "/campaigns/1/preview"):
        response = app_client.get(url, follow_redirects=False)
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/login?next=")
    assert app_client.get("/campaigns", follow_redirects=False).headers["location"] == (
        "/login?next=%2Fcampaigns"
    )
    response = app_client.post("/campaigns/1/pause", data={}, follow_redirects=False)
    assert response.status_code == 401


def test_list_shows_sent_responses_and_rate_per_channel(
    browser: Browser, database: Database
) -> None:
    org = browser.org.id
    (default,) = campaigns_of(database, org)
    second = add_campaign(database, org, "Channels")
    at = datetime.now(UTC) - timedelta(days=1)
    people = [contact(database, org, f"c{i}") for i in range(6)]
    with database.write() as conn:
        answer_survey(conn, org, people[0], second.id, 10, at)
        answer_survey(conn, org, people[1], second.id, 9, at, channel="web")
        answer_survey(conn, org, people[2], second.id, 0, at, channel="link")
        send_survey(conn, org, people[3], second.id, at, channel="web")
        # Dismissed in the app; and emailed, then shown in the app as well.
        dismissed = send_survey(conn, org, people[4], second.id, at, channel="web")
        emailed = send_survey(conn, org, people[5], second.id, at)
        conn.execute(
            update(surveys)
            .where(surveys.c.token == dismissed)
            .values(status="dismissed", shown_at=at, dismissed_at=at)
        )
        conn.execute(update(surveys).where(surveys.c.token == emailed).values(shown_at=at))
    other = make_org(database, "Other")
    (theirs,) = campaigns_of(database, other.id)
    stranger = contact(database, other.id, "s")
    with database.write() as conn:
        answer_survey(conn, other.id, stranger, theirs.id, 5, at, channel="web")
    text = browser.client.get("/campaigns").text
    row = text.split(f'data-campaign="{second.id}"')[1].split("</tr>")[0]
    # In the app a survey is sent when it is shown: the emailed one shown there counts.
    assert '<li data-channel="email">email: 2 sent, 1 responses, 50%</li>' in row
    assert '<li data-channel="web">web: 4 shown, 1 responses, 25%, 1 dismissed</li>' in row
    assert '<li data-channel="link">link: 1 sent, 1 responses, 100%</li>' in row
    assert row.index('data-channel="email"') < row.index('data-channel="web"')
    mine = text.split(f'data-campaign="{default.id}"')[1].split("</tr>")[0]
    assert "data-channel" not in mine and "none yet" in mine
