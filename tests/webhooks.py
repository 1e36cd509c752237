"""Webhook helpers shared by the webhook tests: a sender on a clock the test moves, allowed to
reach this machine's receivers; subscriptions; the delivery log; the addresses refused at
save."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from promoter.storage.engine import Database
from promoter.storage.tables import webhook_attempts, webhook_deliveries
from promoter.webhooks.sender import WebhookSender
from promoter.webhooks.subscriptions import Subscription, create_subscription
from promoter.webhooks.targets import TargetPolicy
from tests.conftest import Org

BASE_URL = "https://nps.example.com"
T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
#: The receivers here listen on 127.0.0.1, which the default policy refuses.
LOOPBACK_ALLOWED = TargetPolicy(allow_private=True)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def sender(
    database: Database, clock: Callable[[], datetime] | None = None, **options: Any
) -> WebhookSender:
    return WebhookSender(
        database=database,
        base_url=BASE_URL,
        clock=clock or Clock(),
        rng=random.Random(7),
        **{"policy": LOOPBACK_ALLOWED, **options},
    )


def webhook_sender(database: Database, policy: TargetPolicy, **options: Any) -> WebhookSender:
    """A sender under ``policy``, on a clock at the current time."""
    return WebhookSender(
        database=database,
        base_url=BASE_URL,
        clock=Clock(datetime.now(UTC)),
        policy=policy,
        **options,
    )


def run_once(webhooks: WebhookSender) -> int:
    return asyncio.run(webhooks.run_once())


def subscribe(
    database: Database, org: Org, event: str | list[str], url: str, **options: Any
) -> Subscription:
    """A webhook of ``org`` sending ``event`` (or each of a list of events) to ``url``."""
    with database.write() as conn:
        return create_subscription(
            conn,
            organization_id=org.id,
            events=[event] if isinstance(event, str) else event,
            target_url=url,
            now=T0,
            **{"policy": LOOPBACK_ALLOWED, **options},
        )


def deliveries(database: Database) -> list[Any]:
    with database.read() as conn:
        return list(
            conn.execute(select(webhook_deliveries).order_by(webhook_deliveries.c.id)).all()
        )


def attempts(database: Database, delivery_id: int) -> list[Any]:
    with database.read() as conn:
        return list(
            conn.execute(
                select(webhook_attempts)
                .where(webhook_attempts.c.delivery_id == delivery_id)
                .order_by(webhook_attempts.c.id)
            ).all()
        )


def drive(database: Database, webhooks: WebhookSender, clock: Clock, until: datetime) -> None:
    """Run the sender at each due time until ``until``."""
    while True:
        with database.read() as conn:
            due = conn.execute(
                select(webhook_deliveries.c.due_at)
                .where(webhook_deliveries.c.status == "pending")
                .order_by(webhook_deliveries.c.due_at)
                .limit(1)
            ).scalar()
        if due is None or due > until:
            return
        clock.now = max(clock.now, due)
        run_once(webhooks)


#: What a receiver keeps to itself: Promoter must never show it.
SECRET = "sk_live_receivers_own_secret"


#: Addresses of this machine and its networks, spelled in ways the resolver accepts.
REFUSED_AT_SAVE = [
    ("http://127.0.0.1:8080/in", "127.0.0.1 (loopback address)"),
    ("http://127.1/in", "127.0.0.1 (loopback address)"),
    ("http://2130706433/in", "127.0.0.1 (loopback address)"),
    ("http://0x7f.1/in", "127.0.0.1 (loopback address)"),
    ("http://0/in", "0.0.0.0 (unspecified address)"),
    ("http://0.0.0.0:8000/", "0.0.0.0 (unspecified address)"),
    ("http://localhost:8000/", "localhost (127.0.0.1) (loopback address)"),
    ("http://api.LOCALHOST./", "api.localhost. (127.0.0.1) (loopback address)"),
    ("https://[::1]:8443/hook", "::1 (loopback address)"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1 (loopback address)"),
    ("http://[::ffff:7f00:1]/", "::ffff:7f00:1 (loopback address)"),
    ("http://[::]/", ":: (unspecified address)"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 (link-local address)"),
    ("http://[fe80::1]/", "fe80::1 (link-local address)"),
    ("http://10.0.0.5/", "10.0.0.5 (private address)"),
    ("http://172.16.3.4/", "172.16.3.4 (private address)"),
    ("http://192.168.1.1/", "192.168.1.1 (private address)"),
    ("http://[fd12:3456::1]/", "fd12:3456::1 (private address)"),
    ("http://224.0.0.1/", "224.0.0.1 (multicast address)"),
    ("http://[ff02::1]/", "ff02::1 (multicast address)"),
    ("http://240.0.0.1/", "240.0.0.1 (reserved address)"),
    ("http://100.64.0.1/", "100.64.0.1 (reserved address)"),
    ("http://[2002:7f00:1::]/", "2002:7f00:1:: (loopback address)"),
]
