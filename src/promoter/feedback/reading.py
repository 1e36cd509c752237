"""The matching responses themselves: a page for reading (with Promoter.io's feedback
filters on top of the question), one by id, a batch by id (the warehouse export reads them so),
or every row for a CSV export."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import ColumnElement, Connection, func, select, tuple_

from promoter.analytics.params import EARLIEST, LATEST
from promoter.analytics.query import NpsQuery, Scope, matching, scope
from promoter.campaigns.models import CampaignStatus
from promoter.contacts.service import attributes_of
from promoter.domain.emails import email_key
from promoter.domain.nps import score_type
from promoter.domain.paging import Page
from promoter.feedback.answered import Answer, answers_of
from promoter.feedback.export_columns import attribute_names, question_columns
from promoter.feedback.notes import note_counts
from promoter.feedback.search import CommentSearch, comment_ids, comment_matches
from promoter.storage.tables import (
    campaigns,
    contacts,
    response_tags,
    responses,
    surveys,
)

#: Rows read per transaction while exporting.
EXPORT_BATCH = 2000


@dataclass(frozen=True, slots=True)
class FeedbackContact:
    id: int
    user_id: str | None
    email: str
    first_name: str | None
    last_name: str | None
    #: The contact's attributes now (the response's ``snapshot`` holds them as they were).
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Feedback:
    id: int
    campaign_id: int
    score: int
    comment: str | None
    status: str
    tags: list[str]
    snapshot: dict[str, Any]
    contact: FeedbackContact
    created_at: datetime
    updated_at: datetime
    comment_updated_at: datetime | None = None
    survey_id: int | None = None
    sent_at: datetime | None = None
    notes_count: int = 0
    #: The answers to the campaign's follow-up questions, in its order.
    answers: list[Answer] = field(default_factory=list)
    #: The channel it came by (domain.channels), and the page a web survey was answered on.
    channel: str = "email"
    page_url: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "campaign_id": self.campaign_id,
            "campaign": self.campaign_id,
            "score": self.score,
            "score_type": score_type(self.score),
            "comment": self.comment,
            "status": self.status,
            "tags": self.tags,
            "channel": self.channel,
            "page_url": self.page_url,
            "contact": {
                "id": self.contact.id,
                "user_id": self.contact.user_id,
                "email": self.contact.email,
                "first_name": self.contact.first_name,
                "last_name": self.contact.last_name,
                "attributes": self.contact.attributes,
            },
            "attributes": self.snapshot,
            "survey": {"id": self.survey_id, "sent_date": self.sent_at},
            "posted_date": self.created_at,
            "comment_updated_date": self.comment_updated_at,
            "notes_count": self.notes_count,
            "answers": [answer.to_json() for answer in self.answers],
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class PromoterFilter:
    """Promoter.io's feedback filters; each narrows the question further (AND)."""

    #: ``survey__campaign``: any of these campaigns.
    campaign_ids: tuple[int, ...] = ()
    #: ``survey__campaign__status``: campaigns with this status.
    campaign_status: CampaignStatus | None = None
    #: ``survey__contact__email``: the contact's address, case-insensitive.
    contact_email: str | None = None
    #: ``posted_date_0`` / ``posted_date_1``: whole days in the organization's time zone.
    posted_from: date | None = None
    posted_to: date | None = None


def find_feedback(
    conn: Connection,
    query: NpsQuery,
    promoter: PromoterFilter,
    *,
    zone: ZoneInfo,
    page: Page,
    now: datetime,
    search: CommentSearch | None = None,
) -> tuple[int, list[Feedback]]:
    """A page of the feedback that answers both the question and Promoter's filters (and
    whose comment has the words of ``search``).

    Unlike the NPS endpoints, a question without ``since``/``until`` covers all time, as
    Promoter's feedback list did.
    """
    narrowed = _narrowed(conn, query, promoter, zone)
    if narrowed is None:
        return 0, []
    contact_ids = None
    if promoter.contact_email is not None:
        contact_ids = list(
            conn.execute(
                select(contacts.c.id).where(
                    contacts.c.organization_id == query.organization_id,
                    contacts.c.email_key == email_key(promoter.contact_email),
                )
            ).scalars()
        )
        if not contact_ids:
            return 0, []
    return feedback_page(
        conn, scope(conn, narrowed, now=now), page, contact_ids=contact_ids, search=search
    )


