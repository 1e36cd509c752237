"""The server's housekeeping round: replay protection forgets old messageIds, and expired
sign-in sessions are deleted rather than kept for ever; several processes on one database
do one round between them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from promoter.accounts.sessions import LIFETIME, find_session, start_session
from promoter.accounts.users import create_user
from promoter.app import HOUSEKEEPING_EVERY, housekeeping_round, prune
from promoter.config import Settings
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import processed_messages, user_sessions
from tests.conftest import Org

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _count(services: Services, table: object) -> int:
    with services.database.read() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


def test_a_round_forgets_old_message_ids_and_expired_sessions(services: Services, org: Org) -> None:
    with services.database.write() as conn:
        conn.execute(
            insert(processed_messages).values(
                organization_id=org.id, message_id="old-1", received_at=NOW
            )
        )
        user = create_user(
            conn,
            services.passwords,
            organization_id=org.id,
            email="ana@example.com",
            password="correct horse battery",
        )
        old = start_session(conn, user_id=user.id, now=NOW - LIFETIME - timedelta(days=1))
        live = start_session(conn, user_id=user.id, now=datetime.now(UTC))
    assert _count(services, user_sessions) == 2

    retention = timedelta(hours=services.settings.dedup_retention_hours)
    assert prune(services, now=NOW + retention - timedelta(seconds=1)) == 0
    assert prune(services, now=NOW + retention + timedelta(seconds=1)) == 1
    assert _count(services, processed_messages) == 0
    with services.database.read() as conn:
        assert find_session(conn, token=live, now=datetime.now(UTC)) is not None
        assert find_session(conn, token=old, now=NOW) is None
    assert _count(services, user_sessions) == 1


def test_processes_sharing_the_database_do_one_round_between_them(
    services: Services, settings: Settings, org: Org
) -> None:
    """Four server processes (each with its own pool) reach their round at the same moment:
    one does it; the others skip until HOUSEKEEPING_EVERY has passed."""
    others = [Database.from_url(settings.database_url) for _ in range(3)]
    everyone = [services, *(Services.build(settings, db) for db in others)]
    with services.database.write() as conn:
        conn.execute(
            insert(processed_messages).values(
                organization_id=org.id, message_id="old-1", received_at=NOW
            )
        )
    later = NOW + timedelta(hours=settings.dedup_retention_hours, seconds=1)
    start = threading.Barrier(len(everyone))

    def round_of(process: Services) -> int | None:
        start.wait()
        return housekeeping_round(process, now=later)

    try:
        with ThreadPoolExecutor(len(everyone)) as pool:
            done = list(pool.map(round_of, everyone))
        assert sorted(done, key=lambda n: n is None) == [1, None, None, None]
        assert housekeeping_round(everyone[1], now=later + HOUSEKEEPING_EVERY / 2) is None
        assert housekeeping_round(everyone[2], now=later + HOUSEKEEPING_EVERY) == 0
    finally:
        for db in others:
            db.dispose()
    assert _count(services, processed_messages) == 0
