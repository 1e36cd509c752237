"""The database errors that mean "unavailable for now", as opposed to bugs.

A lost connection, a restarting server, a locked or full SQLite file, or no free
connection in the pool: the caller should answer 503 or try again later. Any other
database error is a bug and is reported with its traceback. The drivers class some
errors of a statement itself as operational too (SQLite's "Expression tree is too large",
PostgreSQL's program limits): :func:`is_unavailable` tells them apart.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
)


#: SQLite's primary result codes that mean the file cannot be used now: BUSY, LOCKED,
#: NOMEM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL.
_SQLITE_UNAVAILABLE = frozenset({5, 6, 7, 8, 10, 13, 14, 15})
#: PostgreSQL's SQLSTATE classes that mean the server cannot serve now: connection
#: exceptions, insufficient resources, operator intervention (shutdown, cancel), system
#: errors; and the two transaction rollbacks worth retrying.
_POSTGRES_CLASSES = frozenset({"08", "53", "57", "58"})
_POSTGRES_RETRY = frozenset({"40001", "40P01"})


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (one of DATABASE_UNAVAILABLE) means "try again later", False when
    it is an error of the statement that no retry would mend."""
    if not isinstance(exc, OperationalError) or exc.connection_invalidated:
        return isinstance(exc, DATABASE_UNAVAILABLE)
    cause = exc.orig
    code = getattr(cause, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_UNAVAILABLE
    if hasattr(cause, "sqlstate"):
        state: str | None = getattr(cause, "sqlstate", None)
        return state is None or state[:2] in _POSTGRES_CLASSES or state in _POSTGRES_RETRY
    return True  # another driver: as before, taken for an outage


def describe(exc: BaseException) -> str:
    """One line for the log: the driver's message without the statement and parameters."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {first_line}" if first_line else type(cause).__name__


def is_conflict(exc: BaseException) -> bool:
    """True when PostgreSQL rolled a transaction back for a deadlock or a serialization
    failure: no fault of its statements, and the same transaction may well pass again."""
    cause = exc.orig if isinstance(exc, DBAPIError) else None
    return getattr(cause, "sqlstate", None) in _POSTGRES_RETRY
