"""Checking a pooled PostgreSQL connection before use, when it has been idle.

SQLAlchemy's ``pool_pre_ping`` sends a ``SELECT 1`` at every checkout: a round trip on
every transaction, which under load (a connection back in the pool for a millisecond)
costs more than the transaction's own statements do. Here only a connection that sat in
the pool for ``idle_seconds`` or more is pinged. A connection used a moment ago and
lost since (the server restarted in between) fails its next statement instead: that
error is an outage (``errors.is_unavailable``), the caller answers 503 or tries again,
and SQLAlchemy then replaces every connection of the pool that predates it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

#: A connection idle in the pool this long is pinged before it is handed out.
IDLE_SECONDS = 1.0
_RETURNED = "promoter_returned_at"


def ping_when_idle(
    engine: Engine,
    idle_seconds: float = IDLE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Ping ``engine``'s pooled connections at checkout after ``idle_seconds`` idle."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED] = clock()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED)
        if returned is None or clock() - returned < idle_seconds:
            return  # new, or used a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and hands out another (a new one if
            # need be); a server that is down fails that one's connect.
            raise DisconnectionError(f"an idle connection was lost: {exc}") from exc
