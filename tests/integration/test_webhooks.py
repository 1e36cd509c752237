"""Outbound webhooks against a real HTTP receiver on this machine, on both databases:
emission in the caller's transaction, signed delivery, retries with backoff, giving up,
disabling, redelivery, the campaign filter, Slack messages, the REST API and the CLI."""

from __future__ import annotations

import asyncio
import itertools
import re
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select, update

from promoter.campaigns import service as campaigns
from promoter.campaigns.models import CampaignSettings
from promoter.cli import main
from promoter.config import Settings
from promoter.delivery.mailers import FileMailer, PermanentFailure
from promoter.delivery.render import EmailRenderer, OutgoingEmail
from promoter.delivery.tokens import TokenSigner
from promoter.delivery.worker import DeliveryWorker
from promoter.domain.messages import Envelope
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.service import Ingestor
from promoter.storage.engine import Database
from promoter.storage.tables import (
    contacts,
    responses,
    webhook_deliveries,
    webhook_subscriptions,
)
from promoter.surveys.responses import find_survey, record_comment, record_score, unsubscribe
from promoter.surveys.trigger import SurveyTrigger
from promoter.webhooks import outbox as webhook_outbox
from promoter.webhooks.events import (
    CONTACT_UNSUBSCRIBED,
    FEEDBACK_ADDED_OR_CHANGED,
    FEEDBACK_REMOVED,
    METRIC_SCORE_CHANGED,
    SURVEY_BOUNCED,
    SURVEY_SENT,
    emit,
)
from promoter.webhooks.signing import sign, verify_signature
from promoter.webhooks.subscriptions import (
    InvalidWebhook,
    Subscription,
    create_subscription,
    get_subscription,
)
from promoter.webhooks.targets import TargetPolicy
from tests.conftest import Org, make_org
from tests.credentials import token
from tests.receiver import Receiver
from tests.surveys import answer, schedule, token_of
from tests.webhooks import (
    BASE_URL,
    T0,
    Clock,
    attempts,
    deliveries,
    drive,
    run_once,
    sender,
    subscribe,
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings, with webhooks allowed to reach this machine's receivers."""
    return settings.model_copy(update={"webhook_allow_private": True})


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/nobody-listens"


# --- helpers --------------------------------------------------------------------------------


def subscription(database: Database, sub: Subscription) -> Subscription:
    with database.read() as conn:
        return get_subscription(conn, organization_id=sub.organization_id, subscription_id=sub.id)


def second_campaign(database: Database, org: Org) -> int:
    with database.write() as conn:
        (first,) = campaigns.list_campaigns(conn, organization_id=org.id)
        created = campaigns.create_campaign(
            conn,
            organization_id=org.id,
            settings=CampaignSettings(name="Onboarding", trigger_events=["Never"]),
            template_id=first.email_template_id,
        )
    return created.id


def first_campaign(database: Database, org: Org) -> int:
    with database.read() as conn:
        return campaigns.list_campaigns(conn, organization_id=org.id)[0].id


# --- emission -------------------------------------------------------------------------------


def test_nothing_is_recorded_without_a_subscription(database: Database, org: Org) -> None:
    other = make_org(database, "Globex")
    subscribe(database, other, FEEDBACK_ADDED_OR_CHANGED, "https://globex.example.com/h")
    answer(database, org, "ann", 3, "Slow")
    assert deliveries(database) == []


def test_a_rolled_back_transaction_emits_nothing(database: Database, org: Org) -> None:
    subscribe(database, org, FEEDBACK_ADDED_OR_CHANGED, "https://acme.example.com/h")
    schedule(database, org, "ann")
    token = token_of(database, "ann")

    class Abort(Exception):
        pass

    with pytest.raises(Abort), database.write() as conn:
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_score(conn, survey, score=9, now=T0)
        assert len(conn.execute(select(webhook_deliveries)).all()) == 1  # in the transaction
        raise Abort

    def failing(conn: Connection) -> None:
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_score(conn, survey, score=9, now=T0)
        raise Abort

    with pytest.raises(Abort):
        database.run_write(failing)  # SQLite's shared (group commit) transactions too
    assert deliveries(database) == []
    with database.read() as conn:
        assert conn.execute(select(responses)).all() == []


def test_only_active_subscriptions_and_the_right_campaign_get_an_event(
    database: Database, org: Org
) -> None:
    first = first_campaign(database, org)
    second = second_campaign(database, org)
    every = subscribe(database, org, SURVEY_SENT, "https://acme.example.com/every")
    only_second = subscribe(
        database, org, SURVEY_SENT, "https://acme.example.com/second", campaign_id=second
    )
    paused = subscribe(database, org, SURVEY_SENT, "https://acme.example.com/paused")
    with database.write() as conn:
        conn.execute(
            update(webhook_subscriptions)
            .where(webhook_subscriptions.c.id == paused.id)
            .values(status="disabled")
        )
    with database.write() as conn:
        about_first = emit(
            conn, organization_id=org.id, event=SURVEY_SENT, data={}, campaign_id=first, now=T0
        )
        about_second = emit(
            conn, organization_id=org.id, event=SURVEY_SENT, data={}, campaign_id=second, now=T0
        )
        about_none = emit(conn, organization_id=org.id, event=SURVEY_SENT, data={}, now=T0)
        unwanted = emit(conn, organization_id=org.id, event=SURVEY_BOUNCED, data={}, now=T0)
    assert unwanted is None
    got = {(d.event_id, d.subscription_id) for d in deliveries(database)}
    assert got == {
        (about_first, every.id),
        (about_second, every.id),
        (about_second, only_second.id),
        (about_none, every.id),
    }


def test_data_is_built_only_when_someone_subscribes(database: Database, org: Org) -> None:
    calls: list[int] = []

    def data() -> dict[str, Any]:
        calls.append(1)
        return {"n": 1}

    with database.write() as conn:
        assert emit(conn, organization_id=org.id, event=SURVEY_SENT, data=data, now=T0) is None
    assert calls == []
    subscribe(database, org, SURVEY_SENT, "https://acme.example.com/a")
    subscribe(database, org, SURVEY_SENT, "https://acme.example.com/b")
    with database.write() as conn:
        event_id = emit(conn, organization_id=org.id, event=SURVEY_SENT, data=data, now=T0)
    assert calls == [1]  # once for both subscriptions
    assert event_id is not None and re.fullmatch(r"[0-9a-f]{32}", event_id)
    payloads = [d.payload for d in deliveries(database)]
    assert payloads[0] == payloads[1]
    assert payloads[0]["id"] == event_id and payloads[0]["data"] == {"n": 1}
    assert payloads[0]["organization_id"] == org.id and payloads[0]["event"] == SURVEY_SENT
    assert datetime.fromisoformat(payloads[0]["created_at"]) == T0


# --- delivery -------------------------------------------------------------------------------


def test_feedback_is_delivered_signed(database: Database, org: Org, receiver: Receiver) -> None:
    sub = subscribe(database, org, FEEDBACK_ADDED_OR_CHANGED, receiver.url)
    answer(database, org, "ann", 3, "Too slow")
    clock = Clock(datetime.now(UTC))
    assert run_once(sender(database, clock)) == 2  # the score, then the comment
    assert len(receiver.requests) == 2
    for request in receiver.requests:
        signature = request.headers["Promoter-Signature"]
        assert verify_signature(sub.secret, signature, request.body)
        assert not verify_signature("whsec_other", signature, request.body)
        assert not verify_signature(sub.secret, signature, request.body + b" ")
        assert request.headers["Promoter-Event"] == FEEDBACK_ADDED_OR_CHANGED
        assert request.headers["Promoter-Event-Id"] == request.json["id"]
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["User-Agent"].startswith("Promoter-Webhooks/")
        assert request.path == "/hooks"
    # Sent side by side: in either order.
    score, comment = sorted(
        (r.json for r in receiver.requests), key=lambda j: j["data"]["comment"] is not None
    )
    assert score["data"]["comment"] is None and comment["data"]["comment"] == "Too slow"
    data = comment["data"]
    with database.read() as conn:
        response_id, campaign_id = conn.execute(
            select(responses.c.id, responses.c.campaign_id)
        ).one()
    assert data["id"] == response_id and data["campaign_id"] == campaign_id
    assert data["score"] == 3 and data["score_type"] == "detractor"
    assert data["status"] == "OPEN" and data["tags"] == []
    assert data["contact"]["email"] == "ann@example.com" and data["contact"]["user_id"] == "ann"
    assert data["attributes"] == {"plan": "pro"}
    assert comment["organization_id"] == org.id and comment["event"] == FEEDBACK_ADDED_OR_CHANGED
    for delivery in deliveries(database):
        assert delivery.status == "delivered" and delivery.attempts == 1
        assert delivery.last_status_code == 200 and delivery.last_error is None
        assert delivery.delivered_at == clock.now
        (attempt,) = attempts(database, delivery.id)
        assert attempt.status_code == 200 and attempt.error is None and not attempt.manual
    assert run_once(sender(database, clock)) == 0


def test_the_same_answer_again_sends_nothing_new(database: Database, org: Org) -> None:
    subscribe(database, org, FEEDBACK_ADDED_OR_CHANGED, "https://acme.example.com/h")
    answer(database, org, "ann", 3, "Slow")
    token = token_of(database, "ann")
    with database.write() as conn:
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_score(conn, survey, score=3, now=T0)
        record_comment(conn, survey, comment="Slow", now=T0)
    assert len(deliveries(database)) == 2
    with database.write() as conn:
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_score(conn, survey, score=4, now=T0)
    assert len(deliveries(database)) == 3


def test_signature_tolerance() -> None:
    body = b'{"id":"x"}'
    header = sign("whsec_s", body, 1_000_000)
    assert verify_signature("whsec_s", header, body, now=1_000_000 + 300)
    assert not verify_signature("whsec_s", header, body, now=1_000_000 + 301)
    assert not verify_signature("whsec_s", header, body, now=1_000_000 - 301)
    assert verify_signature("whsec_s", header, body.decode(), now=1_000_000)
    two = f"t=1000000,v1={'0' * 64},{header.split(',')[1]}"
    assert verify_signature("whsec_s", two, body, now=1_000_000)
    for bad in (None, "", "v1=abc", "t=abc,v1=abc", f"t=1000000,v1={'0' * 64}", "garbage"):
        assert not verify_signature("whsec_s", bad, body, now=1_000_000)


def test_failures_are_retried_with_backoff(
    database: Database, org: Org, receiver: Receiver
) -> None:
    codes = iter([500, 503, 200])
    receiver.respond = lambda request: next(codes)
    sub = subscribe(database, org, SURVEY_SENT, receiver.url)
    with database.write() as conn:
        event_id = emit(conn, organization_id=org.id, event=SURVEY_SENT, data={"n": 1}, now=T0)
    clock = Clock()
    webhooks = sender(database, clock)
    assert run_once(webhooks) == 1
    (delivery,) = deliveries(database)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_status_code == 500
    assert delivery.last_error == "HTTP 500 Internal Server Error"
    assert timedelta(seconds=48) <= delivery.due_at - T0 <= timedelta(seconds=72)
    assert run_once(webhooks) == 0  # not due yet
    assert subscription(database, sub).consecutive_failures == 1
    clock.now = delivery.due_at
    assert run_once(webhooks) == 1
    (delivery,) = deliveries(database)
    assert delivery.status == "pending" and delivery.last_status_code == 503
    assert timedelta(seconds=96) <= delivery.due_at - clock.now <= timedelta(seconds=144)
    assert subscription(database, sub).consecutive_failures == 2
    clock.now = delivery.due_at
    assert run_once(webhooks) == 1
    (delivery,) = deliveries(database)
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert delivery.last_status_code == 200 and delivery.last_error is None
    assert [a.status_code for a in attempts(database, delivery.id)] == [500, 503, 200]
    assert subscription(database, sub).consecutive_failures == 0
    # The same event (id and body) each time: receivers deduplicate on it.
    assert {r.headers["Promoter-Event-Id"] for r in receiver.requests} == {event_id}
    assert len({r.body for r in receiver.requests}) == 1


def test_timeouts_and_refused_connections_are_retried(
    database: Database, org: Org, receiver: Receiver
) -> None:
    receiver.delay = 2.0
    slow = subscribe(database, org, SURVEY_SENT, receiver.url)
    down = subscribe(database, org, SURVEY_SENT, closed_port_url())
    with database.write() as conn:
        emit(conn, organization_id=org.id, event=SURVEY_SENT, data={}, now=T0)
    started = time.monotonic()
    assert run_once(sender(database, Clock(), total_timeout=0.5)) == 2
    assert time.monotonic() - started < 1.9  # the timeout cut the slow answer short
    by_sub = {d.subscription_id: d for d in deliveries(database)}
    assert by_sub[slow.id].status == "pending" and by_sub[slow.id].last_status_code is None
    assert by_sub[slow.id].last_error == "no answer within 0.5 s"
    assert by_sub[down.id].status == "pending" and by_sub[down.id].last_status_code is None
    assert by_sub[down.id].last_error.startswith("could not connect")
    for delivery in by_sub.values():
        (attempt,) = attempts(database, delivery.id)
        assert attempt.status_code is None and attempt.error == delivery.last_error
        assert delivery.due_at > T0


def test_gives_up_after_24_hours_and_disables_the_subscription(
    database: Database, org: Org, receiver: Receiver
) -> None:
    receiver.respond = lambda request: 500
    sub = subscribe(database, org, SURVEY_SENT, receiver.url)
    with database.write() as conn:
        emit(conn, organization_id=org.id, event=SURVEY_SENT, data={"n": 1}, now=T0)
    clock = Clock()
    webhooks = sender(database, clock)
    drive(database, webhooks, clock, until=T0 + timedelta(hours=23))
    with database.write() as conn:  # a later event, still pending when the first gives up
        emit(
            conn,
            organization_id=org.id,
            event=SURVEY_SENT,
            data={"n": 2},
            now=T0 + timedelta(hours=23),
        )
    assert subscription(database, sub).status == "active"
    drive(database, webhooks, clock, until=T0 + timedelta(days=3))
    first, second = deliveries(database)
    assert first.status == "failed" and first.last_status_code == 500
    log = attempts(database, first.id)
    assert 20 <= len(log) <= 40 and first.attempts == len(log)
    times = [a.attempted_at for a in log]
    assert times[-1] <= T0 + timedelta(hours=24)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] < timedelta(minutes=2) and max(gaps) <= timedelta(minutes=72)
    assert gaps[3] > gaps[2] > gaps[1] > gaps[0]  # exponential at first
    disabled = subscription(database, sub)
    assert disabled.status == "disabled" and disabled.disabled_at == times[-1]
    assert disabled.disabled_reason is not None and "24 hours" in disabled.disabled_reason
    assert disabled.consecutive_failures == len(log) + len(attempts(database, second.id))
    assert second.status == "failed" and second.last_error == "the subscription was disabled"
    sent = len(receiver.requests)
    clock.advance(days=1)
    with database.write() as conn:  # nothing new is queued for a disabled subscription
        assert emit(conn, organization_id=org.id, event=SURVEY_SENT, data={}, now=clock.now) is None
    assert run_once(webhooks) == 0 and len(receiver.requests) == sent


