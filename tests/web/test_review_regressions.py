"""Bad input that once reached a 500, and links that once followed the Host header."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi.testclient import TestClient

from promoter.app import create_app
from promoter.config import Settings
from promoter.orgs.service import set_webhook_secret
from promoter.services import Services
from promoter.storage.engine import Database
from tests.conftest import Org
from tests.credentials import basic, token
from tests.web.contacts_api import contacts


def test_non_ascii_credentials_are_refused_not_crashed(
    client: TestClient, database: Database, org: Org
) -> None:
    body = b'{"type":"identify","userId":"u","traits":{"email":"u@x.co"}}'
    for path in ("/segment", "/v1/identify", "/api/v2/contacts/"):
        headers = {"Authorization": b"Basic \xc3\xa9"}
        if path.startswith("/api"):
            response = client.get(path, headers=headers)
        else:
            response = client.post(path, content=body, headers=headers)
        assert response.status_code == 401, (path, response.text)
    with database.write() as conn:
        set_webhook_secret(conn, organization_id=org.id, secret="s")
    settings = client.app.state.services.settings  # type: ignore[attr-defined]
    uncached = Services.build(settings.model_copy(update={"key_cache_seconds": 0}), database)
    with TestClient(create_app(uncached)) as fresh:
        response = fresh.post(
            "/segment",
            content=body,
            headers={**basic(org.key), "X-Signature": "é".encode()},
        )
        assert response.status_code == 401
        good = hmac.new(b"s", body, hashlib.sha1).hexdigest()
        response = fresh.post(
            "/segment", content=body, headers={**basic(org.key), "X-Signature": good}
        )
        assert response.status_code == 200


def test_large_and_integral_numbers(client: TestClient, org: Org) -> None:
    traits: dict[str, Any] = {"email": "n@x.co", "big": 1e20, "seats": 12.0, "tiny": 0.5}
    r = client.post("/v1/identify", json={"userId": "n", "traits": traits}, headers=basic(org.key))
    assert r.status_code == 200
    (contact,) = contacts(client, org)
    assert contact["attributes"] == {"big": 1e20, "seats": 12, "tiny": 0.5}
    assert [c["user_id"] for c in contacts(client, org, **{"attributes[seats]": "12"})] == ["n"]


def test_out_of_range_numbers_in_urls_are_400(client: TestClient, org: Org) -> None:
    auth = token(org.key)
    for url in (
        "/api/v2/contacts/99999999999999999999/",
        "/api/v2/contacts/?page=99999999999999999999",
        "/api/v2/contacts/?contact_list__id=99999999999",
        "/api/v2/contacts/0/events/",
    ):
        assert client.get(url, headers=auth).status_code == 400, url


def test_rejected_message_does_not_use_up_its_message_id(client: TestClient, org: Org) -> None:
    message = {"type": "identify", "userId": "late", "messageId": "fix-me", "traits": {}}
    r = client.post("/v1/batch", json={"batch": [message]}, headers=basic(org.key))
    assert r.json()["rejected"][0]["messageId"] == "fix-me"
    message["traits"] = {"email": "late@x.co"}
    r = client.post("/v1/batch", json={"batch": [message]}, headers=basic(org.key))
    assert r.json()["accepted"] == 1


def test_destination_arrays_are_capped(client: TestClient, org: Org) -> None:
    batch = [{"type": "track", "userId": "u", "event": "E"}] * 2501
    r = client.post("/segment", json=batch, headers=basic(org.key))
    assert r.status_code == 400 and "2500" in r.json()["message"]


def test_links_use_the_configured_base_url_not_the_host_header(
    settings: Settings, database: Database, org: Org
) -> None:
    configured = settings.model_copy(update={"base_url": "https://nps.example.com"})
    with TestClient(create_app(Services.build(configured, database))) as client:
        for i in range(3):
            client.post(
                "/v1/identify",
                json={"userId": f"u{i}", "traits": {"email": f"u{i}@x.co"}},
                headers=basic(org.key),
            )
        page = client.get(
            "/api/v2/contacts/?page_size=1",
            headers={**token(org.key), "Host": "evil.example"},
        ).json()
    assert page["next"].startswith("https://nps.example.com/api/v2/contacts/?")
    assert page["results"][0]["href"].startswith("https://nps.example.com/api/v2/contacts/")


def test_a_segment_number_beyond_any_id_is_a_name_not_a_500(client: TestClient, org: Org) -> None:
    response = client.get(
        "/api/v2/nps/",
        params={"segment": str(2**64)},
        headers=token(org.key),
    )
    assert response.status_code == 400
    assert "no segment" in response.json()["detail"]
