"""The matching responses themselves: a page for reading, or every row for a CSV export."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, func, select, tuple_

from promoter.analytics.query import Scope, matching
from promoter.analytics.scores import score_type
from promoter.contacts.service import Page
from promoter.storage.tables import contacts, response_attributes, response_tags, responses

#: Rows read per transaction while exporting.
EXPORT_BATCH = 2000


@dataclass(frozen=True, slots=True)
class FeedbackContact:
    id: int
    user_id: str | None
    email: str
    first_name: str | None
    last_name: str | None


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

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "campaign_id": self.campaign_id,
            "score": self.score,
            "score_type": score_type(self.score),
            "comment": self.comment,
            "status": self.status,
            "tags": self.tags,
            "contact": {
                "id": self.contact.id,
                "user_id": self.contact.user_id,
                "email": self.contact.email,
                "first_name": self.contact.first_name,
                "last_name": self.contact.last_name,
            },
            "attributes": self.snapshot,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def feedback_page(conn: Connection, scope: Scope, page: Page) -> tuple[int, list[Feedback]]:
    """One page of the matching responses, newest first, and how many match in all."""
    found = matching(scope)
    total = conn.execute(select(func.count()).select_from(found)).scalar()
    ids = list(
        conn.execute(
            select(found.c.id)
            .order_by(found.c.created_at.desc(), found.c.id.desc())
            .limit(page.size)
            .offset(page.offset)
        ).scalars()
    )
    return int(total or 0), _load(conn, ids)


def _load(conn: Connection, ids: list[int]) -> list[Feedback]:
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
            contacts.c.id.label("contact_id"),
            contacts.c.user_id,
            contacts.c.email,
            contacts.c.first_name,
            contacts.c.last_name,
        )
        .join(contacts, contacts.c.id == responses.c.contact_id)
        .where(responses.c.id.in_(ids))
    ).all()
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
                row.contact_id, row.user_id, row.email, row.first_name, row.last_name
            ),
            created_at=row.created_at,
            updated_at=row.updated_at,
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
]
#: Attribute columns are prefixed so they never clash with the fixed ones.
ATTRIBUTE_PREFIX = "attributes."
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_csv(read: Callable[[], Any], scope: Scope) -> Iterator[str]:
    """Every matching response as CSV text, newest first, read in batches.

    ``read`` opens a read transaction (``Database.read``); each batch uses its own, so a
    slow download never holds one open. Text that a spreadsheet would run as a formula is
    prefixed with ``'`` (OWASP's advice for CSV injection).
    """
    with read() as conn:
        found = matching(scope)
        names = sorted(
            conn.execute(
                select(response_attributes.c.name)
                .distinct()
                .where(response_attributes.c.response_id.in_(select(found.c.id)))
            ).scalars()
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(FIXED_COLUMNS + [ATTRIBUTE_PREFIX + name for name in names])
    yield _drain(buffer)
    after: tuple[datetime, int] | None = None
    while True:
        with read() as conn:
            found = matching(scope)
            stmt = select(found.c.id, found.c.created_at).order_by(
                found.c.created_at.desc(), found.c.id.desc()
            )
            if after is not None:
                stmt = stmt.where(tuple_(found.c.created_at, found.c.id) < after)
            page = conn.execute(stmt.limit(EXPORT_BATCH)).all()
            if not page:
                return
            after = (page[-1].created_at, page[-1].id)
            for item in _load(conn, [row.id for row in page]):
                writer.writerow(_csv_row(item, names))
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _csv_row(item: Feedback, names: list[str]) -> list[str]:
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
    ]
    values = [*fixed, *(item.snapshot.get(name) for name in names)]
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
