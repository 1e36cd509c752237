"""The loop that turns quiet one-click scores into answers (see :mod:`surveys.clicks`).

``promoter serve`` runs it beside the delivery worker, ``promoter worker`` runs it too;
several at once are safe: a burst is settled by whichever claims its clicks first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from promoter.jobs.loop import run_until_stopped
from promoter.storage.engine import Database
from promoter.surveys.clicks import Settled, settle_clicks

log = logging.getLogger("promoter.clicks")

#: How often quiet clicks are looked for; a click becomes an answer within QUIET plus this.
IDLE_SECONDS = 15.0


class ClickSettler:
    def __init__(
        self, *, database: Database, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._database = database
        self._clock = clock

    def settle_once(self) -> Settled:
        with self._database.write() as conn:
            settled = settle_clicks(conn, now=self._clock())
        if settled.discarded:
            log.info("discarded %d score clicks from link scanners", settled.discarded)
        return settled

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = IDLE_SECONDS) -> None:
        async def round_() -> int:
            settled = await asyncio.to_thread(self.settle_once)
            return settled.recorded + settled.discarded

        await run_until_stopped(
            stop, round_, log=log, what="score click", idle_seconds=idle_seconds
        )
