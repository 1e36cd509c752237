"""The CSV export's attribute columns, found a name at a time, are those of the exported
responses as a count over them all finds them (a filter that leaves a name out leaves its
column out), never another organization's; and the feedback list's number of matches, when
the analytics answer it, is the number the list counts itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from promoter.analytics.filters import parse_filter
from promoter.analytics.params import EARLIEST
from promoter.analytics.query import NpsQuery, matching, scope
from promoter.domain.paging import Page
from promoter.feedback.export_columns import attribute_names
from promoter.feedback.reading import feedback_page
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import response_attributes
from tests.analytics.writes import identify
from tests.conftest import Org, make_org
from tests.surveys import answer

GOLD = parse_filter({"attribute": "tier", "op": "eq", "value": "gold"})


def counted(database: Database, query: NpsQuery) -> list[str]:
    """The names, by the definition: every attribute of every matching response."""
    with database.read() as conn:
        found = matching(scope(conn, query))
        return sorted(
            conn.execute(
                select(response_attributes.c.name)
                .distinct()
                .where(response_attributes.c.response_id.in_(select(found.c.id)))
            ).scalars()
        )


def names(database: Database, query: NpsQuery) -> list[str]:
    with database.read() as conn:
        return attribute_names(conn, scope(conn, query))


def test_export_columns_are_the_exported_responses_attributes(database: Database, org: Org) -> None:
    identify(database, org, "ann", tier="gold")
    identify(database, org, "bob", region="eu")
    answer(database, org, "ann", 10)
    answer(database, org, "bob", 3)
    other = make_org(database, "Globex")
    identify(database, other, "zed", secret="x")
    answer(database, other, "zed", 9)
    questions: list[dict[str, Any]] = [
        {},
        {"score_types": ("promoter",)},
        {"score_types": ("detractor",)},
        {"where": GOLD},
        {"score_types": ("passive",)},
        {"count": "latest"},
    ]
    for asked in questions:
        query = NpsQuery(org.id, since=EARLIEST, **asked)
        assert names(database, query) == counted(database, query), asked
    everyone = names(database, NpsQuery(org.id, since=EARLIEST))
    assert {"tier", "region"} <= set(everyone) and "secret" not in everyone
    promoters = names(database, NpsQuery(org.id, since=EARLIEST, score_types=("promoter",)))
    assert "tier" in promoters and "region" not in promoters
    assert names(database, NpsQuery(org.id, since=EARLIEST, score_types=("passive",))) == []


def test_the_feedback_count_from_the_analytics_is_the_lists_own(
    services: Services, database: Database, org: Org
) -> None:
    for number, user_id in enumerate(["ann", "bob", "cy", "dee"]):
        identify(database, org, user_id, tier="gold" if number % 2 else "silver")
        answer(database, org, user_id, 3 * number)
    other = make_org(database, "Globex")
    answer(database, other, "zed", 9)

    for asked in ({}, {"where": GOLD}):
        query = NpsQuery(org.id, since=EARLIEST, **asked)
        with database.read() as conn:
            s = scope(conn, query)
            total, items = feedback_page(conn, s, Page(1, 2), listed=services.analytics.listed)
            alone, same = feedback_page(conn, s, Page(1, 2))
        assert total == alone == (4 if not asked else 2)
        assert [i.id for i in items] == [i.id for i in same]
