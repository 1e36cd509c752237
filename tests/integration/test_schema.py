"""Migrations produce exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from promoter.storage.engine import Database
from promoter.storage.migrate import current_revision, upgrade
from promoter.storage.tables import metadata


def test_migrations_match_the_declared_tables(database: Database) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
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
