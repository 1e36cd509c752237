"""Answering a survey, commenting, and unsubscribing, by survey token.

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, insert, literal, select, update

from promoter.campaigns.questions import Question, answer_open
from promoter.contacts.events import emit_contact_unsubscribed
from promoter.delivery.branding import BRANDING_COLUMNS, StoredLogo, stored_logo
from promoter.delivery.language import contact_language
from promoter.delivery.outbox import cancel_pending
from promoter.delivery.survey_templates import surveys_with_templates
from promoter.domain.attributes import MOST_ATTRIBUTES_PER_CONTACT, AttributeValue
from promoter.domain.channels import EMAIL, LINK
from promoter.domain.languages import choose_language
from promoter.feedback.events import emit_feedback, emit_score_metrics, feedback_data
from promoter.segment_source.events import emit_comment_added, emit_survey_responded
from promoter.storage.tables import (
    campaigns,
    contact_attributes,
    contacts,
    deliveries,
    email_templates,
    response_attributes,
    responses,
    surveys,
)
from promoter.storage.types import BigId
from promoter.webhooks.events import FEEDBACK_ADDED_OR_CHANGED, emit

MAX_COMMENT_LENGTH = 5000
#: The survey attribute of an answer through a public link: the language its page spoke.
PAGE_LANGUAGE = "language"


class InvalidAnswer(ValueError):
    """An answer that cannot be recorded (a score outside 0 to 10, say)."""


@dataclass(frozen=True, slots=True)
class SurveyView:
    """What the survey pages show, and need to record an answer."""

    survey_id: int
    organization_id: int
    campaign_id: int
    contact_id: int
    contact_status: str
    first_name: str | None
    brand_name: str
    brand_color: str | None
    #: An uploaded logo (it wins over ``logo_url``, an external one).
    logo: StoredLogo | None
    language: str
    logo_url: str | None
    survey_attributes: dict[str, Any]
    score: int | None
    comment: str | None
    #: The answer's id, once there is one.
    response_id: int | None = None
    #: The campaign's follow-up questions, its thanks URL and answer window.
    questions: tuple[Question, ...] = ()
    thanks_url: str | None = None
    answer_window_days: int | None = None
    sent_at: datetime | None = None
    #: The survey's channel (domain.channels); its response is recorded on the same one.
    channel: str = EMAIL

    def open_at(self, now: datetime) -> bool:
        """Whether the survey still takes an answer, or a change to one."""
        return answer_open(self.sent_at, self.answer_window_days, now)


def find_survey(conn: Connection, *, token: str) -> SurveyView | None:
    """The survey a link's token names, or ``None``."""
    return _survey_where(conn, surveys.c.token == token)


def survey_by_id(conn: Connection, *, survey_id: int) -> SurveyView | None:
    return _survey_where(conn, surveys.c.id == survey_id)


def _survey_where(conn: Connection, condition: ColumnElement[bool]) -> SurveyView | None:
    row = conn.execute(
        select(
            surveys.c.id,
            surveys.c.organization_id,
            surveys.c.campaign_id,
            surveys.c.contact_id,
            surveys.c.attributes,
            contacts.c.status,
            contacts.c.first_name,
            email_templates.c.language,
            *BRANDING_COLUMNS,
            surveys.c.sent_at,
            surveys.c.channel,
            campaigns.c.questions,
            campaigns.c.thanks_url,
            campaigns.c.answer_window_days,
            responses.c.id.label("response_id"),
            responses.c.score,
            responses.c.comment,
        )
        .select_from(surveys_with_templates())
        .outerjoin(responses, responses.c.survey_id == surveys.c.id)
        .where(condition)
    ).one_or_none()
    if row is None:
        return None
    return SurveyView(
        survey_id=row.id,
        organization_id=row.organization_id,
        campaign_id=row.campaign_id,
        contact_id=row.contact_id,
        contact_status=row.status,
        first_name=row.first_name,
        brand_name=row.brand_name,
        brand_color=row.brand_color,
        logo=stored_logo(row),
        # The pages speak the language the contact's email was written in (a link's
        # answer: the language its page was shown in).
        language=contact_language(conn, contact_id=row.contact_id, fallback=_page_language(row)),
        logo_url=row.logo_url,
        survey_attributes=dict(row.attributes or {}),
        score=row.score,
        comment=row.comment,
        response_id=row.response_id,
        questions=tuple(Question.model_validate(q) for q in row.questions or ()),
        thanks_url=row.thanks_url,
        answer_window_days=row.answer_window_days,
        sent_at=row.sent_at,
        channel=row.channel,
    )


