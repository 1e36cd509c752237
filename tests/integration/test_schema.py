"""Migrations produce exactly the schema the code declares."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from promoter.storage.comment_search import PG_INDEX, compared
from promoter.storage.engine import Database
from promoter.storage.migrate import alembic_config, current_revision, upgrade
from promoter.storage.tables import metadata


# SQLite has no such index (its comments are searched through FTS5): Alembic says it skips it.
@pytest.mark.filterwarnings(f"ignore:autogenerate skipping .*{PG_INDEX}")
def test_migrations_match_the_declared_tables(database: Database) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": compared}
        )
        assert compare_metadata(context, metadata) == []


def test_upgrade_is_idempotent(database: Database) -> None:
    before = current_revision(database.engine)
    upgrade(database.engine)
    assert current_revision(database.engine) == before is not None


def test_sqlite_runs_in_wal_with_foreign_keys(database: Database) -> None:
    if not database.is_sqlite:
        return
    with database.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_secret_key_is_generated_once_and_kept(database: Database) -> None:
    from promoter.storage.instance import instance_secret

    with database.write() as conn:
        first = instance_secret(conn, configured=None)
    with database.write() as conn:
        assert instance_secret(conn, configured=None) == first
        assert instance_secret(conn, configured="given") == "given"
    assert len(first) >= 40


def test_upgrade_from_0001_keeps_data_and_backfills(
    backend: str, tmp_path: Path, database_url: str
) -> None:
    """An installation with data at 0001 upgrades to head: email keys, default campaigns."""
    with _scratch_database(backend, tmp_path, database_url) as scratch:
        upgrade(scratch.engine, "0001")
        with scratch.engine.begin() as conn:
            _old_organization(conn)
            conn.execute(
                text(
                    "INSERT INTO contacts (id, organization_id, user_id, email, status, "
                    "created_at, updated_at) VALUES (1, 1, 'u', 'JOSÉ@Example.com', 'active', "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                )
            )
        upgrade(scratch.engine)
        with scratch.read() as conn:
            assert conn.execute(text("SELECT email_key FROM contacts")).scalar() == (
                "josé@example.com"
            )
            names = conn.execute(text("SELECT name, status FROM campaigns")).all()
        assert [tuple(n) for n in names] == [("Segment campaign", "active")]
        command.downgrade(alembic_config(scratch.engine), "0001")
        upgrade(scratch.engine)


def _old_organization(conn: Connection) -> None:
    """Organization 1, written in SQL: today's code writes columns old schemas lack."""
    conn.execute(
        text(
            "INSERT INTO organizations (id, name, timezone, created_at) "
            "VALUES (1, 'Old', 'UTC', '2026-01-01 00:00:00')"
        )
    )


def _old_organization_at(scratch: Database, revision: str) -> None:
    """The scratch database at ``revision`` with organization 1 made at the first one."""
    upgrade(scratch.engine, "0001")
    with scratch.engine.begin() as conn:
        _old_organization(conn)
    upgrade(scratch.engine, revision)


