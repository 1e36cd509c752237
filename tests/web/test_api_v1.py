"""Promoter's v1 paths answer like v2, in v1's shape, with v2's auth and errors."""

from __future__ import annotations

import random

import pytest
from fastapi.testclient import TestClient

from promoter.storage.engine import Database
from promoter.web.rest.v1 import v1_body, v2_path
from tests.analytics.dataset import build
from tests.conftest import Org
from tests.credentials import token


def test_v1_paths_map_to_v2() -> None:
    assert v2_path("/api/contacts/") == "/api/v2/contacts/"
    assert v2_path("/api/campaigns/3/send-surveys/") == "/api/v2/campaigns/3/send-surveys/"
    assert v2_path("/api/email/") == "/api/v2/email/"
    assert v2_path("/api/v2/contacts/") is None
    assert v2_path("/api/contactsx/") is None
    assert v2_path("/apis/contacts/") is None


def test_v1_metrics_are_strings_and_links_are_v1() -> None:
    body = b'{"count":1,"next":"http://x/api/v2/metrics/?page=2","results":[{"nps":42.5,"campaign_name":"A"}]}'
    assert v1_body("/api/v2/metrics/", body) == (
        b'{"count":1,"next":"http://x/api/metrics/?page=2",'
        b'"results":[{"nps":"42.5","campaign_name":"A"}]}'
    )


def test_v1_rewrites_links_and_never_data(client: TestClient, org: Org) -> None:
    contact = {
        "email": "see@example.com",
        "first_name": "see /api/v2/ here",
        "last_name": "http://x/api/v2/contacts/",
        "attributes": {"href": "/api/v2/mine", "next": "https://x/api/v2/"},
    }
    created = client.post("/api/contacts/", json=contact, headers=token(org.key))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["first_name"] == "see /api/v2/ here"
    assert body["last_name"] == "http://x/api/v2/contacts/"
    assert body["attributes"] == {"href": "/api/v2/mine", "next": "https://x/api/v2/"}
    assert "/api/v2/" not in body["href"] and "/api/contacts/" in body["href"]
    listed = client.get("/api/contacts/", headers=token(org.key)).json()["results"]
    assert [c["first_name"] for c in listed] == ["see /api/v2/ here"]
    assert listed[0]["attributes"]["href"] == "/api/v2/mine"
    assert "/api/v2/" not in listed[0]["href"]


@pytest.fixture
def data(database: Database, org: Org) -> None:
    build(database, org.id, random.Random(2), contacts_count=8, responses_count=20)


def test_v1_contacts_feedback_and_metrics(client: TestClient, org: Org, data: None) -> None:
    v2 = client.get("/api/v2/contacts/", headers=token(org.key)).json()
    v1 = client.get("/api/contacts/", headers=token(org.key)).json()
    assert v1["count"] == v2["count"] == 8
    for old, new in zip(v1["results"], v2["results"], strict=True):
        assert old == {**new, "href": new["href"].replace("/api/v2/", "/api/")}
    feedback = client.get("/api/feedback/", headers=token(org.key))
    assert feedback.status_code == 200 and feedback.json()["count"] == 20
    assert all("/api/v2/" not in item["href"] for item in feedback.json()["results"])
    metrics = client.get("/api/metrics/", headers=token(org.key)).json()
    first = metrics["results"][0]
    assert isinstance(first["nps"], str) and isinstance(first["campaign_name"], str)
    created = client.post(
        "/api/contacts/",
        json={"email": "old-script@example.com", "first_name": "Old"},
        headers=token(org.key),
    )
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "old-script@example.com"


def test_v1_keeps_v2s_auth_and_errors(client: TestClient, org: Org, other_org: Org) -> None:
    assert client.get("/api/contacts/").status_code == 401
    assert client.get("/api/contacts/", headers={"Authorization": "Token nope"}).status_code == 401
    mine = client.post("/api/contacts/", json={"email": "a@example.com"}, headers=token(org.key))
    contact_id = mine.json()["id"]
    assert (
        client.get(f"/api/contacts/{contact_id}/", headers=token(other_org.key)).status_code == 404
    )
    bad = client.post("/api/contacts/", json={"email": "not an address"}, headers=token(org.key))
    assert bad.status_code == 400 and "email" in bad.json()


def test_v1_survey_a_contact(client: TestClient, org: Org) -> None:
    campaigns = client.get("/api/v2/campaigns/", headers=token(org.key)).json()["results"]
    campaign_id = campaigns[0]["id"]
    sent = client.post(
        "/api/contacts/survey/",
        json={"email": "v1@example.com", "first_name": "Vee", "campaign": campaign_id},
        headers=token(org.key),
    )
    assert sent.status_code == 201, sent.text
    again = client.post(
        "/api/contacts/survey/",
        json={"email": "v1@example.com", "campaign": campaign_id},
        headers=token(org.key),
    )
    assert again.status_code == 400
    assert again.json()["non_field_errors"] == ["Contact is not eligible for survey."]
    broken = client.post("/api/contacts/survey/", content=b"{not json", headers=token(org.key))
    assert broken.status_code == 400