def _narrowed(
    conn: Connection, query: NpsQuery, promoter: PromoterFilter, zone: ZoneInfo
) -> NpsQuery | None:
    """The question with Promoter's dates and campaigns folded in; None: nothing can match."""
    since = query.since or EARLIEST
    until = query.until or LATEST
    if promoter.posted_from is not None:
        since = max(since, datetime.combine(promoter.posted_from, time(), zone))
    if promoter.posted_to is not None:
        end = promoter.posted_to + timedelta(days=1)
        until = min(until, datetime.combine(end, time(), zone))
    if since >= until:
        return None
    chosen = [set(ids) for ids in (query.campaign_ids, promoter.campaign_ids) if ids]
    if promoter.campaign_status is not None:
        with_status = select(campaigns.c.id).where(
            campaigns.c.organization_id == query.organization_id,
            campaigns.c.status == promoter.campaign_status,
        )
        chosen.append(set(conn.execute(with_status).scalars()))
    campaign_ids = query.campaign_ids
    if chosen:
        allowed = set.intersection(*chosen)
        if not allowed:
            return None
        campaign_ids = tuple(sorted(allowed))
    return replace(query, since=since, until=until, campaign_ids=campaign_ids)


def get_feedback(conn: Connection, *, organization_id: int, response_id: int) -> Feedback | None:
    """One response of the organization; None when it has none such."""
    found = load_feedback(conn, organization_id, [response_id])
    return found[0] if found else None


#: How many responses match the question (those among the ids given only), and the ids of
#: the slice [offset, offset + size) of them, newest first: the analytics columns'
#: answer (``Analytics.listed``), None when they have none.
Listed = Callable[[Connection, Scope, int, int, list[int] | None], tuple[int, list[int]] | None]


def feedback_page(
    conn: Connection,
    scope: Scope,
    page: Page,
    *,
    contact_ids: Collection[int] | None = None,
    search: CommentSearch | None = None,
    listed: Listed | None = None,
) -> tuple[int, list[Feedback]]:
    """One page of the matching responses, newest first, and how many match in all;
    ``contact_ids`` keeps the responses of these contacts only, ``search`` those whose
    comment has its words. ``listed`` (the analytics columns) answers both when no
    contacts are chosen, the search's responses found by the comment index; otherwise, or
    when it cannot, they are counted and found here."""
    organization_id = scope.query.organization_id
    if listed is not None and contact_ids is None:
        among = None if search is None else comment_ids(conn, organization_id, search)
        answer = listed(conn, scope, page.offset, page.size, among)
        if answer is not None:
            return answer[0], load_feedback(conn, organization_id, answer[1])
    found = matching(scope)
    only: list[ColumnElement[bool]] = []
    if contact_ids is not None:
        only.append(found.c.contact_id.in_(list(contact_ids)))
    if search is not None:
        only.append(comment_matches(scope.dialect, found.c.id, search))
    total = conn.execute(select(func.count()).select_from(found).where(*only)).scalar()
    ids = list(
        conn.execute(
            select(found.c.id)
            .where(*only)
            .order_by(found.c.created_at.desc(), found.c.id.desc())
            .limit(page.size)
            .offset(page.offset)
        ).scalars()
    )
    return int(total or 0), load_feedback(conn, organization_id, ids)


