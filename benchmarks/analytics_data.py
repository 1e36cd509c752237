"""Deterministic data for the analytics benchmark, and its loaders.

:class:`Dataset` makes, from a seed, a number of contacts with 10 attributes of mixed
types (string, number, boolean, date, list; some contacts upgrade their plan during the
two years, so their older snapshots differ from their attributes now), responses spread
over two years ending at :data:`END` (each with the contact's snapshot at that time, as
``responses.contact_snapshot`` and typed ``response_attributes`` rows), and a few events
per contact (a third of them ``Order Completed``, with an ``orders`` row each).

The same data goes to three places:

* :func:`load_sqlite`: a Promoter SQLite database (schema by the project's migrations,
  rows through the stdlib ``sqlite3`` module, secondary indexes rebuilt after the load);
* :func:`load_postgres`: a Promoter PostgreSQL database (``COPY``, then the indexes,
  ``VACUUM ANALYZE`` as autovacuum would do);
* :func:`write_duckdb_csv` + :func:`load_duckdb`: DuckDB tables with typed columns (one
  wide ``responses`` table with a column per snapshot attribute, ``events`` with the
  order total as a column, ``orders``).
"""

from __future__ import annotations

import csv
import math
import random
import sqlite3
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from ingest import FIRST_NAMES, LAST_NAMES
from sqlalchemy import select, text

from promoter.domain.attributes import typed_value
from promoter.orgs.service import create_organization
from promoter.storage.campaign_counts import backfill_statements
from promoter.storage.engine import Database
from promoter.storage.migrate import upgrade
from promoter.storage.tables import campaigns, response_attributes, responses

#: Bump when the generated data changes, so that kept databases are rebuilt.
GENERATOR_VERSION = 1

#: Responses are spread over the two years before END (exclusive).
END = datetime(2026, 11, 1, tzinfo=UTC)
START = END - timedelta(days=730)
_END_S = int(END.timestamp())
_START_S = int(START.timestamp())

PLANS = ("Free", "Starter", "Premium", "Business", "Enterprise")
PLAN_WEIGHTS = (40, 25, 20, 10, 5)
#: Monthly price per seat, and the usual seat count, per plan.
PLAN_PRICE = {"Free": 0.0, "Starter": 9.0, "Premium": 19.0, "Business": 35.0, "Enterprise": 60.0}
PLAN_SEATS = {"Free": 3, "Starter": 5, "Premium": 12, "Business": 40, "Enterprise": 150}
#: Score weights 0..10 per plan: the bigger the plan, the happier.
SCORE_WEIGHTS = {
    "Free": (5, 3, 3, 4, 5, 8, 10, 14, 18, 14, 16),
    "Starter": (3, 2, 2, 3, 4, 7, 9, 15, 20, 16, 19),
    "Premium": (2, 1, 1, 2, 3, 5, 8, 14, 20, 20, 24),
    "Business": (1, 1, 1, 2, 2, 4, 7, 13, 20, 22, 27),
    "Enterprise": (1, 1, 1, 1, 2, 3, 6, 12, 20, 24, 29),
}
COUNTRIES = (
    "US", "GB", "DE", "FR", "CA", "BR", "IN", "JP", "AU", "NL", "ES", "IT", "SE", "MX", "PL",
    "CH", "BE", "AT", "DK", "NO", "FI", "IE", "PT", "NZ", "SG", "KR", "ZA", "AR", "CL", "IL",
)  # fmt: skip
#: Zipf-like: the first countries hold most contacts.
COUNTRY_WEIGHTS = tuple(1 / (k + 1) ** 0.9 for k in range(len(COUNTRIES)))
INDUSTRIES = (
    "software", "finance", "retail", "healthcare", "education", "manufacturing",
    "logistics", "media", "energy", "government", "hospitality", "nonprofit",
)  # fmt: skip
ROLES = ("admin", "member", "owner", "viewer")
ROLE_WEIGHTS = (20, 55, 10, 15)
MODULES = ("surveys", "segments", "api", "sso", "webhooks", "exports")
DOMAINS = ("example.com", "mail.example.org", "corp.example.net", "example.co.uk")
TIMEZONES = (None, "America/New_York", "Europe/London", "Europe/Berlin", "Asia/Tokyo")
COMMENTS = (
    "Love the product, keep it up.",
    "Support was quick and helpful.",
    "Too expensive for what we use.",
    "The reporting is confusing.",
    "Works well, a few bugs here and there.",
    "Onboarding took longer than expected.",
    "Great integrations.",
    "Please add SSO to the cheaper plans.",
)
#: Event names and their relative frequency.
EVENT_NAMES = ("Logged In", "Feature Used", "Order Completed", "Invite Sent")
EVENT_WEIGHTS = (35, 25, 30, 10)
ORDER_EVENT = EVENT_NAMES.index("Order Completed")
FEATURES = ("dashboard", "survey-builder", "segments", "csv-export", "api", "integrations")
LOGIN_METHODS = ("password", "google", "sso", "magic-link")

