"""The email outbox: due deliveries are claimed by a worker (with a lease, see
:mod:`promoter.jobs.claims`), then marked sent, retried or failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, select, update

from promoter.delivery.events import SentSurvey, emit_survey_bounced, emit_surveys_sent
from promoter.delivery.language import contact_languages
from promoter.delivery.render import FeedbackNote, ReplyEmail, SurveyEmail, TemplateView
from promoter.delivery.survey_templates import (
    TEMPLATE_COLUMNS,
    display_name,
    surveys_with_templates,
    template_view,
)
from promoter.domain.channels import EMAIL
from promoter.domain.eligibility import ANONYMOUS, SUPPRESSED
from promoter.jobs.claims import claim_due_ids
from promoter.storage.tables import (
    campaigns,
    contacts,
    deliveries,
    feedback_replies,
    responses,
    surveys,
)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery in hand, with everything needed to send it."""

    delivery_id: int
    survey_id: int
    organization_id: int
    kind: str
    attempts: int
    email: SurveyEmail
    template: TemplateView
    reminder_days: int | None
    #: For a "forward" delivery: the feedback to tell the campaign's team about.
    feedback: FeedbackNote | None = None
    campaign_id: int | None = None
    #: For a "reply" delivery: what a person wrote to the respondent.
    reply: ReplyEmail | None = None


#: The survey status a survey or reminder delivery still needs when it is sent.
_WANTED = {"survey": "scheduled", "reminder": "sent"}
#: A notification to the campaign's team about new feedback (not to the contact).
FORWARD = "forward"
#: A person's reply to the respondent, written in the dashboard (``feedback_replies``).
REPLY = "reply"
#: Contact statuses a reply is not sent to: the address refused mail, or there is none.
#: (An unsubscribed contact still gets a person's answer to their own feedback.)
NO_REPLY = frozenset({"bounced", ANONYMOUS})
_REPLY_COLUMNS = tuple(
    feedback_replies.c[name].label(f"reply_{name}")
    for name in (
        "id",
        "to_address",
        "to_name",
        "from_name",
        "reply_to",
        "subject",
        "body",
        "in_reply_to",
    )
)


def claim_due(
    conn: Connection, *, now: datetime, limit: int, lease: timedelta
) -> tuple[list[Claimed], int]:
    """Claim up to ``limit`` due deliveries; return them and how many were cancelled
    instead (their contact was suppressed or their survey answered meanwhile)."""
    ids = claim_due_ids(conn, deliveries, now=now, limit=limit, lease=lease)
    if not ids:
        return [], 0
    rows = conn.execute(
        select(
            deliveries.c.id,
            deliveries.c.survey_id,
            deliveries.c.organization_id,
            deliveries.c.kind,
            deliveries.c.attempts,
            surveys.c.campaign_id,
            surveys.c.contact_id,
            surveys.c.status.label("survey_status"),
            surveys.c.token,
            contacts.c.email,
            contacts.c.first_name,
            contacts.c.last_name,
            contacts.c.status.label("contact_status"),
            campaigns.c.reminder_days,
            campaigns.c.name.label("campaign_name"),
            campaigns.c.forward_email,
            responses.c.score,
            responses.c.comment,
            *TEMPLATE_COLUMNS,
            *_REPLY_COLUMNS,
        )
        .select_from(
            deliveries.join(surveys_with_templates(), surveys.c.id == deliveries.c.survey_id)
        )
        .outerjoin(responses, responses.c.survey_id == surveys.c.id)
        .outerjoin(feedback_replies, feedback_replies.c.delivery_id == deliveries.c.id)
        .where(deliveries.c.id.in_(ids))
        .order_by(deliveries.c.due_at, deliveries.c.id)
    ).all()
    # Each contact reads its survey in the language its traits name, if they name one.
    languages = contact_languages(conn, contact_ids={r.contact_id for r in rows})
    claimed: list[Claimed] = []
    stale: list[int] = []
    for r in rows:
        name = display_name(r.first_name, r.last_name)
        reply = None
        if r.kind == REPLY:
            if r.reply_id is None or r.contact_status in NO_REPLY:
                stale.append(r.id)
                continue
            note, reply = None, _reply(r)
        elif r.kind == FORWARD:
            if r.score is None or not r.forward_email:
                stale.append(r.id)
                continue
            note = FeedbackNote(
                to_address=r.forward_email,
                campaign=r.campaign_name,
                contact_email=r.email,
                contact_name=name,
                score=r.score,
                comment=r.comment,
                brand_name=r.brand_name,
            )
        elif r.contact_status in SUPPRESSED or r.survey_status != _WANTED[r.kind]:
            stale.append(r.id)
            continue
        else:
            note = None
        claimed.append(
            Claimed(
                delivery_id=r.id,
                survey_id=r.survey_id,
                organization_id=r.organization_id,
                kind=r.kind,
                attempts=r.attempts,
                email=SurveyEmail(r.email, name, r.token, reminder=r.kind == "reminder"),
                template=_in_language(template_view(r), languages.get(r.contact_id)),
                reminder_days=r.reminder_days,
                feedback=note,
                campaign_id=r.campaign_id,
                reply=reply,
            )
        )
    if stale:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(stale))
            .values(status="cancelled", claimed_until=None)
        )
    return claimed, len(stale)


