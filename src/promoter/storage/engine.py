"""Engine factory and the :class:`Database` handle the services write through.

SQLite runs in WAL mode with one writer at a time (``BEGIN IMMEDIATE`` behind a
process-wide lock) and any number of readers. PostgreSQL uses a plain pool; its
batched writes (ingestion) share transactions too, a few at a time.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from promoter.storage.errors import is_conflict
from promoter.storage.group_commit import GroupCommit
from promoter.storage.pool_ping import ping_when_idle
from promoter.storage.wal_checkpoints import WRITER_CHECKPOINT_PAGES, WalCheckpoints

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741
R = TypeVar("R")

_WRITE_OPTION = "promoter_write"
#: Shared write transactions PostgreSQL runs at once for ``Database.run_many``.
POSTGRES_LANES = 1


def _lower(value: object) -> object:
    """SQL ``lower()`` as PostgreSQL's: every letter, not ASCII only as SQLite's own."""
    return value.lower() if isinstance(value, str) else value


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event decide how transactions start.
        dbapi_connection.isolation_level = None
        # Case-insensitive searches (contact names) then work beyond ASCII. No index uses
        # lower(), so none was built with SQLite's own.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before the caller acknowledges anything.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Checkpoints are a thread's of their own (wal_checkpoints.py); writers checkpoint
        # only past this, when it cannot keep up.
        cursor.execute(f"PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def build_engine(url: str) -> Engine:
    """Create an engine for ``url`` with the settings Promoter relies on."""
    parsed = make_url(url)
    json_options: dict[str, Any] = {
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
    }
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, pool_size=8, max_overflow=8, **json_options)
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed, pool_size=10, max_overflow=10, **json_options)
        ping_when_idle(engine)
        return engine
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


class Database:
    """The engine plus the rule for write transactions.

    ``write()`` yields a connection inside a transaction that commits when the
    block ends without error; the caller decides what belongs in it.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock() if self.is_sqlite else None
        lanes = 1 if self.is_sqlite else POSTGRES_LANES
        self._group = GroupCommit(self.write, lanes=lanes, retry=is_conflict)
        path = _sqlite_file(engine)
        self.checkpoints = (
            WalCheckpoints(functools.partial(sqlite3.connect, path, isolation_level=None))
            if path is not None
            else None
        )

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(build_engine(url))

    @contextmanager
    def write(self) -> Iterator[Connection]:
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self.engine.connect() as conn:
            conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn
        if self.checkpoints is not None:
            self.checkpoints.wrote()

    def run_write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a write transaction and return its result once committed.

        On SQLite, concurrent calls share one transaction and one commit (see
        :mod:`promoter.storage.group_commit`); on PostgreSQL each call has its own
        transaction, and the server runs them side by side.
        """
        if self.is_sqlite:
            return self._group.run(fn)
        with self.write() as conn:
            return fn(conn)

    def run_many(self, item: I, apply_many: Callable[[Connection, Sequence[I]], Sequence[R]]) -> R:
        """Like :meth:`run_write`, for ``apply_many(conn, items)``: items waiting at the
        same time are handed to it together, in one transaction, on both databases; on
        PostgreSQL a deadlock or serialization failure runs that transaction again."""
        return self._group.run_many(item, apply_many)

    async def run_many_async(
        self,
        item: I,
        apply_many: Callable[[Connection, Sequence[I]], Sequence[R]],
        executor: Executor,
    ) -> R:
        """:meth:`run_many` for a coroutine: ``item`` waits on the event loop, not in a
        thread, and the loop's waiting items are committed together in a thread of
        ``executor``."""
        return await self._group.run_many_async(item, apply_many, executor)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def refresh_statistics(self) -> None:
        """Give SQLite's planner statistics (sampled: fast on any size). Without them it may
        pick an index that is right for small tables and ruinous for large ones.
        PostgreSQL's autovacuum keeps its own."""
        if not self.is_sqlite:
            return
        with self.write() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")

    def dispose(self) -> None:
        if self.checkpoints is not None:
            self.checkpoints.close()
        self.engine.dispose()


def _sqlite_file(engine: Engine) -> str | None:
    """The path of a SQLite database kept in a file (``None`` for PostgreSQL, memory)."""
    url = engine.url
    if engine.dialect.name != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if url.query.get("mode") == "memory" or str(url.database).startswith("file:"):
        return None
    return str(url.database)


def ping(conn: Connection) -> None:
    """A round trip to the database: raises when it cannot be reached."""
    conn.execute(text("SELECT 1"))
