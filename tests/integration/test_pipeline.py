"""Statements queued on a PostgreSQL pipeline: their rows after the block, their errors
as SQLAlchemy's, a lost connection an outage; and COPY's errors the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from promoter.storage.bulk import COPY_MIN_ROWS, BulkInsert, InSelect, queue_ids
from promoter.storage.engine import Database
from promoter.storage.errors import is_conflict, is_unavailable
from promoter.storage.pipeline import pipeline
from promoter.storage.tables import events, processed_messages

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_SEEN = InSelect(
    "SELECT message_id, received_at FROM processed_messages"
    " WHERE organization_id = {p} AND message_id {in} ORDER BY message_id",
    columns={1: processed_messages.c.received_at.type},
)


@pytest.fixture
def postgres(database: Database, backend: str) -> Iterator[Database]:
    if backend == "sqlite":
        pytest.skip("round trips to save: PostgreSQL")
    yield database


def _claim(conn: object, names: list[str]) -> None:
    BulkInsert(processed_messages, ("organization_id", "message_id", "received_at")).execute(
        conn,  # type: ignore[arg-type]
        [(1, name, T0) for name in names],
    )


def test_queued_statements_run_in_order_and_their_rows_come_after(postgres: Database) -> None:
    with postgres.write() as conn:
        _claim(conn, ["a", "b"])
        with pipeline(conn) as queued:
            queued.write(
                "INSERT INTO processed_messages (organization_id, message_id, received_at)"
                " VALUES (%s, %s, %s)",
                (1, "c", T0),
            )
            seen = _SEEN.queue(conn, queued, 1, values=["a", "c", "z"])
            ids = queue_ids(queued, events, 3)
            with pytest.raises(RuntimeError, match="after its pipeline"):
                seen.all()
        # The write came first, the read saw it; the column converted as its type says.
        assert seen.all() == [("a", T0), ("c", T0)]
        assert len(set(ids.all())) == 3 and all(isinstance(i, int) for i in ids.all())
        # Still the caller's transaction: rolled back with it.
        conn.rollback()
    with postgres.read() as conn:
        count = conn.execute(select(func.count()).select_from(processed_messages)).scalar_one()
    assert count == 0


def test_a_failing_statement_raises_sqlalchemy_s_error_and_stops_the_rest(
    postgres: Database,
) -> None:
    with pytest.raises(DataError) as failed, postgres.write() as conn, pipeline(conn) as queued:
        queued.execute("SELECT 1 / %s", (0,))
        queued.write(
            "INSERT INTO processed_messages (organization_id, message_id, received_at)"
            " VALUES (%s, %s, %s)",
            (1, "never", T0),
        )
    assert getattr(failed.value.orig, "sqlstate", None) == "22012"
    assert not is_unavailable(failed.value) and not is_conflict(failed.value)
    with postgres.read() as conn:
        assert conn.execute(select(func.count()).select_from(processed_messages)).scalar() == 0


def test_a_lost_connection_is_an_outage_and_the_pool_is_renewed(
    postgres: Database, database_url: str
) -> None:
    """The server restarted: every pooled connection is lost. The first to fail in a
    pipeline is an outage; the pool then replaces the others too, although they were
    used a moment ago (not pinged)."""
    admin = create_engine(database_url)
    raised: list[BaseException] = []
    invalidated: list[bool] = []
    try:
        with postgres.engine.connect() as first, postgres.engine.connect() as second:
            pids = [
                c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in (first, second)
            ]
        with admin.connect() as other:
            for pid in pids:
                other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        with pytest.raises(OperationalError), postgres.write() as conn:
            try:
                with pipeline(conn) as queued:
                    queued.execute("SELECT 1", ())
            except BaseException as exc:
                raised.append(exc)
                invalidated.append(conn.invalidated)
                raise
        # What the pipeline raised, before the rollback's own error.
        assert isinstance(raised[0], OperationalError), raised
        assert raised[0].connection_invalidated and is_unavailable(raised[0])
        assert invalidated == [True]  # as SQLAlchemy does for its own statements
        with postgres.read() as one, postgres.read() as two:  # both new, no error
            now = {c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in (one, two)}
        assert not now & set(pids)
    finally:
        admin.dispose()


def test_copy_errors_are_sqlalchemy_s_too(postgres: Database) -> None:
    names = [f"m{i}" for i in range(COPY_MIN_ROWS)]
    with postgres.write() as conn:
        _claim(conn, names)
    with pytest.raises(IntegrityError) as failed, postgres.write() as conn:
        _claim(conn, names)  # by COPY, on a unique key
    assert getattr(failed.value.orig, "sqlstate", None) == "23505"