@contextmanager
def _scratch_database(backend: str, tmp_path: Path, database_url: str) -> Iterator[Database]:
    if backend == "sqlite":
        scratch = Database.from_url(f"sqlite:///{tmp_path / 'scratch.sqlite3'}")
        try:
            yield scratch
        finally:
            scratch.dispose()
        return
    name = f"promoter_scratch_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    scratch = Database.from_url(make_url(database_url).set(database=name).render_as_string(False))
    try:
        yield scratch
    finally:
        scratch.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_from_0002_types_the_snapshots_of_earlier_responses(
    backend: str, tmp_path: Path, database_url: str
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import insert, select

    from promoter.storage.tables import (
        campaigns,
        contacts,
        response_attributes,
        responses,
        surveys,
    )

    now = datetime(2026, 1, 1, tzinfo=UTC)
    with _scratch_database(backend, tmp_path, database_url) as scratch:
        # 0002 gives the organization its default campaign.
        _old_organization_at(scratch, "0002")
        with scratch.engine.begin() as conn:
            org_id = 1
            campaign_id = conn.execute(select(campaigns.c.id)).scalar_one()
            contact_id = conn.execute(
                insert(contacts)
                .values(
                    organization_id=org_id,
                    user_id="u",
                    email="u@example.com",
                    email_key="u@example.com",
                    created_at=now,
                    updated_at=now,
                )
                .returning(contacts.c.id)
            ).scalar_one()
            survey_id = conn.execute(
                insert(surveys)
                .values(
                    organization_id=org_id,
                    campaign_id=campaign_id,
                    contact_id=contact_id,
                    status="answered",
                    token="t",
                    attributes={},
                    scheduled_at=now,
                    created_at=now,
                )
                .returning(surveys.c.id)
            ).scalar_one()
            conn.execute(
                insert(responses).values(
                    organization_id=org_id,
                    survey_id=survey_id,
                    campaign_id=campaign_id,
                    contact_id=contact_id,
                    score=9,
                    contact_snapshot={
                        "plan": "Pro",
                        "seats": 12,
                        "trial": False,
                        "renewal": "2026-05-01T00:00:00Z",
                        "tags": ["a"],
                    },
                    survey_attributes={},
                    created_at=now,
                    updated_at=now,
                )
            )
        upgrade(scratch.engine)
        with scratch.read() as conn:
            typed = {
                row.name: (row.value_type, row.value_text, row.value_number, row.value_date)
                for row in conn.execute(select(response_attributes))
            }
        assert typed == {
            "plan": ("string", "Pro", None, None),
            "seats": ("number", "12", 12.0, None),
            "trial": ("boolean", "false", 0.0, None),
            "renewal": ("date", "2026-05-01T00:00:00Z", None, datetime(2026, 5, 1, tzinfo=UTC)),
            "tags": ("list", '["a"]', None, None),
        }
        command.downgrade(alembic_config(scratch.engine), "0002")
        upgrade(scratch.engine)


def test_sqlite_planner_statistics_are_refreshed(database: Database) -> None:
    database.refresh_statistics()  # a no-op on PostgreSQL, whose autovacuum analyzes
    if database.is_sqlite:
        with database.read() as conn:
            names = conn.exec_driver_sql("SELECT name FROM sqlite_master").scalars().all()
        assert "sqlite_stat1" in names


def _one_answer(scratch: Database, comment: str | None = None) -> None:
    """Contact 1 of organization 1 answered survey 1 (response 1), written in SQL that
    schemas from 0002 on take."""
    with scratch.engine.begin() as conn:
        for statement in (
            "INSERT INTO contacts (id, organization_id, user_id, email, email_key, status, "
            "created_at, updated_at) VALUES (1, 1, 'u', 'u@example.com', 'u@example.com', "
            "'active', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            "INSERT INTO surveys (id, organization_id, campaign_id, contact_id, status, token, "
            "attributes, scheduled_at, created_at) SELECT 1, 1, id, 1, 'answered', 't', '{}', "
            "'2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM campaigns",
            "INSERT INTO responses (id, organization_id, survey_id, campaign_id, contact_id, "
            "score, comment, contact_snapshot, survey_attributes, created_at, updated_at) "
            "SELECT 1, 1, 1, campaign_id, 1, 9, :comment, '{}', '{}', '2026-01-01 00:00:00', "
            "'2026-01-01 00:00:00' FROM surveys",
        ):
            conn.execute(text(statement), {"comment": comment})


def test_upgrade_to_0012_puts_existing_surveys_and_responses_on_email(
    backend: str, tmp_path: Path, database_url: str
) -> None:
    with _scratch_database(backend, tmp_path, database_url) as scratch:
        # 0002 gives the organization its default campaign.
        _old_organization_at(scratch, "0011")
        _one_answer(scratch)
        upgrade(scratch.engine)
        with scratch.read() as conn:
            assert conn.execute(text("SELECT channel FROM surveys")).scalars().all() == ["email"]
            found = conn.execute(text("SELECT channel, page_url FROM responses")).all()
        assert [tuple(row) for row in found] == [("email", None)]
        command.downgrade(alembic_config(scratch.engine), "0011")
        with scratch.read() as conn:  # dropped in place: nothing cascaded
            assert conn.execute(text("SELECT count(*) FROM responses")).scalar_one() == 1
        upgrade(scratch.engine)


def test_upgrade_to_0015_adds_channels_and_link_keys_and_keeps_every_survey(
    backend: str, tmp_path: Path, database_url: str
) -> None:
    """Adding the columns (0014's channel and cooldown, 0015's link key) must not rebuild
    campaigns: on SQLite that would cascade to the campaigns' surveys."""
    with _scratch_database(backend, tmp_path, database_url) as scratch:
        _old_organization_at(scratch, "0013")
        with scratch.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO contacts (id, organization_id, user_id, email, email_key, "
                    "status, created_at, updated_at) VALUES (1, 1, 'u', 'u@example.com', "
                    "'u@example.com', 'active', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO surveys (id, organization_id, campaign_id, contact_id, status, "
                    "token, attributes, scheduled_at, created_at) SELECT 1, 1, id, 1, 'sent', "
                    "'t', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM campaigns"
                )
            )
        upgrade(scratch.engine)
        with scratch.read() as conn:
            assert conn.execute(text("SELECT link_key FROM campaigns")).scalars().all() == [None]
            assert conn.execute(text("SELECT count(*) FROM surveys")).scalar_one() == 1
            # 0014: campaigns email, surveys were not shown in an app, a 30-day cooldown.
            assert conn.execute(text("SELECT channel FROM campaigns")).scalars().all() == ["email"]
            shown = conn.execute(text("SELECT shown_at, dismissed_at FROM surveys")).one()
            assert tuple(shown) == (None, None)
            cooldown = conn.execute(text("SELECT cooldown_days FROM organizations")).scalar()
            assert cooldown == 30
        command.downgrade(alembic_config(scratch.engine), "0013")
        with scratch.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM surveys")).scalar_one() == 1
        upgrade(scratch.engine)


def test_upgrade_to_0017_keeps_each_webhook_with_its_event_and_deliveries(
    backend: str, tmp_path: Path, database_url: str
) -> None:
    """A webhook of one event keeps it, and its deliveries; going back, a webhook of two
    events becomes two webhooks of one (the same URL and secret), losing nothing."""
    with _scratch_database(backend, tmp_path, database_url) as scratch:
        _old_organization_at(scratch, "0016")
        with scratch.engine.begin() as conn:
            hook = conn.execute(
                text(
                    "INSERT INTO webhook_subscriptions (organization_id, event, target_url, "
                    "format, secret, status, consecutive_failures, created_at, updated_at) "
                    "VALUES (1, 'survey.sent', 'https://a.example/h', 'json', 'whsec_1', "
                    "'active', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00') RETURNING id"
                )
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO webhook_deliveries (organization_id, subscription_id, event_id, "
                    "event, payload, status, attempts, due_at, created_at) VALUES (1, :hook, "
                    "'e1', 'survey.sent', '{}', 'delivered', 1, '2026-01-01 00:00:00', "
                    "'2026-01-01 00:00:00')"
                ),
                {"hook": hook},
            )
        upgrade(scratch.engine)
        with scratch.engine.begin() as conn:
            kept = conn.execute(
                text(
                    "SELECT subscription_id, event, organization_id "
                    "FROM webhook_subscription_events"
                )
            ).all()
            assert [tuple(row) for row in kept] == [(hook, "survey.sent", 1)]
            assert conn.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar_one() == 1
            conn.execute(
                text(
                    "INSERT INTO webhook_subscription_events (subscription_id, event, "
                    "organization_id) VALUES (:hook, 'feedback.added_or_changed', 1)"
                ),
                {"hook": hook},
            )
        command.downgrade(alembic_config(scratch.engine), "0016")
        with scratch.read() as conn:
            split = conn.execute(
                text("SELECT id, event, target_url, secret FROM webhook_subscriptions ORDER BY id")
            ).all()
            delivery = conn.execute(text("SELECT subscription_id FROM webhook_deliveries")).all()
        assert [tuple(row)[1:] for row in split] == [
            ("feedback.added_or_changed", "https://a.example/h", "whsec_1"),
            ("survey.sent", "https://a.example/h", "whsec_1"),
        ]
        assert split[0].id == hook and [tuple(row) for row in delivery] == [(hook,)]
        upgrade(scratch.engine)
        with scratch.read() as conn:
            back = conn.execute(
                text("SELECT event FROM webhook_subscription_events ORDER BY subscription_id")
            ).all()
        assert [row.event for row in back] == ["feedback.added_or_changed", "survey.sent"]


def _search_objects(conn: Connection) -> list[str]:
    if conn.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE name LIKE '%comment_search%' ORDER BY name"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%comment_search%'"
    return list(conn.execute(text(query)).scalars())


def test_upgrade_to_0018_indexes_the_comments_there_and_downgrade_drops_the_index(
    backend: str, tmp_path: Path, database_url: str
) -> None:
    from sqlalchemy import select

    from promoter.feedback.search import comment_matches, parse_search
    from promoter.storage.tables import responses

    def searched(scratch: Database, typed: str) -> list[int]:
        search = parse_search(typed)
        assert search is not None
        with scratch.read() as conn:
            condition = comment_matches(conn.dialect.name, responses.c.id, search)
            return list(conn.execute(select(responses.c.id).where(condition)).scalars())

    with _scratch_database(backend, tmp_path, database_url) as scratch:
        _old_organization_at(scratch, "0015")
        _one_answer(scratch, "Les prix du café")
        upgrade(scratch.engine)
        assert searched(scratch, "café prix") == [1]
        assert searched(scratch, "thé") == []
        command.downgrade(alembic_config(scratch.engine), "0015")
        with scratch.read() as conn:
            assert _search_objects(conn) == []
            assert conn.execute(text("SELECT count(*) FROM responses")).scalar_one() == 1
        upgrade(scratch.engine)
        assert searched(scratch, "caf") == [1]


def test_upgrade_to_0019_makes_every_existing_user_and_key_an_admin(
    backend: str, tmp_path: Path, database_url: str
) -> None:
    """Before roles, everyone could do everything: they keep that."""
    with _scratch_database(backend, tmp_path, database_url) as scratch:
        _old_organization_at(scratch, "0018")
        with scratch.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (organization_id, email, password_hash, created_at) "
                    "VALUES (1, 'ana@example.com', 'x', '2026-01-01 00:00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO api_keys (organization_id, name, prefix, key_hash, created_at) "
                    "VALUES (1, 'old', 'pk_old', 'h', '2026-01-01 00:00:00')"
                )
            )
        upgrade(scratch.engine)
        with scratch.read() as conn:
            assert conn.execute(text("SELECT role FROM users")).scalars().all() == ["admin"]
            assert conn.execute(text("SELECT role FROM api_keys")).scalars().all() == ["admin"]
        command.downgrade(alembic_config(scratch.engine), "0018")
        upgrade(scratch.engine)
