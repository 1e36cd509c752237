"""Helpers of the dashboard's webhook tests: a response's status code, the subscriptions
table and each one's stored events, and a subscription made now (its id;
``tests.webhooks.subscribe`` makes one at T0)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from promoter.storage.engine import Database
from promoter.storage.tables import webhook_subscription_events, webhook_subscriptions
from promoter.webhooks.events import SURVEY_SENT
from promoter.webhooks.subscriptions import create_subscription
from tests.conftest import Org
from tests.webhooks import LOOPBACK_ALLOWED


def status(response: Any) -> int:
    code = response.status_code
    assert isinstance(code, int)
    return code


def subscriptions(database: Database) -> list[Any]:
    with database.read() as conn:
        return list(conn.execute(select(webhook_subscriptions)).all())


def events_of(database: Database, webhook_id: int) -> list[str]:
    """The events the webhook receives, as stored, by name."""
    with database.read() as conn:
        return list(
            conn.execute(
                select(webhook_subscription_events.c.event)
                .where(webhook_subscription_events.c.subscription_id == webhook_id)
                .order_by(webhook_subscription_events.c.event)
            ).scalars()
        )


def subscribe(database: Database, org: Org, url: str, event: str = SURVEY_SENT) -> int:
    with database.write() as conn:
        return create_subscription(
            conn,
            organization_id=org.id,
            events=[event],
            target_url=url,
            now=datetime.now(UTC),
            policy=LOOPBACK_ALLOWED,
        ).id
