"""Settings > Segment source: the form (masked key, checked values, CSRF) and the log,
each organization's own."""

from __future__ import annotations

from fastapi.testclient import TestClient

from promoter.services import Services
from tests.conftest import Org
from tests.dashboard.conftest import Browser, add_user, sign_in
from tests.surveys import answer

SOURCE = {"write_key": "wk_live_abcdef123456", "host": "https://api.segment.io"}


def test_the_dashboard_page(browser: Browser, services: Services) -> None:
    page = browser.client.get("/settings/segment-source")
    assert page.status_code == 200 and "No messages yet" in page.text
    form = {**SOURCE, "events": ["Survey Responded"], "identify": "on", "trait_prefix": "nps_"}
    assert browser.post("/settings/segment-source", {**form, "enabled": "on"}).status_code == 303
    page = browser.client.get("/settings/segment-source?done=saved")
    assert "…3456" in page.text and "wk_live_abcdef123456" not in page.text
    bad = browser.post("/settings/segment-source", {**form, "host": "http://10.0.0.1"})
    assert bad.status_code == 400 and "private address" in bad.text  # type: ignore[attr-defined]
    answer(services.database, browser.org, "ann", 10)
    page = browser.client.get("/settings/segment-source")
    assert "Survey Responded" in page.text and "<code>ann</code>" in page.text
    forged = browser.client.post(
        "/settings/segment-source/delete", data={"csrf": "nope"}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert browser.post("/settings/segment-source/delete").status_code == 303
    assert "No messages yet" not in browser.client.get("/settings/segment-source").text


def test_another_organization_sees_nothing(
    app_client: TestClient, services: Services, browser: Browser, other_org: Org
) -> None:
    browser.post("/settings/segment-source", {**SOURCE, "identify": "on", "enabled": "on"})
    answer(services.database, browser.org, "ann", 10)
    add_user(services, other_org, "bea@globex.example")
    with TestClient(app_client.app) as other:
        sign_in(other, "bea@globex.example")
        page = other.get("/settings/segment-source")
    assert page.status_code == 200 and "No messages yet" in page.text
    assert "…3456" not in page.text and "ann" not in page.text
