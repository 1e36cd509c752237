"""kill -9 under sustained load from Segment's own Python library.

A producer thread feeds segment-analytics-python (two consumer threads, its default
retry policy) with identify and track calls while the server is killed with SIGKILL at
random moments and started again on the same port. The library retries what got no
answer, so some messages reach the server twice. At the end every message the library
accepted must be stored exactly once, and the library must have reported no failure.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import segment.analytics as analytics
from segment.analytics import request as segment_request

from promoter.storage.engine import Database
from tests.conftest import Org
from tests.e2e.conftest import HTTP_TIMEOUT, ServerProcess
from tests.e2e.stored import stored
from tests.figures import record

pytestmark = [pytest.mark.e2e, pytest.mark.alone]

KILLS = 8
#: Messages the producer hands to the library in each round (one kill a round).
MESSAGES_A_ROUND = 1_200
USERS = 40
#: Bound on the wait for the library to drain its queue once the server stays up.
DRAIN_TIMEOUT = 120.0


@pytest.fixture(autouse=True)
def _close_segment_session() -> Iterator[None]:
    yield
    segment_request._session.close()


class Retries(logging.Handler):
    """Counts the library's retries of a batch and its waits on a 429 (it logs each one
    at debug level)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0
        self.rate_limited = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().lower()
        if "retry" in message:
            self.count += 1
        if message.startswith("rate-limited (status 429)"):
            self.rate_limited += 1


@pytest.fixture
def retries() -> Iterator[Retries]:
    logger = logging.getLogger("segment")
    handler, level = Retries(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class Producer:
    """Hands messages to the library at a steady pace; remembers every messageId."""

    def __init__(self, client: analytics.Client) -> None:
        self.client = client
        self.sent: list[str] = []
        self.tracks: list[str] = []
        self.refused: list[str] = []

    def produce(self, round_number: int) -> None:
        for n in range(MESSAGES_A_ROUND):
            user = f"user-{(round_number * 7 + n) % USERS}"
            message_id = f"k{round_number}-{n}"
            if n % 5 == 0:
                ok, _ = self.client.identify(
                    user,
                    {"email": f"{user}@example.com", "plan": "Pro", "round": round_number},
                    message_id=message_id,
                )
            else:
                ok, _ = self.client.track(
                    user, "Tick", {"round": round_number, "n": n}, message_id=message_id
                )
                self.tracks.append(message_id)
            (self.sent if ok else self.refused).append(message_id)
            if n % 20 == 0:
                time.sleep(0.01)  # about 2,000 messages a second, in the library's batches


def test_segment_library_loses_nothing_through_kill_9(
    server: ServerProcess, org: Org, database: Database, backend: str, retries: Retries
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    errors: list[tuple[Exception, Any]] = []
    client = analytics.Client(
        write_key=org.key,
        host=server.url,
        on_error=lambda error, batch: errors.append((error, batch)),
        timeout=HTTP_TIMEOUT,
        upload_interval=0.05,
        max_queue_size=MESSAGES_A_ROUND * (KILLS + 1),
        thread=2,
    )
    producer = Producer(client)
    downtime = 0.0
    started = time.monotonic()
    try:
        for number in range(KILLS):
            thread = threading.Thread(target=producer.produce, args=(number,), daemon=True)
            thread.start()
            time.sleep(rng.uniform(0.1, 0.6))
            server.kill()  # SIGKILL: whatever was in flight gets no answer
            down = time.monotonic()
            server.start(same_port=True)
            downtime += time.monotonic() - down
            thread.join(DRAIN_TIMEOUT)
            assert not thread.is_alive(), "the producer is stuck"
        drain_started = time.monotonic()
        client.flush()
        drained_in = time.monotonic() - drain_started
    finally:
        client.join()
    elapsed = time.monotonic() - started

    context = f"seed {seed}"
    assert errors == [], f"{context}: the library gave up on {len(errors)} batches: {errors[:3]}"
    assert producer.refused == [], f"{context}: the library's queue was full"
    processed, per_event = stored(database, org)
    sent = set(producer.sent)
    assert len(sent) == KILLS * MESSAGES_A_ROUND
    missing = sent - processed
    assert not missing, f"{context}: {len(missing)} messages lost, e.g. {sorted(missing)[:5]}"
    assert processed == sent, f"{context}: stored messages nobody sent"
    repeated = {m: n for m, n in per_event.items() if n != 1}
    assert not repeated, f"{context}: events stored more than once: {list(repeated.items())[:5]}"
    assert set(per_event) == set(producer.tracks), f"{context}: tracks without their event"
    assert retries.count >= KILLS, f"{context}: the kills interrupted no request"

    record(
        "segment-library-kill-9",
        backend,
        seed=seed,
        kills=KILLS,
        messages_sent=len(sent),
        messages_stored=len(processed),
        events_stored=len(per_event),
        events_stored_twice=len(repeated),
        library_retries=retries.count,
        library_failures=len(errors),
        seconds_down=round(downtime, 1),
        seconds_total=round(elapsed, 1),
        seconds_to_drain_after_last_kill=round(drained_in, 1),
    )


def test_segment_library_slows_down_on_429_and_loses_nothing(
    tmp_path: Path,
    database_url: str,
    backend: str,
    org: Org,
    database: Database,
    retries: Retries,
) -> None:
    """Over the per-key limit the server answers 429 with Retry-After; the library waits
    that long and sends the batch again."""
    server = ServerProcess(database_url, tmp_path, env={"PROMOTER_RATE_LIMIT_INGEST": "4,4"})
    server.start()
    errors: list[tuple[Exception, Any]] = []
    client = analytics.Client(
        write_key=org.key,
        host=server.url,
        on_error=lambda error, batch: errors.append((error, batch)),
        timeout=HTTP_TIMEOUT,
        upload_size=10,
        upload_interval=0.01,
    )
    sent = []
    try:
        for n in range(300):
            user = f"user-{n % 10}"
            if n < 10:
                client.identify(user, {"email": f"{user}@example.com"}, message_id=f"l-{n}")
            else:
                client.track(user, "Tick", {"n": n}, message_id=f"l-{n}")
            sent.append(f"l-{n}")
        client.flush()
    finally:
        client.join()
        server.stop()
    assert errors == []
    assert retries.rate_limited > 0, "the server never said 429"
    processed, per_event = stored(database, org)
    assert processed == set(sent)
    assert len(per_event) == 290 and set(per_event.values()) == {1}
    record(
        "segment-library-429",
        backend,
        limit="4 requests/s, burst 4",
        messages_sent=len(sent),
        messages_stored=len(processed),
        answers_429=retries.rate_limited,
        library_failures=len(errors),
    )