#: The attribute names, in the order ``attributes_of`` returns them (by name).
ATTRIBUTE_NAMES = (
    "company.size",
    "country",
    "industry",
    "is_trial",
    "modules",
    "mrr",
    "plan",
    "role",
    "seats",
    "signup_date",
)

#: (value_type, value_text, value_number, value_date as stored text)
TypedValue = tuple[str, str | None, float | None, str | None]
#: The same with the attribute's name first.
TypedRow = tuple[str, str, str | None, float | None, str | None]


def timestamp_text(epoch_seconds: int) -> str:
    """A UTC instant as SQLAlchemy stores ``DateTime`` on SQLite (and PostgreSQL's COPY and
    DuckDB's CSV reader accept): ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def datetime_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass(slots=True)
class Contact:
    id: int
    first_name: str
    last_name: str
    domain: str
    timezone: str | None
    signup: int
    #: Attribute values now (JSON values; absent: the contact does not have it).
    now: dict[str, Any]
    #: Before the plan upgrade at ``upgraded_at`` (None: no upgrade), the values that differ.
    before: dict[str, Any] | None = None
    upgraded_at: int | None = None

    @property
    def user_id(self) -> str:
        return f"user-{self.id:07d}"

    @property
    def email(self) -> str:
        return f"{self.first_name.lower()}.{self.id}@{self.domain}"

    def attributes_at(self, instant: int) -> dict[str, Any]:
        if self.before is None or self.upgraded_at is None or instant >= self.upgraded_at:
            return self.now
        return self.now | self.before


@dataclass(slots=True)
class Dataset:
    """Everything generated from (contacts, responses, seed); rows are produced on demand,
    the same on every call."""

    contacts_count: int
    responses_count: int
    seed: int
    organization_id: int = 1
    campaign_id: int = 1
    contacts: list[Contact] = field(default_factory=list)
    #: Responses, ordered by time: epoch seconds, contact index, score, comment (-1: none).
    response_time: array[int] = field(default_factory=lambda: array("q"))
    response_contact: array[int] = field(default_factory=lambda: array("l"))
    response_score: array[int] = field(default_factory=lambda: array("b"))
    response_comment: array[int] = field(default_factory=lambda: array("b"))
    #: Events, ordered by time: epoch seconds, contact index, name index, detail.
    event_time: array[int] = field(default_factory=lambda: array("q"))
    event_contact: array[int] = field(default_factory=lambda: array("l"))
    event_kind: array[int] = field(default_factory=lambda: array("b"))
    event_detail: array[float] = field(default_factory=lambda: array("d"))
    _typed: dict[tuple[type, Any], TypedValue | None] = field(default_factory=dict)

    @classmethod
    def generate(cls, contacts: int, responses: int, seed: int) -> Dataset:
        data = cls(contacts, responses, seed)
        data._make_contacts()
        data._make_responses()
        data._make_events()
        return data

    @property
    def signature(self) -> str:
        return (
            f"v{GENERATOR_VERSION}:{self.contacts_count}:{self.responses_count}:{self.seed}:"
            f"{self.organization_id}:{self.campaign_id}"
        )

    # --- generation ---------------------------------------------------------------------

    def _make_contacts(self) -> None:
        rng = random.Random(f"{self.seed}:contacts")
        earliest = _END_S - 5 * 365 * 86400
        for number in range(1, self.contacts_count + 1):
            plan = rng.choices(PLANS, PLAN_WEIGHTS)[0]
            signup = rng.randrange(earliest, _END_S - 30 * 86400)
            seats = self._seats(rng, plan)
            values: dict[str, Any] = {
                "company.size": round(10 ** rng.uniform(0, 4)),
                "country": rng.choices(COUNTRIES, COUNTRY_WEIGHTS)[0],
                "industry": rng.choice(INDUSTRIES),
                "is_trial": rng.random() < (0.6 if plan == "Free" else 0.08),
                "modules": sorted(rng.sample(MODULES, rng.randint(1, 3))),
                "mrr": self._mrr(rng, plan, seats),
                "plan": plan,
                "role": rng.choices(ROLES, ROLE_WEIGHTS)[0],
                "seats": seats,
                "signup_date": datetime.fromtimestamp(signup, UTC)
                .isoformat()
                .replace("+00:00", "Z"),
            }
            if rng.random() < 0.08:
                del values["industry"]
            if rng.random() < 0.03:
                del values["country"]
            contact = Contact(
                id=number,
                first_name=rng.choice(FIRST_NAMES),
                last_name=rng.choice(LAST_NAMES),
                domain=rng.choice(DOMAINS),
                timezone=rng.choice(TIMEZONES),
                signup=signup,
                now=values,
            )
            level = PLANS.index(plan)
            if level > 0 and rng.random() < 0.25:
                # Upgraded during the two years: earlier snapshots show the smaller plan.
                old = PLANS[level - 1]
                old_seats = max(1, seats // 2)
                contact.before = {
                    "plan": old,
                    "seats": old_seats,
                    "mrr": self._mrr(rng, old, old_seats),
                    "is_trial": old == "Free",
                }
                contact.upgraded_at = rng.randrange(max(signup, _START_S), _END_S)
            self.contacts.append(contact)

    @staticmethod
    def _seats(rng: random.Random, plan: str) -> int:
        usual = PLAN_SEATS[plan]
        return max(1, int(rng.lognormvariate(math.log(usual), 0.6)))

    @staticmethod
    def _mrr(rng: random.Random, plan: str, seats: int) -> float | int:
        price = PLAN_PRICE[plan]
        if price == 0:
            return 0
        return round(seats * price * rng.uniform(0.8, 1.2), 2)

    def _make_responses(self) -> None:
        rng = random.Random(f"{self.seed}:responses")
        made: list[tuple[int, int, int, int]] = []
        n = self.contacts_count
        for _ in range(self.responses_count):
            index = rng.randrange(n)
            contact = self.contacts[index]
            earliest = max(_START_S, contact.signup)
            # A growing user base: more responses later (density rising linearly).
            instant = earliest + int((_END_S - earliest) * math.sqrt(rng.random()))
            instant = min(instant, _END_S - 1)
            plan = contact.attributes_at(instant)["plan"]
            score = rng.choices(range(11), SCORE_WEIGHTS[plan])[0]
            comment = rng.randrange(len(COMMENTS)) if rng.random() < 0.25 else -1
            made.append((instant, index, score, comment))
        made.sort()
        for instant, index, score, comment in made:
            self.response_time.append(instant)
            self.response_contact.append(index)
            self.response_score.append(score)
            self.response_comment.append(comment)

    def _make_events(self) -> None:
        rng = random.Random(f"{self.seed}:events")
        made: list[tuple[int, int, int, float]] = []
        for index, contact in enumerate(self.contacts):
            earliest = max(_START_S, contact.signup)
            for _ in range(rng.choices(range(11), (4, 6, 8, 10, 12, 14, 12, 10, 8, 6, 4))[0]):
                kind = rng.choices(range(len(EVENT_NAMES)), EVENT_WEIGHTS)[0]
                instant = rng.randrange(earliest, _END_S)
                if kind == ORDER_EVENT:
                    detail = round(rng.lognormvariate(4.0, 0.8), 2)
                else:
                    detail = float(rng.randrange(100_000))
                made.append((instant, index, kind, detail))
        made.sort()
        for instant, index, kind, detail in made:
            self.event_time.append(instant)
            self.event_contact.append(index)
            self.event_kind.append(kind)
            self.event_detail.append(detail)

    # --- typed values -------------------------------------------------------------------

    def typed(self, value: Any) -> TypedValue | None:
        """``typed_value(value)`` as stored: (type, text, number, date text); cached."""
        key = (type(value), value if not isinstance(value, list) else tuple(value))
        if key in self._typed:
            return self._typed[key]
        typed = typed_value(value)
        found = (
            None
            if typed is None
            else (
                typed.type,
                typed.text,
                typed.number,
                None if typed.date is None else datetime_text(typed.date),
            )
        )
        self._typed[key] = found
        return found

    def typed_rows(self, values: dict[str, Any]) -> Iterator[TypedRow]:
        for name in ATTRIBUTE_NAMES:
            if name not in values:
                continue
            typed = self.typed(values[name])
            if typed is not None:
                yield (name, *typed)

    # --- rows, in table column order ----------------------------------------------------

    def contact_rows(self) -> Iterator[tuple[Any, ...]]:
        org = self.organization_id
        updated = timestamp_text(_END_S)
        for c in self.contacts:
            email = c.email
            yield (
                c.id, org, c.user_id, email, email.casefold(), c.first_name, c.last_name,
                c.timezone, "active", timestamp_text(c.signup), updated,
            )  # fmt: skip

    CONTACT_COLUMNS = (
        "id", "organization_id", "user_id", "email", "email_key", "first_name", "last_name",
        "timezone", "status", "created_at", "updated_at",
    )  # fmt: skip

    def contact_attribute_rows(self) -> Iterator[tuple[Any, ...]]:
        org = self.organization_id
        for c in self.contacts:
            updated = timestamp_text(c.upgraded_at or c.signup)
            for name, kind, text_value, number, date in self.typed_rows(c.now):
                yield c.id, name, org, kind, text_value, number, date, updated

    CONTACT_ATTRIBUTE_COLUMNS = (
        "contact_id", "name", "organization_id", "value_type", "value_text", "value_number",
        "value_date", "updated_at",
    )  # fmt: skip

    def _event_properties(self, event_id: int, kind: int, detail: float) -> dict[str, Any]:
        if kind == ORDER_EVENT:
            return {"order_id": f"ord-{event_id:08d}", "total": detail, "currency": "USD"}
        number = int(detail)
        if kind == 0:
            return {"method": LOGIN_METHODS[number % len(LOGIN_METHODS)]}
        if kind == 1:
            return {"feature": FEATURES[number % len(FEATURES)], "duration_ms": number}
        return {"role": ROLES[number % len(ROLES)]}

    def event_rows(self) -> Iterator[tuple[Any, ...]]:
        org = self.organization_id
        for i, instant in enumerate(self.event_time):
            event_id = i + 1
            contact = self.contacts[self.event_contact[i]]
            kind = self.event_kind[i]
            properties = self._event_properties(event_id, kind, self.event_detail[i])
            when = timestamp_text(instant)
            yield (
                event_id, org, contact.id, contact.user_id, EVENT_NAMES[kind],
                orjson.dumps(properties).decode(), when, when, f"msg-{event_id:08d}",
            )  # fmt: skip

    EVENT_COLUMNS = (
        "id", "organization_id", "contact_id", "user_id", "name", "properties", "timestamp",
        "received_at", "message_id",
    )  # fmt: skip

    def order_rows(self) -> Iterator[tuple[Any, ...]]:
        org = self.organization_id
        order_id = 0
        for i, kind in enumerate(self.event_kind):
            if kind != ORDER_EVENT:
                continue
            order_id += 1
            event_id = i + 1
            contact = self.contacts[self.event_contact[i]]
            total = self.event_detail[i]
            yield (
                order_id, org, event_id, contact.id, contact.user_id, f"ord-{event_id:08d}",
                total, total, "USD", "[]", timestamp_text(self.event_time[i]),
            )  # fmt: skip

    ORDER_COLUMNS = (
        "id", "organization_id", "event_id", "contact_id", "user_id", "order_id", "total",
        "subtotal", "currency", "products", "timestamp",
    )  # fmt: skip

    def survey_rows(self) -> Iterator[tuple[Any, ...]]:
        org, campaign = self.organization_id, self.campaign_id
        for i, instant in enumerate(self.response_time):
            survey_id = i + 1
            contact = self.contacts[self.response_contact[i]]
            sent = instant - 60 * (1 + survey_id % 2880)
            sent_text = timestamp_text(sent)
            yield (
                survey_id, org, campaign, contact.id, "answered", f"bench-{survey_id:010d}",
                "{}", sent_text, sent_text, timestamp_text(instant), sent_text,
            )  # fmt: skip

    SURVEY_COLUMNS = (
        "id", "organization_id", "campaign_id", "contact_id", "status", "token", "attributes",
        "scheduled_at", "sent_at", "answered_at", "created_at",
    )  # fmt: skip

    def response_rows(self) -> Iterator[tuple[Any, ...]]:
        org, campaign = self.organization_id, self.campaign_id
        for i, instant in enumerate(self.response_time):
            response_id = i + 1
            contact = self.contacts[self.response_contact[i]]
            snapshot = contact.attributes_at(instant)
            comment = self.response_comment[i]
            when = timestamp_text(instant)
            yield (
                response_id, org, response_id, campaign, contact.id, self.response_score[i],
                None if comment < 0 else COMMENTS[comment],
                orjson.dumps(snapshot, option=orjson.OPT_SORT_KEYS).decode(), "{}", "OPEN",
                when, when, None if comment < 0 else when,
            )  # fmt: skip

    RESPONSE_COLUMNS = (
        "id", "organization_id", "survey_id", "campaign_id", "contact_id", "score", "comment",
        "contact_snapshot", "survey_attributes", "status", "created_at", "updated_at",
        "comment_updated_at",
    )  # fmt: skip

    def response_attribute_rows(self) -> Iterator[tuple[Any, ...]]:
        org = self.organization_id
        for i, instant in enumerate(self.response_time):
            response_id = i + 1
            contact = self.contacts[self.response_contact[i]]
            for name, kind, text_value, number, date in self.typed_rows(
                contact.attributes_at(instant)
            ):
                yield response_id, name, org, kind, text_value, number, date

    RESPONSE_ATTRIBUTE_COLUMNS = (
        "response_id", "name", "organization_id", "value_type", "value_text", "value_number",
        "value_date",
    )  # fmt: skip

    def tables(self) -> list[tuple[str, Sequence[str], Callable[[], Iterator[tuple[Any, ...]]]]]:
        """(table, columns, rows) in an order that satisfies the foreign keys."""
        return [
            ("contacts", self.CONTACT_COLUMNS, self.contact_rows),
            ("contact_attributes", self.CONTACT_ATTRIBUTE_COLUMNS, self.contact_attribute_rows),
            ("events", self.EVENT_COLUMNS, self.event_rows),
            ("orders", self.ORDER_COLUMNS, self.order_rows),
            ("surveys", self.SURVEY_COLUMNS, self.survey_rows),
            ("responses", self.RESPONSE_COLUMNS, self.response_rows),
            ("response_attributes", self.RESPONSE_ATTRIBUTE_COLUMNS, self.response_attribute_rows),
        ]


#: Tables whose rows come from the generator (their secondary indexes are rebuilt).
LOADED_TABLES = (
    "contacts",
    "contact_attributes",
    "events",
    "orders",
    "surveys",
    "responses",
    "response_attributes",
)


def _chunks(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def create_schema(url: str) -> tuple[int, int]:
    """Migrate a fresh database and create the organization; its id and its campaign's."""
    database = Database.from_url(url)
    try:
        upgrade(database.engine)
        with database.write() as conn:
            org, _ = create_organization(conn, name="Analytics benchmark")
            campaign = conn.execute(
                select(campaigns.c.id).where(campaigns.c.organization_id == org.id)
            ).scalar_one()
        return org.id, int(campaign)
    finally:
        database.dispose()


