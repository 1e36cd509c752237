"""The delivery worker against the file backend and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import random
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from promoter.campaigns import service as campaigns
from promoter.contacts.suppressions import list_bounced
from promoter.delivery.i18n import words
from promoter.delivery.mailers import FileMailer, Mailer, SmtpMailer
from promoter.delivery.render import EmailRenderer, OutgoingEmail
from promoter.delivery.tokens import TokenSigner
from promoter.delivery.worker import DeliveryWorker
from promoter.domain.messages import Envelope
from promoter.domain.paging import Page
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.service import Ingestor
from promoter.segment_source.settings import SURVEY_SENT as SEGMENT_SURVEY_SENT
from promoter.segment_source.settings import save_source
from promoter.storage.engine import Database
from promoter.storage.tables import (
    contacts,
    deliveries,
    responses,
    segment_messages,
    surveys,
    webhook_deliveries,
)
from promoter.surveys.responses import find_survey
from promoter.surveys.trigger import SurveyTrigger
from promoter.webhooks.events import SURVEY_SENT
from tests.conftest import Org
from tests.webhooks import LOOPBACK_ALLOWED, subscribe

SIGNER = TokenSigner("test-secret")


class Inbox:
    """An aiosmtpd handler: keeps what it accepts; answers with ``reply`` when set."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.reply: str | None = None
        self.slow_rcpt = 0.0
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.slow_rcpt:
            await asyncio.sleep(self.slow_rcpt)
        if self.reply:
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def schedule(
    database: Database, org: Org, *user_ids: str, identify: dict[str, Any] | None = None
) -> None:
    """An identify (with ``identify``'s fields added) and a track that starts a survey,
    for each user."""
    messages: list[dict[str, Any]] = []
    for user_id in user_ids:
        traits = {"email": f"{user_id}@example.com", "firstName": user_id.title()}
        messages.append(
            {"type": "identify", "userId": user_id, "traits": traits, **(identify or {})}
        )
        messages.append({"type": "track", "userId": user_id, "event": "Signed Up"})
    ingest_messages(
        database=database,
        ingestor=Ingestor([SurveyTrigger()]),
        organization_id=org.id,
        messages=messages,
        envelope=Envelope(received_at=datetime.now(UTC)),
        allowed=TRACKING_API_TYPES,
    )


def worker(database: Database, mailer: Mailer, **options: Any) -> DeliveryWorker:
    renderer = EmailRenderer(
        base_url="https://nps.example.com", sender="s@nps.example.com", signer=SIGNER
    )
    return DeliveryWorker(
        database=database, mailer=mailer, renderer=renderer, rng=random.Random(1), **options
    )


def rows(database: Database, table: Any) -> list[Any]:
    with database.read() as conn:
        return conn.execute(select(table).order_by(table.c.id)).all()


def test_file_backend_writes_each_survey_once(database: Database, org: Org, tmp_path: Path) -> None:
    schedule(database, org, "ann", "bob")
    sent = asyncio.run(worker(database, FileMailer(tmp_path)).run_once())
    assert sent == 2
    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 2
    recipients = sorted(email.message_from_bytes(f.read_bytes())["To"] for f in files)
    assert recipients == ["Ann <ann@example.com>", "Bob <bob@example.com>"]
    assert [s.status for s in rows(database, surveys)] == ["sent", "sent"]
    assert all(d.status == "sent" and d.message_id for d in rows(database, deliveries))
    assert asyncio.run(worker(database, FileMailer(tmp_path)).run_once()) == 0
    assert len(list(tmp_path.glob("*.eml"))) == 2


