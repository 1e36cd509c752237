"""Ingestion benchmark: the real server's ``/v1/batch`` against raw SQLite and PostgreSQL.

It starts ``promoter serve`` on a fresh database, sends deterministic Segment batches
(100 messages: 20% identify, 80% track) over several keep-alive connections, then
single ``/v1/track`` requests, kills the server with SIGKILL and checks that every
acknowledged message is in the database. In the same run it inserts the equivalent
rows straight into a fresh SQLite file with the stdlib ``sqlite3`` module (same schema,
WAL, ``synchronous=FULL``, ``executemany``, one commit per 100 messages) and reports the
ratio of the two rates. With PostgreSQL, the same rows also go into a second fresh
PostgreSQL database through psycopg (``executemany``, one commit per 100-message batch),
its rounds alternating with the server's. See benchmarks/README.md.

    .venv/bin/python benchmarks/ingest.py [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import json
import os
import random
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import psycopg
from machine import describe
from scratch_postgres import postgres_database
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from promoter.domain.attributes import AttributeValue
from promoter.domain.messages import Envelope, Identify, Track, parse_message
from promoter.domain.orders import OrderFacts
from promoter.ingest.pipeline import TRACKING_API_TYPES
from promoter.storage.engine import Database
from promoter.storage.migrate import upgrade
from promoter.storage.tables import metadata

TARGET_RATIO = 0.5
HOST = "127.0.0.1"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
#: Tables whose row counts must match between the server's database and the raw one.
CHECKED_TABLES = (
    "processed_messages",
    "contacts",
    "contact_attributes",
    "list_memberships",
    "events",
    "orders",
    "surveys",
    "deliveries",
)
LIBRARY = {"name": "analytics-python", "version": "2.4.0"}
BASE_TIME = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

FIRST_NAMES = (
    "Ted", "Marshall", "Lily", "Robin", "Barney", "Tracy", "Ava", "Noah", "Mia", "Liam",
    "Zoe", "Arjun", "Sofia", "Kenji", "Amara", "Lucas", "Elena", "Omar", "Chloe", "Mateo",
)  # fmt: skip
LAST_NAMES = (
    "Mosby", "Eriksen", "Aldrin", "Scherbatsky", "Stinson", "McConnell", "Garcia", "Müller",
    "Tanaka", "Okafor", "Rossi", "Dubois", "Silva", "Kowalski", "Nguyen", "Patel", "Smith",
)  # fmt: skip
COMPANIES = (
    ("Mosbius Designs", "design"), ("Goliath National Bank", "finance"),
    ("Acme Corp", "manufacturing"), ("Globex", "energy"), ("Initech", "software"),
    ("Umbrella Health", "healthcare"), ("Stark Logistics", "logistics"),
    ("Wayne Retail", "retail"), ("Hooli", "software"), ("Pied Piper", "software"),
)  # fmt: skip
DOMAINS = ("example.com", "mail.example.org", "corp.example.net", "example.co.uk")
PLANS = ("Free", "Starter", "Premium", "Enterprise")
ROLES = ("admin", "member", "owner", "viewer")
COUNTRIES = ("US", "GB", "DE", "FR", "CA", "BR", "IN", "JP", "AU", "NL")
TIMEZONES = ("America/New_York", "Europe/London", "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney")
FEATURES = ("dashboard", "survey-builder", "segments", "csv-export", "api", "integrations")
LOGIN_METHODS = ("password", "google", "sso", "magic-link")
PRODUCTS = (
    ("sku-1001", "Starter seat pack", 49.0, "seats"),
    ("sku-1002", "Premium seat pack", 199.0, "seats"),
    ("sku-2001", "SMS credits (1,000)", 25.0, "credits"),
    ("sku-2002", "Email credits (10,000)", 15.0, "credits"),
    ("sku-3001", "Onboarding session", 300.0, "services"),
)
#: Track events and their relative frequency.
EVENTS = (
    ("Logged In", 30),
    ("Feature Used", 35),
    ("Report Exported", 10),
    ("Invite Sent", 10),
    ("Order Completed", 15),
)


# --- workload ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
    user_id: str
    email: str
    first_name: str
    last_name: str
    company: tuple[str, str]
    company_size: int
    country: str
    created_at: str
    timezone: str | None


@dataclass(slots=True)
class Workload:
    """A deterministic stream of Segment messages from a growing user base.

    An identify either signs a new user up or re-identifies a known one with updated
    traits; a track only uses users identified at least ``lag`` batches earlier, so
    that concurrent requests do not make events arrive before their contact.
    """

    seed: int
    identify_ratio: float
    lag: int
    rng: random.Random = field(init=False)
    profiles: list[Profile] = field(default_factory=list)
    trackable: int = 0
    pending: deque[tuple[int, int]] = field(default_factory=deque)
    batches: int = 0
    clock: datetime = BASE_TIME
    orders: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def batch(self, size: int, *, identify_only: bool = False) -> list[dict[str, Any]]:
        self._release_trackable()
        messages = []
        for _ in range(size):
            identify = identify_only or self.trackable == 0
            if identify or self.rng.random() < self.identify_ratio:
                messages.append(self._identify())
            else:
                messages.append(self._track())
        self.pending.append((self.batches, len(self.profiles)))
        self.batches += 1
        return messages

    def single_tracks(self, count: int) -> list[dict[str, Any]]:
        self.trackable = len(self.profiles)
        return [self._track() for _ in range(count)]

    def _release_trackable(self) -> None:
        while self.pending and self.pending[0][0] <= self.batches - self.lag:
            self.trackable = self.pending.popleft()[1]

    def _base(self, kind: str, user: Profile) -> dict[str, Any]:
        self.clock += timedelta(milliseconds=self.rng.randint(1, 400))
        context: dict[str, Any] = {"library": LIBRARY}
        if user.timezone is not None:
            context["timezone"] = user.timezone
        return {
            "type": kind,
            "userId": user.user_id,
            "messageId": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "timestamp": self.clock.isoformat(timespec="milliseconds"),
            "context": context,
            "integrations": {},
        }

    def _new_profile(self) -> Profile:
        rng = self.rng
        number = len(self.profiles) + 1
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        signup = BASE_TIME - timedelta(days=rng.randint(0, 900), seconds=rng.randint(0, 86399))
        profile = Profile(
            user_id=f"user-{number:07d}",
            email=f"{first.lower()}.{number}@{rng.choice(DOMAINS)}",
            first_name=first,
            last_name=last,
            company=rng.choice(COMPANIES),
            company_size=rng.choice((5, 12, 40, 150, 800, 5000)),
            country=rng.choice(COUNTRIES),
            created_at=signup.isoformat().replace("+00:00", "Z"),
            timezone=rng.choice(TIMEZONES) if rng.random() < 0.5 else None,
        )
        self.profiles.append(profile)
        return profile

    def _identify(self) -> dict[str, Any]:
        rng = self.rng
        if self.trackable == 0 or rng.random() < 0.5:
            user = self._new_profile()
        else:
            user = self.profiles[rng.randrange(self.trackable)]
        plan = rng.choice(PLANS)
        message = self._base("identify", user)
        message["traits"] = {
            "email": user.email,
            "firstName": user.first_name,
            "lastName": user.last_name,
            "plan": plan,
            "company": {
                "name": user.company[0],
                "industry": user.company[1],
                "size": user.company_size,
            },
            "createdAt": user.created_at,
            "seats": rng.randint(1, 60),
            "trial": plan == "Free" or rng.random() < 0.1,
            "country": user.country,
            "role": rng.choice(ROLES),
        }
        return message

    def _track(self) -> dict[str, Any]:
        user = self.profiles[self.rng.randrange(self.trackable)]
        names = [name for name, _ in EVENTS]
        event = self.rng.choices(names, weights=[w for _, w in EVENTS])[0]
        message = self._base("track", user)
        message["event"] = event
        message["properties"] = self._properties(event)
        return message

    def _properties(self, event: str) -> dict[str, Any]:
        rng = self.rng
        if event == "Logged In":
            return {"method": rng.choice(LOGIN_METHODS), "remember_me": rng.random() < 0.5}
        if event == "Feature Used":
            return {"feature": rng.choice(FEATURES), "duration_ms": rng.randint(50, 90_000)}
        if event == "Report Exported":
            return {"format": rng.choice(("csv", "pdf", "xlsx")), "rows": rng.randint(1, 50_000)}
        if event == "Invite Sent":
            return {"role": rng.choice(ROLES), "invitee_domain": rng.choice(DOMAINS)}
        return self._order()

    def _order(self) -> dict[str, Any]:
        rng = self.rng
        self.orders += 1
        products: list[dict[str, Any]] = []
        subtotal = 0.0
        for sku, name, price, category in rng.sample(PRODUCTS, rng.randint(1, 3)):
            quantity = rng.randint(1, 4)
            subtotal += price * quantity
            products.append(
                {
                    "product_id": sku,
                    "sku": sku,
                    "name": name,
                    "price": price,
                    "quantity": quantity,
                    "category": category,
                }
            )
        subtotal = round(subtotal, 2)
        tax = round(subtotal * 0.2, 2)
        order: dict[str, Any] = {
            "order_id": f"ord-{self.seed}-{self.orders:07d}",
            "subtotal": subtotal,
            "tax": tax,
            "total": round(subtotal + tax, 2),
            "currency": rng.choice(("USD", "EUR", "GBP")),
            "products": products,
        }
        if rng.random() < 0.2:
            order["coupon"] = "SPRING10"
            order["discount"] = round(subtotal * 0.1, 2)
        return order


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything sent, in order: seeding identifies, warm-up, measured rounds, singles."""

    seeding: list[list[dict[str, Any]]]
    warmup: list[list[dict[str, Any]]]
    rounds: list[list[list[dict[str, Any]]]]
    singles: list[list[dict[str, Any]]]

    def all_batches(self) -> list[list[dict[str, Any]]]:
        batches = self.seeding + self.warmup
        for round_batches in self.rounds:
            batches += round_batches
        return batches

    def all_messages(self) -> list[dict[str, Any]]:
        messages = [m for batch in self.all_batches() for m in batch]
        return messages + [m for rnd in self.singles for m in rnd]


