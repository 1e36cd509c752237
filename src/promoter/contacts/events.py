"""The webhook events about contacts: ``contact.unsubscribed``, and ``feedback.removed``
for each response that goes when a contact is erased.

Each ``emit_*`` function is called with the caller's connection, inside its transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, select

from promoter.delivery.events import contact_data
from promoter.storage.tables import contacts, responses
from promoter.webhooks.events import CONTACT_UNSUBSCRIBED, FEEDBACK_REMOVED, emit, subscribed

#: Where an unsubscribe came from: the survey email's link, or a person (dashboard, API).
UnsubscribeSource = Literal["survey", "manual"]


def emit_contact_unsubscribed(
    conn: Connection,
    *,
    organization_id: int,
    contact_id: int,
    now: datetime,
    source: UnsubscribeSource,
    campaign_id: int | None = None,
    survey_id: int | None = None,
) -> str | None:
    """The contact unsubscribed (through a survey's link: its campaign and survey) or was
    unsubscribed by a person (no campaign: only subscriptions to every campaign hear)."""
    return emit(
        conn,
        organization_id=organization_id,
        event=CONTACT_UNSUBSCRIBED,
        campaign_id=campaign_id,
        data=lambda: {
            "contact": contact_data(conn, contact_id),
            "campaign_id": campaign_id,
            "survey_id": survey_id,
            "source": source,
        },
        now=now,
    )


def emit_feedback_removed(
    conn: Connection, *, organization_id: int, user_id: str, now: datetime
) -> int:
    """The contact ``user_id`` is about to be erased: one ``feedback.removed`` per response
    of it (ids only, and the contact's id and userId). Call it before deleting."""
    if not subscribed(conn, organization_id=organization_id, event=FEEDBACK_REMOVED):
        return 0
    rows = conn.execute(
        select(responses.c.id, responses.c.campaign_id, contacts.c.id.label("contact_id"))
        .join(contacts, contacts.c.id == responses.c.contact_id)
        .where(contacts.c.organization_id == organization_id, contacts.c.user_id == user_id)
        .order_by(responses.c.id)
    ).all()
    emitted = 0
    for row in rows:
        data = {
            "id": row.id,
            "campaign_id": row.campaign_id,
            "contact": {"id": row.contact_id, "user_id": user_id},
        }
        if emit(
            conn,
            organization_id=organization_id,
            event=FEEDBACK_REMOVED,
            campaign_id=row.campaign_id,
            data=data,
            now=now,
        ):
            emitted += 1
    return emitted
