"""The loop every outbox worker runs: a round, then a pause when there was nothing to do,
until asked to stop. A round that fails is logged (one line when the database is
unavailable) and the loop goes on: the database or the far end may come back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from promoter.storage.errors import DATABASE_UNAVAILABLE, describe


async def run_until_stopped(
    stop: asyncio.Event,
    round_: Callable[[], Awaitable[int]],
    *,
    log: logging.Logger,
    what: str,
    idle_seconds: float = 1.0,
) -> None:
    """Run ``round_`` (which returns how much it did) until ``stop`` is set, never
    interrupting one; wait up to ``idle_seconds`` (or the stop) after an idle round."""
    while not stop.is_set():
        try:
            busy = await round_()
        except DATABASE_UNAVAILABLE as exc:
            log.error("%s round failed, database unavailable (%s); retrying", what, describe(exc))
            busy = 0
        except Exception:
            log.exception("%s round failed; retrying", what)
            busy = 0
        if not busy:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=idle_seconds)
