"""The shared outbox pieces: the retry policy and the worker loop."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError

from promoter.jobs.loop import run_until_stopped
from promoter.jobs.retry import RetryPolicy

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_delays_double_up_to_the_cap_with_jitter() -> None:
    policy = RetryPolicy(first=timedelta(seconds=30), cap=timedelta(hours=1))
    rng = random.Random(1)
    for attempts, base in ((1, 30), (2, 60), (3, 120), (8, 3600), (10_000, 3600)):
        for _ in range(50):
            seconds = policy.delay(attempts, rng).total_seconds()
            assert base * 0.8 <= seconds <= base * 1.2, (attempts, seconds)
    exact = RetryPolicy(first=timedelta(minutes=1), cap=timedelta(hours=1), jitter=0)
    assert [exact.delay(n, rng) for n in (0, 1, 2, 7)] == [
        timedelta(minutes=1),
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(hours=1),
    ]


def test_a_policy_with_a_horizon_gives_up() -> None:
    policy = RetryPolicy(
        first=timedelta(minutes=1),
        cap=timedelta(hours=1),
        jitter=0,
        give_up_after=timedelta(hours=24),
    )
    rng = random.Random(2)
    soon = policy.next_attempt(3, created_at=T0, now=T0 + timedelta(hours=1), rng=rng)
    assert soon == T0 + timedelta(hours=1, minutes=4)
    late = policy.next_attempt(20, created_at=T0, now=T0 + timedelta(hours=23, minutes=30), rng=rng)
    assert late is None
    forever = RetryPolicy(first=timedelta(seconds=30), cap=timedelta(hours=1))
    assert forever.next_attempt(20, created_at=T0, now=T0 + timedelta(days=30), rng=rng)


def test_the_loop_survives_failing_rounds_and_stops_between_rounds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("promoter.test.jobs")
    rounds: list[str] = []

    async def main() -> None:
        stop = asyncio.Event()

        async def round_() -> int:
            rounds.append("round")
            if len(rounds) == 1:
                raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
            if len(rounds) == 2:
                raise ValueError("the far end said no")
            if len(rounds) == 4:
                stop.set()  # asked to stop mid-round: the round finishes, no other starts
            return 1

        await asyncio.wait_for(
            run_until_stopped(stop, round_, log=log, what="test", idle_seconds=0.01), timeout=10
        )

    with caplog.at_level(logging.INFO, logger="promoter.test.jobs"):
        asyncio.run(main())
    assert len(rounds) == 4
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("test round failed, database unavailable (Exception: server")
    assert caplog.records[0].exc_info is None  # one line, no traceback
    assert messages[1] == "test round failed; retrying" and caplog.records[1].exc_info