def load_feedback(
    conn: Connection, organization_id: int, ids: list[int], *, current_attributes: bool = True
) -> list[Feedback]:
    """The organization's responses with these ids, in this order (ids it does not have are
    left out); without ``current_attributes`` the contacts' attributes now are not read."""
    if not ids:
        return []
    tags: dict[int, list[str]] = defaultdict(list)
    for response_id, tag in conn.execute(
        select(response_tags.c.response_id, response_tags.c.tag)
        .where(response_tags.c.response_id.in_(ids))
        .order_by(response_tags.c.tag)
    ):
        tags[response_id].append(tag)
    rows = conn.execute(
        select(
            responses.c.id,
            responses.c.campaign_id,
            responses.c.score,
            responses.c.comment,
            responses.c.status,
            responses.c.contact_snapshot,
            responses.c.created_at,
            responses.c.updated_at,
            responses.c.comment_updated_at,
            responses.c.survey_id,
            responses.c.channel,
            responses.c.page_url,
            surveys.c.sent_at,
            contacts.c.id.label("contact_id"),
            contacts.c.user_id,
            contacts.c.email,
            contacts.c.first_name,
            contacts.c.last_name,
        )
        .join(contacts, contacts.c.id == responses.c.contact_id)
        .join(surveys, surveys.c.id == responses.c.survey_id)
        .where(responses.c.organization_id == organization_id, responses.c.id.in_(ids))
    ).all()
    current = (
        attributes_of(conn, sorted({row.contact_id for row in rows})) if current_attributes else {}
    )
    notes = note_counts(conn, organization_id=organization_id, response_ids=ids)
    answers = answers_of(
        conn, organization_id=organization_id, campaign_of={r.id: r.campaign_id for r in rows}
    )
    by_id = {
        row.id: Feedback(
            id=row.id,
            campaign_id=row.campaign_id,
            score=row.score,
            comment=row.comment,
            status=row.status,
            tags=tags[row.id],
            snapshot=dict(row.contact_snapshot or {}),
            contact=FeedbackContact(
                row.contact_id,
                row.user_id,
                row.email,
                row.first_name,
                row.last_name,
                current.get(row.contact_id, {}),
            ),
            created_at=row.created_at,
            updated_at=row.updated_at,
            comment_updated_at=row.comment_updated_at,
            survey_id=row.survey_id,
            sent_at=row.sent_at,
            notes_count=notes.get(row.id, 0),
            answers=answers.get(row.id, []),
            channel=row.channel,
            page_url=row.page_url,
        )
        for row in rows
    }
    return [by_id[i] for i in ids if i in by_id]


# -- CSV export ---------------------------------------------------------------------------

FIXED_COLUMNS = [
    "response_id",
    "created_at",
    "campaign_id",
    "contact_id",
    "user_id",
    "email",
    "first_name",
    "last_name",
    "score",
    "score_type",
    "comment",
    "status",
    "tags",
    "channel",
    "page_url",
]
#: Attribute columns are prefixed so they never clash with the fixed ones; the follow-up
#: questions' columns come last, headed by their text.
ATTRIBUTE_PREFIX = "attributes."
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_csv(
    read: Callable[[], Any], scope: Scope, search: CommentSearch | None = None
) -> Iterator[str]:
    """Every matching response (whose comment has the words of ``search``) as CSV text,
    newest first, read in batches.

    ``read`` opens a read transaction (``Database.read``); each batch uses its own, so a
    slow download never holds one open. Text that a spreadsheet would run as a formula is
    prefixed with ``'`` (OWASP's advice for CSV injection).
    """
    with read() as conn:
        names = attribute_names(conn, scope)
        questions = question_columns(conn, scope)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    headers = [ATTRIBUTE_PREFIX + name for name in names] + [_cell(text) for text in questions]
    writer.writerow(FIXED_COLUMNS + headers)
    yield _drain(buffer)
    after: tuple[datetime, int] | None = None
    while True:
        with read() as conn:
            found = matching(scope)
            stmt = select(found.c.id, found.c.created_at).order_by(
                found.c.created_at.desc(), found.c.id.desc()
            )
            if search is not None:
                stmt = stmt.where(comment_matches(scope.dialect, found.c.id, search))
            if after is not None:
                stmt = stmt.where(tuple_(found.c.created_at, found.c.id) < after)
            page = conn.execute(stmt.limit(EXPORT_BATCH)).all()
            if not page:
                return
            after = (page[-1].created_at, page[-1].id)
            for item in load_feedback(conn, scope.query.organization_id, [row.id for row in page]):
                writer.writerow(_csv_row(item, names, questions))
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _csv_row(item: Feedback, names: list[str], questions: list[str]) -> list[str]:
    contact = item.contact
    fixed: list[object] = [
        item.id,
        item.created_at.isoformat(),
        item.campaign_id,
        contact.id,
        contact.user_id,
        contact.email,
        contact.first_name,
        contact.last_name,
        item.score,
        score_type(item.score),
        item.comment,
        item.status,
        ";".join(item.tags),
        item.channel,
        item.page_url,
    ]
    answered = {a.question: a.text for a in item.answers if a.question is not None}
    values = [
        *fixed,
        *(item.snapshot.get(name) for name in names),
        *(answered.get(text) for text in questions),
    ]
    return [_cell(value) for value in values]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return orjson.dumps(value).decode()
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text
