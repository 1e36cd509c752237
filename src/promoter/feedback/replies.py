"""Replies to a respondent, written on a piece of feedback by a signed-in user.

A reply is checked, then queued in the outbox in the caller's transaction (a
``deliveries`` row of kind "reply" and its text in ``feedback_replies``), recorded as a
note on the feedback, and the loop closed when asked. The delivery worker sends it like
any other mail, retrying while the mail server is away. It goes from the campaign's
sender ("Ana at Acme" with the instance's sender address), with ``Reply-To`` set to the
writer's own address: Promoter reads no mail, so answers reach the writer directly.

Every function takes the caller's connection; none commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, insert, select

from promoter.delivery.outbox import REPLY
from promoter.domain.eligibility import ANONYMOUS
from promoter.domain.headers import is_one_line, one_line
from promoter.feedback.followup import set_status
from promoter.feedback.notes import add_note
from promoter.storage.tables import (
    campaigns,
    contacts,
    deliveries,
    email_templates,
    feedback_replies,
    organizations,
    responses,
    surveys,
)

DEFAULT_SUBJECT = "Re: your feedback"
MAX_SUBJECT_LENGTH = 200
MAX_BODY_LENGTH = 8_000
#: The same reply sent again this soon (a double click, a form sent again) is the same one.
SAME_REPLY_WINDOW = timedelta(minutes=10)
#: Control characters a message may not hold (tab and line feed are text).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class ReplyRefused(ValueError):
    """The reply cannot be sent as written, or to this contact (the message says why)."""


@dataclass(frozen=True, slots=True)
class Replier:
    """The signed-in user who writes the reply."""

    email: str
    name: str | None = None

    @property
    def display_name(self) -> str:
        return one_line(self.name or "").strip() or self.email.partition("@")[0]


@dataclass(frozen=True, slots=True)
class Recipient:
    """Whom a reply to a piece of feedback goes to, and from whom it reads."""

    survey_id: int
    address: str
    name: str | None
    #: "Ana at Acme": the writer, at the campaign's sender name.
    from_name: str
    #: Why no reply can be sent (no address, a bounced one); None when one can.
    refused: str | None
    in_reply_to: str | None


@dataclass(frozen=True, slots=True)
class SentReply:
    """A reply queued or sent, with its delivery's state."""

    id: int
    to_address: str
    reply_to: str
    subject: str
    body: str
    created_at: datetime
    #: The delivery's: pending, sent, failed or cancelled.
    status: str
    sent_at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Conversation:
    """What the reply form shows: whom a reply goes to, and the replies written so far."""

    recipient: Recipient
    replies: list[SentReply]
    subject: str = DEFAULT_SUBJECT


def conversation(
    conn: Connection, *, organization_id: int, response_id: int, replier: Replier
) -> Conversation | None:
    """None when the organization has no such response."""
    to = recipient(conn, organization_id=organization_id, response_id=response_id, replier=replier)
    if to is None:
        return None
    return Conversation(
        to, replies_of(conn, organization_id=organization_id, response_id=response_id)
    )


def recipient(
    conn: Connection, *, organization_id: int, response_id: int, replier: Replier
) -> Recipient | None:
    """Whom a reply to the response would go to; None when the organization has no such
    response."""
    row = conn.execute(
        select(
            responses.c.survey_id,
            contacts.c.email,
            contacts.c.first_name,
            contacts.c.last_name,
            contacts.c.status,
            email_templates.c.from_name,
            organizations.c.name.label("organization_name"),
        )
        .select_from(
            responses.join(surveys, surveys.c.id == responses.c.survey_id)
            .join(contacts, contacts.c.id == responses.c.contact_id)
            .join(campaigns, campaigns.c.id == surveys.c.campaign_id)
            .join(email_templates, email_templates.c.id == campaigns.c.email_template_id)
            .join(organizations, organizations.c.id == responses.c.organization_id)
        )
        .where(responses.c.organization_id == organization_id, responses.c.id == response_id)
    ).first()
    if row is None:
        return None
    sender = one_line(row.from_name or "").strip() or row.organization_name
    name = " ".join(p for p in (row.first_name, row.last_name) if p) or None
    return Recipient(
        survey_id=int(row.survey_id),
        address=row.email or "",
        name=name,
        from_name=f"{replier.display_name} at {sender}"[:400],
        refused=_refusal(row.status, row.email or ""),
        in_reply_to=_survey_message_id(conn, int(row.survey_id)),
    )


def _refusal(status: str, address: str) -> str | None:
    if status == ANONYMOUS:
        return "This answer is anonymous: there is no address to reply to."
    if not address:
        return "This contact has no email address to reply to."
    if status == "bounced":
        return (
            f"Mail to {address} bounced, so Promoter sends nothing more to it. "
            "Reply from your own mail program if you have another address."
        )
    return None


def _survey_message_id(conn: Connection, survey_id: int) -> str | None:
    """The Message-ID of the survey's latest email (survey or reminder), if one was sent."""
    found = conn.execute(
        select(deliveries.c.message_id)
        .where(
            deliveries.c.survey_id == survey_id,
            deliveries.c.kind.in_(("survey", "reminder")),
            deliveries.c.status == "sent",
            deliveries.c.message_id.is_not(None),
        )
        .order_by(deliveries.c.sent_at.desc(), deliveries.c.id.desc())
        .limit(1)
    ).scalar()
    return str(found) if found else None


