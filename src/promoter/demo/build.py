"""Building the demo organization: people, their year of events and their answers written
in time order under a provisional name, then the real name and the demo user together."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy import delete, select, update

from promoter.accounts.passwords import Passwords
from promoter.accounts.users import create_user
from promoter.demo.activity import add_activity, track
from promoter.demo.answers import Survey, schedule
from promoter.demo.campaigns import setup_campaigns
from promoter.demo.clock import Clock
from promoter.demo.login import (
    DEMO_EMAIL,
    DEMO_ORGANIZATION,
    DEMO_PASSWORD,
    INCOMPLETE_NAME,
    DemoLogin,
    find_demo,
)
from promoter.demo.people import Person, identify, make_people, teams
from promoter.demo.writes import chunks, ingest, write_surveys
from promoter.ingest.service import Ingestor
from promoter.orgs import service as orgs
from promoter.storage.engine import Database
from promoter.storage.tables import (
    campaign_day_counts,
    campaigns,
    contact_lists,
    contacts,
    deliveries,
    email_templates,
    events,
    orders,
    organizations,
    processed_messages,
    response_attributes,
    response_tags,
    responses,
    surveys,
)

DEFAULT_SEED = 20260101
DEFAULT_CONTACTS = 560

#: Messages per ``ingest_messages`` call; surveys per answering transaction.
INGEST_BATCH = 500
ANSWER_BATCH = 250


def ensure_demo(
    database: Database,
    passwords: Passwords,
    *,
    now: datetime,
    seed: int = DEFAULT_SEED,
    size: int = DEFAULT_CONTACTS,
) -> DemoLogin:
    """The demo organization: found if it exists, built otherwise."""
    with database.read() as conn:
        found = find_demo(conn)
    if found is not None:
        return found
    discard_incomplete(database)
    return build_demo(database, passwords, now=now, seed=seed, size=size)


def discard_incomplete(database: Database) -> int:
    """Delete what interrupted builds left (organizations still named INCOMPLETE_NAME);
    return how many there were."""
    with database.write() as conn:
        found = list(
            conn.execute(
                select(organizations.c.id).where(organizations.c.name == INCOMPLETE_NAME)
            ).scalars()
        )
        for org_id in found:
            # Children first, so that no foreign key depends on cascades.
            for table in (
                response_tags,
                response_attributes,
                responses,
                deliveries,
                surveys,
                campaign_day_counts,  # after what its triggers count
                orders,
                events,
                processed_messages,
                campaigns,
                email_templates,
                contacts,
                contact_lists,
            ):
                conn.execute(delete(table).where(table.c.organization_id == org_id))
            conn.execute(delete(organizations).where(organizations.c.id == org_id))
    return len(found)


def build_demo(
    database: Database,
    passwords: Passwords,
    *,
    now: datetime,
    seed: int = DEFAULT_SEED,
    size: int = DEFAULT_CONTACTS,
) -> DemoLogin:
    """Build the demo organization (use :func:`ensure_demo` to build it only once)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC).replace(microsecond=0)
    rng = random.Random(seed)
    clock = Clock.at(now)
    people = make_people(rng, clock, size)
    add_activity(rng, clock, people)
    with database.write() as conn:
        org, key = orgs.create_organization(conn, name=INCOMPLETE_NAME)
        made = setup_campaigns(conn, org.id)
    sent = [s for person in people for s in schedule(rng, clock, made, person)]
    feed = _Feed(database, org.id, clock)
    feed.sign_ups(people)
    tracks = feed.events(people)
    contact_ids = _contact_ids(database, org.id)
    _answers(feed, contact_ids, sent, people)
    founded = min(p.joined for p in people) - timedelta(days=10)
    _complete(database, passwords, org.id, founded=founded, now=now)
    return DemoLogin(
        organization_id=org.id,
        organization_name=DEMO_ORGANIZATION,
        email=DEMO_EMAIL,
        password=DEMO_PASSWORD,
        created=True,
        api_key=key.key,
        contacts=len(contact_ids),
        events=tracks,
        responses=sum(1 for s in sent if s.score is not None),
    )


