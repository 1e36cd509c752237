"""Link surveys' service on both databases: answers made once per token and per contact
within the throttle, anonymous contacts kept out of every list and count, the answers
counted in the NPS on both engines, the link's key managed, and the migration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from promoter.analytics.engine import Analytics, AnalyticsCache
from promoter.analytics.filters import parse_filter
from promoter.analytics.query import NpsQuery, scope
from promoter.campaigns import service as campaigns
from promoter.campaigns.links import campaign_by_link_key, remove_link, set_link
from promoter.campaigns.models import Campaign
from promoter.contacts.service import ContactFilter, list_contacts
from promoter.domain.eligibility import SUPPRESSED
from promoter.domain.paging import Page
from promoter.exports.tables import TABLES, count_rows, page_ids
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, surveys
from promoter.surveys.links import answer_link
from promoter.surveys.responses import InvalidAnswer
from tests.conftest import Org
from tests.credentials import token
from tests.integration.conftest import Run
from tests.surveys import answer, schedule

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _campaign(database: Database, org: Org) -> Campaign:
    with database.write() as conn:
        [found] = campaigns.list_campaigns(conn, organization_id=org.id)
        return set_link(conn, organization_id=org.id, campaign_id=found.id, now=NOW)


def _answer(
    database: Database,
    campaign: Campaign,
    token: str,
    score: int,
    *,
    user_id: str | None = None,
    now: datetime = NOW,
) -> tuple[str, bool] | None:
    with database.write() as conn:
        made = answer_link(
            conn,
            campaign=campaign,
            token=token,
            score=score,
            user_id=user_id,
            language="en",
            now=now,
        )
    return None if made is None else (made.token, made.created)


def test_a_token_makes_one_survey_and_each_anonymous_answer_its_own_contact(
    database: Database, org: Org
) -> None:
    campaign = _campaign(database, org)
    assert _answer(database, campaign, "tok-1", 9) == ("tok-1", True)
    assert _answer(database, campaign, "tok-1", 2) == ("tok-1", False)
    assert _answer(database, campaign, "tok-2", 0) == ("tok-2", True)
    with database.read() as conn:
        rows = conn.execute(
            select(surveys.c.token, surveys.c.channel, contacts.c.status, contacts.c.email)
            .join(contacts, contacts.c.id == surveys.c.contact_id)
            .order_by(surveys.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("tok-1", "link", "anonymous", ""),
        ("tok-2", "link", "anonymous", ""),
    ]


def test_a_token_of_another_campaign_and_a_bad_score_record_nothing(
    database: Database, org: Org
) -> None:
    campaign = _campaign(database, org)
    schedule(database, org, "ann")
    with database.read() as conn:
        emailed = conn.execute(select(surveys.c.token)).scalar_one()
    other = campaign.model_copy(update={"id": campaign.id + 1000})
    assert _answer(database, other, emailed, 5) is None
    with pytest.raises(InvalidAnswer):
        _answer(database, campaign, "tok-bad", 11)
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(surveys)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(contacts)).scalar_one() == 1


def test_a_signed_contact_answers_once_per_throttle(database: Database, org: Org) -> None:
    answer(database, org, "bob", 7, now=NOW - timedelta(days=10))  # by email, this campaign
    campaign = _campaign(database, org)
    with database.read() as conn:
        emailed = conn.execute(select(surveys.c.token)).scalar_one()
    assert _answer(database, campaign, "tok-b", 10, user_id="bob") == (emailed, False)
    later = NOW + timedelta(days=campaign.throttle_days)
    assert _answer(database, campaign, "tok-b", 10, user_id="bob", now=later) == ("tok-b", True)
    with database.read() as conn:
        owner = conn.execute(
            select(contacts.c.user_id)
            .join(surveys, surveys.c.contact_id == contacts.c.id)
            .where(surveys.c.token == "tok-b")
        ).scalar_one()
    assert owner == "bob"


def test_anonymous_contacts_are_never_listed_counted_exported_or_surveyed(
    client: TestClient, database: Database, org: Org
) -> None:
    assert "anonymous" in SUPPRESSED
    schedule(database, org, "carol")
    campaign = _campaign(database, org)
    _answer(database, campaign, "tok-a", 8)
    with database.read() as conn:
        anonymous_id = conn.execute(
            select(contacts.c.id).where(contacts.c.status == "anonymous")
        ).scalar_one()
        total, found = list_contacts(
            conn, organization_id=org.id, flt=ContactFilter(), page=Page(1, 50)
        )
        assert (total, [c.user_id for c in found]) == (1, ["carol"])
        assert list_contacts(
            conn, organization_id=org.id, flt=ContactFilter(status="anonymous"), page=Page(1, 50)
        ) == (0, [])
        exported = TABLES["contacts"]
        assert count_rows(conn, exported, organization_id=org.id, since=None) == 1
        assert anonymous_id not in page_ids(
            conn, exported, organization_id=org.id, since=None, after_id=0, limit=100
        )
    headers = token(org.key)
    listed = client.get("/api/v2/contacts/", headers=headers).json()
    assert listed["count"] == 1
    assert client.get(f"/api/v2/contacts/{anonymous_id}/", headers=headers).status_code == 404
    assert client.get("/api/v2/contacts/?status=anonymous", headers=headers).status_code == 400
    patched = client.patch(
        f"/api/v2/contacts/{anonymous_id}/", json={"first_name": "X"}, headers=headers
    )
    assert patched.status_code == 404
    csv = client.get("/api/v2/export/contacts?format=csv", headers=headers).text
    assert len(csv.strip().splitlines()) == 2  # the header and carol
    # The feedback shows the answer, without a contact to follow.
    feedback = client.get("/api/v2/feedback/", headers=headers).json()["results"]
    assert [(f["channel"], f["contact"]["user_id"]) for f in feedback] == [("link", None)]


@pytest.fixture(params=["sql", "columns"])
def analytics(request: pytest.FixtureRequest, database: Database) -> Analytics:
    """Each question answered by SQL, and by the in-memory columns."""
    if request.param == "sql":
        return Analytics(None)
    return Analytics(AnalyticsCache(database, background=False))


def test_anonymous_link_answers_count_in_the_nps_with_their_channel(
    database: Database, org: Org, analytics: Analytics
) -> None:
    answer(database, org, "dan", 0, now=NOW - timedelta(hours=1))  # a detractor by email
    campaign = _campaign(database, org)
    for n, score in enumerate((10, 9, 10)):
        _answer(database, campaign, f"tok-{n}", score)
    try:
        for where, expected in (
            (None, (4, 3, 1)),
            ({"channel": "link"}, (3, 3, 0)),
            ({"channel": "email"}, (1, 0, 1)),
        ):
            query = NpsQuery(
                organization_id=org.id,
                where=None if where is None else parse_filter(where),
                since=NOW - timedelta(days=1),
                until=NOW + timedelta(days=1),
            )
            with database.read() as conn:
                report = analytics.nps(conn, scope(conn, query, now=NOW))
            got = (report.summary.responses, report.summary.promoters, report.summary.detractors)
            assert got == expected, where
    finally:
        analytics.close()


def test_the_link_key_is_made_rotated_removed_and_found(database: Database, org: Org) -> None:
    made = _campaign(database, org)
    assert made.link_key is not None and len(made.link_key) == 24
    with database.write() as conn:
        assert campaign_by_link_key(conn, made.link_key) == made
        rotated = set_link(conn, organization_id=org.id, campaign_id=made.id, now=NOW)
        assert rotated.link_key != made.link_key
        assert campaign_by_link_key(conn, made.link_key) is None
        removed = remove_link(conn, organization_id=org.id, campaign_id=made.id, now=NOW)
        assert removed.link_key is None
        assert campaign_by_link_key(conn, rotated.link_key or "") is None
        with pytest.raises(campaigns.NotFound):
            set_link(conn, organization_id=org.id + 1, campaign_id=made.id, now=NOW)


def test_promoter_campaign_link(run: Run, database: Database, org: Org) -> None:
    with database.read() as conn:
        [campaign] = campaigns.list_campaigns(conn, organization_id=org.id)
    ids = (str(org.id), str(campaign.id))
    first = run("campaign", "link", *ids).splitlines()
    assert first[0].startswith("http://127.0.0.1:8000/l/") and first[1].endswith("/qr.svg")
    assert run("campaign", "link", *ids).splitlines() == first  # shown again, not changed
    rotated = run("campaign", "link", *ids, "--rotate").splitlines()
    assert rotated[0] != first[0]
    assert "has no public link" in run("campaign", "link", *ids, "--off")
    assert "no campaign" in run("campaign", "link", str(org.id), "999", code=1)
    run("campaign", "link", *ids, "--rotate", "--off", code=2)