def _page_language(row: Any) -> str:
    """A survey's language unless its contact's traits name one: its template's, or for
    an answer through a public link, the language its page was shown in."""
    if row.channel == LINK:
        return choose_language((row.attributes or {}).get(PAGE_LANGUAGE), row.language)
    return str(row.language)


def lock_survey(conn: Connection, *, survey_id: int) -> None:
    """Hold the survey's row until the transaction ends, so that answers to one survey
    (the page's and a settled click, two of the page's at once) are recorded one after the
    other (PostgreSQL; SQLite writes one transaction at a time anyway)."""
    conn.execute(select(surveys.c.id).where(surveys.c.id == survey_id).with_for_update())


def record_score(
    conn: Connection,
    survey: SurveyView,
    *,
    score: int,
    now: datetime,
    answered_at: datetime | None = None,
) -> int:
    """Record (or change: the last answer wins) the survey's score, with a snapshot of the
    contact's attributes now; the survey is answered and its reminder cancelled.

    ``answered_at`` (default ``now``) is when the person answered, for a score recorded
    later (a one-click score settled once quiet); changes are stamped ``now``, so readers
    that catch up by ``updated_at`` see them. Returns the response's id."""
    if not 0 <= score <= 10:
        raise InvalidAnswer("a score is a whole number from 0 to 10")
    snapshot = _attributes_now(conn, survey.contact_id)
    existing = conn.execute(
        select(responses.c.id, responses.c.score, responses.c.created_at).where(
            responses.c.survey_id == survey.survey_id
        )
    ).one_or_none()
    response_id = existing.id if existing is not None else None
    if response_id is not None:
        conn.execute(
            update(responses)
            .where(responses.c.id == response_id)
            .values(score=score, contact_snapshot=snapshot, updated_at=now)
        )
        conn.execute(
            delete(response_attributes).where(response_attributes.c.response_id == response_id)
        )
    else:
        _forward_later(conn, survey, now)
        inserted = conn.execute(
            insert(responses).values(
                organization_id=survey.organization_id,
                survey_id=survey.survey_id,
                campaign_id=survey.campaign_id,
                contact_id=survey.contact_id,
                score=score,
                contact_snapshot=snapshot,
                survey_attributes=survey.survey_attributes,
                channel=survey.channel,
                created_at=answered_at or now,
                updated_at=now,
            )
        ).inserted_primary_key
        assert inserted is not None
        response_id = inserted[0]
    _copy_snapshot(conn, response_id=response_id, contact_id=survey.contact_id)
    conn.execute(
        update(surveys)
        .where(surveys.c.id == survey.survey_id)
        .values(status="answered", answered_at=answered_at or now)
    )
    conn.execute(
        update(deliveries)
        .where(
            deliveries.c.survey_id == survey.survey_id,
            deliveries.c.kind == "reminder",
            deliveries.c.status == "pending",
        )
        .values(status="cancelled", claimed_until=None)
    )
    if existing is not None and existing.score == score:
        return int(response_id)  # the same answer again: nothing to tell
    emit_survey_responded(
        conn,
        organization_id=survey.organization_id,
        response_id=response_id,
        updated=existing is not None,
        now=now,
    )
    emit_feedback(
        conn,
        organization_id=survey.organization_id,
        response_id=response_id,
        event=FEEDBACK_ADDED_OR_CHANGED,
        campaign_id=survey.campaign_id,
        now=now,
    )
    emit_score_metrics(
        conn,
        organization_id=survey.organization_id,
        campaign_id=survey.campaign_id,
        response_id=response_id,
        score=score,
        previous=(existing.score, existing.created_at) if existing is not None else None,
        now=now,
    )
    return int(response_id)


