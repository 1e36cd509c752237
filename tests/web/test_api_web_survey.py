"""The web survey's REST resource: settings saved and read back with the secret shown
once, rotations, clear 400s (never a 500), and each organization's own; a site key is
never an API key."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from promoter.services import Services
from promoter.websurveys.settings import site_by_key
from tests.conftest import Org
from tests.credentials import token

PATH = "/api/v2/web-survey/"
ORIGINS = {"allowed_origins": ["https://App.example.com:443", "http://localhost:3000"]}


def test_settings_through_the_api(client: TestClient, org: Org) -> None:
    headers = token(org.key)
    assert client.get(PATH, headers=headers).status_code == 404
    assert client.post(PATH + "rotate-secret/", headers=headers).status_code == 404
    assert client.post(PATH + "rotate-site-key/", headers=headers).status_code == 404
    created = client.put(PATH, json={**ORIGINS, "enabled": True}, headers=headers)
    assert created.status_code == 200, created.text
    body = created.json()
    secret = body["identity_secret"]
    assert secret.startswith("psi_") and len(secret) == 68
    assert body["site_key"].startswith("ps_") and body["enabled"] is True
    assert body["allowed_origins"] == ["https://app.example.com", "http://localhost:3000"]
    assert body["previous_secret_valid_until"] is None
    read = client.get(PATH, headers=headers).json()
    assert read["identity_secret"] == "…" + secret[-4:] and secret not in str(read)
    assert read["site_key"] == body["site_key"]
    changed = client.put(PATH, json={"allowed_origins": []}, headers=headers)
    assert changed.status_code == 200 and changed.json()["identity_secret"].startswith("…")
    assert changed.json()["enabled"] is False and changed.json()["allowed_origins"] == []

    rotated = client.post(PATH + "rotate-secret/", headers=headers)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["identity_secret"]
    assert new_secret.startswith("psi_") and new_secret != secret
    assert rotated.json()["previous_secret_valid_until"] is not None
    assert client.get(PATH, headers=headers).json()["identity_secret"] == "…" + new_secret[-4:]

    moved = client.post(PATH + "rotate-site-key/", headers=headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["site_key"] != body["site_key"]
    assert moved.json()["identity_secret"] == "…" + new_secret[-4:]
    assert client.get(PATH).status_code == 401


def test_bad_settings_get_a_clear_400(client: TestClient, org: Org) -> None:
    headers = token(org.key)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"allowed_origins": ["https://app.example.com/path"]}, "allowed_origins"),
        ({"allowed_origins": ["app.example.com"]}, "allowed_origins"),
        ({"allowed_origins": ["*"]}, "allowed_origins"),
        ({"allowed_origins": ["https://a.*.example.com"]}, "allowed_origins"),
        ({"allowed_origins": [f"https://s{n}.example" for n in range(51)]}, "allowed_origins"),
        ({"allowed_origins": ["https://" + "a" * 3000]}, "allowed_origins"),
        ({"allowed_origins": "https://app.example.com"}, "allowed_origins"),
        ({"allowed_origins": [1]}, "allowed_origins"),
        ({"enabled": "sometimes"}, "enabled"),
        ({"site_key": "ps_mine"}, "site_key"),
    ]
    for body, field in cases:
        got = client.put(PATH, json=body, headers=headers)
        assert got.status_code == 400, (body, got.text)
        assert field in got.text, (body, got.text)
    assert client.put(PATH, content=b"{", headers=headers).status_code == 400
    assert client.get(PATH, headers=headers).status_code == 404


def test_each_organization_has_its_own(
    client: TestClient, services: Services, org: Org, other_org: Org
) -> None:
    mine = client.put(PATH, json=ORIGINS, headers=token(org.key)).json()
    assert client.get(PATH, headers=token(other_org.key)).status_code == 404
    theirs = client.put(PATH, json={"allowed_origins": []}, headers=token(other_org.key)).json()
    assert theirs["site_key"] != mine["site_key"]
    assert theirs["identity_secret"] != mine["identity_secret"]
    assert client.post(PATH + "rotate-secret/", headers=token(other_org.key)).status_code == 200
    still = client.get(PATH, headers=token(org.key)).json()
    assert still["identity_secret"] == "…" + mine["identity_secret"][-4:]
    assert still["allowed_origins"] == ["https://app.example.com", "http://localhost:3000"]
    with services.database.read() as conn:
        found = site_by_key(conn, mine["site_key"])
        assert found is not None and found.organization_id == org.id
        assert site_by_key(conn, org.key) is None
    # A site key (or the secret) is never an API key.
    for wrong in (mine["site_key"], mine["identity_secret"]):
        assert client.get(PATH, headers=token(wrong)).status_code == 401