def make_plan(args: argparse.Namespace) -> Plan:
    workload = Workload(args.seed, args.identify_ratio, lag=2 * args.concurrency)
    size = args.batch_size
    seeding = [workload.batch(size, identify_only=True) for _ in range(-(-args.seed_users // size))]
    warmup = [workload.batch(size) for _ in range(args.warmup_batches)]
    rounds = [[workload.batch(size) for _ in range(args.batches)] for _ in range(args.rounds)]
    singles = [workload.single_tracks(args.singles) for _ in range(args.rounds)]
    return Plan(seeding, warmup, rounds, singles)


# --- the server -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Server:
    port: int
    key: str
    process: subprocess.Popen[bytes]
    log: Path


def promoter_command() -> list[str]:
    script = Path(sys.executable).parent / "promoter"
    return [str(script)] if script.exists() else [sys.executable, "-m", "promoter"]


def server_environment(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOTER_")}
    env["PROMOTER_DATABASE_URL"] = database_url
    # The write key's default limit (500 requests a second, bursts of 2,000) is below
    # what the single-message rounds send on a fast machine.
    env["PROMOTER_RATE_LIMIT_INGEST"] = "0"
    return env


def create_organization(env: dict[str, str]) -> str:
    """Migrate the database and create the organization; return its API key."""
    done = subprocess.run(
        [*promoter_command(), "org", "create", "Benchmark"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    found = re.search(r"\bpk_[A-Za-z0-9_-]+", done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"`promoter org create` failed:\n{done.stdout}\n{done.stderr}")
    return found.group(0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        conn = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer GET /health within {timeout:.0f} s")


@contextmanager
def running_server(
    database_url: str, workdir: Path, worker: bool, settings: dict[str, str] | None = None
) -> Iterator[Server]:
    """``promoter serve`` on ``database_url`` (its working directory, where the file mail
    backend writes, is ``workdir``), with ``settings`` (``PROMOTER_*`` variables) on top;
    SIGKILLed when the block ends."""
    env = server_environment(database_url) | (settings or {})
    key = create_organization(env)
    port = free_port()
    command = [*promoter_command(), "serve", "--port", str(port)]
    command += [] if worker else ["--no-worker"]
    with serving(command, port, env, workdir) as (process, log):
        yield Server(port, key, process, log)


@contextmanager
def serving(
    command: list[str], port: int, env: dict[str, str], workdir: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """``command`` started in ``workdir``, once it answers ``GET /health`` on ``port``: the
    process and its log file; SIGKILLed when the block ends."""
    log = workdir / f"server-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env=env, cwd=workdir, stdout=sink, stderr=subprocess.STDOUT
        )
        try:
            wait_healthy(port, process, timeout=60)
            yield process, log
        except BaseException:
            sys.stderr.write(log.read_text(errors="replace")[-4000:])
            raise
        finally:
            # SIGKILL, not a graceful stop: what is counted afterwards was committed
            # before its 2xx, not flushed at shutdown.
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


# --- HTTP load --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measurement:
    requests: int
    messages: int
    seconds: float
    latencies: list[float]
    #: The server process's CPU time (user + system, all its threads) meanwhile; 0 for the
    #: raw baselines, which run in this process.
    server_cpu_seconds: float = 0.0

    @property
    def server_cpu_ms_per_message(self) -> float:
        return 1000 * self.server_cpu_seconds / max(1, self.messages)

    @property
    def messages_per_second(self) -> float:
        return self.messages / self.seconds

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds


def batch_bodies(batches: Sequence[list[dict[str, Any]]], key: str) -> list[bytes]:
    bodies = []
    for batch in batches:
        sent_at = datetime.fromisoformat(batch[-1]["timestamp"]) + timedelta(milliseconds=250)
        payload = {"batch": batch, "sentAt": sent_at.isoformat(), "writeKey": key}
        bodies.append(orjson.dumps(payload))
    return bodies


def drive(
    server: Server, path: str, bodies: Sequence[bytes], counts: Sequence[int], concurrency: int
) -> Measurement:
    """POST each body once over ``concurrency`` keep-alive connections; check each answer."""
    auth = base64.b64encode(f"{server.key}:".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": f"Basic {auth}"}
    lock = threading.Lock()
    position = iter(range(len(bodies)))
    latencies: list[float] = []
    failures: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection(HOST, server.port, timeout=120)
        mine = []
        try:
            while not failures:
                with lock:
                    index = next(position, None)
                if index is None:
                    break
                started = time.perf_counter()
                conn.request("POST", path, body=bodies[index], headers=headers)
                response = conn.getresponse()
                data = response.read()
                mine.append(time.perf_counter() - started)
                problem = check_response(response.status, data, counts[index])
                if problem:
                    failures.append(f"{path} request {index}: {problem}")
        except Exception as exc:
            failures.append(f"{path}: {exc!r}")
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    seconds = run_threads(worker, concurrency, failures)
    return Measurement(len(bodies), sum(counts), seconds, latencies)


def run_threads(worker: Callable[[], None], count: int, failures: list[str]) -> float:
    """Run ``worker`` in ``count`` threads at once: the seconds they took; the first of
    ``failures`` they noted fails the run."""
    threads = [threading.Thread(target=worker) for _ in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if failures:
        raise RuntimeError(failures[0])
    return seconds


def check_response(status: int, data: bytes, expected: int) -> str | None:
    if status != 200:
        return f"HTTP {status}: {data[:300]!r}"
    answer = orjson.loads(data)
    if answer.get("accepted") != expected or answer.get("rejected") or answer.get("duplicates"):
        return f"expected {expected} accepted, got {data[:300]!r}"
    return None


def send_batches(
    server: Server, batches: Sequence[list[dict[str, Any]]], concurrency: int
) -> Measurement:
    bodies = batch_bodies(batches, server.key)
    return drive(server, "/v1/batch", bodies, [len(b) for b in batches], concurrency)


def send_singles(
    server: Server, messages: Sequence[dict[str, Any]], concurrency: int
) -> Measurement:
    # As a client sends it: the message's own sentAt next to its timestamp.
    bodies = [
        orjson.dumps({**{k: v for k, v in m.items() if k != "type"}, "sentAt": m["timestamp"]})
        for m in messages
    ]
    return drive(server, "/v1/track", bodies, [1] * len(bodies), concurrency)


# --- raw SQLite baseline ----------------------------------------------------------------


@dataclass(slots=True)
class BatchRows:
    """The rows the service writes for one request, as ``sqlite3`` parameters."""

    messages: int
    processed: list[tuple[Any, ...]] = field(default_factory=list)
    new_contacts: list[tuple[Any, ...]] = field(default_factory=list)
    changed_contacts: list[tuple[Any, ...]] = field(default_factory=list)
    attributes: list[tuple[Any, ...]] = field(default_factory=list)
    removals: list[tuple[Any, ...]] = field(default_factory=list)
    memberships: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    orders: list[tuple[Any, ...]] = field(default_factory=list)
    surveys: list[tuple[Any, ...]] = field(default_factory=list)
    deliveries: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass(slots=True)
class RawContact:
    id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    timezone: str | None


def sqlite_time(value: datetime) -> str:
    """How SQLAlchemy stores a UTCDateTime on SQLite (naive UTC, microseconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def attribute_row(contact_id: int, name: str, value: AttributeValue, now: str) -> tuple[Any, ...]:
    date = sqlite_time(value.date) if value.date is not None else None
    return (contact_id, name, 1, value.type, value.text, value.number, date, now)


class RowBuilder:
    """Turns batches into the rows ``Ingestor.apply`` writes, with the same merge rules.

    Messages are parsed by Promoter's own ``parse_message`` (email normalisation,
    flattened traits, order facts), so the rows hold the same values.
    """

    ORG = 1
    LIST = 1

    def __init__(self) -> None:
        self.contacts: dict[str, RawContact] = {}
        self.next_contact = 1
        self.next_event = 1
        self.next_survey = 1
        #: Contacts the default campaign already surveyed (it allows one per 90 days).
        self.surveyed: set[int] = set()

    def rows(self, batch: Sequence[dict[str, Any]]) -> BatchRows:
        received = datetime.now(UTC)
        now = sqlite_time(received)
        envelope = Envelope(received_at=received)
        ops = [parse_message(m, envelope, allowed=TRACKING_API_TYPES) for m in batch]
        rows = BatchRows(len(batch))
        rows.processed = [(self.ORG, op.message_id, now) for op in ops]
        self._identifies([op for op in ops if isinstance(op, Identify)], rows, now)
        self._tracks([op for op in ops if isinstance(op, Track)], rows, now)
        return rows

    def _identifies(self, ops: list[Identify], rows: BatchRows, now: str) -> None:
        created: dict[str, RawContact] = {}
        changed: dict[str, RawContact] = {}
        attributes: dict[tuple[int, str], AttributeValue | None] = {}
        for op in ops:
            contact = self.contacts.get(op.user_id)
            if contact is None:
                contact = RawContact(self.next_contact, None, None, None, None)
                self.next_contact += 1
                self.contacts[op.user_id] = created[op.user_id] = contact
            for name in ("email", "first_name", "last_name", "timezone"):
                value = getattr(op, name)
                if value is not None and value != getattr(contact, name):
                    setattr(contact, name, value)
                    if op.user_id not in created:
                        changed[op.user_id] = contact
            for name, attribute in op.attributes.items():
                attributes[(contact.id, name)] = attribute
        rows.new_contacts = [
            (
                c.id,
                self.ORG,
                u,
                c.email,
                key(c.email),
                c.first_name,
                c.last_name,
                c.timezone,
                "active",
                now,
                now,
            )
            for u, c in created.items()
        ]
        rows.changed_contacts = [
            (c.email, key(c.email), c.first_name, c.last_name, c.timezone, now, c.id)
            for c in changed.values()
        ]
        for (contact_id, name), attribute in attributes.items():
            if attribute is None:
                rows.removals.append((contact_id, name))
            else:
                rows.attributes.append(attribute_row(contact_id, name, attribute, now))
        identified = sorted({self.contacts[op.user_id].id for op in ops})
        rows.memberships = [(self.LIST, contact_id, now) for contact_id in identified]

    def _tracks(self, ops: list[Track], rows: BatchRows, now: str) -> None:
        for op in ops:
            contact = self.contacts.get(op.user_id)
            contact_id = contact.id if contact else None
            event_id = self.next_event
            self.next_event += 1
            note = self._trigger(contact_id, event_id, rows, now)
            rows.events.append(
                (
                    event_id,
                    self.ORG,
                    contact_id,
                    op.user_id,
                    op.event,
                    json.dumps(op.properties),
                    sqlite_time(op.timestamp),
                    now,
                    op.message_id,
                    None if contact else "unidentified",
                    note,
                )
            )
            if op.order is not None:
                rows.orders.append(order_row(self.ORG, event_id, contact_id, op, op.order))

    def _trigger(self, contact_id: int | None, event_id: int, rows: BatchRows, now: str) -> str:
        """What the default Segment campaign does: a survey and its delivery for the first
        event of each identified contact, a note on every event."""
        if contact_id is None:
            return "no survey: userId not identified"
        if contact_id in self.surveyed:
            return "Segment campaign: a survey of this campaign is already scheduled"
        self.surveyed.add(contact_id)
        survey_id = self.next_survey
        self.next_survey += 1
        token = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        rows.surveys.append(
            (survey_id, self.ORG, 1, contact_id, "scheduled", token, event_id, "{}", now, now)
        )
        rows.deliveries.append((self.ORG, survey_id, "survey", "pending", now, 0, now))
        return f"Segment campaign: survey scheduled for {now[:16]} UTC"


def key(email: str | None) -> str:
    return (email or "").casefold()


def order_row(
    organization_id: int, event_id: int, contact_id: int | None, op: Track, facts: OrderFacts
) -> tuple[Any, ...]:
    return (
        organization_id,
        event_id,
        contact_id,
        op.user_id,
        facts.order_id,
        facts.checkout_id,
        facts.total,
        facts.revenue,
        facts.subtotal,
        facts.shipping,
        facts.tax,
        facts.discount,
        facts.currency,
        facts.coupon,
        json.dumps(facts.products),
        sqlite_time(op.timestamp),
    )


RAW_STATEMENTS = {
    "processed": "INSERT INTO processed_messages (organization_id, message_id, received_at) "
    "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    "new_contacts": "INSERT INTO contacts (id, organization_id, user_id, email, email_key, "
    "first_name, last_name, timezone, status, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "changed_contacts": "UPDATE contacts SET email = ?, email_key = ?, first_name = ?, "
    "last_name = ?, timezone = ?, updated_at = ? WHERE id = ?",
    "attributes": "INSERT INTO contact_attributes (contact_id, name, organization_id, "
    "value_type, value_text, value_number, value_date, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (contact_id, name) DO UPDATE SET "
    "value_type = excluded.value_type, value_text = excluded.value_text, "
    "value_number = excluded.value_number, value_date = excluded.value_date, "
    "updated_at = excluded.updated_at",
    "removals": "DELETE FROM contact_attributes WHERE contact_id = ? AND name = ?",
    "memberships": "INSERT INTO list_memberships (list_id, contact_id, created_at) "
    "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    "events": "INSERT INTO events (id, organization_id, contact_id, user_id, name, properties, "
    "timestamp, received_at, message_id, flag, trigger_note) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "orders": "INSERT INTO orders (organization_id, event_id, contact_id, user_id, order_id, "
    "checkout_id, total, revenue, subtotal, shipping, tax, discount, currency, coupon, "
    "products, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "surveys": "INSERT INTO surveys (id, organization_id, campaign_id, contact_id, status, "
    "token, trigger_event_id, attributes, scheduled_at, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "deliveries": "INSERT INTO deliveries (organization_id, survey_id, kind, status, due_at, "
    "attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
}


#: The organization, its Segment list and the default campaign, with ``now`` given
#: that many times.
RAW_SETUP = (
    ("INSERT INTO organizations (id, name, timezone, created_at) VALUES (1, 'Raw', 'UTC', ?)", 1),
    (
        "INSERT INTO contact_lists (id, organization_id, name, is_segment, created_at) "
        "VALUES (1, 1, 'Segment List', TRUE, ?)",
        1,
    ),
    (
        "INSERT INTO email_templates (id, organization_id, name, subject, from_name, "
        "intro_message, brand_name, language, created_at, updated_at) "
        "VALUES (1, 1, 'Default', 'How likely', 'Raw', '', 'Raw', 'en', ?, ?)",
        2,
    ),
    (
        "INSERT INTO campaigns (id, organization_id, name, kind, status, contact_list_id, "
        "email_template_id, trigger_events, created_at, updated_at) "
        "VALUES (1, 1, 'Segment campaign', 'segment', 'active', 1, 1, '[]', ?, ?)",
        2,
    ),
)


def migrated_sqlite(path: Path) -> str:
    url = f"sqlite:///{path}"
    database = Database.from_url(url)
    try:
        upgrade(database.engine)
    finally:
        database.dispose()
    return url


class RawSqlite:
    """``sqlite3`` on the migrated schema, configured as the service configures SQLite."""

    def __init__(self, path: Path) -> None:
        migrated_sqlite(path)
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
            self.conn.execute(f"PRAGMA {pragma}")
        now = sqlite_time(datetime.now(UTC))
        for sql, count in RAW_SETUP:
            self.conn.execute(sql, (now,) * count)

    def apply(self, rows: BatchRows, commit_every: int | None = None) -> None:
        """The batch's rows with ``executemany``: one commit for the whole batch, or one
        per ``commit_every`` rows (the issue's baseline: a commit per 100 rows)."""
        pending = [
            (sql, row) for name, sql in RAW_STATEMENTS.items() for row in getattr(rows, name)
        ]
        size = commit_every or len(pending) or 1
        for start in range(0, len(pending), size):
            chunk = pending[start : start + size]
            self.conn.execute("BEGIN IMMEDIATE")
            for sql, group in itertools.groupby(chunk, key=lambda item: item[0]):
                self.conn.executemany(sql, [row for _, row in group])
            self.conn.execute("COMMIT")

    def counts(self) -> dict[str, int]:
        return {
            t: self.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in CHECKED_TABLES
        }

    def close(self) -> None:
        self.conn.close()


class RawPostgres:
    """psycopg 3 on a fresh database migrated by the project's Alembic migrations: the same
    rows as :class:`RawSqlite`, each statement's rows with ``executemany`` (pipelined),
    one commit per 100-message batch, ``synchronous_commit`` on as the server has it."""

    def __init__(self, url: str) -> None:
        database = Database.from_url(url)
        try:
            upgrade(database.engine)
        finally:
            database.dispose()
        self.conn = psycopg.connect(
            make_url(url).set(drivername="postgresql").render_as_string(False)
        )
        now = sqlite_time(datetime.now(UTC))
        for sql, count in RAW_SETUP:
            self.conn.execute(sql.replace("?", "%s"), (now,) * count)
        self.conn.commit()
        self._statements = {name: sql.replace("?", "%s") for name, sql in RAW_STATEMENTS.items()}

    def apply(self, rows: BatchRows) -> None:
        with self.conn.cursor() as cursor:
            for name, sql in self._statements.items():
                values = getattr(rows, name)
                if values:
                    cursor.executemany(sql, values)
        self.conn.commit()

    def counts(self) -> dict[str, int]:
        with self.conn.cursor() as cursor:
            found = {}
            for table in CHECKED_TABLES:
                cursor.execute(f"SELECT count(*) FROM {table}")
                (found[table],) = cursor.fetchone() or (0,)
        self.conn.rollback()
        return found

    def close(self) -> None:
        self.conn.close()


@dataclass(frozen=True, slots=True)
class RawPostgresResult:
    rounds: list[Measurement]
    counts: dict[str, int]


class RawPostgresBaseline:
    """The plan replayed into :class:`RawPostgres`; its rounds alternate with the
    PostgreSQL server's rounds, as the SQLite ones do with the SQLite server's."""

    def __init__(self, plan: Plan, url: str) -> None:
        builder = RowBuilder()
        before = [builder.rows(b) for b in plan.seeding + plan.warmup]
        self._rounds = [[builder.rows(b) for b in rnd] for rnd in plan.rounds]
        self._after = [builder.rows([m]) for rnd in plan.singles for m in rnd]
        self.url = url
        self.measured: list[Measurement] = []
        self._db = RawPostgres(url)
        for rows in before:
            self._db.apply(rows)

    def measure_round(self, index: int) -> None:
        if index != len(self.measured):
            raise ValueError(f"raw PostgreSQL round {index} out of order")
        analyze(self.url)
        latencies = []
        batches = self._rounds[index]
        started = time.perf_counter()
        for rows in batches:
            began = time.perf_counter()
            self._db.apply(rows)
            latencies.append(time.perf_counter() - began)
        seconds = time.perf_counter() - started
        messages = sum(r.messages for r in batches)
        self.measured.append(Measurement(len(batches), messages, seconds, latencies))

    def finish(self) -> RawPostgresResult:
        for index in range(len(self.measured), len(self._rounds)):
            self.measure_round(index)
        for rows in self._after:
            self._db.apply(rows)
        return RawPostgresResult(self.measured, self._db.counts())

    def close(self) -> None:
        self._db.close()


#: The issue's baseline commits every 100 rows; the stricter one once per 100-message batch.
RAW_COMMIT_ROWS = 100


@dataclass(frozen=True, slots=True)
class RawResult:
    #: A commit per 100 rows: the baseline the target is set against.
    rounds: list[Measurement]
    #: A commit per 100-message batch: fewer commits, a harder baseline.
    batch_rounds: list[Measurement]
    counts: dict[str, int]


class RawBaseline:
    """The plan replayed as direct inserts; only the measured rounds' transactions are timed.

    Rows are built up front (untimed). Two databases take the same rows: one commits
    every 100 rows, the other once per batch. Rounds are measured one at a time so that
    they interleave with the server's rounds and see the same machine load.
    """

    def __init__(self, plan: Plan, workdir: Path) -> None:
        builder = RowBuilder()
        before = [builder.rows(b) for b in plan.seeding + plan.warmup]
        self._rounds = [[builder.rows(b) for b in rnd] for rnd in plan.rounds]
        self._after = [builder.rows([m]) for rnd in plan.singles for m in rnd]
        self.measured: list[Measurement] = []
        self.measured_batches: list[Measurement] = []
        self._db = RawSqlite(workdir / "raw.sqlite3")
        self._batch_db = RawSqlite(workdir / "raw-batch.sqlite3")
        for rows in before:
            self._db.apply(rows)
            self._batch_db.apply(rows)

    def measure_round(self, index: int) -> None:
        if index != len(self.measured):
            raise ValueError(f"raw round {index} out of order")
        batches = self._rounds[index]
        self.measured.append(timed_apply(self._db, batches, RAW_COMMIT_ROWS))
        self.measured_batches.append(timed_apply(self._batch_db, batches, None))

    def finish(self) -> RawResult:
        """Measure the rounds not measured yet, apply the singles, count every table."""
        for index in range(len(self.measured), len(self._rounds)):
            self.measure_round(index)
        for rows in self._after:
            self._db.apply(rows)
        return RawResult(self.measured, self.measured_batches, self._db.counts())

    def close(self) -> None:
        self._db.close()
        self._batch_db.close()


def timed_apply(
    raw: RawSqlite, batches: Sequence[BatchRows], commit_every: int | None
) -> Measurement:
    latencies = []
    started = time.perf_counter()
    for rows in batches:
        began = time.perf_counter()
        raw.apply(rows, commit_every)
        latencies.append(time.perf_counter() - began)
    seconds = time.perf_counter() - started
    return Measurement(len(batches), sum(r.messages for r in batches), seconds, latencies)


# --- one backend end to end -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerResult:
    backend: str
    batches: list[Measurement]
    singles: list[Measurement]
    counts: dict[str, int]
    #: PostgreSQL only: the same rows through psycopg, rounds run next to the server's.
    raw: RawPostgresResult | None = None


def run_server_benchmark(
    backend: str,
    url: str,
    plan: Plan,
    workdir: Path,
    concurrency: int,
    before_round: Callable[[int], None],
    worker: bool,
) -> ServerResult:
    with running_server(url, workdir, worker) as server:
        for batch in plan.seeding:  # new contacts first, one request at a time
            send_batches(server, [batch], 1)
        send_batches(server, plan.warmup, concurrency)
        pid = server.process.pid
        batches = []
        for index, round_batches in enumerate(plan.rounds):
            before_round(index)
            batches.append(with_cpu(pid, partial(send_batches, server, round_batches, concurrency)))
        singles = [
            with_cpu(pid, partial(send_singles, server, rnd, concurrency)) for rnd in plan.singles
        ]
    return ServerResult(backend, batches, singles, table_counts(url))


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far, all its threads (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def with_cpu(pid: int, measure: Callable[[], Measurement]) -> Measurement:
    """``measure()``, with the CPU time process ``pid`` spent meanwhile."""
    before = process_cpu_seconds(pid)
    measured = measure()
    return replace(measured, server_cpu_seconds=process_cpu_seconds(pid) - before)


def analyze(url: str) -> None:
    """Refresh PostgreSQL's planner statistics, as autovacuum would on a default server."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def table_counts(url: str) -> dict[str, int]:
    database = Database.from_url(url)
    try:
        with database.read() as conn:
            tables = {t.name: t for t in metadata.sorted_tables}
            return {
                name: int(conn.execute(select(func.count()).select_from(tables[name])).scalar_one())
                for name in CHECKED_TABLES
            }
    finally:
        database.dispose()


def expected_counts(plan: Plan) -> dict[str, int]:
    """What the acknowledged messages must have stored, from the plan alone."""
    messages = plan.all_messages()
    tracks = [m for m in messages if m["type"] == "track"]
    surveyed = len({m["userId"] for m in tracks})  # the default campaign: one each
    return {
        "processed_messages": len(messages),
        "contacts": len({m["userId"] for m in messages if m["type"] == "identify"}),
        "events": len(tracks),
        "orders": sum(m["event"] == "Order Completed" for m in tracks),
        "surveys": surveyed,
        "deliveries": surveyed,
    }


def verify(result: ServerResult, raw: RawResult, expected: dict[str, int]) -> list[str]:
    problems = []
    for table in CHECKED_TABLES:
        got = result.counts[table]
        want = expected.get(table, raw.counts[table])
        if got != want or got != raw.counts[table]:
            problems.append(
                f"{result.backend}: {table} has {got} rows; acknowledged {want}, "
                f"raw baseline {raw.counts[table]}"
            )
        if result.raw is not None and result.raw.counts[table] != raw.counts[table]:
            problems.append(
                f"raw PostgreSQL: {table} has {result.raw.counts[table]} rows; "
                f"raw SQLite {raw.counts[table]}"
            )
    return problems


# --- report -----------------------------------------------------------------------------


def median_rate(measurements: Sequence[Measurement], *, per_request: bool = False) -> float:
    rates = [m.requests_per_second if per_request else m.messages_per_second for m in measurements]
    return statistics.median(rates)


def percentile_ms(measurements: Sequence[Measurement], q: int) -> float:
    values = sorted(v for m in measurements for v in m.latencies)
    if len(values) < 2:
        return values[0] * 1000 if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def runs(measurements: Sequence[Measurement], *, per_request: bool = False) -> str:
    rates = [m.requests_per_second if per_request else m.messages_per_second for m in measurements]
    return ", ".join(f"{r:,.0f}" for r in rates)


def table_row(name: str, unit: str, ms: Sequence[Measurement], per_request: bool = False) -> str:
    median = median_rate(ms, per_request=per_request)
    p50, p99 = percentile_ms(ms, 50), percentile_ms(ms, 99)
    cpu = statistics.median(m.server_cpu_ms_per_message for m in ms)
    return (
        f"| {name} | {median:,.0f} {unit} | {runs(ms, per_request=per_request)} "
        f"| {p50:.1f} | {p99:.1f} | {f'{cpu:.3f}' if cpu else ''} |"
    )


def report(raw: RawResult, results: Sequence[ServerResult], args: argparse.Namespace) -> str:
    lines = [
        f"Workload: {args.rounds} rounds x {args.batches} batches x {args.batch_size} messages "
        f"({args.identify_ratio:.0%} identify), {args.concurrency} connections; "
        f"{args.rounds} x {args.singles} single /v1/track requests; seed {args.seed}.",
        "",
        "| measurement | median | runs | p50 ms | p99 ms | server CPU ms/message |",
        "|---|---|---|---|---|---|",
        table_row("raw sqlite3, commit per 100 rows (baseline)", "events/s", raw.rounds),
        table_row("raw sqlite3, commit per 100-message batch", "events/s", raw.batch_rounds),
    ]
    for result in results:
        if result.raw is not None:
            name = "raw PostgreSQL (psycopg executemany), commit per 100-message batch"
            lines.append(table_row(name, "events/s", result.raw.rounds))
        lines.append(table_row(f"{result.backend}: /v1/batch", "events/s", result.batches))
        lines.append(table_row(f"{result.backend}: /v1/track", "requests/s", result.singles, True))
    lines.append("")
    lines += [ratio_line(result, raw) for result in results]
    lines += [postgres_line(result, results) for result in results if result.raw is not None]
    return "\n".join(lines)


def postgres_line(result: ServerResult, results: Sequence[ServerResult]) -> str:
    """PostgreSQL end to end against raw PostgreSQL (round by round too), and against the
    SQLite server of the same run."""
    assert result.raw is not None
    rate = median_rate(result.batches)
    ratio = rate / median_rate(result.raw.rounds)
    pairs = zip(result.batches, result.raw.rounds, strict=True)
    each = ", ".join(f"{e.messages_per_second / r.messages_per_second:.1%}" for e, r in pairs)
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    line = (
        f"postgresql end-to-end / raw PostgreSQL: {ratio:.1%} "
        f"(rounds: {each}; target >= {TARGET_RATIO:.0%}: {verdict})"
    )
    sqlite = [r for r in results if r.backend == "sqlite"]
    if sqlite:
        against = rate / median_rate(sqlite[0].batches)
        verdict = "met" if against >= 1 else "NOT met"
        line += f"; against SQLite end to end: {against:.2f}x (target >= 1x: {verdict})"
    return line


def ratio_line(result: ServerResult, raw: RawResult) -> str:
    """Median over median, and each round against the raw round run next to it."""
    ratio = median_rate(result.batches) / median_rate(raw.rounds)
    line = f"{result.backend} end-to-end / raw SQLite: {ratio:.1%}"
    if result.backend != "sqlite":
        return line
    pairs = zip(result.batches, raw.rounds, strict=True)
    each = ", ".join(f"{e.messages_per_second / r.messages_per_second:.1%}" for e, r in pairs)
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    strict = median_rate(result.batches) / median_rate(raw.batch_rounds)
    return (
        f"{line} (rounds: {each}; target >= {TARGET_RATIO:.0%}: {verdict}); "
        f"against one commit per batch: {strict:.1%}"
    )


def machine(args: argparse.Namespace) -> str:
    return describe(args)


# --- command line -----------------------------------------------------------------------


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="admin URL")
    parser.add_argument("--batches", type=positive, default=300, help="batches per round")
    parser.add_argument("--batch-size", type=positive, default=100)
    parser.add_argument("--rounds", type=positive, default=3, help="repetitions (median)")
    parser.add_argument("--concurrency", type=positive, default=8, help="client connections")
    parser.add_argument("--singles", type=positive, default=1000, help="/v1/track per round")
    parser.add_argument("--warmup-batches", type=int, default=20)
    parser.add_argument("--seed-users", type=positive, default=1000, help="identified first")
    parser.add_argument("--identify-ratio", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=20260105, help="random seed")
    parser.add_argument("--tmpdir", type=Path, default=None, help="where the databases go")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument(
        "--with-worker",
        action="store_true",
        help="let the server also send the survey emails the events trigger (file backend)",
    )
    return parser.parse_args(argv)


def results_json(raw: RawResult, results: Sequence[ServerResult]) -> dict[str, Any]:
    def rates(ms: Sequence[Measurement], per_request: bool = False) -> dict[str, Any]:
        return {
            "median": median_rate(ms, per_request=per_request),
            "runs": [m.requests_per_second if per_request else m.messages_per_second for m in ms],
            "p50_ms": percentile_ms(ms, 50),
            "p99_ms": percentile_ms(ms, 99),
        }

    data: dict[str, Any] = {
        "raw_sqlite_events_per_s": rates(raw.rounds),
        "raw_sqlite_batch_commit_events_per_s": rates(raw.batch_rounds),
    }
    for r in results:
        data[r.backend] = {
            "batch_events_per_s": rates(r.batches),
            "single_requests_per_s": rates(r.singles, per_request=True),
            "ratio_to_raw": median_rate(r.batches) / median_rate(raw.rounds),
        }
        if r.raw is not None:
            data[r.backend]["raw_postgresql_events_per_s"] = rates(r.raw.rounds)
            data[r.backend]["ratio_to_raw_postgresql"] = median_rate(r.batches) / median_rate(
                r.raw.rounds
            )
    return data


def run_backend(
    backend: str, args: argparse.Namespace, plan: Plan, workdir: Path, raw: RawBaseline
) -> ServerResult:
    if backend == "sqlite":
        # Raw and end-to-end rounds alternate, so that both see the same machine load.
        url = f"sqlite:///{workdir / 'server.sqlite3'}"
        return run_server_benchmark(
            backend, url, plan, workdir, args.concurrency, raw.measure_round, args.with_worker
        )
    with (
        postgres_database(args.postgres_url) as url,
        postgres_database(args.postgres_url) as raw_url,
    ):
        raw_postgres = RawPostgresBaseline(plan, raw_url)
        try:

            def before_round(index: int) -> None:
                analyze(url)
                raw_postgres.measure_round(index)

            result = run_server_benchmark(
                backend, url, plan, workdir, args.concurrency, before_round, args.with_worker
            )
            return replace(result, raw=raw_postgres.finish())
        finally:
            raw_postgres.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    print(f"machine: {machine(args)}", flush=True)
    plan = make_plan(args)
    expected = expected_counts(plan)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    results = []
    with tempfile.TemporaryDirectory(prefix="promoter-bench-", dir=args.tmpdir) as tmp:
        workdir = Path(tmp)
        baseline = RawBaseline(plan, workdir)
        try:
            for backend in backends:
                result = run_backend(backend, args, plan, workdir, baseline)
                print(f"{backend}: /v1/batch {runs(result.batches)} events/s", flush=True)
                results.append(result)
            raw = baseline.finish()
        finally:
            baseline.close()
    print(f"raw sqlite3: {runs(raw.rounds)} events/s", flush=True)
    problems = [p for r in results for p in verify(r, raw, expected)]
    print()
    print(report(raw, results, args))
    print(f"\ndurability check (SIGKILL, then count every table): {problems or 'ok'}")
    print(f"total time {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results_json(raw, results), indent=2) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