def test_a_working_endpoint_is_not_disabled_for_one_failing_event(
    database: Database, org: Org, receiver: Receiver
) -> None:
    receiver.respond = lambda request: 500 if request.json["data"].get("bad") else 204
    sub = subscribe(database, org, SURVEY_SENT, receiver.url)
    with database.write() as conn:
        emit(conn, organization_id=org.id, event=SURVEY_SENT, data={"bad": True}, now=T0)
        emit(
            conn,
            organization_id=org.id,
            event=SURVEY_SENT,
            data={"bad": False},
            now=T0 + timedelta(hours=2),
        )
    clock = Clock()
    drive(database, sender(database, clock), clock, until=T0 + timedelta(days=2))
    bad, good = deliveries(database)
    assert bad.status == "failed" and good.status == "delivered"
    assert subscription(database, sub).status == "active"


def test_manual_redelivery(database: Database, org: Org, receiver: Receiver) -> None:
    receiver.respond = lambda request: 500
    sub = subscribe(database, org, SURVEY_SENT, receiver.url)
    with database.write() as conn:
        event_id = emit(conn, organization_id=org.id, event=SURVEY_SENT, data={}, now=T0)
    clock = Clock()
    webhooks = sender(database, clock)
    run_once(webhooks)
    (delivery,) = deliveries(database)
    clock.advance(seconds=5)
    result = asyncio.run(
        webhooks.redeliver(organization_id=org.id, subscription_id=sub.id, delivery_id=delivery.id)
    )
    assert result.status == "pending" and result.last_status_code == 500
    assert result.due_at == delivery.due_at  # a failed redelivery changes no schedule
    receiver.respond = lambda request: 200
    result = asyncio.run(
        webhooks.redeliver(organization_id=org.id, subscription_id=sub.id, delivery_id=delivery.id)
    )
    assert result.status == "delivered" and result.last_status_code == 200
    assert result.log is not None
    assert [(a.status_code, a.manual) for a in result.log] == [
        (500, False),
        (500, True),
        (200, True),
    ]
    # A delivered event can be sent again (the receiver sees the same event id).
    result = asyncio.run(
        webhooks.redeliver(organization_id=org.id, subscription_id=sub.id, delivery_id=delivery.id)
    )
    assert result.status == "delivered" and result.attempts == 4
    assert [r.headers["Promoter-Event-Id"] for r in receiver.requests] == [event_id] * 4
    other = make_org(database, "Globex")
    with pytest.raises(LookupError):
        asyncio.run(
            webhooks.redeliver(
                organization_id=other.id, subscription_id=sub.id, delivery_id=delivery.id
            )
        )


