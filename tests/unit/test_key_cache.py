from __future__ import annotations

from datetime import UTC, datetime

from promoter.domain.roles import Role
from promoter.orgs.key_cache import KeyCache
from promoter.orgs.service import KeyHolder, Organization

ACME = KeyHolder(Organization(1, "Acme", None, "UTC", datetime(2026, 1, 1, tzinfo=UTC)), Role.ADMIN)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lookups_are_remembered_for_ttl_seconds_then_refreshed() -> None:
    active = {"pk_good": ACME}
    calls: list[str] = []

    def lookup(key: str) -> KeyHolder | None:
        calls.append(key)
        return active.get(key)

    clock = Clock()
    cache = KeyCache(lookup, ttl=1.0, clock=clock)
    assert cache.organization("pk_good") == ACME.organization
    assert cache.organization("pk_bad") is None
    del active["pk_good"]  # revoked
    clock.now += 0.5
    assert cache.holder("pk_good") == ACME  # still remembered
    assert cache.organization("pk_bad") is None
    assert calls == ["pk_good", "pk_bad"]
    clock.now += 0.6
    assert cache.organization("pk_good") is None  # the revocation is seen
    assert calls == ["pk_good", "pk_bad", "pk_good"]


def test_zero_ttl_looks_up_every_time() -> None:
    calls: list[str] = []
    cache = KeyCache(lambda key: calls.append(key) or None, ttl=0)  # type: ignore[func-returns-value]
    for _ in range(3):
        cache.organization("pk_x")
    assert calls == ["pk_x"] * 3


def test_forgetting_an_organization_drops_only_its_keys() -> None:
    orgs = {
        "k1": KeyHolder(Organization(1, "A", None, "UTC", datetime.now(UTC)), Role.MEMBER),
        "k2": KeyHolder(Organization(2, "B", None, "UTC", datetime.now(UTC)), Role.ADMIN),
    }
    lookups: list[str] = []

    def lookup(key: str) -> KeyHolder | None:
        lookups.append(key)
        return orgs.get(key)

    cache = KeyCache(lookup, ttl=60, clock=lambda: 0.0)
    cache.organization("k1")
    cache.organization("k2")
    cache.forget_organization(1)
    cache.organization("k1")
    cache.organization("k2")
    assert lookups == ["k1", "k2", "k1"]
