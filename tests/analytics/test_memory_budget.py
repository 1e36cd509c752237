"""The memory budget of the in-memory columns: the least recently asked organizations'
columns are dropped to stay within it, never those being answered, an organization too big
for it alone is answered by SQL, and the answers never change."""

from __future__ import annotations

import random

import pytest

from promoter.analytics.engine import Analytics, AnalyticsCache
from promoter.config import Settings
from promoter.services import analytics_of
from promoter.storage.engine import Database
from tests.analytics.asking import BY_PLAN, PLAIN, distributions
from tests.analytics.dataset import build
from tests.conftest import make_org


def built_orgs(database: Database, names: str = "ABC") -> list[int]:
    ids = []
    for seed, name in enumerate(names):
        org = make_org(database, name)
        build(database, org.id, random.Random(seed), contacts_count=8, responses_count=20)
        ids.append(org.id)
    return ids


def sizes(database: Database, orgs: list[int]) -> dict[int, int]:
    """Each organization's columns in bytes, measured without a budget."""
    unlimited = Analytics(AnalyticsCache(database, background=False))
    for org in orgs:
        distributions(database, unlimited, org, PLAIN)
    assert unlimited.cache is not None
    return unlimited.cache.resident()


def ask(database: Database, analytics: Analytics, org: int) -> list[list[int]]:
    answers = distributions(database, analytics, org, PLAIN)
    assert answers == distributions(database, Analytics(None), org, PLAIN)
    return answers


def test_least_recently_asked_columns_are_dropped(database: Database, backend: str) -> None:
    a, b, c = orgs = built_orgs(database)
    size = sizes(database, orgs)
    # Any two organizations fit, all three do not.
    budget = max(size[a] + size[b], size[b] + size[c], size[a] + size[c])
    assert budget < sum(size.values())
    analytics = Analytics(AnalyticsCache(database, budget=budget, background=False))
    cache = analytics.cache
    assert cache is not None

    first = {org: ask(database, analytics, org) for org in orgs}
    assert list(cache.resident()) == [b, c]
    assert ask(database, analytics, a) == first[a]  # loaded again, B dropped
    assert list(cache.resident()) == [c, a]
    assert cache.resident() == {c: size[c], a: size[a]}


def test_columns_in_use_are_not_dropped(database: Database, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the eviction order: checked once, on SQLite")
    a, b, c = orgs = built_orgs(database)
    size = sizes(database, orgs)
    budget = max(size[a] + size[b], size[b] + size[c], size[a] + size[c])
    analytics = Analytics(AnalyticsCache(database, budget=budget, background=False))
    cache = analytics.cache
    assert cache is not None
    ask(database, analytics, a)
    # A is being answered (its columns held) while B and C are asked: B goes instead.
    with database.read() as conn, cache.columns(conn, a) as columns:
        assert columns is not None
        ask(database, analytics, b)
        ask(database, analytics, c)
        assert set(cache.resident()) == {a, c}


def test_attribute_columns_count_against_the_budget(database: Database, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the size accounting: checked once, on SQLite")
    a, b = orgs = built_orgs(database, "AB")
    size = sizes(database, orgs)
    cache = AnalyticsCache(database, budget=size[a] + size[b], background=False)
    analytics = Analytics(cache)
    ask(database, analytics, a)
    ask(database, analytics, b)
    assert cache.resident() == {a: size[a], b: size[b]}
    # B reads an attribute column: B grows, and A no longer fits beside it.
    expected = distributions(database, Analytics(None), b, [BY_PLAN])
    assert distributions(database, analytics, b, [BY_PLAN]) == expected
    assert list(cache.resident()) == [b]
    assert cache.resident()[b] > size[b]


def test_an_organization_over_the_budget_alone_is_answered_by_sql(
    database: Database, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the size accounting: checked once, on SQLite")
    (a,) = built_orgs(database, "A")
    size = sizes(database, [a])
    cache = AnalyticsCache(database, budget=size[a] // 2, background=False)
    analytics = Analytics(cache)
    ask(database, analytics, a)
    assert cache.resident() == {}
    with database.read() as conn, cache.columns(conn, a) as columns:
        assert columns is None  # not loaded again: every question of A goes to SQL
    ask(database, analytics, a)


def test_the_budget_comes_from_the_settings(database: Database) -> None:
    off = analytics_of(Settings(analytics_memory_mb=0), database)
    assert off.cache is None
    on = analytics_of(Settings(analytics_memory_mb=1), database)
    assert on.cache is not None
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        Settings(analytics_memory_mb=-1)