def clean_subject(subject: str) -> str:
    """The subject, trimmed; ``ReplyRefused`` says what is wrong with it."""
    subject = subject.strip()
    if not subject:
        raise ReplyRefused("Write a subject.")
    if not is_one_line(subject):
        raise ReplyRefused("The subject must be one line: no line breaks or control characters.")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise ReplyRefused(f"The subject has at most {MAX_SUBJECT_LENGTH} characters.")
    return subject


def clean_body(body: str) -> str:
    """The message, its line ends made ``\\n`` and its ends trimmed; ``ReplyRefused`` says
    what is wrong with it."""
    body = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        raise ReplyRefused("Write a message.")
    if len(body) > MAX_BODY_LENGTH:
        raise ReplyRefused(f"The message has at most {MAX_BODY_LENGTH:,} characters.")
    if _CONTROL.search(body):
        raise ReplyRefused("The message holds control characters: remove them.")
    return body


def send_reply(
    conn: Connection,
    *,
    organization_id: int,
    response_id: int,
    replier: Replier,
    subject: str,
    body: str,
    close: bool,
    now: datetime,
) -> SentReply | None:
    """Queue a reply to the respondent, note it on the feedback and, when ``close``,
    close the loop (as the status change does, announced to webhooks). The same text
    sent again by the same writer within ``SAME_REPLY_WINDOW`` is the reply already
    queued: nothing more is sent or noted. None when the organization has no such
    response; ``ReplyRefused`` when it cannot be sent."""
    subject, body = clean_subject(subject), clean_body(body)
    to = recipient(conn, organization_id=organization_id, response_id=response_id, replier=replier)
    if to is None:
        return None
    if to.refused:
        raise ReplyRefused(to.refused)
    same = _same_reply(conn, organization_id, response_id, replier, subject, body, now)
    if same is not None:
        return same
    delivery_id = conn.execute(
        insert(deliveries)
        .values(
            organization_id=organization_id,
            survey_id=to.survey_id,
            kind=REPLY,
            status="pending",
            due_at=now,
            created_at=now,
        )
        .returning(deliveries.c.id)
    ).scalar_one()
    reply_id = conn.execute(
        insert(feedback_replies)
        .values(
            organization_id=organization_id,
            response_id=response_id,
            delivery_id=delivery_id,
            to_address=to.address,
            to_name=to.name,
            from_name=to.from_name,
            reply_to=replier.email,
            subject=subject,
            body=body,
            in_reply_to=to.in_reply_to,
            created_at=now,
        )
        .returning(feedback_replies.c.id)
    ).scalar_one()
    add_note(
        conn,
        organization_id=organization_id,
        response_id=response_id,
        body=_note(to, subject, body),
        author=replier.email,
        now=now,
    )
    if close:
        set_status(
            conn,
            organization_id=organization_id,
            response_id=response_id,
            status="CLOSED",
            now=now,
        )
    return SentReply(
        int(reply_id), to.address, replier.email, subject, body, now, "pending", None, None
    )


def _same_reply(
    conn: Connection,
    organization_id: int,
    response_id: int,
    replier: Replier,
    subject: str,
    body: str,
    now: datetime,
) -> SentReply | None:
    """The reply already written with this text by this writer a moment ago, if any."""
    r = feedback_replies.c
    for sent in replies_of(
        conn,
        organization_id=organization_id,
        response_id=response_id,
        where=(
            r.reply_to == replier.email,
            r.subject == subject,
            r.created_at >= now - SAME_REPLY_WINDOW,
        ),
    ):
        if sent.body == body:
            return sent
    return None


def _note(to: Recipient, subject: str, body: str) -> str:
    who = f"{to.name} <{to.address}>" if to.name else to.address
    return f"Replied by email to {who}\nSubject: {subject}\n\n{body}"


def replies_of(
    conn: Connection,
    *,
    organization_id: int,
    response_id: int,
    where: tuple[ColumnElement[bool], ...] = (),
) -> list[SentReply]:
    """The replies written to the response's respondent (those matching ``where``),
    oldest first."""
    r, d = feedback_replies.c, deliveries.c
    rows = conn.execute(
        select(
            r.id,
            r.to_address,
            r.reply_to,
            r.subject,
            r.body,
            r.created_at,
            d.status,
            d.sent_at,
            d.last_error,
        )
        .select_from(feedback_replies.join(deliveries, d.id == r.delivery_id))
        .where(r.organization_id == organization_id, r.response_id == response_id, *where)
        .order_by(r.created_at, r.id)
    )
    return [_sent(row) for row in rows]


def _sent(row: Any) -> SentReply:
    return SentReply(
        id=int(row.id),
        to_address=row.to_address,
        reply_to=row.reply_to,
        subject=row.subject,
        body=row.body,
        created_at=row.created_at,
        status=row.status,
        sent_at=row.sent_at,
        error=row.last_error,
    )
