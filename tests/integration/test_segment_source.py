"""Promoter as a Segment source, on both databases, against a real HTTP receiver that
checks Segment's HTTP API format: facts queued in the writer's transaction, batches within
Segment's limits, Basic auth, retries (an hour down, 429 with Retry-After), refusals,
the survey sent, and one organization's settings and messages kept from another."""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from promoter import __version__
from promoter.config import Settings
from promoter.contacts.writes import erase_contact
from promoter.delivery.mailers import FileMailer
from promoter.delivery.render import EmailRenderer
from promoter.delivery.tokens import TokenSigner
from promoter.delivery.worker import DeliveryWorker
from promoter.segment_source.outbox import LOG_RETENTION, MOST_RETRY_AFTER, list_messages
from promoter.segment_source.sender import SegmentSender, retry_after
from promoter.segment_source.settings import (
    EVENTS,
    InvalidSource,
    SourceSettings,
    get_source,
    save_source,
)
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, segment_messages, surveys
from promoter.surveys.answering import answer_on_page
from promoter.surveys.responses import find_survey, record_comment
from promoter.webhooks.targets import TargetPolicy
from tests.conftest import Org, make_org
from tests.receiver import Receiver, Request
from tests.surveys import answer, schedule, token_of
from tests.webhooks import LOOPBACK_ALLOWED, Clock

KEY = "wk_acme_0123456789"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_allow_private": True})


def configure(
    database: Database, org: Org, host: str, *, key: str = KEY, **options: Any
) -> SourceSettings:
    values: dict[str, Any] = {
        "events": list(EVENTS),
        "identify": True,
        "trait_prefix": "nps_",
        "enabled": True,
        **options,
    }
    with database.write() as conn:
        return save_source(
            conn,
            organization_id=org.id,
            write_key=key,
            host=host,
            policy=LOOPBACK_ALLOWED,
            now=datetime.now(UTC),
            **values,
        )


def sender(database: Database, clock: Callable[[], datetime] | None = None) -> SegmentSender:
    return SegmentSender(
        database=database,
        policy=LOOPBACK_ALLOWED,
        clock=clock or Clock(datetime.now(UTC)),
        rng=random.Random(3),
    )


def run_once(segment: SegmentSender) -> int:
    return asyncio.run(segment.run_once())


def rows(database: Database) -> list[Any]:
    with database.read() as conn:
        return list(conn.execute(select(segment_messages).order_by(segment_messages.c.id)))


def sent_messages(receiver: Receiver) -> list[dict[str, Any]]:
    return [message for request in receiver.requests for message in request.json["batch"]]


