"""Contact and response ids past 32 bits: the columns keep them 32-bit while they fit and
widen when one does not, on load and on catching up, with the same answers as SQL."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import text

from promoter.analytics.engine import Analytics, AnalyticsCache
from promoter.storage.engine import Database
from tests.analytics.asking import BY_PLAN, PLAIN, distributions
from tests.analytics.dataset import NOW, build
from tests.analytics.writes import answer, identify
from tests.conftest import Org

QUESTIONS = [*PLAIN, BY_PLAN]


def test_ids_past_32_bits(database: Database, backend: str, org: Org) -> None:
    if backend != "postgresql":
        pytest.skip("ids past 2**31 come from PostgreSQL's sequences: checked there")
    build(database, org.id, random.Random(3), contacts_count=8, responses_count=20)
    cached = Analytics(AnalyticsCache(database, background=False))
    direct = Analytics(None)
    assert distributions(database, cached, org.id, QUESTIONS) == distributions(
        database, direct, org.id, QUESTIONS
    )
    with database.write() as conn:
        for table in ("contacts", "responses"):
            sequence = f"pg_get_serial_sequence('{table}', 'id')"
            conn.execute(text(f"SELECT setval({sequence}, 3000000000)"))
    identify(database, org, "far-away", plan="Premium")
    assert answer(database, org, "far-away", 3, NOW) > 2**31
    expected = distributions(database, direct, org.id, QUESTIONS)
    assert distributions(database, cached, org.id, QUESTIONS) == expected  # caught up
    loaded = Analytics(AnalyticsCache(database, background=False))
    assert distributions(database, loaded, org.id, QUESTIONS) == expected  # loaded