def test_redelivery_waits_for_a_sender_holding_the_delivery(database: Database, org: Org) -> None:
    sub = subscribe(database, org, SURVEY_SENT, "https://acme.example.com/h")
    with database.write() as conn:
        emit(conn, organization_id=org.id, event=SURVEY_SENT, data={}, now=T0)
    with database.write() as conn:
        (claimed,) = webhook_outbox.claim_due(conn, now=T0, limit=10, lease=timedelta(minutes=2))
    with pytest.raises(webhook_outbox.DeliveryBusy):
        asyncio.run(
            sender(database, Clock(T0 + timedelta(minutes=1))).redeliver(
                organization_id=org.id, subscription_id=sub.id, delivery_id=claimed.delivery_id
            )
        )


def test_ping(database: Database, org: Org, receiver: Receiver) -> None:
    sub = subscribe(database, org, [SURVEY_SENT, METRIC_SCORE_CHANGED], receiver.url)
    result = asyncio.run(
        sender(database, Clock(datetime.now(UTC))).ping(
            organization_id=org.id, subscription_id=sub.id
        )
    )
    assert result.event == "ping" and result.status == "delivered" and result.attempts == 1
    (request,) = receiver.requests
    assert request.json["event"] == "ping" and request.headers["Promoter-Event"] == "ping"
    assert request.json["data"] == {
        "webhook_id": sub.id,
        "subscribed_events": [METRIC_SCORE_CHANGED, SURVEY_SENT],  # in the documented order
        "subscribed_event": METRIC_SCORE_CHANGED,  # the first, for one-event receivers
    }
    assert verify_signature(sub.secret, request.headers["Promoter-Signature"], request.body)
    receiver.respond = lambda request: 404
    failed = asyncio.run(
        sender(database, Clock()).ping(organization_id=org.id, subscription_id=sub.id)
    )
    assert failed.status == "failed" and failed.last_status_code == 404  # tried once
    assert subscription(database, sub).consecutive_failures == 0  # pings do not count


