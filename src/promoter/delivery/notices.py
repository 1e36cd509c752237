"""Emails to dashboard users (an NPS alert, say): queued already rendered, in the caller's
transaction, and sent by the delivery worker alongside the surveys, claimed with a lease
and retried the same way (see :mod:`promoter.jobs.claims`).

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, insert, select, update

from promoter.jobs.claims import claim_due_ids
from promoter.storage.tables import notice_emails


@dataclass(frozen=True, slots=True)
class Notice:
    """A rendered email to one dashboard user."""

    to_address: str
    from_name: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class ClaimedNotice:
    notice_id: int
    organization_id: int
    attempts: int
    notice: Notice


def queue_notices(
    conn: Connection, *, organization_id: int, notices: Sequence[Notice], now: datetime
) -> None:
    """Queue ``notices``, due now; they are sent once the caller's transaction commits."""
    if not notices:
        return
    conn.execute(
        insert(notice_emails),
        [
            {
                "organization_id": organization_id,
                "to_address": n.to_address,
                "from_name": n.from_name,
                "subject": n.subject,
                "text_body": n.text,
                "html_body": n.html,
                "status": "pending",
                "due_at": now,
                "created_at": now,
            }
            for n in notices
        ],
    )


def claim_notices(
    conn: Connection, *, now: datetime, limit: int, lease: timedelta
) -> list[ClaimedNotice]:
    """Lease up to ``limit`` due notices."""
    ids = claim_due_ids(conn, notice_emails, now=now, limit=limit, lease=lease)
    if not ids:
        return []
    c = notice_emails.c
    rows = conn.execute(select(notice_emails).where(c.id.in_(ids)).order_by(c.due_at, c.id))
    return [
        ClaimedNotice(
            r.id,
            r.organization_id,
            r.attempts,
            Notice(r.to_address, r.from_name, r.subject, r.text_body, r.html_body),
        )
        for r in rows
    ]


def mark_notices_sent(
    conn: Connection, sent: Sequence[tuple[ClaimedNotice, str]], *, now: datetime
) -> None:
    if not sent:
        return
    conn.execute(
        update(notice_emails)
        .where(notice_emails.c.id == bindparam("nid"))
        .values(status="sent", sent_at=now, message_id=bindparam("mid"), claimed_until=None),
        [{"nid": item.notice_id, "mid": message_id} for item, message_id in sent],
    )


def mark_notice_retry(
    conn: Connection, item: ClaimedNotice, *, error: str, due_at: datetime
) -> None:
    conn.execute(
        update(notice_emails)
        .where(notice_emails.c.id == item.notice_id)
        .values(due_at=due_at, claimed_until=None, last_error=error[:2000])
    )


def mark_notice_failed(conn: Connection, item: ClaimedNotice, *, error: str) -> None:
    """The address was refused, or the message cannot be built: not retried."""
    conn.execute(
        update(notice_emails)
        .where(notice_emails.c.id == item.notice_id)
        .values(status="failed", claimed_until=None, last_error=error[:2000])
    )
