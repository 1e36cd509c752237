"""Settings > Webhooks: create (the secret shown), enable, disable, delete, send a test, read
the deliveries with their answers and redeliver; the overview's notice when a webhook was
disabled for failing."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from promoter.config import Settings
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import webhook_deliveries
from promoter.webhooks.events import FEEDBACK_ADDED_OR_CHANGED, SURVEY_SENT, emit
from tests.conftest import Org, make_org
from tests.dashboard.conftest import Browser
from tests.dashboard.webhooks import events_of, status, subscribe, subscriptions
from tests.receiver import Receiver
from tests.webhooks import Clock, drive, run_once, sender

SECRET = re.compile(r'data-testid="new-webhook-secret">([^<]+)<')


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings, with webhooks allowed to reach this machine's receivers."""
    return settings.model_copy(update={"webhook_allow_private": True})


def emit_now(database: Database, org: Org, now: datetime | None = None) -> None:
    with database.write() as conn:
        emit(
            conn,
            organization_id=org.id,
            event=SURVEY_SENT,
            data={"n": 1},
            now=now or datetime.now(UTC),
        )


def test_create_and_list(browser: Browser, database: Database, receiver: Receiver) -> None:
    page = browser.client.get("/settings/webhooks")
    assert status(page) == 200 and 'data-testid="no-webhooks"' in page.text
    assert 'href="/settings/webhooks"' in browser.client.get("/settings/segment").text
    created = browser.post(
        "/settings/webhooks",
        {
            "events": [FEEDBACK_ADDED_OR_CHANGED, SURVEY_SENT],
            "target_url": receiver.url,
            "campaign": "",
        },
    )
    assert status(created) == 303
    assert created.headers["location"] == "/settings/webhooks"  # type: ignore[attr-defined]
    text = browser.client.get("/settings/webhooks").text
    (row,) = subscriptions(database)
    assert row.secret not in created.text  # type: ignore[attr-defined]
    assert "Webhook created." in text
    match = SECRET.search(text)
    assert match and match.group(1) == row.secret
    assert events_of(database, row.id) == [FEEDBACK_ADDED_OR_CHANGED, SURVEY_SENT]
    assert row.campaign_id is None
    assert row.format == "json" and row.status == "active"
    listed = browser.client.get("/settings/webhooks").text
    assert f'data-testid="webhook-{row.id}"' in listed and receiver.url in listed
    assert row.secret not in listed  # shown once on this page; on the webhook's own page
    assert row.secret in browser.client.get(f"/settings/webhooks/{row.id}").text
    assert "none yet" in listed and "All campaigns" in listed


def test_create_for_a_campaign_in_slack_format(browser: Browser, database: Database) -> None:
    page = browser.client.get("/settings/webhooks").text
    campaign_id = int(re.search(r'<option value="(\d+)">Segment campaign', page).group(1))  # type: ignore[union-attr]
    created = browser.post(
        "/settings/webhooks",
        {
            "events": SURVEY_SENT,
            "target_url": "https://hooks.slack.com/services/T/B/X",
            "campaign": str(campaign_id),
            "format": "slack",
        },
    )
    assert status(created) == 303
    (row,) = subscriptions(database)
    assert row.campaign_id == campaign_id and row.format == "slack"
    assert "Segment campaign" in browser.client.get("/settings/webhooks").text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"target_url": "https://me:pw@example.com/h"}, "Remove the user name and password"),
        ({"target_url": "ftp://example.com/h"}, "Enter an http:// or https:// URL."),
        ({"target_url": ""}, "This field may not be blank."),
        ({"events": ["feedback.eaten"]}, "is not a valid choice"),
        ({"events": []}, "Choose at least one event."),
        ({"campaign": "999999"}, "object does not exist"),
        ({"campaign": "first"}, "Choose a campaign from the list."),
    ],
)
def test_mistakes_are_explained(
    browser: Browser, database: Database, fields: dict[str, str], message: str
) -> None:
    form = {"events": SURVEY_SENT, "target_url": "https://example.com/h", "campaign": "", **fields}
    refused = browser.post("/settings/webhooks", form)
    assert status(refused) == 400
    assert message in html.unescape(refused.text)  # type: ignore[attr-defined]
    assert 'aria-invalid="true"' in refused.text  # type: ignore[attr-defined]
    assert subscriptions(database) == []


def test_forms_need_the_csrf_token(browser: Browser, database: Database, org: Org) -> None:
    refused = browser.client.post(
        "/settings/webhooks",
        data={"events": SURVEY_SENT, "target_url": "https://example.com/h"},
        follow_redirects=False,
    )
    assert status(refused) == 403 and subscriptions(database) == []
    webhook_id = subscribe(database, org, "https://example.com/h")
    refused = browser.client.post(
        f"/settings/webhooks/{webhook_id}/delete", data={"csrf": "nope"}, follow_redirects=False
    )
    assert status(refused) == 403 and len(subscriptions(database)) == 1