def test_leases_keep_senders_apart_and_expire(
    database: Database, org: Org, receiver: Receiver
) -> None:
    subscribe(database, org, SURVEY_SENT, receiver.url)
    with database.write() as conn:
        for n in range(30):
            emit(conn, organization_id=org.id, event=SURVEY_SENT, data={"n": n}, now=T0)
    clock = Clock()

    async def together() -> list[int]:
        one, two = sender(database, clock, batch_size=7), sender(database, clock, batch_size=7)
        counts = []
        while True:
            done = await asyncio.gather(one.run_once(), two.run_once())
            counts += done
            if not any(done):
                return counts

    assert sum(asyncio.run(together())) == 30
    numbers = sorted(r.json["data"]["n"] for r in receiver.requests)
    assert numbers == list(range(30))  # each once
    # A sender killed after claiming: its deliveries wait for the lease, then go again.
    with database.write() as conn:
        emit(conn, organization_id=org.id, event=SURVEY_SENT, data={"n": 99}, now=T0)
        webhook_outbox.claim_due(conn, now=clock.now, limit=10, lease=timedelta(minutes=2))
    assert run_once(sender(database, clock)) == 0
    clock.advance(minutes=3)
    assert run_once(sender(database, clock)) == 1
    assert receiver.requests[-1].json["data"] == {"n": 99}


def test_finished_deliveries_are_pruned(database: Database, org: Org, receiver: Receiver) -> None:
    subscribe(database, org, SURVEY_SENT, receiver.url)
    with database.write() as conn:
        emit(conn, organization_id=org.id, event=SURVEY_SENT, data={}, now=T0)
        emit(conn, organization_id=org.id, event=SURVEY_SENT, data={}, now=T0 + timedelta(days=20))
    clock = Clock(T0 + timedelta(days=20))
    run_once(sender(database, clock))
    clock.advance(days=15)
    assert asyncio.run(sender(database, clock).prune_once()) == 1
    (kept,) = deliveries(database)
    assert kept.created_at == T0 + timedelta(days=20) and len(attempts(database, kept.id)) == 1


# --- the events -----------------------------------------------------------------------------