def check_segment_request(request: Request, key: str = KEY) -> None:
    """What Segment's HTTP API requires of a batch request, and of each message."""
    assert request.path == "/v1/batch"
    expected = base64.b64encode(f"{key}:".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Content-Type"] == "application/json"
    assert len(request.body) <= 500 * 1024
    document = request.json
    assert set(document) == {"batch", "sentAt"}
    datetime.fromisoformat(document["sentAt"])
    assert 1 <= len(document["batch"]) <= 100
    for message in document["batch"]:
        assert message["type"] in ("track", "identify")
        assert isinstance(message["userId"], str) and message["userId"]
        assert isinstance(message["messageId"], str) and message["messageId"]
        assert datetime.fromisoformat(message["timestamp"]).tzinfo is not None
        assert message["context"]["library"] == {"name": "promoter", "version": __version__}
        if message["type"] == "track":
            assert isinstance(message["event"], str) and isinstance(message["properties"], dict)
        else:
            assert isinstance(message["traits"], dict)


# --- the format ----------------------------------------------------------------------------


def test_an_answer_reaches_the_host_in_segment_format(
    database: Database, org: Org, receiver: Receiver
) -> None:
    configure(database, org, receiver.base)
    answered_at = datetime(2031, 3, 3, 9, 30, 15, tzinfo=UTC)
    answer(database, org, "ann", 9, "Great support", now=answered_at)
    assert run_once(sender(database, Clock(answered_at))) == 3
    (request,) = receiver.requests
    check_segment_request(request)
    by_type = {(m["type"], m.get("event")): m for m in request.json["batch"]}
    identify = by_type["identify", None]
    assert identify["userId"] == "ann"
    assert identify["traits"] == {
        "email": "ann@example.com",
        "nps_score": 9,
        "nps_category": "promoter",
        "nps_responded_at": "2031-03-03T09:30:15.000Z",
    }
    responded = by_type["track", "Survey Responded"]
    properties = responded["properties"]
    assert properties["score"] == 9 and properties["category"] == "promoter"
    assert properties["comment"] == "Great support"  # one message for the whole answer
    assert properties["channel"] == "email" and properties["campaign_name"]
    assert properties["updated"] is False and properties["answers"] == {}
    assert responded["timestamp"] == "2031-03-03T09:30:15.000Z"
    comment = by_type["track", "Survey Comment Added"]
    assert comment["properties"]["comment"] == "Great support"
    assert len({m["messageId"] for m in request.json["batch"]}) == 3
    assert [row.status for row in rows(database)] == ["delivered"] * 3


def test_a_web_answer_says_its_channel(database: Database, org: Org) -> None:
    configure(database, org, "http://127.0.0.1:9", events=["Survey Responded"], identify=False)
    schedule(database, org, "wen")
    with database.write() as conn:
        conn.execute(update(surveys).values(channel="web"))
        survey = find_survey(conn, token=token_of(database, "wen"))
        assert survey is not None and survey.channel == "web"
        answer_on_page(conn, survey, score=10, comment=None, now=datetime.now(UTC))
    (message,) = [row.message for row in rows(database)]
    assert message["properties"]["channel"] == "web"


def test_follow_up_answers_and_a_changed_score(database: Database, org: Org) -> None:
    configure(database, org, "http://127.0.0.1:9", events=["Survey Responded"], identify=False)
    schedule(database, org, "ann")
    token = token_of(database, "ann")
    first = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
    with database.write() as conn:
        survey = find_survey(conn, token=token)
        assert survey is not None
        answer_on_page(conn, survey, score=4, comment="Slow", now=first, answers={"q1": ["3"]})
    with database.write() as conn:
        survey = find_survey(conn, token=token)
        assert survey is not None
        answer_on_page(conn, survey, score=8, comment="Slow", now=first + timedelta(hours=1))
        record_comment(conn, survey, comment="", now=first + timedelta(hours=2))
    messages = [row.message for row in rows(database)]
    assert [m["event"] for m in messages] == ["Survey Responded", "Survey Responded"]
    one, two = (m["properties"] for m in messages)
    assert (one["score"], one["category"], one["updated"]) == (4, "detractor", False)
    assert one["answers"] == {"q1": ["3"]} and one["comment"] == "Slow"
    assert (two["score"], two["category"], two["updated"]) == (8, "passive", True)


def test_erasing_a_contact_erases_its_messages(
    database: Database, org: Org, other_org: Org
) -> None:
    configure(database, org, "http://127.0.0.1:9")
    configure(database, other_org, "http://127.0.0.1:9")
    for who in (org, other_org):
        schedule(database, who, "ann")
        with database.write() as conn:
            survey = find_survey(conn, token=token_of(database, "ann", who))
            assert survey is not None
            answer_on_page(conn, survey, score=3, comment="Slow", now=datetime.now(UTC))
    assert {row.organization_id for row in rows(database)} == {org.id, other_org.id}
    with database.write() as conn:
        assert erase_contact(conn, organization_id=org.id, user_id="ann")
    # Nothing about the erased contact is left to send; the other organization's Ann stays.
    assert {row.organization_id for row in rows(database)} == {other_org.id}


def test_the_survey_sent(database: Database, org: Org, tmp_path: Path) -> None:
    configure(database, org, "http://127.0.0.1:9", events=["Survey Sent"])
    schedule(database, org, "ann")
    renderer = EmailRenderer(
        base_url="https://nps.example.com",
        sender="s@nps.example.com",
        signer=TokenSigner("test-secret"),
    )
    worker = DeliveryWorker(database=database, mailer=FileMailer(tmp_path), renderer=renderer)
    asyncio.run(worker.run_once())
    (row,) = rows(database)
    assert row.kind == "Survey Sent"
    assert row.message["userId"] == "ann"
    properties = row.message["properties"]
    assert properties["channel"] == "email" and properties["reminder"] is False
    assert properties["campaign_id"] and properties["survey_id"] and properties["campaign_name"]


def test_nothing_is_queued_unless_wanted(database: Database, org: Org) -> None:
    answer(database, org, "ann", 9)  # no source
    configure(database, org, "http://127.0.0.1:9", enabled=False)
    answer(database, org, "bob", 9)
    configure(database, org, "http://127.0.0.1:9", events=[], identify=False)
    answer(database, org, "cyd", 9)
    configure(database, org, "http://127.0.0.1:9", events=["Survey Sent"], identify=False)
    answer(database, org, "dan", 9)
    assert rows(database) == []


def test_a_contact_without_a_user_id_is_skipped(database: Database, org: Org) -> None:
    configure(database, org, "http://127.0.0.1:9")
    schedule(database, org, "ann")
    with database.write() as conn:
        conn.execute(update(contacts).values(user_id=None))
        survey = find_survey(conn, token=token_of_any(conn))
        assert survey is not None
        answer_on_page(conn, survey, score=3, comment=None, now=datetime.now(UTC))
    assert rows(database) == []


def token_of_any(conn: Any) -> str:
    from promoter.storage.tables import surveys

    token: str = conn.execute(select(surveys.c.token)).scalar_one()
    return token


def test_a_rolled_back_answer_queues_nothing(database: Database, org: Org) -> None:
    configure(database, org, "http://127.0.0.1:9")
    schedule(database, org, "ann")
    with pytest.raises(RuntimeError), database.write() as conn:
        survey = find_survey(conn, token=token_of(database, "ann"))
        assert survey is not None
        answer_on_page(conn, survey, score=3, comment=None, now=datetime.now(UTC))
        raise RuntimeError("the writer fails after the answer")
    assert rows(database) == []


# --- batches -------------------------------------------------------------------------------


def queue(database: Database, org: Org, count: int, *, size: int = 10) -> None:
    now = datetime.now(UTC)
    with database.write() as conn:
        conn.execute(
            insert(segment_messages),
            [
                {
                    "organization_id": org.id,
                    "message_id": f"m-{org.id}-{i}",
                    "kind": "Survey Responded",
                    "user_id": f"u{i}",
                    "message": {
                        "type": "track",
                        "userId": f"u{i}",
                        "event": "Survey Responded",
                        "properties": {"pad": "x" * size},
                        "messageId": f"m-{org.id}-{i}",
                        "timestamp": "2031-03-03T09:00:00.000Z",
                        "context": {"library": {"name": "promoter", "version": __version__}},
                    },
                    "status": "pending",
                    "due_at": now,
                    "created_at": now,
                }
                for i in range(count)
            ],
        )


def test_batches_keep_segment_limits(database: Database, org: Org, receiver: Receiver) -> None:
    configure(database, org, receiver.base)
    queue(database, org, 250)
    assert run_once(sender(database)) == 250
    assert sorted(len(r.json["batch"]) for r in receiver.requests) == [50, 100, 100]
    for request in receiver.requests:
        check_segment_request(request)
    receiver.requests.clear()
    with database.write() as conn:
        conn.execute(segment_messages.delete())
    queue(database, org, 40, size=20_000)  # 40 x 20 KB: more than 500 KB
    run_once(sender(database))
    assert len(receiver.requests) == 2
    assert all(len(r.body) <= 500 * 1024 for r in receiver.requests)
    assert len(sent_messages(receiver)) == 40


def test_a_message_over_32_kb_fails(database: Database, org: Org, receiver: Receiver) -> None:
    configure(database, org, receiver.base)
    queue(database, org, 1, size=40_000)
    run_once(sender(database))
    assert receiver.requests == []
    (row,) = rows(database)
    assert row.status == "failed" and "32 KB" in row.last_error


# --- faults --------------------------------------------------------------------------------


def drive(database: Database, segment: SegmentSender, clock: Clock, until: datetime) -> None:
    """Run the sender at each due time until ``until``."""
    while True:
        with database.read() as conn:
            due = conn.execute(
                select(segment_messages.c.due_at)
                .where(segment_messages.c.status == "pending")
                .order_by(segment_messages.c.due_at)
                .limit(1)
            ).scalar()
        if due is None or due > until:
            return
        clock.now = max(clock.now, due)
        run_once(segment)


def test_the_host_down_for_an_hour(database: Database, org: Org, receiver: Receiver) -> None:
    configure(database, org, receiver.base)
    start = datetime.now(UTC)
    answer(database, org, "ann", 9, "Yes", now=start)
    answer(database, org, "bob", 2, now=start)
    clock = Clock(start)
    segment = sender(database, clock)
    back = start + timedelta(hours=1)
    receiver.respond = lambda request: 503 if clock.now < back else 200
    drive(database, segment, clock, back - timedelta(seconds=1))
    failed_tries = len(receiver.requests)
    assert failed_tries >= 6  # 30 s, 1, 2, 4, 8, 15, 15, 15 minutes
    assert {row.status for row in rows(database)} == {"pending"}
    assert rows(database)[0].last_error == "HTTP 503 Service Unavailable"
    drive(database, segment, clock, back + timedelta(minutes=20))
    assert {row.status for row in rows(database)} == {"delivered"}
    tries: dict[str, set[str]] = {}
    for message in sent_messages(receiver):
        tries.setdefault(message["messageId"], set()).add(repr(sorted(message)))
    assert len(tries) == 5  # each fact: its one messageId on every attempt
    assert all(len(shapes) == 1 for shapes in tries.values())
    assert {row.message_id for row in rows(database)} == set(tries)


def test_429_waits_for_retry_after(database: Database, org: Org, receiver: Receiver) -> None:
    configure(database, org, receiver.base)
    start = datetime.now(UTC)
    answer(database, org, "ann", 9, now=start)
    clock = Clock(start)
    segment = sender(database, clock)
    receiver.respond = lambda request: 429 if len(receiver.requests) == 1 else 200
    receiver.answer_headers = lambda request: {"Retry-After": "600"}
    run_once(segment)
    assert {row.due_at for row in rows(database)} == {start + timedelta(seconds=600)}
    clock.advance(seconds=599)
    assert run_once(segment) == 0
    clock.advance(seconds=1)
    assert run_once(segment) == 2
    assert len(receiver.requests) == 2
    assert {row.status for row in rows(database)} == {"delivered"}


def test_a_4xx_fails_with_its_reason(database: Database, org: Org, receiver: Receiver) -> None:
    configure(database, org, receiver.base)
    answer(database, org, "ann", 9)
    receiver.respond = lambda request: 400
    receiver.refusal = b'{"secret": "the body is not kept"}'
    run_once(sender(database))
    for row in rows(database):
        assert row.status == "failed" and row.attempts == 1
        assert row.last_status_code == 400 and row.last_error == "HTTP 400 Bad Request"


def test_a_refused_connection_is_retried(database: Database, org: Org) -> None:
    configure(database, org, "http://127.0.0.1:9")
    answer(database, org, "ann", 9)
    run_once(sender(database))
    for row in rows(database):
        assert row.status == "pending" and row.last_error.startswith("could not connect")


def test_a_disabled_source_fails_what_was_queued(database: Database, org: Org) -> None:
    configure(database, org, "http://127.0.0.1:9")
    answer(database, org, "ann", 9)
    configure(database, org, "http://127.0.0.1:9", enabled=False)
    run_once(sender(database))
    assert {row.status for row in rows(database)} == {"failed"}


def test_leases_keep_senders_apart(database: Database, org: Org, receiver: Receiver) -> None:
    configure(database, org, receiver.base)
    answer(database, org, "ann", 9)
    start = datetime.now(UTC)
    with database.write() as conn:  # a sender took them, then died
        conn.execute(update(segment_messages).values(claimed_until=start + timedelta(minutes=2)))
    clock = Clock(start)
    segment = sender(database, clock)
    assert run_once(segment) == 0
    clock.advance(minutes=3)
    assert run_once(segment) == 2


# --- settings and isolation ----------------------------------------------------------------


def test_settings_are_checked(database: Database, org: Org) -> None:
    def save(**values: Any) -> SourceSettings:
        base: dict[str, Any] = {
            "write_key": KEY,
            "host": "https://api.segment.io",
            "events": ["Survey Responded"],
            "identify": True,
            "trait_prefix": "nps_",
            "enabled": True,
            "policy": TargetPolicy(),
            **values,
        }
        with database.write() as conn:
            return save_source(conn, organization_id=org.id, now=datetime.now(UTC), **base)

    for values, field in [
        ({"host": "http://127.0.0.1:8000"}, "host"),
        ({"host": "http://10.1.2.3"}, "host"),
        ({"host": "ftp://api.segment.io"}, "host"),
        ({"host": "https://api.segment.io/?x=1"}, "host"),
        ({"write_key": ""}, "write_key"),
        ({"write_key": "two words"}, "write_key"),
        ({"events": ["Order Completed"]}, "events"),
        ({"trait_prefix": "nps score "}, "trait_prefix"),
        ({"host": "http://[::1"}, "host"),
        ({"host": "https://api.segment.io:99999"}, "host"),
        ({"host": "https://api segment.io"}, "host"),
    ]:
        with pytest.raises(InvalidSource) as raised:
            save(**values)
        assert field in raised.value.errors, values
    saved = save(host="https://hosted.dataplane.rudderstack.com/v1/batch/")
    assert saved.host == "https://hosted.dataplane.rudderstack.com"
    assert saved.masked_key == "…6789" and KEY not in str(saved.to_json())
    kept = save(write_key=None, host="https://hosted.dataplane.rudderstack.com", trait_prefix="")
    assert kept.write_key == KEY and kept.trait_prefix == ""
    # The stored key goes to no other host than the one it was given for.
    with pytest.raises(InvalidSource) as moved:
        save(write_key=None, host="https://collector.example.com")
    assert "write_key" in moved.value.errors
    assert save(host="https://collector.example.com").host == "https://collector.example.com"


def test_retry_after_is_read_safely() -> None:
    now = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
    assert retry_after("120", now) == now + timedelta(seconds=120)
    assert retry_after("9" * 40, now) == now + MOST_RETRY_AFTER  # no overflow
    assert retry_after("soon", now) is None and retry_after("١٢", now) is None
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now) == now  # a past date: now


