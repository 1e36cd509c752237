"""Request budgets: a token bucket for each key, in memory, in each process.

A key may send ``burst`` requests at once and ``per_second`` a second on average after
that. Buckets are kept under the key's hash (or a client address), never the key. A bucket
that has filled up again is the same as no bucket, so idle ones are forgotten: memory holds
the keys used in the last ``burst / per_second`` seconds, and never more than ``max_keys``
of them. The web layer's middlewares (``web/ratelimit.py``) spend from them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from promoter.config import RateLimit, Settings, parse_rate_limit

#: The most keys remembered at once; past it the least recently seen are forgotten.
MAX_KEYS = 10_000


def refill(tokens: float, elapsed: float, limit: RateLimit) -> float:
    """The tokens of a bucket ``elapsed`` seconds after it held ``tokens``."""
    return min(limit.burst, tokens + max(elapsed, 0.0) * limit.per_second)


def spend(tokens: float, limit: RateLimit) -> tuple[float, float]:
    """Take one token: the tokens left and 0.0, or, when there is no whole token, the
    tokens unchanged and the seconds until there is one."""
    if tokens >= 1.0:
        return tokens - 1.0, 0.0
    return tokens, (1.0 - tokens) / limit.per_second


class TokenBuckets:
    """One token bucket per key hash; safe to share between threads."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._max_keys = max_keys
        #: key hash -> (tokens, when they were counted), least recently used first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key_hash: str) -> float:
        """Spend one request of the key: 0.0 when allowed, else the seconds to wait."""
        with self._lock:
            now = self._clock()
            state = self._buckets.pop(key_hash, None)
            self._forget_idle(now)
            tokens = (
                self.limit.burst if state is None else refill(state[0], now - state[1], self.limit)
            )
            tokens, wait = spend(tokens, self.limit)
            self._buckets[key_hash] = (tokens, now)
            return wait

    def wait(self, key_hash: str) -> float:
        """The seconds until the key has a whole token again (0.0: it has one), spending
        nothing."""
        with self._lock:
            state = self._buckets.get(key_hash)
            if state is None:
                return 0.0
            tokens = refill(state[0], self._clock() - state[1], self.limit)
            return spend(tokens, self.limit)[1]

    def __len__(self) -> int:
        return len(self._buckets)

    def _forget_idle(self, now: float) -> None:
        """Drop the buckets full again, then the least recently used over ``max_keys``."""
        buckets = self._buckets
        while buckets:
            tokens, counted = next(iter(buckets.values()))
            if refill(tokens, now - counted, self.limit) < self.limit.burst:
                break
            buckets.popitem(last=False)
        while len(buckets) >= self._max_keys:
            buckets.popitem(last=False)


@dataclass(frozen=True)
class RateLimits:
    """The budgets of the REST API and of ingestion; ``None`` is no limit."""

    api: TokenBuckets | None = None
    ingest: TokenBuckets | None = None
    failed_auth: TokenBuckets | None = None
    survey_pages: TokenBuckets | None = None
    web_survey_site: TokenBuckets | None = None
    web_survey_visitor: TokenBuckets | None = None
    link_answers: TokenBuckets | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Callable[[], float] = time.monotonic
    ) -> RateLimits:
        def buckets(text: str) -> TokenBuckets | None:
            limit = parse_rate_limit(text)
            return TokenBuckets(limit, clock=clock) if limit else None

        return cls(
            api=buckets(settings.rate_limit_api),
            ingest=buckets(settings.rate_limit_ingest),
            failed_auth=buckets(settings.rate_limit_failed_auth),
            survey_pages=buckets(settings.rate_limit_survey_pages),
            web_survey_site=buckets(settings.rate_limit_web_survey_site),
            web_survey_visitor=buckets(settings.rate_limit_web_survey_visitor),
            link_answers=buckets(settings.rate_limit_link_answers),
        )