def test_disable_enable_delete(browser: Browser, database: Database, org: Org) -> None:
    webhook_id = subscribe(database, org, "https://example.com/h")
    emit_now(database, org)
    done = browser.post(f"/settings/webhooks/{webhook_id}/disable")
    assert status(done) == 303
    assert done.headers["location"] == "/settings/webhooks?done=disabled"  # type: ignore[attr-defined]
    page = browser.client.get("/settings/webhooks?done=disabled").text
    assert "Webhook disabled" in page and "hook-disabled" in page
    (row,) = subscriptions(database)
    assert row.status == "disabled" and row.disabled_reason is None
    with database.read() as conn:
        assert conn.execute(select(webhook_deliveries.c.status)).scalar() == "failed"
    assert status(browser.post(f"/settings/webhooks/{webhook_id}/enable")) == 303
    assert subscriptions(database)[0].status == "active"
    assert "Webhook enabled" in browser.client.get("/settings/webhooks?done=enabled").text
    assert status(browser.post(f"/settings/webhooks/{webhook_id}/delete")) == 303
    assert subscriptions(database) == []
    assert "Webhook deleted" in browser.client.get("/settings/webhooks?done=deleted").text


def test_deliveries_test_and_redeliver(
    browser: Browser, database: Database, org: Org, receiver: Receiver
) -> None:
    webhook_id = subscribe(database, org, receiver.url)
    page = browser.client.get(f"/settings/webhooks/{webhook_id}").text
    assert 'data-testid="no-deliveries"' in page
    receiver.respond = lambda request: 500
    emit_now(database, org)
    run_once(sender(database, Clock(datetime.now(UTC))))
    page = browser.client.get(f"/settings/webhooks/{webhook_id}").text
    (delivery_id,) = (int(n) for n in re.findall(r'data-testid="delivery-(\d+)"', page))
    assert '<code class="code">500</code>' in page and "HTTP 500" in page
    assert "delivery-pending" in page
    listing = browser.client.get("/settings/webhooks").text
    assert "1 failed attempt in a row" in listing and "<code>500</code>" in listing

    receiver.respond = lambda request: 200
    sent = browser.post(f"/settings/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
    assert status(sent) == 303
    location = sent.headers["location"]  # type: ignore[attr-defined]
    assert location == f"/settings/webhooks/{webhook_id}?sent={delivery_id}"
    page = browser.client.get(location).text
    assert "the URL answered <code>200</code>" in page and "delivery-delivered" in page

    tested = browser.post(f"/settings/webhooks/{webhook_id}/test")
    assert status(tested) == 303
    page = browser.client.get(tested.headers["location"]).text  # type: ignore[attr-defined]
    assert "Test event sent" in page and "<code>ping</code>" in page
    assert receiver.requests[-1].json["event"] == "ping"


def test_the_overview_tells_when_a_webhook_was_disabled(
    browser: Browser, services: Services, database: Database, org: Org, receiver: Receiver
) -> None:
    receiver.respond = lambda request: 500
    webhook_id = subscribe(database, org, receiver.url)
    other = make_org(database, "Globex")
    subscribe(database, other, receiver.url)
    assert 'data-testid="webhooks-disabled"' not in browser.client.get("/").text
    start = datetime.now(UTC)
    emit_now(database, org, start)
    clock = Clock(start)
    drive(database, sender(database, clock), clock, until=start + timedelta(days=2))
    (row,) = [r for r in subscriptions(database) if r.id == webhook_id]
    assert row.status == "disabled"
    overview = browser.client.get("/")
    assert 'data-testid="webhooks-disabled"' in overview.text
    assert receiver.url in overview.text and 'href="/settings/webhooks"' in overview.text
    assert "failed for 24 hours" in browser.client.get("/settings/webhooks").text
    # Enabled again: the notice goes. Disabled by hand: no notice.
    browser.post(f"/settings/webhooks/{webhook_id}/enable")
    assert 'data-testid="webhooks-disabled"' not in browser.client.get("/").text
    browser.post(f"/settings/webhooks/{webhook_id}/disable")
    assert 'data-testid="webhooks-disabled"' not in browser.client.get("/").text


def test_another_organizations_webhooks_are_not_found(
    browser: Browser, database: Database, other_org: Org
) -> None:
    theirs = subscribe(database, other_org, "https://globex.example.com/h")
    emit_now(database, other_org)
    with database.read() as conn:
        delivery_id = conn.execute(select(webhook_deliveries.c.id)).scalar_one()
    assert status(browser.client.get(f"/settings/webhooks/{theirs}")) == 404
    for action in ("enable", "disable", "delete", "test", f"deliveries/{delivery_id}/redeliver"):
        response = browser.post(f"/settings/webhooks/{theirs}/{action}")
        assert status(response) == 404, action
    (row,) = subscriptions(database)
    assert row.status == "active"
    assert "globex.example.com" not in browser.client.get("/settings/webhooks").text
    malformed = browser.client.get("/settings/webhooks/abc", headers={"Accept": "text/html"})
    assert status(malformed) == 404
