"""An organization flooded with attribute names (stored before names were capped): the
analytics columns hold only the attributes questions name, and an answer's snapshot keeps
at most MOST_ATTRIBUTES_PER_CONTACT attributes."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select

from promoter.analytics.engine import Analytics, AnalyticsCache
from promoter.analytics.filters import parse_filter
from promoter.analytics.query import NpsQuery, scope
from promoter.analytics.response_columns import MAX_ATTRIBUTE_COLUMNS, ResponseColumns
from promoter.domain.attributes import MOST_ATTRIBUTES_PER_CONTACT
from promoter.storage.engine import Database
from promoter.storage.tables import (
    contact_attributes,
    contacts,
    response_attributes,
    responses,
    surveys,
)
from tests.analytics.dataset import NOW, answer_survey, build
from tests.analytics.writes import answer, identify
from tests.conftest import Org

FLOOD = [f"flood.{i:04d}" for i in range(300)]


def flood_responses(database: Database, org: Org) -> None:
    """Every response gets the 300 flood names in its snapshot."""
    with database.write() as conn:
        ids = conn.execute(select(responses.c.id).where(responses.c.organization_id == org.id))
        rows = [
            {
                "response_id": response_id,
                "name": name,
                "organization_id": org.id,
                "value_type": "number",
                "value_text": str(n % 7),
                "value_number": float(n % 7),
            }
            for response_id in ids.scalars()
            for n, name in enumerate(FLOOD)
        ]
        conn.execute(insert(response_attributes), rows)


def ask(database: Database, analytics: Analytics, org: Org, **options: Any) -> Any:
    by = options.pop("by", None)
    if "where" in options:
        options["where"] = parse_filter(options["where"])
    query = NpsQuery(
        organization_id=org.id,
        since=NOW - timedelta(days=400),
        until=NOW + timedelta(days=400),
        **options,
    )
    with database.read() as conn:
        settled = scope(conn, query, now=NOW)
        if by is not None:
            return analytics.breakdown(conn, settled, by=by)
        return analytics.nps(conn, settled).distribution


def loaded(database: Database, analytics: Analytics, org: Org) -> list[str]:
    assert analytics.cache is not None
    with database.read() as conn, analytics.cache.columns(conn, org.id) as columns:
        assert isinstance(columns, ResponseColumns)
        return list(columns.attributes)


def test_columns_hold_only_the_attributes_questions_name(database: Database, org: Org) -> None:
    build(database, org.id, random.Random(7), contacts_count=10, responses_count=30)
    flood_responses(database, org)
    cached = Analytics(AnalyticsCache(database, background=False))
    direct = Analytics(None)

    def agree(**options: Any) -> Any:
        expected = ask(database, direct, org, **options)
        assert ask(database, cached, org, **options) == expected
        return expected

    agree()
    assert loaded(database, cached, org) == []
    agree(where={"attribute": "plan", "value": "Premium"})
    assert loaded(database, cached, org) == ["plan"]
    agree(by="country")
    agree(where={"attribute": "flood.0003", "value": 3})
    assert loaded(database, cached, org) == ["plan", "country", "flood.0003"]
    # A name no response has takes no column.
    agree(where={"attribute": "nobody", "value": 1})
    assert "nobody" not in loaded(database, cached, org)

    # Loaded columns follow new answers; the others are read when first named.
    identify(database, org, "user-1", plan="Premium", country="DE")
    answer(database, org, "user-1", 10, NOW)
    agree(where={"attribute": "plan", "value": "Premium"})
    agree(by="country")
    agree(by="seats")

    # However many names questions go through, at most MAX_ATTRIBUTE_COLUMNS stay.
    for name in FLOOD[:40]:
        agree(where={"attribute": name, "value": 3})
    names = loaded(database, cached, org)
    assert len(names) == MAX_ATTRIBUTE_COLUMNS
    assert names == FLOOD[40 - MAX_ATTRIBUTE_COLUMNS : 40]
    agree(where={"attribute": "plan", "value": "Premium"})  # evicted, read again
    assert loaded(database, cached, org)[-1] == "plan"


def test_an_answer_keeps_at_most_1000_attributes(database: Database, org: Org) -> None:
    identify(database, org, "ted")
    build(database, org.id, random.Random(3), contacts_count=1, responses_count=1)
    with database.write() as conn:
        contact_id = conn.execute(
            select(contacts.c.id).where(contacts.c.user_id == "ted")
        ).scalar_one()
        conn.execute(
            insert(contact_attributes),
            [
                {
                    "contact_id": contact_id,
                    "name": f"old.{i:04d}",
                    "organization_id": org.id,
                    "value_type": "number",
                    "value_text": str(i),
                    "value_number": float(i),
                    "updated_at": NOW,
                }
                for i in range(1_500)
            ],
        )
        campaign_id = conn.execute(
            select(surveys.c.campaign_id).where(surveys.c.organization_id == org.id).limit(1)
        ).scalar_one()
        _, response_id = answer_survey(conn, org.id, contact_id, campaign_id, 9, NOW)
    with database.read() as conn:
        snapshot = conn.execute(
            select(responses.c.contact_snapshot).where(responses.c.id == response_id)
        ).scalar_one()
        typed = conn.execute(
            select(func.count()).where(response_attributes.c.response_id == response_id)
        ).scalar_one()
    assert len(snapshot) == typed == MOST_ATTRIBUTES_PER_CONTACT
    assert sorted(snapshot)[-1] == f"old.{MOST_ATTRIBUTES_PER_CONTACT - 1:04d}"
