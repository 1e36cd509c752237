"""The webhook outbox: due deliveries are claimed with a lease, sent, and their outcome
recorded, with the attempt, in one transaction per batch.

As for emails (:mod:`promoter.delivery.outbox`), a claim hides a delivery from other
senders until ``claimed_until``; a sender killed mid-batch leaves its leases to expire and
those deliveries are sent again (at least once, never lost). On PostgreSQL senders claim
with ``FOR UPDATE SKIP LOCKED``.

Retries: a failed attempt is tried again after 1, 2, 4, ... minutes (at most an hour
apart, ±20% jitter) until 24 hours after the event; then the delivery fails. A
subscription none of whose deliveries succeeded during those 24 hours is disabled, with
the reason, and its pending deliveries fail. A permanent failure (a target address the
policy refuses) is not retried: the delivery fails at once.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, and_, delete, insert, select, update

from promoter.jobs.claims import claim_due_ids
from promoter.jobs.retry import RetryPolicy
from promoter.storage.tables import (
    campaigns,
    webhook_attempts,
    webhook_deliveries,
    webhook_subscriptions,
)
from promoter.webhooks.events import PING, envelope, new_event_id
from promoter.webhooks.subscriptions import (
    DISABLED_ERROR,
    WebhookNotFound,
    disable_after_failing,
    get_subscription,
)

#: A failed attempt is tried again after 1, 2, 4, ... minutes (at most an hour apart,
#: ±20% jitter), until 24 hours after the event; then the delivery fails.
RETRY = RetryPolicy(
    first=timedelta(minutes=1), cap=timedelta(hours=1), give_up_after=timedelta(hours=24)
)
#: Finished deliveries (and their attempts) are kept this long, then deleted.
LOG_RETENTION = timedelta(days=30)
#: Longest error text kept for an attempt.
MAX_ERROR = 1000

#: scheduled: by the sender; manual: a person's redelivery (its failure changes no
#: schedule); ping: a test, tried once.
Mode = Literal["scheduled", "manual", "ping"]


class DeliveryBusy(RuntimeError):
    """A sender holds the delivery right now."""


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery in hand, with what is needed to send it."""

    delivery_id: int
    subscription_id: int
    organization_id: int
    event_id: str
    event: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    target_url: str
    format: str
    secret: str
    #: For Slack messages: the name of the campaign the event is about.
    campaign_name: str | None = None
    mode: Mode = "scheduled"
    #: The secret before a rotation, and until when it signs too.
    previous_secret: str | None = None
    previous_secret_until: datetime | None = None

    def signing_secrets(self, now: datetime) -> tuple[str, ...]:
        """The secrets that sign a request made at ``now``: the current one first."""
        previous, until = self.previous_secret, self.previous_secret_until
        if previous and until is not None and now < until:
            return (self.secret, previous)
        return (self.secret,)


@dataclass(frozen=True, slots=True)
class Outcome:
    item: Claimed
    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    #: Trying again cannot help (a refused target address): the delivery fails now.
    permanent: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _campaign_names(conn: Connection, rows: Sequence[Any]) -> dict[int, str]:
    wanted = {
        int(cid)
        for row in rows
        if row.format == "slack"
        and isinstance(cid := (row.payload.get("data") or {}).get("campaign_id"), int)
    }
    if not wanted:
        return {}
    found = conn.execute(select(campaigns.c.id, campaigns.c.name).where(campaigns.c.id.in_(wanted)))
    return {row.id: row.name for row in found}


_CLAIM_COLUMNS = (
    webhook_deliveries.c.id,
    webhook_deliveries.c.subscription_id,
    webhook_deliveries.c.organization_id,
    webhook_deliveries.c.event_id,
    webhook_deliveries.c.event,
    webhook_deliveries.c.payload,
    webhook_deliveries.c.attempts,
    webhook_deliveries.c.created_at,
    webhook_subscriptions.c.target_url,
    webhook_subscriptions.c.format,
    webhook_subscriptions.c.secret,
    webhook_subscriptions.c.previous_secret,
    webhook_subscriptions.c.previous_secret_until,
    webhook_subscriptions.c.status.label("subscription_status"),
)


def _claimed(conn: Connection, rows: Sequence[Any], mode: Mode) -> list[Claimed]:
    names = _campaign_names(conn, rows)
    out = []
    for row in rows:
        campaign_id = (row.payload.get("data") or {}).get("campaign_id")
        out.append(
            Claimed(
                delivery_id=row.id,
                subscription_id=row.subscription_id,
                organization_id=row.organization_id,
                event_id=row.event_id,
                event=row.event,
                payload=dict(row.payload),
                attempts=row.attempts,
                created_at=row.created_at,
                target_url=row.target_url,
                format=row.format,
                secret=row.secret,
                campaign_name=names.get(campaign_id) if isinstance(campaign_id, int) else None,
                mode=mode,
                previous_secret=row.previous_secret,
                previous_secret_until=row.previous_secret_until,
            )
        )
    return out


