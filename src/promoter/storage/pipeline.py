"""Several PostgreSQL statements in one round trip (psycopg's pipeline mode).

Each statement of a transaction otherwise waits for the server's answer before the next
is sent, and each wait costs the client system calls and a wake-up as well as the time:
in a small group commit that is most of the client's work. Statements whose parameters
do not depend on one another's results are queued here and sent together; their rows
are read once the block ends. A statement that fails fails the block (those after it
are not run, the transaction is aborted), with the SQLAlchemy exception it would have
raised on its own.

PostgreSQL only (SQLite has no round trips to save). The statements run on the
driver's connection, inside the caller's transaction, as plain SQL with ``%s`` or
``%(name)s`` parameters, values as the driver takes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

Params = Sequence[Any] | Mapping[str, Any]


class Rows:
    """A queued statement's rows, to read once its pipeline has ended."""

    def __init__(self, convert: Callable[[Any], Any] | None = None) -> None:
        self._convert = convert
        self._rows: list[Any] | None = None

    def _take(self, cursor: Any) -> None:
        rows = list(cursor.fetchall())
        self._rows = rows if self._convert is None else [self._convert(row) for row in rows]

    def all(self) -> list[Any]:
        if self._rows is None:
            raise RuntimeError("the rows of a queued statement are read after its pipeline")
        return self._rows


class Pipeline:
    """Statements queued on one connection (see the module)."""

    def __init__(self, driver: Any) -> None:
        self._driver = driver
        self._queued: list[tuple[Any, Rows | None]] = []

    def execute(
        self, sql: str, params: Params, convert: Callable[[Any], Any] | None = None
    ) -> Rows:
        """Queue ``sql``; its rows (each through ``convert``) are read after the block."""
        rows = Rows(convert)
        self._queue(rows).execute(sql, params)
        return rows

    def write(self, sql: str, params: Params) -> None:
        """Queue ``sql``, whose rows (if any) nobody reads."""
        self._queue(None).execute(sql, params)

    def _queue(self, rows: Rows | None) -> Any:
        cursor = self._driver.cursor()
        self._queued.append((cursor, rows))
        return cursor

    def _read(self) -> None:
        """Once sent and answered: hand each statement its rows."""
        for cursor, rows in self._queued:
            if rows is not None:
                rows._take(cursor)

    def _close(self) -> None:
        for cursor, _ in self._queued:
            cursor.close()


@contextmanager
def pipeline(conn: Connection) -> Iterator[Pipeline]:
    """Queue statements on ``conn`` (PostgreSQL); they are sent, and their results read,
    when the block ends."""
    driver = conn.connection.driver_connection
    assert driver is not None
    queued = Pipeline(driver)
    try:
        with driver_errors(conn, "(pipeline)"):
            with driver.pipeline():
                yield queued
            queued._read()
    finally:
        queued._close()


@contextmanager
def driver_errors(conn: Connection, statement: str) -> Iterator[None]:
    """The driver's errors in the block as SQLAlchemy's (``OperationalError``...), as
    if ``statement`` had gone through ``conn``: a lost connection is invalidated, so
    that callers see an outage, and, as SQLAlchemy does for its own statements, so is
    every pooled connection older than it (the server restarted: they are lost too)."""
    dialect = conn.dialect
    error = dialect.loaded_dbapi.Error
    try:
        yield
    except error as exc:
        lost = dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)
        if lost and not conn.invalidated:
            conn.engine.pool._invalidate(conn.connection, exc)
            conn.invalidate(exc)
        raise DBAPIError.instance(
            statement, None, exc, error, connection_invalidated=lost, dialect=dialect
        ) from exc
