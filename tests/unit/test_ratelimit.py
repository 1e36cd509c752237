"""The token buckets behind the rate limits, on a fake clock."""

from __future__ import annotations

import threading

import orjson
import pytest
from pydantic import ValidationError

from promoter.config import RateLimit, Settings, parse_rate_limit
from promoter.ratelimits import RateLimits, TokenBuckets
from promoter.web.ratelimit import api_throttled, ingest_throttled


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_one_request_per_token() -> None:
    clock = Clock()
    buckets = TokenBuckets(RateLimit(per_second=2, burst=3), clock=clock)
    assert [buckets.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k") == pytest.approx(0.5)  # a token every half second
    clock.now += 0.25
    assert buckets.take("k") == pytest.approx(0.25)  # refused requests cost nothing
    clock.now += 0.25
    assert buckets.take("k") == 0.0
    assert buckets.take("k") == pytest.approx(0.5)


def test_the_bucket_refills_up_to_the_burst_only() -> None:
    clock = Clock()
    buckets = TokenBuckets(RateLimit(per_second=10, burst=5), clock=clock)
    for _ in range(5):
        buckets.take("k")
    clock.now += 3600
    assert [buckets.take("k") for _ in range(5)] == [0.0] * 5
    assert buckets.take("k") > 0


def test_keys_have_budgets_of_their_own() -> None:
    buckets = TokenBuckets(RateLimit(per_second=1, burst=1), clock=Clock())
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(1.0)
    assert buckets.take("b") == 0.0


def test_idle_buckets_are_forgotten() -> None:
    clock = Clock()
    buckets = TokenBuckets(RateLimit(per_second=1, burst=2), clock=clock)
    for key in ("a", "b", "c"):
        buckets.take(key)
    assert len(buckets) == 3
    clock.now += 0.5
    buckets.take("a")
    assert len(buckets) == 3  # b and c are not full yet
    clock.now += 0.6  # b and c are full again: the same as no bucket
    buckets.take("d")
    assert len(buckets) == 2
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0  # a kept what it had spent


def test_memory_is_bounded_by_max_keys() -> None:
    buckets = TokenBuckets(RateLimit(per_second=1, burst=1), clock=Clock(), max_keys=100)
    for number in range(1000):
        buckets.take(f"key-{number}")
    assert len(buckets) == 100
    assert buckets.take("key-999") > 0  # the most recent keys are kept


def test_threads_share_one_budget() -> None:
    buckets = TokenBuckets(RateLimit(per_second=0.001, burst=50), clock=Clock())
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(20):
            ok = buckets.take("k") == 0.0
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 160
    assert sum(allowed) == 50


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20,100", RateLimit(20, 100)),
        (" 500 , 2000 ", RateLimit(500, 2000)),
        ("20", RateLimit(20, 20)),
        ("0.5", RateLimit(0.5, 1)),
        ("0", None),
        ("0,10", None),
    ],
)
def test_rate_limit_settings_are_read(text: str, expected: RateLimit | None) -> None:
    assert parse_rate_limit(text) == expected


@pytest.mark.parametrize("text", ["", "fast", "20,", "20,x", "-1", "5,0.5", "nan", "inf,10"])
def test_bad_rate_limit_settings_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rate_limit(text)
    with pytest.raises(ValidationError):
        Settings(rate_limit_api=text)


def test_settings_build_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMOTER_RATE_LIMIT_API", "5, 10")
    monkeypatch.setenv("PROMOTER_RATE_LIMIT_INGEST", "0")
    settings = Settings()
    assert settings.rate_limit_api == "5,10"
    limits = RateLimits.from_settings(settings)
    assert limits.api is not None and limits.api.limit == RateLimit(5, 10)
    assert limits.ingest is None


def test_throttled_answers_say_when_to_retry() -> None:
    one = api_throttled(0.2)
    assert one.status_code == 429 and one.headers["retry-after"] == "1"
    assert orjson.loads(one.body) == {
        "detail": "Request was throttled. Expected available in 1 second."
    }
    several = api_throttled(2.01)
    assert several.headers["retry-after"] == "3"
    assert orjson.loads(several.body)["detail"].endswith("in 3 seconds.")
    segment = ingest_throttled(0.001)
    assert segment.headers["retry-after"] == "1"
    assert orjson.loads(segment.body)["code"] == "rate_limited"
