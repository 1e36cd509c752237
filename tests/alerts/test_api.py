"""The alerts API: a check run now, the history, roles, bad input, and one organization
never seeing another's alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from promoter.domain.roles import Role
from promoter.orgs.service import create_api_key
from promoter.storage.engine import Database
from promoter.storage.tables import notice_emails, webhook_deliveries
from tests.alerts.planted import plant
from tests.conftest import Org
from tests.credentials import token


def test_a_check_now_raises_the_alert_once_and_lists_it_to_its_organization_only(
    client: TestClient, database: Database, org: Org, other_org: Org
) -> None:
    plant(database, org, until=datetime.now(UTC) - timedelta(seconds=1))
    checked = client.post("/api/v2/alerts/check/", headers=token(org.key))
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert body["scopes_checked"] == 4
    (alert,) = body["alerts"]
    assert alert["scope"]["name"] == "Enterprise" and alert["direction"] == "down"
    assert alert["checked_by"] == "manual"
    again = client.post("/api/v2/alerts/check/", headers=token(org.key))
    assert again.status_code == 200 and again.json()["alerts"] == []

    listed = client.get("/api/v2/alerts/", headers=token(org.key)).json()
    assert listed["count"] == 1 and [a["id"] for a in listed["results"]] == [alert["id"]]
    assert listed["results"][0] == alert
    theirs = client.get("/api/v2/alerts/", headers=token(other_org.key)).json()
    assert theirs == {"count": 0, "next": None, "previous": None, "results": []}
    other_check = client.post("/api/v2/alerts/check/", headers=token(other_org.key))
    assert other_check.status_code == 200 and other_check.json()["alerts"] == []


def test_too_few_answers_raise_no_alert_checking_is_an_admin_s_and_bad_input_is_a_4xx(
    client: TestClient, database: Database, org: Org
) -> None:
    plant(database, org, enterprise=20, free=20, until=datetime.now(UTC) - timedelta(seconds=1))
    checked = client.post("/api/v2/alerts/check/", headers=token(org.key))
    assert checked.status_code == 200 and checked.json()["scopes_checked"] == 4
    assert checked.json()["alerts"] == []  # 20 answers a window: Enterprise is not compared
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(webhook_deliveries)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(notice_emails)).scalar() == 0
    with database.write() as conn:
        reader = create_api_key(conn, organization_id=org.id, name="r", role=Role.READ_ONLY).key
        member = create_api_key(conn, organization_id=org.id, name="m", role=Role.MEMBER).key
    assert client.get("/api/v2/alerts/", headers=token(reader)).status_code == 200
    for key in (reader, member):
        refused = client.post("/api/v2/alerts/check/", headers=token(key))
        assert refused.status_code == 403 and "This API key is" in refused.json()["detail"]
    assert client.post("/api/v2/alerts/check/").status_code == 401
    for query in ("page=0", "page=x", "page_size=0", "page_size=501", "page=99999999999"):
        got = client.get(f"/api/v2/alerts/?{query}", headers=token(org.key))
        assert 400 <= got.status_code < 500, (query, got.status_code)
    beyond = client.get("/api/v2/alerts/?page=2", headers=token(org.key)).json()
    assert beyond["results"] == [] and beyond["count"] == 0
