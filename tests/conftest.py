"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is reached at ``PROMOTER_TEST_POSTGRES_URL`` (default: the local
server, user postgres); the suite creates a database of its own there and
drops it at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from promoter.accounts.passwords import Passwords
from promoter.app import create_app
from promoter.config import Settings
from promoter.orgs.service import create_organization
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.migrate import upgrade
from promoter.storage.tables import metadata
from tests.receiver import Receiver

#: Tests that start servers, workers, a browser or a fuzzer, kill them or put them under
#: load: ``make test`` runs them one at a time, after the others (four at a time).
SERIAL_DIRECTORIES = frozenset({"e2e", "browser", "fuzz"})
TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(TESTS).parts
        if len(parts) > 1 and parts[0] in SERIAL_DIRECTORIES:
            item.add_marker(pytest.mark.serial)
        once = item.get_closest_marker("one_database")
        callspec = getattr(item, "callspec", None)
        if once and callspec and callspec.params.get("database_url", "sqlite") != "sqlite":
            reason = once.kwargs.get("reason", "does not depend on the database")
            item.add_marker(pytest.mark.skip(reason=f"checked once, on SQLite: {reason}"))


POSTGRES_ADMIN_URL = os.environ.get(
    "PROMOTER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
#: The databases every database test runs on; PROMOTER_TEST_BACKENDS=sqlite narrows it
#: (``make test-fast``).
BACKENDS = [
    name.strip()
    for name in os.environ.get("PROMOTER_TEST_BACKENDS", "sqlite,postgresql").split(",")
    if name.strip()
]
if not BACKENDS or set(BACKENDS) - {"sqlite", "postgresql"}:
    raise pytest.UsageError("PROMOTER_TEST_BACKENDS lists sqlite and/or postgresql")


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of each backend, created once per test session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'promoter.sqlite3'}"
        engine = Database.from_url(url).engine
        upgrade(engine)
        engine.dispose()
        yield url
        return
    name = f"promoter_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # A commit does not wait for the server's disk: the suite's tests stop and kill
        # Promoter's processes, never this server (the crash test starts a cluster of its
        # own, tests/e2e/postgres_cluster.py), so nothing acknowledged can be lost here.
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = Database.from_url(url).engine
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty(database: Database) -> None:
    # DELETE, children first, on both databases: a test leaves a few rows, and on
    # PostgreSQL a TRUNCATE of every table costs about eight times as much as deleting them.
    names = [t.name for t in reversed(metadata.sorted_tables)]
    with database.engine.begin() as conn:
        for name in names:
            conn.execute(text(f'DELETE FROM "{name}"'))
        if not database.is_sqlite:  # ids start again at 1, as on SQLite
            conn.execute(
                text(
                    "SELECT setval(c.oid::regclass, 1, false) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind = 'S' AND n.nspname = current_schema()"
                )
            )


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A database handle on an empty schema; emptied again after the test."""
    db = Database.from_url(database_url)
    try:
        yield db
    finally:
        _empty(db)
        db.dispose()


@pytest.fixture
def backend(database: Database) -> str:
    return database.engine.dialect.name


@pytest.fixture
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # No per-key rate limits: tests send bursts; tests/web/test_rate_limits.py sets its own.
    return Settings(
        database_url=database_url,
        analytics_cache_dir=str(tmp_path_factory.getbasetemp() / "analytics-files"),
        base_url="http://testserver",
        rate_limit_api="0",
        rate_limit_ingest="0",
        rate_limit_failed_auth="0",
        rate_limit_survey_pages="0",
        rate_limit_link_answers="0",
    )


#: Real argon2id at its cheapest cost: the suite signs in thousands of times, and at the
#: production parameters (tests/unit/test_passwords.py checks them) each sign-in costs a
#: hash and a check of about a third of a second each.
TEST_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def services(settings: Settings, database: Database) -> Services:
    return replace(Services.build(settings, database), passwords=TEST_PASSWORDS)


@dataclass(frozen=True)
class Org:
    id: int
    key: str


def make_org(database: Database, name: str = "Acme") -> Org:
    with database.write() as conn:
        org, key = create_organization(conn, name=name)
    return Org(org.id, key.key)


@pytest.fixture
def org(database: Database) -> Org:
    return make_org(database)


@pytest.fixture
def other_org(database: Database) -> Org:
    return make_org(database, "Globex")


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as test_client:
        yield test_client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1, listening for the test's length."""
    server = Receiver()
    server.start()
    try:
        yield server
    finally:
        server.stop()