def test_slack_format(database: Database, org: Org, receiver: Receiver) -> None:
    sub = subscribe(database, org, FEEDBACK_ADDED_OR_CHANGED, receiver.url, format="slack")
    answer(database, org, "ann", 3, "<!channel> slow & <https://evil.example|buggy>")
    run_once(sender(database, Clock(datetime.now(UTC))))
    _score, comment = sorted(receiver.requests, key=lambda r: "buggy" in r.json["text"])
    assert "buggy" not in _score.json["text"]
    assert verify_signature(sub.secret, comment.headers["Promoter-Signature"], comment.body)
    message = comment.json
    assert set(message) == {"text", "blocks"}
    with database.read() as conn:
        contact_id = conn.execute(select(contacts.c.id)).scalar_one()
    text = message["blocks"][0]["text"]["text"]
    assert text == (
        "Detractor (3) from ann@example.com on Segment campaign: "
        "'&lt;!channel&gt; slow &amp; &lt;https://evil.example|buggy&gt;'"
    )
    link = message["blocks"][1]["elements"][0]["text"]
    assert link == f"<{BASE_URL}/contacts/{contact_id}|Open in Promoter>"
    assert message["text"].startswith("Detractor (3) from ann@example.com")


def test_score_metrics(database: Database, org: Org) -> None:
    subscribe(database, org, METRIC_SCORE_CHANGED, "https://acme.example.com/h")
    answer(database, org, "ann", 10, now=T0)
    answer(database, org, "bob", 9, now=T0 + timedelta(minutes=1))  # +100 -> +100: nothing
    answer(database, org, "cid", 0, now=T0 + timedelta(minutes=2))  # +100 -> +33
    first, second = (d.payload["data"] for d in deliveries(database))
    assert first["organization"]["nps"] == 100 and first["organization"]["previous_nps"] is None
    assert first["campaign"]["responses"] == 1 and first["window_days"] == 30
    assert first["score"] == 10 and first["previous_score"] is None
    assert round(second["organization"]["nps"], 1) == 33.3
    assert second["organization"]["previous_nps"] == 100
    assert second["organization"]["responses"] == 3
    assert second["organization"]["detractors"]["count"] == 1
    assert second["campaign"] == second["organization"]
    # Changing an answer counts; answers older than 30 days do not.
    token = token_of(database, "cid")
    with database.write() as conn:
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_score(conn, survey, score=10, now=T0 + timedelta(minutes=3))
    changed = deliveries(database)[-1].payload["data"]
    assert changed["previous_score"] == 0 and changed["organization"]["nps"] == 100
    assert round(changed["organization"]["previous_nps"], 1) == 33.3
    with database.write() as conn:
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_score(conn, survey, score=0, now=T0 + timedelta(days=31))
    assert len(deliveries(database)) == 3


def test_survey_sent_bounced_and_unsubscribed(database: Database, org: Org, tmp_path: Path) -> None:
    for event in (SURVEY_SENT, SURVEY_BOUNCED, CONTACT_UNSUBSCRIBED):
        subscribe(database, org, event, f"https://acme.example.com/{event}")
    schedule(database, org, "ann", "bob")
    renderer = EmailRenderer(
        base_url=BASE_URL, sender="s@nps.example.com", signer=TokenSigner("test-secret")
    )

    class Refusing(FileMailer):
        async def send(self, message: OutgoingEmail) -> None:
            if message.recipient.startswith("bob@"):
                raise PermanentFailure("550 5.1.1 no such user")
            await super().send(message)

    worker = DeliveryWorker(database=database, mailer=Refusing(tmp_path), renderer=renderer)
    asyncio.run(worker.run_once())
    by_event = {d.event: d.payload["data"] for d in deliveries(database)}
    campaign_id = first_campaign(database, org)
    sent = by_event[SURVEY_SENT]
    assert sent["contact"]["email"] == "ann@example.com" and sent["reminder"] is False
    assert sent["campaign_id"] == campaign_id and sent["message_id"]
    bounced = by_event[SURVEY_BOUNCED]
    assert bounced["contact"]["email"] == "bob@example.com"
    assert bounced["error"] == "550 5.1.1 no such user"
    with database.write() as conn:
        survey = find_survey(conn, token=token_of(database, "ann"))
        assert survey is not None
        unsubscribe(conn, survey, now=T0)
        survey = find_survey(conn, token=token_of(database, "ann"))
        assert survey is not None
        unsubscribe(conn, survey, now=T0)  # already: nothing new
    unsubscribed = [
        d.payload["data"] for d in deliveries(database) if d.event == CONTACT_UNSUBSCRIBED
    ]
    assert len(unsubscribed) == 1
    assert unsubscribed[0]["contact"]["status"] == "unsubscribed"
    assert unsubscribed[0]["source"] == "survey" and unsubscribed[0]["campaign_id"] == campaign_id


def test_erasing_a_contact_removes_its_feedback(database: Database, org: Org) -> None:
    subscribe(database, org, FEEDBACK_REMOVED, "https://acme.example.com/h")
    answer(database, org, "ann", 8, "Fine")
    answer(database, org, "bob", 2)
    with database.read() as conn:
        ann = conn.execute(
            select(responses.c.id, responses.c.campaign_id, contacts.c.id.label("contact_id"))
            .join(contacts, contacts.c.id == responses.c.contact_id)
            .where(contacts.c.user_id == "ann")
        ).one()
    ingest_messages(
        database=database,
        ingestor=Ingestor([SurveyTrigger()]),
        organization_id=org.id,
        messages=[{"type": "delete", "userId": "ann"}],
        envelope=Envelope(received_at=datetime.now(UTC)),
        allowed=TRACKING_API_TYPES,
    )
    (removed,) = deliveries(database)
    assert removed.event == FEEDBACK_REMOVED
    assert removed.payload["data"] == {
        "id": ann.id,
        "campaign_id": ann.campaign_id,
        "contact": {"id": ann.contact_id, "user_id": "ann"},
    }