def check_stored(url: str, data: Dataset) -> None:
    """Read a response back through SQLAlchemy's types: the raw rows must look as if the
    service had written them."""
    database = Database.from_url(url)
    try:
        with database.read() as conn:
            row = conn.execute(
                text("SELECT id FROM responses ORDER BY id DESC LIMIT 1")
            ).scalar_one()
            stored = conn.execute(select(responses).where(responses.c.id == row)).one()
            expected = datetime.fromtimestamp(data.response_time[row - 1], UTC)
            if stored.created_at != expected:
                raise RuntimeError(f"stored {stored.created_at!r}, expected {expected!r}")
            date = conn.execute(
                select(response_attributes.c.value_date).where(
                    response_attributes.c.response_id == row,
                    response_attributes.c.name == "signup_date",
                )
            ).scalar_one()
            if date is None or date.tzinfo is None:
                raise RuntimeError(f"signup_date read back as {date!r}")
    finally:
        database.dispose()


# --- SQLite -----------------------------------------------------------------------------


def load_sqlite(path: Path, data: Dataset, log: Callable[[str], None]) -> None:
    """A new SQLite database at ``path`` holding ``data``."""
    url = f"sqlite:///{path}"
    data.organization_id, data.campaign_id = create_schema(url)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")
        names = ",".join("?" * len(LOADED_TABLES))
        indexes = conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({names})",
            LOADED_TABLES,
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for table, columns, rows in data.tables():
            started = time.perf_counter()
            statement = (
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})"
            )
            count = 0
            for chunk in _chunks(rows(), 50_000):
                conn.execute("BEGIN")
                conn.executemany(statement, chunk)
                conn.execute("COMMIT")
                count += len(chunk)
            log(f"  sqlite: {table}: {count:,} rows in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        for _, sql in indexes:
            conn.execute(sql)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        log(f"  sqlite: {len(indexes)} indexes in {time.perf_counter() - started:.1f} s")
    finally:
        conn.close()
    check_stored(url, data)


# --- PostgreSQL -------------------------------------------------------------------------


def load_postgres(url: str, data: Dataset, log: Callable[[str], None]) -> None:
    """``data`` into the empty PostgreSQL database at ``url``, by COPY."""
    data.organization_id, data.campaign_id = create_schema(url)
    database = Database.from_url(url)
    try:
        with database.engine.connect() as sa_conn:
            raw: Any = sa_conn.connection.driver_connection
            raw.autocommit = True
            cur = raw.cursor()
            cur.execute("SET maintenance_work_mem = '1GB'")
            # Foreign keys are not checked during the load: the generator keeps them.
            cur.execute("SET session_replication_role = replica")
            cur.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                "AND tablename = ANY(%s) AND indexname NOT IN (SELECT conname FROM pg_constraint)",
                (list(LOADED_TABLES),),
            )
            indexes = cur.fetchall()
            for name, _ in indexes:
                cur.execute(f'DROP INDEX "{name}"')
            for table, columns, rows in data.tables():
                started = time.perf_counter()
                count = 0
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows():
                        copy.write_row(row)
                        count += 1
                seconds = time.perf_counter() - started
                log(f"  postgresql: {table}: {count:,} rows in {seconds:.1f} s")
            started = time.perf_counter()
            for _, sql in indexes:
                cur.execute(sql)
            for table in ("contacts", "events", "orders", "surveys", "responses"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            # The triggers that keep the campaigns' day counts did not fire (replica role):
            # count the loaded rows as migration 0020 counted the rows already there.
            for sql in backfill_statements("postgresql"):
                cur.execute(sql)
            cur.execute("SET session_replication_role = DEFAULT")
            log(f"  postgresql: {len(indexes)} indexes in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            # What autovacuum does after a bulk insert on a default server (this cluster
            # runs with autovacuum off): statistics and the visibility map.
            cur.execute("VACUUM ANALYZE")
            log(f"  postgresql: VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")
    finally:
        database.dispose()
    check_stored(url, data)


# --- DuckDB -----------------------------------------------------------------------------

#: The wide responses table: the snapshot attributes as typed columns.
DUCKDB_RESPONSE_COLUMNS: dict[str, str] = {
    "id": "BIGINT",
    "contact_id": "BIGINT",
    "campaign_id": "INTEGER",
    "score": "INTEGER",
    "created_at": "TIMESTAMP",
    "plan": "VARCHAR",
    "country": "VARCHAR",
    "industry": "VARCHAR",
    "company_size": "BIGINT",
    "mrr": "DOUBLE",
    "seats": "BIGINT",
    "is_trial": "BOOLEAN",
    "signup_date": "TIMESTAMP",
    "role": "VARCHAR",
    "modules": "VARCHAR",
}
DUCKDB_EVENT_COLUMNS = {
    "id": "BIGINT",
    "contact_id": "BIGINT",
    "name": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "total": "DOUBLE",
}
DUCKDB_ORDER_COLUMNS = {
    "id": "BIGINT",
    "contact_id": "BIGINT",
    "event_id": "BIGINT",
    "total": "DOUBLE",
    "timestamp": "TIMESTAMP",
}


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return orjson.dumps(value).decode()
    return value


def write_duckdb_csv(directory: Path, data: Dataset, log: Callable[[str], None]) -> None:
    """CSV files that :func:`load_duckdb` reads into typed tables."""
    started = time.perf_counter()
    with (directory / "responses.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(DUCKDB_RESPONSE_COLUMNS)
        for i, instant in enumerate(data.response_time):
            contact = data.contacts[data.response_contact[i]]
            snapshot = contact.attributes_at(instant)
            signup = data.typed(snapshot["signup_date"])
            assert signup is not None
            row = (
                i + 1, contact.id, data.campaign_id, data.response_score[i],
                timestamp_text(instant), snapshot["plan"], snapshot.get("country", ""),
                snapshot.get("industry", ""), snapshot["company.size"], snapshot["mrr"],
                snapshot["seats"], _csv_value(snapshot["is_trial"]), signup[3],
                snapshot["role"], _csv_value(snapshot["modules"]),
            )  # fmt: skip
            out.writerow(row)
    with (directory / "events.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(DUCKDB_EVENT_COLUMNS)
        for i, instant in enumerate(data.event_time):
            kind = data.event_kind[i]
            total = data.event_detail[i] if kind == ORDER_EVENT else ""
            contact_id = data.contacts[data.event_contact[i]].id
            out.writerow((i + 1, contact_id, EVENT_NAMES[kind], timestamp_text(instant), total))
    with (directory / "orders.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(DUCKDB_ORDER_COLUMNS)
        for row in data.order_rows():
            # id, org, event_id, contact_id, user_id, order_id, total, ..., timestamp
            out.writerow((row[0], row[3], row[2], row[6], row[10]))
    log(f"  duckdb: CSV files in {time.perf_counter() - started:.1f} s")


def load_duckdb(directory: Path, log: Callable[[str], None]) -> Any:
    """An in-memory DuckDB connection with the typed tables, read from the CSV files."""
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect(":memory:")
    for table, columns in (
        ("responses", DUCKDB_RESPONSE_COLUMNS),
        ("events", DUCKDB_EVENT_COLUMNS),
        ("orders", DUCKDB_ORDER_COLUMNS),
    ):
        spec = ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())
        path = str(directory / f"{table}.csv").replace("'", "''")
        con.execute(
            f"CREATE TABLE {table} AS SELECT * FROM read_csv('{path}', header = true, "
            f"columns = {{{spec}}}, timestampformat = '%Y-%m-%d %H:%M:%S.%f')"
        )
    log(f"  duckdb: tables loaded in {time.perf_counter() - started:.1f} s")
    return con
