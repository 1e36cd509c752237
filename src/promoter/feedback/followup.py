"""Acting on feedback: its status (OPEN / CLOSED) and tags.

Every change stamps the response's ``updated_at``, which is how analytics caches see it.
Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, delete, select

from promoter.feedback.events import emit_feedback
from promoter.feedback.responses import exists, tags_of, touch
from promoter.storage.dialect import insert_for
from promoter.storage.tables import response_tags, responses
from promoter.webhooks.events import FEEDBACK_STATUS_CHANGED, FEEDBACK_TAGS_ADDED_OR_CHANGED

MAX_TAG_LENGTH = 100
FeedbackStatus = Literal["OPEN", "CLOSED"]


class InvalidTag(ValueError):
    pass


def clean_tag(tag: str) -> str:
    tag = tag.strip()
    if not tag or len(tag) > MAX_TAG_LENGTH or "\x00" in tag:
        raise InvalidTag(f"a tag is 1 to {MAX_TAG_LENGTH} characters")
    return tag


def set_status(
    conn: Connection,
    *,
    organization_id: int,
    response_id: int,
    status: FeedbackStatus,
    now: datetime,
) -> bool:
    """False when the organization has no such response. A change of status is announced
    to webhooks (``feedback.status_changed``)."""
    previous = conn.execute(
        select(responses.c.status).where(
            responses.c.organization_id == organization_id, responses.c.id == response_id
        )
    ).scalar()
    if not touch(conn, organization_id, response_id, now, status=status):
        return False
    if previous != status:
        emit_feedback(
            conn,
            organization_id=organization_id,
            response_id=response_id,
            event=FEEDBACK_STATUS_CHANGED,
            now=now,
        )
    return True


def _tags_changed(conn: Connection, organization_id: int, response_id: int, now: datetime) -> None:
    emit_feedback(
        conn,
        organization_id=organization_id,
        response_id=response_id,
        event=FEEDBACK_TAGS_ADDED_OR_CHANGED,
        now=now,
    )


def add_tags(
    conn: Connection,
    *,
    organization_id: int,
    response_id: int,
    tags: Iterable[str],
    now: datetime,
    notify: bool = True,
) -> bool:
    """Add tags; new ones are announced to webhooks unless ``notify`` is false."""
    cleaned = sorted({clean_tag(tag) for tag in tags})
    if not touch(conn, organization_id, response_id, now):
        return False
    if cleaned:
        before = set(tags_of(conn, response_id=response_id))
        statement = insert_for(conn, response_tags).on_conflict_do_nothing()
        conn.execute(
            statement,
            [
                {
                    "response_id": response_id,
                    "tag": tag,
                    "organization_id": organization_id,
                    "created_at": now,
                }
                for tag in cleaned
            ],
        )
        if notify and set(cleaned) - before:
            _tags_changed(conn, organization_id, response_id, now)
    return True


def remove_tags(
    conn: Connection,
    *,
    organization_id: int,
    response_id: int,
    tags: Iterable[str],
    now: datetime,
    notify: bool = True,
) -> bool:
    """Remove tags; a removal is announced to webhooks unless ``notify`` is false."""
    if not touch(conn, organization_id, response_id, now):
        return False
    removed = conn.execute(
        delete(response_tags).where(
            response_tags.c.response_id == response_id,
            response_tags.c.tag.in_([tag.strip() for tag in tags]),
        )
    ).rowcount
    if notify and removed:
        _tags_changed(conn, organization_id, response_id, now)
    return True


def replace_tags(
    conn: Connection,
    *,
    organization_id: int,
    response_id: int,
    tags: Iterable[str],
    now: datetime,
) -> bool:
    """Make ``tags`` the response's whole set, through ``remove_tags`` and ``add_tags``
    (neither runs when it has nothing to do). False when the organization has no such
    response."""
    wanted = {clean_tag(tag) for tag in tags}
    if not exists(conn, organization_id=organization_id, response_id=response_id):
        return False
    current = set(tags_of(conn, response_id=response_id))
    stale, missing = sorted(current - wanted), sorted(wanted - current)
    if stale:
        remove_tags(
            conn,
            organization_id=organization_id,
            response_id=response_id,
            tags=stale,
            now=now,
            notify=False,
        )
    if missing:
        add_tags(
            conn,
            organization_id=organization_id,
            response_id=response_id,
            tags=missing,
            now=now,
            notify=False,
        )
    if stale or missing:
        _tags_changed(conn, organization_id, response_id, now)
    return True