def test_follow_up_events_carry_the_feedback(database: Database, org: Org) -> None:
    """What the follow-up services (tags, status) and a status change by hand emit, with
    the helpers they call."""
    from promoter.contacts.events import emit_contact_unsubscribed
    from promoter.feedback.events import emit_feedback
    from promoter.feedback.followup import add_tags, set_status
    from promoter.webhooks.events import FEEDBACK_STATUS_CHANGED, FEEDBACK_TAGS_ADDED_OR_CHANGED

    second = second_campaign(database, org)
    subscribe(database, org, FEEDBACK_TAGS_ADDED_OR_CHANGED, "https://acme.example.com/tags")
    subscribe(database, org, FEEDBACK_STATUS_CHANGED, "https://acme.example.com/status")
    subscribe(
        database, org, FEEDBACK_STATUS_CHANGED, "https://acme.example.com/s2", campaign_id=second
    )
    subscribe(database, org, CONTACT_UNSUBSCRIBED, "https://acme.example.com/all")
    subscribe(
        database, org, CONTACT_UNSUBSCRIBED, "https://acme.example.com/c2", campaign_id=second
    )
    answer(database, org, "ann", 6, "Meh")
    other = make_org(database, "Globex")
    with database.read() as conn:
        response_id, contact_id = conn.execute(select(responses.c.id, responses.c.contact_id)).one()
    with database.write() as conn:
        # The follow-up services announce their own changes.
        add_tags(conn, organization_id=org.id, response_id=response_id, tags=["ux"], now=T0)
        add_tags(conn, organization_id=org.id, response_id=response_id, tags=["ux"], now=T0)
        set_status(conn, organization_id=org.id, response_id=response_id, status="CLOSED", now=T0)
        set_status(conn, organization_id=org.id, response_id=response_id, status="CLOSED", now=T0)
        emit_contact_unsubscribed(
            conn, organization_id=org.id, contact_id=contact_id, source="manual", now=T0
        )
        assert (
            emit_feedback(  # another organization's response: nothing
                conn,
                organization_id=other.id,
                response_id=response_id,
                event=FEEDBACK_STATUS_CHANGED,
                now=T0,
            )
            is None
        )
    found = {d.event: d for d in deliveries(database)}
    assert len(deliveries(database)) == 3  # the campaign-2 subscriptions heard nothing
    assert found[FEEDBACK_TAGS_ADDED_OR_CHANGED].payload["data"]["tags"] == ["ux"]
    status = found[FEEDBACK_STATUS_CHANGED].payload["data"]
    assert status["status"] == "CLOSED" and status["comment"] == "Meh"
    unsubscribed = found[CONTACT_UNSUBSCRIBED].payload["data"]
    assert unsubscribed["source"] == "manual" and unsubscribed["campaign_id"] is None
    assert unsubscribed["contact"]["id"] == contact_id
    with pytest.raises(ValueError), database.write() as conn:
        emit_feedback(
            conn,
            organization_id=org.id,
            response_id=response_id,
            event=SURVEY_SENT,  # type: ignore[arg-type]
            now=T0,
        )


# --- subscriptions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "This field may not be blank."),
        ("ftp://example.com/x", "Enter an http:// or https:// URL."),
        ("javascript:alert(1)", "Enter an http:// or https:// URL."),
        ("https://user:secret@example.com/h", "Remove the user name and password"),
        ("https://token@example.com/h", "Remove the user name and password"),
        ("https:///path", "Enter a valid URL."),
        ("https://exa mple.com/", "Enter a valid URL."),
        ("https://example.com:99999/", "Enter a valid URL."),
        ("https://exa_mple.com/", "Enter a valid URL."),
        ("https://example.com/" + "a" * 2000, "no more than 2000 characters"),
    ],
)
def test_target_urls_are_checked(database: Database, org: Org, url: str, message: str) -> None:
    with pytest.raises(InvalidWebhook) as caught, database.write() as conn:
        create_subscription(
            conn,
            organization_id=org.id,
            events=[SURVEY_SENT],
            target_url=url,
            now=T0,
            policy=TargetPolicy(),
        )
    (problem,) = caught.value.errors["target_url"]
    assert message in problem


def test_good_urls_are_kept(database: Database, org: Org) -> None:
    for url in (
        "https://hooks.slack.com/services/T000/B000/XXXX",
        "http://127.0.0.1:8080/in?x=1",
        "https://[::1]:8443/hook",
        "https://bücher.example/hook",
    ):
        assert subscribe(database, org, SURVEY_SENT, f"  {url} ").target_url == url


def test_secrets_are_distinct(database: Database, org: Org) -> None:
    one = subscribe(database, org, SURVEY_SENT, "https://a.example.com")
    two = subscribe(database, org, SURVEY_SENT, "https://a.example.com")
    assert one.secret != two.secret and one.secret.startswith("whsec_")
    assert len(one.secret) >= 40


# --- the REST API ---------------------------------------------------------------------------