def test_smtp_delivery_and_reminder(database: Database, org: Org, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    with database.write() as conn:
        (campaign,) = campaigns.list_campaigns(conn, organization_id=org.id)
        campaigns.update_campaign(
            conn, organization_id=org.id, campaign_id=campaign.id, changes={"reminder_days": 3}
        )
    schedule(database, org, "ann")
    now = datetime.now(UTC)
    clock = [now]

    async def scenario() -> None:
        mailer = SmtpMailer(host="127.0.0.1", port=port, timeout=5)
        run = worker(database, mailer, clock=lambda: clock[0])
        assert await run.run_once() == 1
        (message,) = inbox.messages
        assert message["To"] == "Ann <ann@example.com>" and message["List-Unsubscribe-Post"]
        (survey,) = rows(database, surveys)
        assert survey.status == "sent" and survey.reminder_due_at is not None
        first, reminder = rows(database, deliveries)
        assert (first.status, reminder.kind, reminder.status) == ("sent", "reminder", "pending")
        assert await run.run_once() == 0  # not due yet
        clock[0] = now + timedelta(days=3, minutes=1)
        assert await run.run_once() == 1
        assert len(inbox.messages) == 2 and inbox.messages[1]["Subject"].startswith("Reminder")
        await mailer.close()

    asyncio.run(scenario())


def test_smtp_down_delays_mail_then_delivers_once(database: Database, org: Org) -> None:
    schedule(database, org, "ann")
    port = free_port()  # nothing listens yet
    clock = [datetime.now(UTC)]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)

    async def scenario() -> None:
        mailer = SmtpMailer(host="127.0.0.1", port=port, timeout=2)
        run = worker(database, mailer, clock=lambda: clock[0])
        assert await run.run_once() == 1
        (delivery,) = rows(database, deliveries)
        assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_error
        assert delivery.due_at > clock[0] + timedelta(seconds=20)
        controller.start()
        assert await run.run_once() == 0  # backing off
        clock[0] = delivery.due_at + timedelta(seconds=1)
        assert await run.run_once() == 1
        assert await run.run_once() == 0
        await mailer.close()

    try:
        asyncio.run(scenario())
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    assert rows(database, deliveries)[0].status == "sent"


def test_smtp_down_for_hours_keeps_retrying_then_delivers_once(
    database: Database, org: Org
) -> None:
    schedule(database, org, "ann")
    port = free_port()  # nothing listens for the first hours
    clock = [datetime.now(UTC)]
    start = clock[0]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    waits: list[float] = []

    async def scenario() -> None:
        mailer = SmtpMailer(host="127.0.0.1", port=port, timeout=2)
        run = worker(database, mailer, clock=lambda: clock[0])
        while clock[0] - start < timedelta(hours=6):
            assert await run.run_once() == 1
            (delivery,) = rows(database, deliveries)
            assert delivery.status == "pending"
            assert delivery.last_error.startswith(f"could not connect to 127.0.0.1:{port}: ")
            waits.append((delivery.due_at - clock[0]).total_seconds())
            clock[0] = delivery.due_at
        controller.start()
        assert await run.run_once() == 1
        assert await run.run_once() == 0
        await mailer.close()

    try:
        asyncio.run(scenario())
    finally:
        controller.stop(no_assert=True)
    # Backing off from 30 s, doubling, to an hour at most (each ±20%).
    assert 24 <= waits[0] <= 36 and all(w <= 3600 * 1.2 for w in waits), waits
    assert all(b >= a * 1.3 for a, b in pairwise(waits[:6])), waits
    assert len(inbox.messages) == 1
    (delivery,) = rows(database, deliveries)
    assert delivery.status == "sent" and delivery.attempts == len(waits) + 1
    assert rows(database, surveys)[0].status == "sent"


