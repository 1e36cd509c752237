"""Rotating a webhook's signing secret: a new secret signs every request from then on,
and the previous one signs them too (a second ``v1`` signature) for 24 hours, so that a
receiver can move to the new secret without refusing a request meanwhile."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Connection, update

from promoter.storage.tables import webhook_subscriptions
from promoter.webhooks.subscriptions import Subscription, get_subscription, new_secret

#: How long the previous secret signs too.
GRACE: Final = timedelta(hours=24)


def rotate_secret(
    conn: Connection, *, organization_id: int, subscription_id: int, now: datetime
) -> Subscription:
    """Give the webhook a new secret; the one it had signs too until ``now + GRACE``
    (a second rotation meanwhile ends the first one's grace)."""
    current = get_subscription(
        conn, organization_id=organization_id, subscription_id=subscription_id
    )
    conn.execute(
        update(webhook_subscriptions)
        .where(webhook_subscriptions.c.id == subscription_id)
        .values(
            secret=new_secret(),
            previous_secret=current.secret,
            previous_secret_until=now + GRACE,
            updated_at=now,
        )
    )
    return get_subscription(conn, organization_id=organization_id, subscription_id=subscription_id)