def test_api_requires_a_key(client: TestClient, org: Org) -> None:
    for method, path in [
        ("GET", "/api/v2/webhooks/"),
        ("POST", "/api/v2/webhooks/"),
        ("GET", "/api/v2/webhooks/1/"),
        ("GET", "/api/v2/webhooks/1/deliveries/"),
        ("POST", "/api/v2/webhooks/1/test/"),
        ("POST", "/api/v2/webhooks/1/deliveries/1/redeliver/"),
    ]:
        response = client.request(method, path, headers={"Authorization": "Token pk_nope"})
        assert response.status_code == 401, (method, path)
        assert response.json() == {"detail": "Invalid token."}


def test_api_lifecycle(
    client: TestClient, database: Database, org: Org, receiver: Receiver
) -> None:
    campaign_id = first_campaign(database, org)
    created = client.post(
        "/api/v2/webhooks/",
        json={"event": SURVEY_SENT, "target_url": receiver.url, "campaign_id": campaign_id},
        headers=token(org.key),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    webhook_id = body["id"]
    assert body["secret"].startswith("whsec_") and body["format"] == "json"
    assert body["status"] == "active" and body["campaign_id"] == campaign_id
    assert body["href"] == f"http://testserver/api/v2/webhooks/{webhook_id}/"
    listed = client.get("/api/v2/webhooks/", headers=token(org.key)).json()
    assert listed["count"] == 1 and "secret" not in listed["results"][0]
    got = client.get(f"/api/v2/webhooks/{webhook_id}/", headers=token(org.key)).json()
    assert got["secret"] == body["secret"]

    # The delivery log, newest first, paginated; a delivery's attempts; redelivery.
    receiver.respond = lambda request: 502
    with database.write() as conn:
        for n in range(3):
            emit(
                conn,
                organization_id=org.id,
                event=SURVEY_SENT,
                data={"n": n},
                campaign_id=campaign_id,
                now=datetime.now(UTC) + timedelta(seconds=n),
            )
    run_once(sender(database, Clock(datetime.now(UTC) + timedelta(seconds=5))))
    page = client.get(
        f"/api/v2/webhooks/{webhook_id}/deliveries/",
        params={"page_size": 2},
        headers=token(org.key),
    ).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"] is not None
    newest = page["results"][0]
    assert newest["status"] == "pending" and newest["last_status_code"] == 502
    assert newest["attempts"] == 1 and newest["next_attempt_at"] is not None
    assert set(newest) >= {"event", "event_id", "last_error", "created_at", "delivered_at"}
    older = client.get(
        page["next"].removeprefix("http://testserver"), headers=token(org.key)
    ).json()
    assert [d["id"] for d in older["results"]] == [page["results"][1]["id"] - 1]
    detail = client.get(
        f"/api/v2/webhooks/{webhook_id}/deliveries/{newest['id']}/", headers=token(org.key)
    ).json()
    assert detail["payload"]["data"] == {"n": 2}
    assert [a["status_code"] for a in detail["attempt_log"]] == [502]
    receiver.respond = lambda request: 200
    redelivered = client.post(
        f"/api/v2/webhooks/{webhook_id}/deliveries/{newest['id']}/redeliver/",
        headers=token(org.key),
    )
    assert redelivered.status_code == 200, redelivered.text
    assert redelivered.json()["status"] == "delivered"
    assert [a["manual"] for a in redelivered.json()["attempt_log"]] == [False, True]
    pinged = client.post(f"/api/v2/webhooks/{webhook_id}/test/", headers=token(org.key))
    assert pinged.status_code == 200 and pinged.json()["event"] == "ping"
    assert pinged.json()["status"] == "delivered"
    assert receiver.requests[-1].json["event"] == "ping"

    # Update: disabling fails what was pending; enabling again resets the failures.
    changed = client.patch(
        f"/api/v2/webhooks/{webhook_id}/",
        json={"status": "disabled", "format": "slack", "campaign_id": None},
        headers=token(org.key),
    ).json()
    assert changed["status"] == "disabled" and changed["format"] == "slack"
    assert changed["campaign_id"] is None and changed["disabled_reason"] is None
    statuses = {d.status for d in deliveries(database) if d.event == SURVEY_SENT}
    assert statuses == {"delivered", "failed"}
    with database.write() as conn:
        conn.execute(
            update(webhook_subscriptions)
            .where(webhook_subscriptions.c.id == webhook_id)
            .values(consecutive_failures=12, disabled_reason="Every delivery failed")
        )
    enabled = client.patch(
        f"/api/v2/webhooks/{webhook_id}/", json={"status": "active"}, headers=token(org.key)
    ).json()
    assert enabled["status"] == "active" and enabled["consecutive_failures"] == 0
    assert enabled["disabled_at"] is None and enabled["disabled_reason"] is None
    moved = client.patch(
        f"/api/v2/webhooks/{webhook_id}/",
        json={"target_url": "https://b.example.com/"},
        headers=token(org.key),
    ).json()
    assert moved["target_url"] == "https://b.example.com/" and moved["format"] == "slack"

    deleted = client.delete(f"/api/v2/webhooks/{webhook_id}/", headers=token(org.key))
    assert deleted.status_code == 204
    assert client.get(f"/api/v2/webhooks/{webhook_id}/", headers=token(org.key)).status_code == 404
    assert deliveries(database) == []


def test_api_validation_errors(client: TestClient, database: Database, org: Org) -> None:
    other = make_org(database, "Globex")
    theirs = first_campaign(database, other)

    def create(**body: Any) -> Any:
        fields = {"event": SURVEY_SENT, "target_url": "https://a.example.com/h", **body}
        return client.post("/api/v2/webhooks/", json=fields, headers=token(org.key))

    bad = create(target_url="https://user:pw@a.example.com/h")
    assert bad.status_code == 400
    assert list(bad.json()) == ["target_url"] and isinstance(bad.json()["target_url"][0], str)
    assert create(target_url="ftp://a.example.com").json() == {
        "target_url": ["Enter an http:// or https:// URL."]
    }
    assert create(event="feedback.eaten").json() == {
        "event": ['"feedback.eaten" is not a valid choice.']
    }
    assert create(format="xml").json() == {"format": ['"xml" is not a valid choice.']}
    assert create(campaign_id=theirs).json() == {
        "campaign_id": [f'Invalid pk "{theirs}" - object does not exist.']
    }
    assert create(campaign_id=0).status_code == 400
    missing = client.post("/api/v2/webhooks/", json={"event": SURVEY_SENT}, headers=token(org.key))
    assert missing.status_code == 400 and list(missing.json()) == ["target_url"]
    assert create(secret="mine").status_code == 400  # extra fields are refused
    webhook_id = create().json()["id"]
    for body, field in (
        ({"status": "paused"}, "status"),
        ({"target_url": None}, "target_url"),
        ({"target_url": "http://"}, "target_url"),
        ({"event": SURVEY_BOUNCED}, "event"),
    ):
        response = client.patch(
            f"/api/v2/webhooks/{webhook_id}/", json=body, headers=token(org.key)
        )
        assert response.status_code == 400 and list(response.json()) == [field], body


def test_api_hides_other_organizations(
    client: TestClient, database: Database, org: Org, other_org: Org
) -> None:
    sub = subscribe(database, other_org, SURVEY_SENT, "https://globex.example.com/h")
    with database.write() as conn:
        emit(conn, organization_id=other_org.id, event=SURVEY_SENT, data={}, now=T0)
    (delivery,) = deliveries(database)
    base = f"/api/v2/webhooks/{sub.id}"
    for method, path, body in [
        ("GET", f"{base}/", None),
        ("PATCH", f"{base}/", {"status": "disabled"}),
        ("DELETE", f"{base}/", None),
        ("GET", f"{base}/deliveries/", None),
        ("GET", f"{base}/deliveries/{delivery.id}/", None),
        ("POST", f"{base}/deliveries/{delivery.id}/redeliver/", None),
        ("POST", f"{base}/test/", None),
    ]:
        response = client.request(method, path, json=body, headers=token(org.key))
        assert response.status_code == 404, (method, path, response.text)
        assert response.json() == {"detail": "Not found."}
    assert client.get("/api/v2/webhooks/", headers=token(org.key)).json()["count"] == 0
    mine = subscribe(database, org, SURVEY_SENT, "https://acme.example.com/h")
    # Another subscription's delivery is not found under mine either.
    response = client.get(
        f"/api/v2/webhooks/{mine.id}/deliveries/{delivery.id}/", headers=token(org.key)
    )
    assert response.status_code == 404
    assert subscription(database, sub).status == "active"


# --- the CLI --------------------------------------------------------------------------------


def test_cli(
    database: Database, database_url: str, org: Org, receiver: Receiver, monkeypatch: Any
) -> None:
    monkeypatch.setenv("PROMOTER_DATABASE_URL", database_url)
    monkeypatch.setenv("PROMOTER_WEBHOOK_ALLOW_PRIVATE", "true")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args))
        assert result.exit_code == code, result.output
        return result.output

    out = run("webhook", "create", str(org.id), SURVEY_SENT, receiver.url, "--format", "slack")
    webhook_id = int(re.search(r"webhook (\d+):", out).group(1))  # type: ignore[union-attr]
    secret = re.search(r"signing secret: (whsec_\w+)", out).group(1)  # type: ignore[union-attr]
    listing = run("webhook", "list", str(org.id))
    assert f"{webhook_id}\t{SURVEY_SENT}\t{receiver.url}\tslack\tall campaigns\tactive" in listing
    assert secret not in listing
    assert secret in run("webhook", "show", str(org.id), str(webhook_id))
    assert "Enter an http:// or https:// URL." in run(
        "webhook", "create", str(org.id), SURVEY_SENT, "ftp://x", code=1
    )
    assert "no organization" in run("webhook", "list", "999", code=1)
    assert "no webhook" in run("webhook", "delete", str(org.id), "999", code=1)

    out = run("webhook", "ping", str(org.id), str(webhook_id))
    assert "\tping\t" in out and "\tdelivered\t" in out and "\t200" in out
    receiver.respond = lambda request: 500
    with database.write() as conn:
        emit(conn, organization_id=org.id, event=SURVEY_SENT, data={}, now=datetime.now(UTC))
    run_once(sender(database, Clock(datetime.now(UTC))))
    deliveries_out = run("webhook", "deliveries", str(org.id), str(webhook_id))
    assert "\tpending\t1 attempt\t500\tHTTP 500" in deliveries_out
    delivery_id = max(d.id for d in deliveries(database))
    receiver.respond = lambda request: 200
    out = run("webhook", "redeliver", str(org.id), str(delivery_id))
    assert "\tdelivered\t2 attempts\t200" in out
    other = make_org(database, "Globex")
    assert "no delivery" in run("webhook", "redeliver", str(other.id), str(delivery_id), code=1)
    assert "disabled" in run("webhook", "disable", str(org.id), str(webhook_id))
    assert "active" in run("webhook", "enable", str(org.id), str(webhook_id))
    assert "deleted" in run("webhook", "delete", str(org.id), str(webhook_id))
    assert "no webhooks" in run("webhook", "list", str(org.id))
