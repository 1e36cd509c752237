"""Replies to a respondent (feedback/replies.py): queued in the outbox with the note in one
transaction, the loop closed when asked (announced as the status change is), refused
without writing anything for bad text or a contact that cannot get one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Table, select, update

from promoter.contacts.writes import erase_contact
from promoter.domain.eligibility import ANONYMOUS
from promoter.feedback.replies import (
    MAX_BODY_LENGTH,
    MAX_SUBJECT_LENGTH,
    Replier,
    ReplyRefused,
    recipient,
    replies_of,
    send_reply,
)
from promoter.storage.engine import Database
from promoter.storage.tables import (
    contacts,
    deliveries,
    feedback_notes,
    feedback_replies,
    responses,
    webhook_deliveries,
)
from promoter.webhooks.events import FEEDBACK_STATUS_CHANGED
from tests.conftest import Org, make_org
from tests.surveys import answer
from tests.webhooks import subscribe

ANA = Replier(email="ana@acme.example.com", name="Ana")
NOW = datetime(2031, 5, 6, 10, 0, tzinfo=UTC)


def response_of(database: Database, org: Org, user_id: str) -> int:
    with database.read() as conn:
        found: int = conn.execute(
            select(responses.c.id)
            .join(contacts, contacts.c.id == responses.c.contact_id)
            .where(contacts.c.organization_id == org.id, contacts.c.user_id == user_id)
        ).scalar_one()
    return found


def rows(database: Database, table: Table) -> list[Any]:
    with database.read() as conn:
        return list(conn.execute(select(table).order_by(table.c.id)))


def reply(
    database: Database, org: Org, response_id: int, *, close: bool = False, **text: str
) -> Any:
    with database.write() as conn:
        return send_reply(
            conn,
            organization_id=org.id,
            response_id=response_id,
            replier=ANA,
            subject=text.get("subject", "Re: your feedback"),
            body=text.get("body", "Thanks, Ann.\r\nWe are on it."),
            close=close,
            now=NOW,
        )


def test_a_reply_is_queued_noted_and_closes_the_loop(database: Database, org: Org) -> None:
    answer(database, org, "ann", 3, "Too slow")
    rid = response_of(database, org, "ann")
    subscribe(database, org, FEEDBACK_STATUS_CHANGED, "https://acme.example.com/hook")
    sent = reply(database, org, rid, close=True)
    assert sent is not None and sent.status == "pending"

    (*_survey, queued) = rows(database, deliveries)
    assert (queued.kind, queued.status, queued.due_at) == ("reply", "pending", NOW)
    (stored,) = rows(database, feedback_replies)
    assert stored.delivery_id == queued.id and stored.response_id == rid
    assert (stored.to_address, stored.reply_to) == ("ann@example.com", ANA.email)
    assert stored.from_name == "Ana at Acme"
    assert stored.body == "Thanks, Ann.\nWe are on it."
    (note,) = rows(database, feedback_notes)
    assert note.author == ANA.email and note.response_id == rid
    assert note.body == (
        "Replied by email to ann@example.com\nSubject: Re: your feedback\n\n"
        "Thanks, Ann.\nWe are on it."
    )
    (response,) = rows(database, responses)
    assert response.status == "CLOSED" and response.updated_at == NOW
    (event,) = rows(database, webhook_deliveries)
    assert event.event == FEEDBACK_STATUS_CHANGED
    assert event.payload["data"]["status"] == "CLOSED"
    with database.read() as conn:
        (listed,) = replies_of(conn, organization_id=org.id, response_id=rid)
    assert (listed.subject, listed.status, listed.to_address) == (
        "Re: your feedback",
        "pending",
        "ann@example.com",
    )


def test_a_reply_without_closing_leaves_the_feedback_open(database: Database, org: Org) -> None:
    answer(database, org, "ann", 9)
    rid = response_of(database, org, "ann")
    subscribe(database, org, FEEDBACK_STATUS_CHANGED, "https://acme.example.com/hook")
    assert reply(database, org, rid, close=False) is not None
    assert [r.status for r in rows(database, responses)] == ["OPEN"]
    assert rows(database, webhook_deliveries) == []
    assert len(rows(database, feedback_replies)) == 1


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ({"body": "  \r\n "}, "Write a message."),
        ({"body": "x" * (MAX_BODY_LENGTH + 1)}, "at most 8,000 characters"),
        ({"body": "bell\x07"}, "control characters"),
        ({"subject": " "}, "Write a subject."),
        ({"subject": "s" * (MAX_SUBJECT_LENGTH + 1)}, "at most 200 characters"),
        ({"subject": "Hi\r\nBcc: all@example.com"}, "must be one line"),
        ({"subject": "Hi\nthere"}, "must be one line"),
    ],
)
def test_bad_text_is_refused_and_nothing_is_written(
    database: Database, org: Org, text: dict[str, str], error: str
) -> None:
    answer(database, org, "ann", 3)
    rid = response_of(database, org, "ann")
    with pytest.raises(ReplyRefused, match=error):
        reply(database, org, rid, close=True, **text)
    assert rows(database, feedback_replies) == [] and rows(database, feedback_notes) == []
    assert [d.kind for d in rows(database, deliveries)] == ["survey"]
    assert [r.status for r in rows(database, responses)] == ["OPEN"]


def test_who_can_get_a_reply(database: Database, org: Org) -> None:
    changes = {
        "bounced": {"status": "bounced"},
        "unsubscribed": {"status": "unsubscribed"},
        "gone": {"email": "", "email_key": ""},
        # As a public link's anonymous answer is kept (contacts.writes).
        "anonymous": {"status": ANONYMOUS, "user_id": None, "email": "", "email_key": ""},
    }
    ids = {}
    for user_id, values in changes.items():
        answer(database, org, user_id, 2)
        ids[user_id] = response_of(database, org, user_id)
        with database.write() as conn:
            conn.execute(update(contacts).where(contacts.c.user_id == user_id).values(**values))
    refused = {
        "bounced": "bounced@example.com bounced",
        "gone": "no email address",
        "anonymous": "anonymous",
    }
    for user_id, error in refused.items():
        with database.read() as conn:
            to = recipient(conn, organization_id=org.id, response_id=ids[user_id], replier=ANA)
        assert to is not None and to.refused is not None and error in to.refused
        with pytest.raises(ReplyRefused, match=error):
            reply(database, org, ids[user_id])
    assert rows(database, feedback_replies) == []
    # Unsubscribing stops surveys, not a person's answer to the feedback given.
    assert reply(database, org, ids["unsubscribed"]) is not None
    assert [r.to_address for r in rows(database, feedback_replies)] == ["unsubscribed@example.com"]


def test_another_organizations_feedback_cannot_be_replied_to(database: Database, org: Org) -> None:
    answer(database, org, "ann", 3)
    rid = response_of(database, org, "ann")
    other = make_org(database, "Globex")
    assert reply(database, other, rid, close=True) is None
    with database.read() as conn:
        assert recipient(conn, organization_id=other.id, response_id=rid, replier=ANA) is None
        assert replies_of(conn, organization_id=other.id, response_id=rid) == []
    assert rows(database, feedback_replies) == [] and rows(database, feedback_notes) == []
    assert [r.status for r in rows(database, responses)] == ["OPEN"]


def test_erasing_the_contact_takes_its_replies_with_it(database: Database, org: Org) -> None:
    """An erased contact's feedback is gone (a reply answers 404), and so are the replies
    written to it, the one still waiting in the outbox included: nothing is sent."""
    answer(database, org, "ann", 3, "Too slow")
    rid = response_of(database, org, "ann")
    assert reply(database, org, rid) is not None
    with database.write() as conn:
        assert erase_contact(conn, organization_id=org.id, user_id="ann")
    assert rows(database, feedback_replies) == [] and rows(database, deliveries) == []
    assert reply(database, org, rid) is None


def test_the_same_reply_sent_twice_is_sent_once(database: Database, org: Org) -> None:
    """A double click, or the form sent again from the browser's history."""
    answer(database, org, "ann", 3, "Too slow")
    rid = response_of(database, org, "ann")
    first = reply(database, org, rid, body="Sorry!")
    again = reply(database, org, rid, body="Sorry!\r\n")
    assert first is not None and again is not None and again.id == first.id
    assert len(rows(database, feedback_replies)) == len(rows(database, feedback_notes)) == 1
    # Other words are another reply.
    assert reply(database, org, rid, body="Also: fixed.") is not None
    assert len(rows(database, feedback_replies)) == len(rows(database, feedback_notes)) == 2
