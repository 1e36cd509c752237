"""The database errors that mean "unavailable for now", as opposed to bugs.

A lost connection, a restarting server, a locked or full SQLite file, or no free
connection in the pool: the caller should answer 503 or try again later. Any other
database error is a bug and is reported with its traceback.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
)


def describe(exc: BaseException) -> str:
    """One line for the log: the driver's message without the statement and parameters."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {first_line}" if first_line else type(cause).__name__