def test_the_log_is_pruned_whole(database: Database, org: Org) -> None:
    queue(database, org, 5)
    with database.write() as conn:
        conn.execute(update(segment_messages).values(status="delivered"))
    later = datetime.now(UTC) + LOG_RETENTION + timedelta(days=1)
    segment = sender(database, clock=lambda: later)
    assert asyncio.run(segment.prune_once(chunk=2)) == 5
    assert rows(database) == []


def test_organizations_are_kept_apart(
    database: Database, org: Org, other_org: Org, receiver: Receiver
) -> None:
    configure(database, org, receiver.base, key="wk_for_acme")
    configure(database, other_org, receiver.base, key="wk_for_globex")
    answer(database, org, "ann", 9)
    answer(database, other_org, "zed", 1)
    run_once(sender(database))
    assert len(receiver.requests) == 2
    for request in receiver.requests:
        users = {m["userId"] for m in request.json["batch"]}
        key = "wk_for_acme" if users == {"ann"} else "wk_for_globex"
        assert users in ({"ann"}, {"zed"})
        check_segment_request(request, key)
    with database.read() as conn:
        total, mine = list_messages(conn, organization_id=org.id)
        assert total == 2 and {m.message["userId"] for m in mine} == {"ann"}
        _, theirs = list_messages(conn, organization_id=other_org.id)
        assert {m.message["userId"] for m in theirs} == {"zed"}
        source = get_source(conn, organization_id=org.id)
        assert source is not None and source.write_key == "wk_for_acme"
        assert get_source(conn, organization_id=make_org(database, "New").id) is None
