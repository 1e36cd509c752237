"""A webhook receives several events, and is changed in place (its events, URL, campaign,
format), through the service, the REST API and the CLI, on both databases: each event it
subscribes to reaches its URL once, signed; events it does not subscribe to never do."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from promoter.cli import main
from promoter.storage.engine import Database
from promoter.webhooks.events import (
    CONTACT_UNSUBSCRIBED,
    FEEDBACK_ADDED_OR_CHANGED,
    METRIC_SCORE_CHANGED,
    SURVEY_BOUNCED,
    SURVEY_SENT,
    emit,
    subscribed,
)
from promoter.webhooks.signing import verify_signature
from promoter.webhooks.subscriptions import (
    InvalidWebhook,
    create_subscription,
    get_subscription,
    update_subscription,
)
from promoter.webhooks.targets import TargetPolicy
from tests.conftest import Org
from tests.credentials import token
from tests.receiver import Receiver
from tests.webhooks import LOOPBACK_ALLOWED, T0, Clock, deliveries, run_once, sender, subscribe

WEBHOOKS = "/api/v2/webhooks/"


def emit_each(database: Database, org: Org, *names: str) -> dict[str, str | None]:
    """Each event emitted once: its id (None: nothing wanted it)."""
    with database.write() as conn:
        return {
            name: emit(conn, organization_id=org.id, event=name, data={"about": name}, now=T0)
            for name in names
        }


def test_each_subscribed_event_is_delivered_once_signed(
    database: Database, org: Org, receiver: Receiver
) -> None:
    hook = subscribe(database, org, [SURVEY_SENT, FEEDBACK_ADDED_OR_CHANGED], receiver.url)
    assert hook.events == (FEEDBACK_ADDED_OR_CHANGED, SURVEY_SENT)  # in the documented order
    ids = emit_each(database, org, SURVEY_SENT, FEEDBACK_ADDED_OR_CHANGED, SURVEY_BOUNCED)
    assert ids[SURVEY_BOUNCED] is None  # not subscribed: nothing queued
    run_once(sender(database, Clock(T0)))
    got = {r.headers["Promoter-Event"]: r for r in receiver.requests}
    assert len(receiver.requests) == 2 and set(got) == {SURVEY_SENT, FEEDBACK_ADDED_OR_CHANGED}
    for name, request in got.items():
        assert request.json["id"] == ids[name] and request.json["data"] == {"about": name}
        signature = request.headers["Promoter-Signature"]
        assert verify_signature(hook.secret, signature, request.body, now=T0.timestamp())
    assert {d.status for d in deliveries(database)} == {"delivered"}


def test_subscribed_follows_every_event_of_an_active_webhook(database: Database, org: Org) -> None:
    hook = subscribe(database, org, [SURVEY_SENT, METRIC_SCORE_CHANGED], "https://a.example/h")
    with database.read() as conn:
        wanted = {e: subscribed(conn, organization_id=org.id, event=e) for e in hook.events}
        assert not subscribed(conn, organization_id=org.id, event=SURVEY_BOUNCED)
    assert wanted == {SURVEY_SENT: True, METRIC_SCORE_CHANGED: True}
    with database.write() as conn:
        update_subscription(
            conn,
            organization_id=org.id,
            subscription_id=hook.id,
            status="disabled",
            now=T0,
            policy=LOOPBACK_ALLOWED,
        )
        assert not subscribed(conn, organization_id=org.id, event=SURVEY_SENT)


@pytest.mark.parametrize(
    ("events", "problems"),
    [
        ([], ["Choose at least one event."]),
        ([SURVEY_SENT, "feedback.eaten"], ['"feedback.eaten" is not a valid choice.']),
        (["ping"], ['"ping" is not a valid choice.']),  # sent on request only
    ],
)
def test_the_events_are_checked(
    database: Database, org: Org, events: list[str], problems: list[str]
) -> None:
    with pytest.raises(InvalidWebhook) as caught, database.write() as conn:
        create_subscription(
            conn,
            organization_id=org.id,
            events=events,
            target_url="https://a.example/h",
            now=T0,
            policy=TargetPolicy(),
        )
    assert caught.value.errors == {"events": problems}


def test_changing_the_events_changes_what_is_sent(database: Database, org: Org) -> None:
    hook = subscribe(database, org, SURVEY_SENT, "https://a.example/h")
    later = datetime(2031, 3, 4, tzinfo=UTC)
    with database.write() as conn:
        changed = update_subscription(
            conn,
            organization_id=org.id,
            subscription_id=hook.id,
            events=[CONTACT_UNSUBSCRIBED, SURVEY_BOUNCED, CONTACT_UNSUBSCRIBED],
            target_url="https://b.example/h",
            now=later,
            policy=TargetPolicy(),
        )
    assert changed.events == (CONTACT_UNSUBSCRIBED, SURVEY_BOUNCED)
    assert changed.target_url == "https://b.example/h" and changed.updated_at == later
    assert changed.secret == hook.secret  # the receiver's check still holds
    ids = emit_each(database, org, SURVEY_SENT, SURVEY_BOUNCED, CONTACT_UNSUBSCRIBED)
    assert ids[SURVEY_SENT] is None
    assert sorted(d.event for d in deliveries(database)) == [CONTACT_UNSUBSCRIBED, SURVEY_BOUNCED]
    # A mistake changes nothing, not even what was valid beside it.
    with pytest.raises(InvalidWebhook) as caught, database.write() as conn:
        update_subscription(
            conn,
            organization_id=org.id,
            subscription_id=hook.id,
            events=[],
            target_url="https://c.example/h",
            now=later,
            policy=TargetPolicy(),
        )
    assert list(caught.value.errors) == ["events"]
    with database.read() as conn:
        kept = get_subscription(conn, organization_id=org.id, subscription_id=hook.id)
    assert kept.events == changed.events and kept.target_url == "https://b.example/h"


# --- the REST API ----------------------------------------------------------------------------


def test_api_creates_and_changes_a_webhook_of_several_events(
    client: TestClient, database: Database, org: Org
) -> None:
    created = client.post(
        WEBHOOKS,
        json={"events": [SURVEY_SENT, SURVEY_BOUNCED], "target_url": "https://a.example/h"},
        headers=token(org.key),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["events"] == [SURVEY_SENT, SURVEY_BOUNCED] and body["event"] == SURVEY_SENT
    url = f"{WEBHOOKS}{body['id']}/"
    changed = client.patch(
        url,
        json={"events": [FEEDBACK_ADDED_OR_CHANGED], "target_url": "https://b.example/h"},
        headers=token(org.key),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["events"] == [FEEDBACK_ADDED_OR_CHANGED]
    assert changed.json()["target_url"] == "https://b.example/h"
    assert changed.json()["secret"] == body["secret"]
    listed = client.get(WEBHOOKS, headers=token(org.key)).json()["results"]
    assert [hook["events"] for hook in listed] == [[FEEDBACK_ADDED_OR_CHANGED]]
    assert emit_each(database, org, SURVEY_SENT)[SURVEY_SENT] is None


def test_api_still_takes_one_event(client: TestClient, org: Org) -> None:
    created = client.post(
        WEBHOOKS,
        json={"event": METRIC_SCORE_CHANGED, "target_url": "https://a.example/h"},
        headers=token(org.key),
    )
    assert created.status_code == 201, created.text
    assert created.json()["events"] == [METRIC_SCORE_CHANGED]
    assert created.json()["event"] == METRIC_SCORE_CHANGED


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"events": []}, {"events": ["Choose at least one event."]}),
        ({"events": ["nope"]}, {"events": ['"nope" is not a valid choice.']}),
        ({"event": "nope"}, {"event": ['"nope" is not a valid choice.']}),
        ({}, {"events": ["This field is required."]}),
        (
            {"events": [SURVEY_SENT], "event": SURVEY_SENT},
            {"events": ["Give events or event, not both."]},
        ),
        ({"events": SURVEY_SENT}, None),  # not a list
        ({"events": [SURVEY_SENT], "target_url": "http://10.0.0.5/h"}, None),  # private
    ],
)
def test_api_refuses_bad_events(
    client: TestClient, org: Org, body: dict[str, Any], errors: dict[str, list[str]] | None
) -> None:
    sent = {"target_url": "https://a.example/h", **body}
    refused = client.post(WEBHOOKS, json=sent, headers=token(org.key))
    assert refused.status_code == 400, refused.text
    if errors is not None:
        assert refused.json() == errors
    assert client.get(WEBHOOKS, headers=token(org.key)).json()["count"] == 0


def test_api_patch_refuses_bad_events_and_changes_nothing(
    client: TestClient, database: Database, org: Org
) -> None:
    hook = subscribe(database, org, SURVEY_SENT, "https://a.example/h")
    url = f"{WEBHOOKS}{hook.id}/"
    for body, field in (
        ({"events": []}, "events"),
        ({"events": None}, "events"),
        ({"events": ["nope"], "format": "slack"}, "events"),
        ({"events": [SURVEY_BOUNCED], "target_url": "http://127.0.0.1/h"}, "target_url"),
    ):
        refused = client.patch(url, json=body, headers=token(org.key))
        assert refused.status_code == 400 and list(refused.json()) == [field], body
    kept = client.get(url, headers=token(org.key)).json()
    assert kept["events"] == [SURVEY_SENT] and kept["format"] == "json"


# --- the CLI ---------------------------------------------------------------------------------


def test_cli_creates_and_changes_a_webhook_of_several_events(
    database: Database, database_url: str, org: Org, monkeypatch: Any
) -> None:
    monkeypatch.setenv("PROMOTER_DATABASE_URL", database_url)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, ["webhook", *args])
        assert result.exit_code == code, result.output
        return result.output

    out = run("create", str(org.id), f"{SURVEY_SENT}, {SURVEY_BOUNCED}", "https://a.example/h")
    webhook_id = re.search(r"webhook (\d+): ", out).group(1)  # type: ignore[union-attr]
    assert f"{SURVEY_SENT}, {SURVEY_BOUNCED} -> https://a.example/h" in out
    assert f"\t{SURVEY_SENT},{SURVEY_BOUNCED}\t" in run("list", str(org.id))
    out = run(
        "update", str(org.id), webhook_id, "--events", CONTACT_UNSUBSCRIBED, "--format", "slack"
    )
    assert f"{webhook_id}\t{CONTACT_UNSUBSCRIBED}\thttps://a.example/h\tslack\t" in out
    out = run("update", str(org.id), webhook_id, "--url", "https://b.example/h")
    assert f"\t{CONTACT_UNSUBSCRIBED}\thttps://b.example/h\tslack\t" in out
    assert "is not a valid choice" in run(
        "update", str(org.id), webhook_id, "--events", "x", code=1
    )
    assert "private address" in run(
        "update", str(org.id), webhook_id, "--url", "http://192.168.1.1/", code=1
    )
    assert "nothing to change" in run("update", str(org.id), webhook_id, code=2)
    assert "Choose at least one event." in run(
        "create", str(org.id), ",", "https://a.example/h", code=1
    )
    with database.read() as conn:
        kept = get_subscription(conn, organization_id=org.id, subscription_id=int(webhook_id))
    assert kept.events == (CONTACT_UNSUBSCRIBED,) and kept.target_url == "https://b.example/h"