def _attributes_now(conn: Connection, contact_id: int) -> dict[str, Any]:
    """The contact's attributes as JSON values: the first MOST_ATTRIBUTES_PER_CONTACT by
    name (more come only from before contacts were capped)."""
    c = contact_attributes.c
    rows = conn.execute(
        select(c.name, c.value_type, c.value_text, c.value_number, c.value_date)
        .where(c.contact_id == contact_id)
        .order_by(c.name)
        .limit(MOST_ATTRIBUTES_PER_CONTACT)
    )
    return {
        row.name: AttributeValue(
            row.value_type, row.value_text, row.value_number, row.value_date
        ).to_json()
        for row in rows
    }


def _copy_snapshot(conn: Connection, *, response_id: int, contact_id: int) -> None:
    """The typed snapshot that analytics filters: the contact's attributes, copied (the
    same ones as ``_attributes_now``)."""
    source = contact_attributes.c
    conn.execute(
        insert(response_attributes).from_select(
            [
                "response_id",
                "name",
                "organization_id",
                "value_type",
                "value_text",
                "value_number",
                "value_date",
            ],
            select(
                literal(response_id, BigId),
                source.name,
                source.organization_id,
                source.value_type,
                source.value_text,
                source.value_number,
                source.value_date,
            )
            .where(source.contact_id == contact_id)
            .order_by(source.name)
            .limit(MOST_ATTRIBUTES_PER_CONTACT),
        )
    )


#: New feedback is forwarded this long after the score, so that the comment goes with it.
FORWARD_DELAY = timedelta(minutes=10)


def _forward_later(conn: Connection, survey: SurveyView, now: datetime) -> None:
    """Queue the note to the campaign's forwarding address, if it has one."""
    forward_to = conn.execute(
        select(campaigns.c.forward_email).where(campaigns.c.id == survey.campaign_id)
    ).scalar()
    if not forward_to:
        return
    conn.execute(
        insert(deliveries).values(
            organization_id=survey.organization_id,
            survey_id=survey.survey_id,
            kind="forward",
            status="pending",
            due_at=now + FORWARD_DELAY,
            created_at=now,
        )
    )


def clean_comment(comment: str) -> str:
    """The comment as stored (NULs dropped, ends trimmed); ``InvalidAnswer`` if too long."""
    comment = comment.replace("\x00", "").strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        raise InvalidAnswer(f"a comment has at most {MAX_COMMENT_LENGTH} characters")
    return comment


def record_comment(conn: Connection, survey: SurveyView, *, comment: str, now: datetime) -> None:
    comment = clean_comment(comment)
    if survey.score is None:
        raise InvalidAnswer("choose a score first")
    conn.execute(
        update(responses)
        .where(responses.c.survey_id == survey.survey_id)
        .values(comment=comment or None, comment_updated_at=now, updated_at=now)
    )
    if (comment or None) == survey.comment:
        return  # the same comment again: nothing to tell
    response_id = (
        survey.response_id
        or conn.execute(
            select(responses.c.id).where(responses.c.survey_id == survey.survey_id)
        ).scalar_one()
    )
    emit_comment_added(
        conn, organization_id=survey.organization_id, response_id=response_id, now=now
    )
    emit(
        conn,
        organization_id=survey.organization_id,
        event=FEEDBACK_ADDED_OR_CHANGED,
        campaign_id=survey.campaign_id,
        data=lambda: feedback_data(
            conn, organization_id=survey.organization_id, survey_id=survey.survey_id
        ),
        now=now,
    )


def unsubscribe(conn: Connection, survey: SurveyView, *, now: datetime) -> None:
    """Permanently unsubscribe the survey's contact and cancel what was pending for it."""
    conn.execute(
        update(contacts)
        .where(contacts.c.id == survey.contact_id)
        .values(status="unsubscribed", updated_at=now)
    )
    cancel_pending(conn, contact_id=survey.contact_id)
    if survey.contact_status != "unsubscribed":
        emit_contact_unsubscribed(
            conn,
            organization_id=survey.organization_id,
            contact_id=survey.contact_id,
            source="survey",
            campaign_id=survey.campaign_id,
            survey_id=survey.survey_id,
            now=now,
        )