def test_a_slow_smtp_server_times_out_then_delivers_once(
    database: Database, org: Org, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    schedule(database, org, "ann")
    inbox.slow_rcpt = 3.0  # longer than the mailer waits

    async def scenario() -> None:
        mailer = SmtpMailer(host="127.0.0.1", port=port, timeout=0.5)
        assert await worker(database, mailer).run_once() == 1
        (delivery,) = rows(database, deliveries)
        assert delivery.status == "pending" and "Timeout" in delivery.last_error, delivery
        inbox.slow_rcpt = 0.0
        with database.write() as conn:
            conn.execute(update(deliveries).values(due_at=datetime.now(UTC) - timedelta(seconds=1)))
        assert await worker(database, mailer).run_once() == 1
        await mailer.close()

    asyncio.run(scenario())
    assert len(inbox.messages) == 1
    assert rows(database, deliveries)[0].status == "sent"


def test_temporary_and_permanent_refusals(
    database: Database, org: Org, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    schedule(database, org, "ann")

    async def scenario() -> None:
        mailer = SmtpMailer(host="127.0.0.1", port=port, timeout=5)
        inbox.reply = "451 4.3.0 try later"
        await worker(database, mailer).run_once()
        (delivery,) = rows(database, deliveries)
        assert delivery.status == "pending" and "451" in delivery.last_error
        with database.write() as conn:
            conn.execute(update(deliveries).values(due_at=datetime.now(UTC) - timedelta(seconds=1)))
        inbox.reply = "550 5.1.1 no such user"
        await worker(database, mailer).run_once()
        await mailer.close()

    asyncio.run(scenario())
    (delivery,) = rows(database, deliveries)
    assert delivery.status == "failed" and "550" in delivery.last_error
    assert rows(database, surveys)[0].status == "failed"
    assert rows(database, contacts)[0].status == "bounced"


def test_a_suppressed_contacts_pending_delivery_is_cancelled(
    database: Database, org: Org, tmp_path: Path
) -> None:
    schedule(database, org, "ann")
    with database.write() as conn:
        conn.execute(update(contacts).values(status="unsubscribed"))
    assert asyncio.run(worker(database, FileMailer(tmp_path)).run_once()) == 1
    assert list(tmp_path.glob("*.eml")) == []
    assert rows(database, deliveries)[0].status == "cancelled"


def test_an_expired_lease_is_claimed_again(database: Database, org: Org, tmp_path: Path) -> None:
    """A worker killed mid-send leaves its lease; after it expires, the mail goes out."""
    schedule(database, org, "ann")
    from promoter.delivery.outbox import claim_due

    now = datetime.now(UTC)
    with database.write() as conn:
        claimed, _ = claim_due(conn, now=now, limit=10, lease=timedelta(minutes=5))
    assert len(claimed) == 1  # ... and the worker holding it dies
    clock = [now + timedelta(minutes=1)]
    run = worker(database, FileMailer(tmp_path), clock=lambda: clock[0])
    assert asyncio.run(run.run_once()) == 0
    clock[0] = now + timedelta(minutes=6)
    assert asyncio.run(run.run_once()) == 1
    assert len(list(tmp_path.glob("*.eml"))) == 1
    assert rows(database, deliveries)[0].attempts == 2


def test_concurrent_workers_never_send_twice(
    database: Database, org: Org, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    schedule(database, org, *[f"user{i}" for i in range(60)])

    async def both() -> None:
        mailers = [SmtpMailer(host="127.0.0.1", port=port, timeout=5) for _ in range(3)]
        runs = [worker(database, m, batch_size=7) for m in mailers]

        async def drain(run: DeliveryWorker) -> None:
            while await run.run_once():
                pass

        await asyncio.gather(*(drain(r) for r in runs))
        for m in mailers:
            await m.close()

    asyncio.run(both())
    recipients = [m["To"] for m in inbox.messages]
    assert len(recipients) == 60 and len(set(recipients)) == 60
    assert {d.status for d in rows(database, deliveries)} == {"sent"}


def test_new_feedback_is_forwarded_to_the_campaigns_address(
    database: Database, org: Org, smtp: tuple[Inbox, int]
) -> None:
    from promoter.surveys.responses import find_survey, record_comment, record_score, unsubscribe

    inbox, port = smtp
    with database.write() as conn:
        (campaign,) = campaigns.list_campaigns(conn, organization_id=org.id)
        campaigns.update_campaign(
            conn,
            organization_id=org.id,
            campaign_id=campaign.id,
            changes={"forward_email": "team@acme.example.com"},
        )
    schedule(database, org, "ann")
    now = datetime.now(UTC)
    clock = [now]

    async def scenario() -> None:
        mailer = SmtpMailer(host="127.0.0.1", port=port, timeout=5)
        run = worker(database, mailer, clock=lambda: clock[0])
        assert await run.run_once() == 1  # the survey itself
        (survey_row,) = rows(database, surveys)
        with database.write() as conn:
            survey = find_survey(conn, token=survey_row.token)
            assert survey is not None
            record_score(conn, survey, score=4, now=now)
            survey = find_survey(conn, token=survey_row.token)
            assert survey is not None
            record_comment(conn, survey, comment="Too slow", now=now)
            record_score(conn, survey, score=5, now=now)  # a changed answer: no second note
            unsubscribe(conn, survey, now=now)  # the team still hears about the feedback
        assert await run.run_once() == 0  # the note waits for the comment
        clock[0] = now + timedelta(minutes=11)
        assert await run.run_once() == 1
        await mailer.close()

    asyncio.run(scenario())
    _survey, note = inbox.messages
    assert note["To"] == "team@acme.example.com" and note["Reply-To"] == "ann@example.com"
    body = note.get_payload(decode=True).decode()
    assert "Score: 5 / 10" in body and "Too slow" in body and "Ann <ann@example.com>" in body


def test_a_message_that_cannot_be_built_fails_alone(
    database: Database, org: Org, tmp_path: Path
) -> None:
    schedule(database, org, "ann", "bob")

    class Picky(EmailRenderer):
        def render(self, email: Any, template: Any) -> Any:
            if email.to_address.startswith("ann"):
                raise ValueError("no")
            return super().render(email, template)

    renderer = Picky(base_url="https://nps.example.com", sender="s@nps.example.com", signer=SIGNER)
    run = DeliveryWorker(database=database, mailer=FileMailer(tmp_path), renderer=renderer)
    assert asyncio.run(run.run_once()) == 2
    assert len(list(tmp_path.glob("*.eml"))) == 1
    assert sorted(d.status for d in rows(database, deliveries)) == ["failed", "sent"]


@pytest.mark.parametrize(
    ("identify", "language", "phrase"),
    [
        ({"traits": {"email": "ann@example.com", "language": "ja"}}, "ja", "友人や同僚に薦める"),
        ({"traits": {"email": "ann@example.com", "locale": "ar_EG"}}, "ar", "لصديق أو زميل"),
        (
            {"traits": {"email": "ann@example.com", "language": "zh-Hant", "locale": "pt-BR"}},
            "pt",
            "a um amigo ou colega",
        ),
        ({"context": {"traits": {"email": "ann@example.com", "language": "nl"}}}, "nl", "collega"),
        ({"traits": {"email": "ann@example.com", "language": "zh"}}, "en", "friend or colleague"),
    ],
)
def test_the_contacts_language_or_locale_trait_chooses_the_language_of_its_emails(
    database: Database,
    org: Org,
    tmp_path: Path,
    identify: dict[str, Any],
    language: str,
    phrase: str,
) -> None:
    with database.write() as conn:
        (campaign,) = campaigns.list_campaigns(conn, organization_id=org.id)
        campaigns.update_campaign(
            conn, organization_id=org.id, campaign_id=campaign.id, changes={"reminder_days": 3}
        )
    schedule(database, org, "ann", identify=identify)
    now = datetime.now(UTC)
    clock = [now]
    run = worker(database, FileMailer(tmp_path), clock=lambda: clock[0])
    assert asyncio.run(run.run_once()) == 1
    clock[0] = now + timedelta(days=3, minutes=1)
    assert asyncio.run(run.run_once()) == 1  # the reminder
    sent = [
        email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        for f in sorted(tmp_path.glob("*.eml"), key=lambda f: f.stat().st_mtime_ns)
    ]
    assert len(sent) == 2
    direction = "rtl" if language == "ar" else "ltr"
    for message in sent:
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert f'<html lang="{language}" dir="{direction}">' in html
        assert phrase in html and phrase in text
    assert sent[1]["Subject"] == f"{words(language, '')['reminder']}: {sent[0]['Subject']}"
    with database.read() as conn:
        token = conn.execute(select(surveys.c.token)).scalar_one()
        view = find_survey(conn, token=token)
    assert view is not None and view.language == language  # the survey pages' language


def _answer_and_reply(database: Database, org: Org, *, subject: str, body: str) -> None:
    """Ann answers the survey she was sent; Ana (a user) replies from the dashboard."""
    from promoter.surveys.responses import record_comment, record_score

    now = datetime.now(UTC)
    with database.write() as conn:
        token = conn.execute(select(surveys.c.token)).scalar_one()
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_score(conn, survey, score=4, now=now)
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_comment(conn, survey, comment="Too slow", now=now)
    _reply(database, org, subject=subject, body=body)


def _reply(database: Database, org: Org, *, subject: str, body: str) -> None:
    from promoter.feedback.replies import Replier, send_reply

    with database.write() as conn:
        send_reply(
            conn,
            organization_id=org.id,
            response_id=conn.execute(select(responses.c.id)).scalar_one(),
            replier=Replier("ana@acme.example.com", "Ana"),
            subject=subject,
            body=body,
            close=True,
            now=datetime.now(UTC),
        )


def test_a_reply_reaches_the_respondent_from_the_campaigns_sender(
    database: Database, org: Org, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    schedule(database, org, "ann")

    async def scenario() -> None:
        mailer = SmtpMailer(host="127.0.0.1", port=port, timeout=5)
        run = worker(database, mailer)
        assert await run.run_once() == 1  # the survey
        _answer_and_reply(
            database,
            org,
            subject="Réponse à votre avis",
            body="Hello Ann,\r\n\r\nsorry about the wait. Fixed now.\r\n\r\nAna",
        )
        # Unsubscribing stops surveys, not a person's answer to the feedback given.
        with database.write() as conn:
            conn.execute(update(contacts).values(status="unsubscribed"))
        assert await run.run_once() == 1
        await mailer.close()

    asyncio.run(scenario())
    survey_email, received = (
        email.message_from_bytes(m.as_bytes(), policy=email.policy.default) for m in inbox.messages
    )
    assert str(received["From"]) == "Ana at Acme <s@nps.example.com>"
    assert str(received["Reply-To"]) == "ana@acme.example.com"
    assert str(received["To"]) == "Ann <ann@example.com>"
    assert str(received["Subject"]) == "Réponse à votre avis"
    assert received["In-Reply-To"] == survey_email["Message-ID"]
    assert received["Message-ID"].endswith("@nps.example.com>")
    for header in ("List-Unsubscribe", "Auto-Submitted"):
        assert header not in received and header in survey_email
    assert not received.is_multipart()
    assert received.get_content() == "Hello Ann,\n\nsorry about the wait. Fixed now.\n\nAna\n"
    (_survey, reply) = rows(database, deliveries)
    assert (reply.kind, reply.status) == ("reply", "sent")
    assert reply.message_id == received["Message-ID"]
    assert rows(database, surveys)[0].status == "answered"


def test_replies_respect_bounces(database: Database, org: Org, smtp: tuple[Inbox, int]) -> None:
    """A reply queued before the address bounced is not sent; a reply the server refuses
    for good bounces the contact (and fails no survey)."""
    inbox, port = smtp
    schedule(database, org, "ann")

    async def scenario() -> None:
        mailer = SmtpMailer(host="127.0.0.1", port=port, timeout=5)
        run = worker(database, mailer)
        assert await run.run_once() == 1  # the survey
        _answer_and_reply(database, org, subject="Re: your feedback", body="Thanks!")
        with database.write() as conn:
            conn.execute(update(contacts).values(status="bounced"))
        assert await run.run_once() == 1  # cancelled
        assert [d.status for d in rows(database, deliveries)] == ["sent", "cancelled"]
        with database.write() as conn:
            conn.execute(update(contacts).values(status="active"))
        _reply(database, org, subject="Re: your feedback", body="Thanks again!")
        inbox.reply = "550 5.1.1 no such user"
        assert await run.run_once() == 1
        await mailer.close()

    asyncio.run(scenario())
    assert len(inbox.messages) == 1  # the survey alone
    refused = rows(database, deliveries)[-1]
    assert (refused.kind, refused.status) == ("reply", "failed") and "550" in refused.last_error
    assert rows(database, contacts)[0].status == "bounced"
    assert rows(database, surveys)[0].status == "answered"
    with database.read() as conn:  # what the bounces API shows
        _, (bounced,) = list_bounced(conn, organization_id=org.id, page=Page(1, 10))
    assert (bounced.kind, bounced.error) == ("reply", refused.last_error)


def test_survey_sent_is_queued_for_the_organizations_that_want_it_in_a_mixed_batch(
    database: Database, org: Org, other_org: Org, tmp_path: Path
) -> None:
    """One batch holds two organizations' surveys: each one's survey.sent goes where that
    organization asked (a webhook for one, its Segment source for the other), never to the
    other's."""
    subscribe(database, org, SURVEY_SENT, "https://acme.example.com/sent")
    with database.write() as conn:
        save_source(
            conn,
            organization_id=other_org.id,
            write_key="globex-key",
            host="http://127.0.0.1:9",
            policy=LOOPBACK_ALLOWED,
            now=datetime.now(UTC),
            events=[SEGMENT_SURVEY_SENT],
            identify=False,
            trait_prefix="nps_",
            enabled=True,
        )
    schedule(database, org, "ann", "bob")
    schedule(database, other_org, "cyd")
    assert asyncio.run(worker(database, FileMailer(tmp_path)).run_once()) == 3
    by_survey = {s.id: s.organization_id for s in rows(database, surveys)}
    hooks = rows(database, webhook_deliveries)
    assert sorted(h.payload["data"]["contact"]["email"] for h in hooks) == [
        "ann@example.com",
        "bob@example.com",
    ]
    assert {(h.organization_id, h.event) for h in hooks} == {(org.id, SURVEY_SENT)}
    (fact,) = rows(database, segment_messages)
    assert (fact.organization_id, fact.kind) == (other_org.id, SEGMENT_SURVEY_SENT)
    assert by_survey[fact.message["properties"]["survey_id"]] == other_org.id


def test_a_refused_message_in_a_batch_is_retried_alone(
    database: Database, org: Org, smtp: tuple[Inbox, int]
) -> None:
    """The server refuses one recipient for now (451) in a batch sent side by side over
    two connections: the others are sent and recorded once, the refused one waits for its
    retry and is then sent once."""
    inbox, port = smtp
    schedule(database, org, "ann", "bob", "cyd", "dan", "eve")
    refused = {"cyd@example.com"}

    async def handle_RCPT(
        server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in refused:
            return "451 4.3.0 try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    inbox.handle_RCPT = handle_RCPT  # type: ignore[method-assign]

    async def scenario() -> None:
        mailer = SmtpMailer(host="127.0.0.1", port=port, timeout=5)
        assert await worker(database, mailer).run_once() == 5
        by_user = {d.survey_id: d for d in rows(database, deliveries)}
        assert sorted(d.status for d in by_user.values()) == ["pending"] + ["sent"] * 4
        (waiting,) = [d for d in by_user.values() if d.status == "pending"]
        assert "451" in waiting.last_error and waiting.claimed_until is None
        assert sorted(m["To"] for m in inbox.messages) == [
            "Ann <ann@example.com>",
            "Bob <bob@example.com>",
            "Dan <dan@example.com>",
            "Eve <eve@example.com>",
        ]
        assert await worker(database, mailer).run_once() == 0  # not due yet
        refused.clear()
        with database.write() as conn:
            conn.execute(update(deliveries).values(due_at=datetime.now(UTC) - timedelta(seconds=1)))
        assert await worker(database, mailer).run_once() == 1
        await mailer.close()

    asyncio.run(scenario())
    assert [m["To"] for m in inbox.messages][4:] == ["Cyd <cyd@example.com>"]
    assert all(d.status == "sent" for d in rows(database, deliveries) if d.kind == "survey")
    assert len({d.message_id for d in rows(database, deliveries)}) == 5


def test_the_running_worker_records_each_batch_before_sending_the_next(
    database: Database, org: Org, tmp_path: Path
) -> None:
    """``run`` writes a batch's outcomes while it claims the next batch, and before it
    sends it: whenever a message goes out, at most one batch (this one) is sent and not
    yet recorded. Stopped, it records the last batch before it returns."""
    schedule(database, org, *[f"user{i:02d}" for i in range(10)])
    stop = asyncio.Event()
    seen: list[tuple[int, int]] = []  # messages written, deliveries recorded as sent
    held: list[int] = []  # deliveries claimed and not yet recorded, as each message goes

    def recorded() -> int:
        with database.read() as conn:
            query = select(deliveries.c.id).where(deliveries.c.status == "sent")
            return len(conn.execute(query).all())

    class Watching(FileMailer):
        async def send(self, message: OutgoingEmail) -> None:
            await super().send(message)
            sent = len(list(self.folder.glob("*.eml")))
            seen.append((sent, recorded()))
            held.append(claimed(database))
            if sent == 10:
                stop.set()

    asyncio.run(worker(database, Watching(tmp_path), batch_size=4).run(stop, idle_seconds=0.05))
    assert len(seen) == 10
    # Batches of 4 (one batch's messages written side by side): once a message of a
    # batch is out, every batch before it is recorded, and no later batch is claimed.
    assert all(done >= 4 * ((sent - 1) // 4) for sent, done in seen), seen
    assert held and max(held) <= 4, held
    assert max(sent for sent, _ in seen) == 10
    assert {d.status for d in rows(database, deliveries) if d.kind == "survey"} == {"sent"}
    assert len({d.message_id for d in rows(database, deliveries) if d.kind == "survey"}) == 10


def test_a_batch_claimed_as_the_worker_is_stopped_is_sent_before_it_returns(
    database: Database, org: Org, tmp_path: Path
) -> None:
    """The stop comes while the first batch is recorded, in the transaction that claims
    the second: the second is in hand, so it is sent and recorded; the third is never
    claimed."""
    schedule(database, org, *[f"user{i:02d}" for i in range(10)])
    stop = asyncio.Event()
    mailer = FileMailer(tmp_path)

    def clock() -> datetime:
        if len(list(tmp_path.glob("*.eml"))) == 4:  # the first batch is out
            stop.set()
        return datetime.now(UTC)

    run = worker(database, mailer, batch_size=4, clock=clock)
    asyncio.run(run.run(stop, idle_seconds=0.05))
    assert len(list(tmp_path.glob("*.eml"))) == 8
    statuses = Counter(d.status for d in rows(database, deliveries) if d.kind == "survey")
    assert statuses == {"sent": 8, "pending": 2}
    assert claimed(database) == 0


def claimed(database: Database) -> int:
    """Deliveries a worker holds: claimed (leased) and not yet recorded."""
    with database.read() as conn:
        query = select(deliveries.c.id).where(
            deliveries.c.status == "pending", deliveries.c.claimed_until.is_not(None)
        )
        return len(conn.execute(query).all())
