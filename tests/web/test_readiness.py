"""``/health``: one database check a second, shared by concurrent callers, and 503 soon
after the database stops answering."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from promoter.app import create_app
from promoter.services import Services
from promoter.storage.engine import Database, ping
from promoter.web.readiness import Readiness


class Silent:
    """A TCP server that accepts connections and never answers: a hung database."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        self.database = Database.from_url(
            f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/none"
        )

    def _accept(self) -> None:
        try:
            while True:
                self.accepted.append(self.listener.accept()[0])
        except OSError:  # closed
            return

    def close(self) -> None:
        """Close the connections, which ends the checks still waiting on them."""
        if self._thread.is_alive():
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept()
            self.listener.close()
            self._thread.join(timeout=5)
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    server = Silent()
    try:
        yield server
    finally:
        server.close()
        server.database.dispose()


def _pinging(
    holder: list[Database], calls: list[int], *, fresh_for: float = 1.0, timeout: float = 0.5
) -> Readiness:
    async def check() -> None:
        calls.append(1)

        def run() -> None:
            with holder[0].read() as conn:
                ping(conn)

        await asyncio.to_thread(run)

    now = [0.0]
    readiness = Readiness(check, fresh_for=fresh_for, timeout=timeout, clock=lambda: now[0])
    readiness.now = now  # type: ignore[attr-defined]
    return readiness


def test_concurrent_health_checks_share_one_database_check_a_second(database: Database) -> None:
    calls: list[int] = []
    readiness = _pinging([database], calls)
    now = readiness.now  # type: ignore[attr-defined]

    async def scenario() -> None:
        assert all(await asyncio.gather(*(readiness.ready() for _ in range(20))))
        assert len(calls) == 1
        now[0] = 0.9
        assert await readiness.ready()
        assert len(calls) == 1
        now[0] = 1.5
        assert await readiness.ready()
        assert len(calls) == 2

    asyncio.run(scenario())


@pytest.mark.one_database(reason="the hung database is a silent TCP server, whatever the backend")
def test_a_database_that_stops_answering_turns_health_503_within_the_bound(
    database: Database, silent: Silent
) -> None:
    calls: list[int] = []
    holder = [database]
    readiness = _pinging(holder, calls)
    now = readiness.now  # type: ignore[attr-defined]

    async def scenario() -> None:
        assert await readiness.ready()
        holder[0] = silent.database  # the database stops answering
        now[0] = 0.5
        assert await readiness.ready()  # still the answer of the last second
        now[0] = 1.0
        assert not await readiness.ready()  # checked, gave up after the timeout
        # While that check hangs, no other is started: one thread at most is held.
        now[0] = 2.5
        assert not await readiness.ready()
        assert len(calls) == 2
        silent.close()

    asyncio.run(scenario())


@pytest.mark.one_database(reason="the hung database is a silent TCP server, whatever the backend")
def test_health_answers_503_when_the_database_hangs(settings, silent: Silent) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(Services.build(settings, silent.database))) as client:
        response = client.get("/health")
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "5"
        assert response.json() == {"status": "unavailable", "database": "unreachable"}
        assert client.get("/health").status_code == 503  # the last second's answer
        assert len(silent.accepted) == 1
        silent.close()


def test_without_freshness_every_call_asks_and_concurrent_ones_share(database: Database) -> None:
    calls: list[int] = []
    readiness = _pinging([database], calls, fresh_for=0.0, timeout=5.0)

    async def scenario() -> None:
        assert all(await asyncio.gather(*(readiness.ready() for _ in range(10))))
        assert len(calls) == 1
        assert await readiness.ready()
        assert len(calls) == 2

    asyncio.run(scenario())
