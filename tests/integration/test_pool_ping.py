"""PostgreSQL connections idle in the pool are checked before use; busy ones are not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from promoter.storage.errors import is_unavailable
from promoter.storage.pool_ping import ping_when_idle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(database_url: str, clock: Clock) -> Iterator[Engine]:
    if database_url.startswith("sqlite"):
        pytest.skip("a server connection to lose: PostgreSQL")
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, idle_seconds=5.0, clock=clock)
    try:
        yield engine
    finally:
        engine.dispose()


def _pings(engine: Engine) -> list[int]:
    """Counts the pings ``engine`` sends from now on."""
    sent: list[int] = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        sent.append(1)
        return real(dbapi_connection)

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    return sent


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(database_url: str, pid: int) -> None:
    other = create_engine(database_url, poolclass=None)
    try:
        with other.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
            conn.commit()
    finally:
        other.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(engine: Engine, clock: Clock) -> None:
    pings = _pings(engine)
    first = _backend_pid(engine)
    for _ in range(5):
        clock.now += 4.9
        assert _backend_pid(engine) == first
    assert pings == []


def test_a_lost_idle_connection_is_replaced_before_use(
    engine: Engine, clock: Clock, database_url: str
) -> None:
    pings = _pings(engine)
    lost = _backend_pid(engine)
    _terminate(database_url, lost)
    clock.now += 5.0
    assert _backend_pid(engine) != lost  # no error: the ping found it gone
    assert pings == [1]


def test_a_lost_busy_connection_fails_once_as_an_outage(
    engine: Engine, clock: Clock, database_url: str
) -> None:
    lost = _backend_pid(engine)
    _terminate(database_url, lost)
    clock.now += 1.0
    with pytest.raises(Exception) as failed:
        _backend_pid(engine)
    assert is_unavailable(failed.value), failed.value
    assert _backend_pid(engine) != lost  # the next checkout has a new connection