def claim_due(conn: Connection, *, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries (oldest due first). Deliveries of a subscription
    that is no longer active fail instead."""
    ids = claim_due_ids(conn, webhook_deliveries, now=now, limit=limit, lease=lease)
    if not ids:
        return []
    rows = conn.execute(
        select(*_CLAIM_COLUMNS)
        .join(
            webhook_subscriptions,
            webhook_subscriptions.c.id == webhook_deliveries.c.subscription_id,
        )
        .where(webhook_deliveries.c.id.in_(ids))
        .order_by(webhook_deliveries.c.due_at, webhook_deliveries.c.id)
    ).all()
    stale = [row.id for row in rows if row.subscription_status != "active"]
    if stale:
        conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id.in_(stale))
            .values(
                status="failed",
                claimed_until=None,
                attempts=webhook_deliveries.c.attempts - 1,
                last_error=DISABLED_ERROR,
            )
        )
    return _claimed(conn, [row for row in rows if row.subscription_status == "active"], "scheduled")


def claim_one(
    conn: Connection,
    *,
    organization_id: int,
    subscription_id: int,
    delivery_id: int,
    now: datetime,
    lease: timedelta,
) -> Claimed:
    """Take one delivery of the organization for a redelivery by hand, whatever its
    status (a pending one is leased, so that no sender sends it meanwhile)."""
    row = conn.execute(
        select(*_CLAIM_COLUMNS, webhook_deliveries.c.status, webhook_deliveries.c.claimed_until)
        .join(
            webhook_subscriptions,
            webhook_subscriptions.c.id == webhook_deliveries.c.subscription_id,
        )
        .where(
            webhook_deliveries.c.id == delivery_id,
            webhook_deliveries.c.subscription_id == subscription_id,
            webhook_deliveries.c.organization_id == organization_id,
        )
    ).one_or_none()
    if row is None:
        raise WebhookNotFound(f"no delivery {delivery_id}")
    if row.status == "pending" and row.claimed_until is not None and row.claimed_until >= now:
        raise DeliveryBusy("this delivery is being sent right now; try again in a minute")
    values: dict[str, Any] = {"attempts": webhook_deliveries.c.attempts + 1}
    if row.status == "pending":
        values["claimed_until"] = now + lease
    conn.execute(
        update(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id).values(**values)
    )
    (claimed,) = _claimed(conn, [row], "manual")
    return claimed


def create_ping(
    conn: Connection,
    *,
    organization_id: int,
    subscription_id: int,
    now: datetime,
    lease: timedelta,
) -> Claimed:
    """A ``ping`` delivery for the subscription, leased to the caller who sends it."""
    subscription = get_subscription(
        conn, organization_id=organization_id, subscription_id=subscription_id
    )
    event_id = new_event_id()
    payload = envelope(
        event_id=event_id,
        event=PING,
        organization_id=organization_id,
        data={
            "webhook_id": subscription.id,
            "subscribed_events": list(subscription.events),
            # What receivers written when a webhook had one event read.
            "subscribed_event": subscription.events[0] if subscription.events else None,
        },
        now=now,
    )
    delivery_id = conn.execute(
        insert(webhook_deliveries)
        .values(
            organization_id=organization_id,
            subscription_id=subscription.id,
            event_id=event_id,
            event=PING,
            payload=payload,
            status="pending",
            attempts=1,
            due_at=now,
            claimed_until=now + lease,
            created_at=now,
        )
        .returning(webhook_deliveries.c.id)
    ).scalar_one()
    return Claimed(
        delivery_id=delivery_id,
        subscription_id=subscription.id,
        organization_id=organization_id,
        event_id=event_id,
        event=PING,
        payload=payload,
        attempts=1,
        created_at=now,
        target_url=subscription.target_url,
        format=subscription.format,
        secret=subscription.secret,
        mode="ping",
        previous_secret=subscription.previous_secret,
        previous_secret_until=subscription.previous_secret_until,
    )


def record(
    conn: Connection, outcomes: Sequence[Outcome], *, now: datetime, rng: random.Random
) -> list[int]:
    """Record the attempts and what follows from them; return the subscriptions that were
    disabled for failing too long."""
    if not outcomes:
        return []
    ids = [o.item.delivery_id for o in outcomes]
    # Lock the deliveries still there (a subscription deleted meanwhile took its own away).
    present = select(webhook_deliveries.c.id, webhook_deliveries.c.status).where(
        webhook_deliveries.c.id.in_(ids)
    )
    if conn.dialect.name == "postgresql":
        present = present.with_for_update()
    status_of = {row.id: row.status for row in conn.execute(present)}
    outcomes = [o for o in outcomes if o.item.delivery_id in status_of]
    if not outcomes:
        return []
    conn.execute(
        insert(webhook_attempts),
        [
            {
                "organization_id": o.item.organization_id,
                "delivery_id": o.item.delivery_id,
                "attempted_at": o.attempted_at,
                "status_code": o.status_code,
                "error": o.error[:MAX_ERROR] if o.error else None,
                "duration_ms": o.duration_ms,
                "manual": o.item.mode != "scheduled",
            }
            for o in outcomes
        ],
    )
    working: set[int] = set()
    failures: Counter[int] = Counter()
    given_up: list[Outcome] = []
    for outcome in outcomes:
        item = outcome.item
        last = {
            "last_status_code": outcome.status_code,
            "last_error": outcome.error[:MAX_ERROR] if outcome.error else None,
        }
        this = webhook_deliveries.c.id == item.delivery_id
        if outcome.succeeded:
            working.add(item.subscription_id)
            conn.execute(
                update(webhook_deliveries)
                .where(this)
                .values(status="delivered", delivered_at=now, claimed_until=None, **last)
            )
            continue
        if item.mode == "ping":
            conn.execute(
                update(webhook_deliveries)
                .where(this)
                .values(status="failed", claimed_until=None, **last)
            )
            continue
        if item.mode == "manual":
            # A failed redelivery by hand leaves the delivery as it was (and its schedule).
            conn.execute(update(webhook_deliveries).where(this).values(claimed_until=None, **last))
            continue
        failures[item.subscription_id] += 1
        due = RETRY.next_attempt(item.attempts, created_at=item.created_at, now=now, rng=rng)
        pending = and_(this, webhook_deliveries.c.status == "pending")
        if outcome.permanent or due is None:
            failed = conn.execute(
                update(webhook_deliveries)
                .where(pending)
                .values(status="failed", claimed_until=None, **last)
            ).rowcount
            # (not if it was settled meanwhile: disabled, or redelivered by hand)
            if failed and not outcome.permanent:
                given_up.append(outcome)
        else:
            conn.execute(
                update(webhook_deliveries)
                .where(pending)
                .values(due_at=due, claimed_until=None, **last)
            )
    subs = webhook_subscriptions.c
    if working:
        conn.execute(
            update(webhook_subscriptions).where(subs.id.in_(working)).values(consecutive_failures=0)
        )
    for subscription_id, count in failures.items():
        if subscription_id in working:
            continue
        conn.execute(
            update(webhook_subscriptions)
            .where(subs.id == subscription_id)
            .values(consecutive_failures=subs.consecutive_failures + count)
        )
    return _disable_failing(conn, given_up, now=now)


def _disable_failing(conn: Connection, given_up: Sequence[Outcome], *, now: datetime) -> list[int]:
    """Disable the subscriptions of deliveries given up on, if nothing was delivered to
    them since those deliveries' events: they have failed for 24 hours straight."""
    disabled: list[int] = []
    oldest: dict[int, Outcome] = {}
    for outcome in given_up:
        known = oldest.get(outcome.item.subscription_id)
        if known is None or outcome.item.created_at < known.item.created_at:
            oldest[outcome.item.subscription_id] = outcome
    for subscription_id, outcome in oldest.items():
        delivered_since = conn.execute(
            select(webhook_deliveries.c.id)
            .where(
                webhook_deliveries.c.subscription_id == subscription_id,
                webhook_deliveries.c.delivered_at >= outcome.item.created_at,
            )
            .limit(1)
        ).first()
        if delivered_since is not None:
            continue
        assert RETRY.give_up_after is not None
        hours = int(RETRY.give_up_after.total_seconds() // 3600)
        last = f"HTTP {outcome.status_code}" if outcome.status_code else (outcome.error or "")
        if outcome.status_code and outcome.error:
            last = outcome.error
        reason = f"Every delivery failed for {hours} hours (last: {last})"
        if disable_after_failing(
            conn, subscription_id=subscription_id, reason=reason[:500], now=now
        ):
            disabled.append(subscription_id)
    return disabled


def prune(conn: Connection, *, older_than: datetime, limit: int = 1000) -> int:
    """Delete up to ``limit`` finished deliveries (with their attempts) due before
    ``older_than``; return how many."""
    finished = (
        select(webhook_deliveries.c.id)
        .where(
            webhook_deliveries.c.status.in_(("delivered", "failed")),
            webhook_deliveries.c.due_at < older_than,
        )
        .limit(limit)
    )
    ids = list(conn.execute(finished).scalars())
    if not ids:
        return 0
    return conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.id.in_(ids))).rowcount