def _reply(row: Any) -> ReplyEmail:
    return ReplyEmail(
        to_address=row.reply_to_address,
        to_name=row.reply_to_name,
        from_name=row.reply_from_name,
        reply_to=row.reply_reply_to,
        subject=row.reply_subject,
        body=row.reply_body,
        in_reply_to=row.reply_in_reply_to,
    )


def _in_language(template: TemplateView, language: str | None) -> TemplateView:
    return replace(template, language=language) if language else template


def mark_sent(conn: Connection, sent: Sequence[tuple[Claimed, str]], *, now: datetime) -> None:
    """These messages are with the mail server (each with its Message-ID): record them,
    and schedule the reminders of the surveys among them."""
    if not sent:
        return
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id == bindparam("did"))
        .values(status="sent", sent_at=now, message_id=bindparam("mid"), claimed_until=None),
        [{"did": item.delivery_id, "mid": message_id} for item, message_id in sent],
    )
    surveys_sent = [
        SentSurvey(
            organization_id=item.organization_id,
            campaign_id=item.campaign_id,
            survey_id=item.survey_id,
            reminder=item.kind == "reminder",
            message_id=message_id,
        )
        for item, message_id in sent
        if item.kind in _WANTED and item.campaign_id is not None
    ]
    emit_surveys_sent(conn, surveys_sent, now=now)
    reminded = [item.survey_id for item, _ in sent if item.kind == "reminder"]
    if reminded:
        conn.execute(update(surveys).where(surveys.c.id.in_(reminded)).values(reminder_sent_at=now))
    first = [item for item, _ in sent if item.kind == "survey"]
    if not first:
        return
    due = {item.survey_id: _reminder_due(item, now) for item in first}
    by_due: dict[datetime | None, list[int]] = {}
    for survey_id, at in due.items():
        by_due.setdefault(at, []).append(survey_id)
    for at, survey_ids in by_due.items():  # one statement per reminder date (mostly one)
        conn.execute(
            update(surveys)
            .where(surveys.c.id.in_(survey_ids))
            # A "both" campaign's survey not shown in the app first reaches them by email.
            .values(status="sent", sent_at=now, reminder_due_at=at, channel=EMAIL)
        )
    reminders = [
        {
            "organization_id": item.organization_id,
            "survey_id": item.survey_id,
            "kind": "reminder",
            "status": "pending",
            "due_at": due[item.survey_id],
            "created_at": now,
        }
        for item in first
        if due[item.survey_id] is not None
    ]
    if reminders:
        conn.execute(insert(deliveries), reminders)


def _reminder_due(item: Claimed, now: datetime) -> datetime | None:
    return now + timedelta(days=item.reminder_days) if item.reminder_days else None


def mark_retry(conn: Connection, item: Claimed, *, error: str, due_at: datetime) -> None:
    """A temporary failure: try again at ``due_at``."""
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id == item.delivery_id)
        .values(due_at=due_at, claimed_until=None, last_error=error[:2000])
    )


def mark_failed(conn: Connection, item: Claimed, *, error: str) -> None:
    """The delivery cannot be made at all (no message could be built); nothing is retried."""
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id == item.delivery_id)
        .values(status="failed", claimed_until=None, last_error=error[:2000])
    )
    if item.kind == "survey":
        conn.execute(update(surveys).where(surveys.c.id == item.survey_id).values(status="failed"))


def mark_bounced(conn: Connection, item: Claimed, *, error: str, now: datetime) -> None:
    """The address was refused for good: the contact is suppressed, its sends cancelled
    (a refused reply too: it is the contact's address). A refused forwarding address only
    fails that delivery: it is the team's."""
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id == item.delivery_id)
        .values(status="failed", claimed_until=None, last_error=error[:2000])
    )
    if item.kind == FORWARD:
        return
    if item.kind in _WANTED and item.campaign_id is not None:
        emit_survey_bounced(
            conn,
            organization_id=item.organization_id,
            campaign_id=item.campaign_id,
            survey_id=item.survey_id,
            reminder=item.kind == "reminder",
            error=error,
            now=now,
        )
    contact_id = conn.execute(
        select(surveys.c.contact_id).where(surveys.c.id == item.survey_id)
    ).scalar_one()
    if item.kind == "survey":
        conn.execute(update(surveys).where(surveys.c.id == item.survey_id).values(status="failed"))
    conn.execute(
        update(contacts)
        .where(contacts.c.id == contact_id, contacts.c.status == "active")
        .values(status="bounced", updated_at=now)
    )
    cancel_pending(conn, contact_id=contact_id)


def cancel_pending(conn: Connection, *, contact_id: int) -> None:
    """Cancel a contact's scheduled surveys and their pending deliveries (unsubscribe,
    bounce). The team's forwarded feedback and replies written to the contact are left to
    the claim, which checks the contact then."""
    pending = select(surveys.c.id).where(surveys.c.contact_id == contact_id)
    conn.execute(
        update(deliveries)
        .where(
            and_(
                deliveries.c.survey_id.in_(pending),
                deliveries.c.status == "pending",
                deliveries.c.kind.in_(tuple(_WANTED)),
            )
        )
        .values(status="cancelled", claimed_until=None)
    )
    conn.execute(
        update(surveys)
        .where(surveys.c.contact_id == contact_id, surveys.c.status == "scheduled")
        .values(status="cancelled")
    )
