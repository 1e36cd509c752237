"""When to try again after a failed attempt (procrastinate's ``RetryStrategy`` is the
model): delays double from ``first`` up to ``cap``, with jitter so that many failures
together spread out; with ``give_up_after``, no attempt is made that long after the work
was created."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

#: Past this many doublings the delay is the cap anyway.
_MOST_DOUBLINGS = 30


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    first: timedelta
    cap: timedelta
    #: The delay is multiplied by a random factor in [1 - jitter, 1 + jitter].
    jitter: float = 0.2
    #: None: retried as long as the failure lasts.
    give_up_after: timedelta | None = None

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """The wait after the ``attempts``-th failed attempt."""
        doublings = max(0, min(attempts - 1, _MOST_DOUBLINGS))
        base = min(self.cap.total_seconds(), self.first.total_seconds() * 2**doublings)
        return timedelta(seconds=base * rng.uniform(1 - self.jitter, 1 + self.jitter))

    def next_attempt(
        self, attempts: int, *, created_at: datetime, now: datetime, rng: random.Random
    ) -> datetime | None:
        """When to try again, or None when that would be past ``give_up_after``."""
        due = now + self.delay(attempts, rng)
        if self.give_up_after is not None and due > created_at + self.give_up_after:
            return None
        return due
