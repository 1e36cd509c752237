"""Settings > Webhooks under the default policy: addresses of the server's own network are
refused in the form, and a delivery's page never shows what the receiver answered."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest

from promoter.storage.engine import Database
from promoter.webhooks.events import SURVEY_SENT, emit
from tests.conftest import Org
from tests.dashboard.conftest import Browser
from tests.dashboard.webhooks import status, subscribe, subscriptions
from tests.receiver import Receiver
from tests.webhooks import LOOPBACK_ALLOWED, REFUSED_AT_SAVE, SECRET, run_once, webhook_sender


@pytest.mark.one_database(reason="each address is refused before anything is stored")
@pytest.mark.parametrize(("url", "shown"), REFUSED_AT_SAVE)
def test_the_form_refuses_addresses_of_the_servers_network(
    browser: Browser, database: Database, url: str, shown: str
) -> None:
    form = {"event": SURVEY_SENT, "target_url": url, "campaign": ""}
    refused = browser.post("/settings/webhooks", form)
    assert status(refused) == 400
    text = html.unescape(refused.text)  # type: ignore[attr-defined]
    assert f"Webhooks cannot be sent to {shown}: enter a public address." in text
    assert 'aria-invalid="true"' in text
    assert subscriptions(database) == []


def test_a_deliverys_page_shows_no_answer_body(
    browser: Browser, database: Database, org: Org, receiver: Receiver
) -> None:
    receiver.respond = lambda request: 503
    receiver.refusal = f"upstream said token={SECRET}".encode()
    receiver.reason = SECRET
    webhook_id = subscribe(database, org, receiver.url)  # (allowed: the test's receiver)
    with database.write() as conn:
        emit(conn, organization_id=org.id, event=SURVEY_SENT, data={}, now=datetime.now(UTC))
    run_once(webhook_sender(database, LOOPBACK_ALLOWED))
    pages = [
        browser.client.get("/settings/webhooks").text,
        browser.client.get(f"/settings/webhooks/{webhook_id}").text,
    ]
    tested = browser.post(f"/settings/webhooks/{webhook_id}/test")
    pages.append(browser.client.get(tested.headers["location"]).text)  # type: ignore[attr-defined]
    assert "HTTP 503 Service Unavailable" in pages[1]
    assert all(SECRET not in page and "upstream said" not in page for page in pages)
