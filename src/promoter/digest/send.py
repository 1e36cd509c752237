"""Queuing the digest: weekly, once per organization and week (claimed in the database in
the transaction that queues the emails, so several server processes send it once), or
now, on demand. The delivery worker sends the queued emails."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, exists, select

from promoter.analytics.engine import Analytics
from promoter.delivery.notices import queue_notices
from promoter.digest.emails import DigestEmails, recipients
from promoter.digest.report import Digest, build_digest
from promoter.digest.week import Week, last_complete_week
from promoter.storage.engine import Database
from promoter.storage.once import claim_once
from promoter.storage.tables import digest_weeks, organizations

log = logging.getLogger("promoter.digest")


@dataclass(frozen=True, slots=True)
class Digesting:
    """What a digest needs: the database, the analytics engine, the dashboard's URL."""

    database: Database
    analytics: Analytics
    base_url: str
    emails: DigestEmails = field(default_factory=DigestEmails)


def read_digest(digesting: Digesting, *, organization_id: int, week: Week) -> Digest:
    with digesting.database.read() as conn:
        return build_digest(
            conn,
            digesting.analytics,
            organization_id=organization_id,
            week=week,
            base_url=digesting.base_url,
        )


def queue_digest(conn: Connection, digesting: Digesting, digest: Digest, *, now: datetime) -> int:
    """Queue the digest to each user who takes it; returns how many."""
    addresses = recipients(conn, organization_id=digest.organization_id)
    notices = [digesting.emails.notice(digest, to_address=a) for a in addresses]
    queue_notices(conn, organization_id=digest.organization_id, notices=notices, now=now)
    return len(notices)


def send_now(digesting: Digesting, *, organization_id: int, now: datetime) -> int:
    """Queue the last complete week's digest now, claimed or not."""
    digest = read_digest(digesting, organization_id=organization_id, week=last_complete_week(now))
    return digesting.database.run_write(lambda conn: queue_digest(conn, digesting, digest, now=now))


def due_organizations(conn: Connection, *, week: Week) -> list[int]:
    """The organizations whose digest of ``week`` is not queued."""
    done = exists().where(
        digest_weeks.c.organization_id == organizations.c.id, digest_weeks.c.week == week.key
    )
    return list(
        conn.execute(select(organizations.c.id).where(~done).order_by(organizations.c.id)).scalars()
    )


def send_weekly(digesting: Digesting, *, now: datetime) -> int:
    """Queue the last complete week's digest of every organization not done; a quiet one
    (no answers in either week) is claimed and sends nothing. One failing is logged and
    tried again on the next round. Returns how many emails were queued."""
    week = last_complete_week(now)
    with digesting.database.read() as conn:
        due = due_organizations(conn, week=week)
    queued = 0
    for organization_id in due:
        try:
            digest = read_digest(digesting, organization_id=organization_id, week=week)

            def record(conn: Connection, digest: Digest = digest) -> int:
                claimed = claim_once(
                    conn,
                    digest_weeks,
                    organization_id=digest.organization_id,
                    week=week.key,
                    queued_at=now,
                )
                if not claimed or digest.quiet:
                    return 0
                return queue_digest(conn, digesting, digest, now=now)

            queued += digesting.database.run_write(record)
        except Exception:
            log.exception("weekly digest of organization %s failed", organization_id)
    return queued
