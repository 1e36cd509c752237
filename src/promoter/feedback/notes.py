"""Notes the team writes on a piece of feedback: who wrote what, and when.

Adding a note stamps the response's ``updated_at`` (as status and tag changes do), so
analytics caches see it. Every function takes the caller's connection; none commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select

from promoter.domain.paging import Page
from promoter.feedback.responses import exists, stamp
from promoter.storage.tables import feedback_notes

MAX_NOTE_LENGTH = 10_000
MAX_AUTHOR_LENGTH = 320


class InvalidNote(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Note:
    id: int
    response_id: int
    body: str
    author: str
    created_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "feedback": self.response_id,
            "body": self.body,
            "author": self.author,
            "created_at": self.created_at,
        }


def clean_body(body: str) -> str:
    """The note's text, trimmed; ``InvalidNote`` says what is wrong with it."""
    body = body.strip()
    if not body:
        raise InvalidNote("This field may not be blank.")
    if len(body) > MAX_NOTE_LENGTH:
        raise InvalidNote(f"Ensure this field has no more than {MAX_NOTE_LENGTH} characters.")
    if "\x00" in body:
        raise InvalidNote("Null characters are not allowed.")
    return body


def add_note(
    conn: Connection,
    *,
    organization_id: int,
    response_id: int,
    body: str,
    author: str,
    now: datetime,
) -> Note | None:
    """The note written; None when the organization has no such response."""
    body = clean_body(body)
    author = author[:MAX_AUTHOR_LENGTH]
    if not stamp(conn, organization_id=organization_id, response_id=response_id, now=now):
        return None
    note_id = conn.execute(
        insert(feedback_notes)
        .values(
            organization_id=organization_id,
            response_id=response_id,
            body=body,
            author=author,
            created_at=now,
        )
        .returning(feedback_notes.c.id)
    ).scalar_one()
    return Note(int(note_id), response_id, body, author, now)


def list_notes(
    conn: Connection, *, organization_id: int, response_id: int, page: Page | None = None
) -> tuple[int, list[Note]] | None:
    """The response's notes, oldest first, and how many there are; None when the
    organization has no such response."""
    if not exists(conn, organization_id=organization_id, response_id=response_id):
        return None
    where = (
        feedback_notes.c.organization_id == organization_id,
        feedback_notes.c.response_id == response_id,
    )
    total = conn.execute(select(func.count()).select_from(feedback_notes).where(*where)).scalar()
    stmt = (
        select(feedback_notes)
        .where(*where)
        .order_by(feedback_notes.c.created_at, feedback_notes.c.id)
    )
    if page is not None:
        stmt = stmt.limit(page.size).offset(page.offset)
    return int(total or 0), [_note(row) for row in conn.execute(stmt)]


def notes_by_response(
    conn: Connection, *, organization_id: int, response_ids: Collection[int]
) -> dict[int, list[Note]]:
    """Each response's notes, oldest first (responses without any are left out)."""
    found: dict[int, list[Note]] = defaultdict(list)
    if not response_ids:
        return found
    for row in conn.execute(
        select(feedback_notes)
        .where(
            feedback_notes.c.organization_id == organization_id,
            feedback_notes.c.response_id.in_(list(response_ids)),
        )
        .order_by(feedback_notes.c.created_at, feedback_notes.c.id)
    ):
        found[row.response_id].append(_note(row))
    return dict(found)


def note_counts(
    conn: Connection, *, organization_id: int, response_ids: Collection[int]
) -> dict[int, int]:
    """How many notes each response has (responses without any are left out)."""
    if not response_ids:
        return {}
    rows = conn.execute(
        select(feedback_notes.c.response_id, func.count())
        .where(
            feedback_notes.c.organization_id == organization_id,
            feedback_notes.c.response_id.in_(list(response_ids)),
        )
        .group_by(feedback_notes.c.response_id)
    )
    return {int(response_id): int(count) for response_id, count in rows}


def _note(row: Row[Any]) -> Note:
    return Note(int(row.id), int(row.response_id), row.body, row.author, row.created_at)