@dataclass(slots=True)
class _Feed:
    """The demo's Segment messages to its organization, numbered in the order they are
    made, through the real ingestion path."""

    database: Database
    organization_id: int
    clock: Clock
    ingestor: Ingestor = field(default_factory=Ingestor)
    numbers: Iterator[int] = field(default_factory=lambda: count(1))

    def send(self, messages: list[dict[str, Any]], received_at: datetime) -> None:
        ingest(self.database, self.ingestor, self.organization_id, messages, received_at)

    def sign_ups(self, people: list[Person]) -> None:
        """Sign-ups, a week at a time, received when the week's first one happened."""
        weeks: dict[tuple[int, int], list[Person]] = {}
        for person in sorted(people, key=lambda p: p.joined):
            year, week, _ = person.joined.isocalendar()
            weeks.setdefault((year, week), []).append(person)
        for joined in weeks.values():
            for chunk in chunks(joined, INGEST_BATCH):
                messages = [identify(p, self.clock, p.joined, next(self.numbers)) for p in chunk]
                self.send(messages, chunk[0].joined)

    def events(self, people: list[Person]) -> int:
        """Their events, in time order, each batch received once its last event happened;
        how many there were."""
        tracks = sorted(
            ((event, person) for person in people for event in person.events),
            key=lambda e: e[0][0],
        )
        for chunk in chunks(tracks, INGEST_BATCH):
            messages = [track(person, event, next(self.numbers)) for event, person in chunk]
            last = chunk[-1][0][0]
            self.send(messages, min(last + timedelta(minutes=1), self.clock.now))
        return len(tracks)

    def plan_change(self, people: list[Person], at: datetime) -> None:
        """The traits of ``people`` once their company changed its plan at ``at``."""
        self.send([identify(p, self.clock, at, next(self.numbers)) for p in people], at)


def _contact_ids(database: Database, organization_id: int) -> dict[str, int]:
    """The organization's contacts: their ids by userId."""
    with database.read() as conn:
        return {
            str(r.user_id): int(r.id)
            for r in conn.execute(
                select(contacts.c.user_id, contacts.c.id).where(
                    contacts.c.organization_id == organization_id
                )
            )
        }


def _answers(
    feed: _Feed, contact_ids: dict[str, int], sent: list[Survey], people: list[Person]
) -> None:
    """Surveys and answers in time order, with plan changes where they happened, so each
    answer keeps the attributes its contact had then."""
    batch: list[Survey] = []

    def flush() -> None:
        if batch:
            with feed.database.write() as conn:
                write_surveys(conn, feed.organization_id, batch, contact_ids)
            batch.clear()

    for at, item in _timeline(sent, people):
        if isinstance(item, Survey):
            batch.append(item)
            if len(batch) >= ANSWER_BATCH:
                flush()
            continue
        flush()
        feed.plan_change(item, at)
    flush()


def _timeline(
    sent: list[Survey], people: list[Person]
) -> list[tuple[datetime, Survey | list[Person]]]:
    """Each survey at its last effect, and each plan change with the people it touched."""
    timeline: list[tuple[datetime, Survey | list[Person]]] = [(s.at, s) for s in sent]
    for members in teams(people):
        for change in members[0].company.plans[1:]:
            changed = [p for p in members if p.joined < change.at]
            if changed:
                timeline.append((change.at, changed))
    timeline.sort(key=lambda item: item[0])
    return timeline


def _complete(
    database: Database,
    passwords: Passwords,
    organization_id: int,
    *,
    founded: datetime,
    now: datetime,
) -> None:
    """The organization's real name and its demo user, in one transaction: the demo is
    complete. The company has used Promoter since before its first customer."""
    with database.write() as conn:
        conn.execute(
            update(organizations)
            .where(organizations.c.id == organization_id)
            .values(name=DEMO_ORGANIZATION, created_at=founded)
        )
        for table in (campaigns, email_templates):
            conn.execute(
                update(table)
                .where(table.c.organization_id == organization_id)
                .values(created_at=founded, updated_at=founded)
            )
        conn.execute(
            update(contact_lists)
            .where(contact_lists.c.organization_id == organization_id)
            .values(created_at=founded)
        )
        create_user(
            conn,
            passwords,
            organization_id=organization_id,
            email=DEMO_EMAIL,
            password=DEMO_PASSWORD,
            name="Demo User",
            now=now,
        )
