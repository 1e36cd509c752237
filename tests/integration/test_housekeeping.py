"""The server's housekeeping round: replay protection forgets old messageIds, and expired
sign-in sessions are deleted rather than kept for ever."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from promoter.accounts.sessions import LIFETIME, find_session, start_session
from promoter.accounts.users import create_user
from promoter.app import prune
from promoter.services import Services
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
