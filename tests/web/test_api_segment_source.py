"""The Segment source's REST resource: settings saved, masked and checked (a clear 400,
never a 500), and the message log, each organization's own."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from promoter.services import Services
from tests.conftest import Org
from tests.credentials import token
from tests.surveys import answer

PATH = "/api/v2/segment-source/"
SOURCE = {"write_key": "wk_live_abcdef123456", "host": "https://api.segment.io"}


def test_settings_through_the_api(client: TestClient, org: Org) -> None:
    headers = token(org.key)
    assert client.get(PATH, headers=headers).status_code == 404
    saved = client.put(PATH, json=SOURCE, headers=headers)
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["write_key"] == "…3456" and "wk_live" not in saved.text
    assert body["events"] == ["Survey Sent", "Survey Responded", "Survey Comment Added"]
    assert body["identify"] is True and body["trait_prefix"] == "nps_" and body["enabled"]
    change = {"host": "https://api.segment.io/", "events": [], "enabled": False}
    changed = client.put(PATH, json=change, headers=headers)  # the key is kept
    assert changed.status_code == 200, changed.text
    assert changed.json()["write_key"] == "…3456" and changed.json()["enabled"] is False
    # The stored key is not sent to a new host: it must be given again.
    moved = {**change, "host": "https://hosted.rudderlabs.com/"}
    refused = client.put(PATH, json=moved, headers=headers)
    assert refused.status_code == 400 and "write_key" in refused.json()
    changed = client.put(PATH, json={**moved, "write_key": "rs_key_987654"}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["host"] == "https://hosted.rudderlabs.com"
    assert changed.json()["write_key"] == "…7654"
    assert client.get(PATH, headers=headers).json() == changed.json()
    assert client.delete(PATH, headers=headers).status_code == 204
    assert client.delete(PATH, headers=headers).status_code == 404
    assert client.get(PATH).status_code == 401


def test_bad_settings_get_a_clear_400(client: TestClient, org: Org) -> None:
    headers = token(org.key)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"host": "https://api.segment.io"}, "write_key"),
        ({**SOURCE, "host": "http://127.0.0.1:8000"}, "host"),
        ({**SOURCE, "host": "http://169.254.169.254"}, "host"),
        ({**SOURCE, "host": "not a url"}, "host"),
        ({**SOURCE, "events": ["Order Completed"]}, "events"),
        ({**SOURCE, "trait_prefix": "n p s"}, "trait_prefix"),
        ({**SOURCE, "write_key": "x" * 5000}, "write_key"),
        ({**SOURCE, "surprise": 1}, "surprise"),
        ({**SOURCE, "events": "Survey Sent"}, "events"),
    ]
    for body, field in cases:
        got = client.put(PATH, json=body, headers=headers)
        assert got.status_code == 400, (body, got.text)
        assert field in got.text, (body, got.text)
    assert client.put(PATH, content=b"{", headers=headers).status_code == 400
    assert client.get(PATH, headers=headers).status_code == 404


def test_the_message_log(client: TestClient, services: Services, org: Org, other_org: Org) -> None:
    headers = token(org.key)
    client.put(PATH, json=SOURCE, headers=headers)
    answer(services.database, org, "ann", 10, "Love it")
    log = client.get(PATH + "messages/", headers=headers).json()
    assert log["count"] == 3
    kinds = sorted(m["kind"] for m in log["results"])
    assert kinds == ["Survey Comment Added", "Survey Responded", "identify"]
    first = log["results"][0]
    assert first["status"] == "pending" and first["attempts"] == 0
    assert first["next_attempt_at"] and first["message"]["userId"] == "ann"
    assert client.get(PATH + "messages/?status=delivered", headers=headers).json()["count"] == 0
    assert client.get(PATH + "messages/?status=lost", headers=headers).status_code == 400
    page = client.get(PATH + "messages/?page_size=1", headers=headers).json()
    assert len(page["results"]) == 1 and page["next"]
    theirs = client.get(PATH + "messages/", headers=token(other_org.key)).json()
    assert theirs["count"] == 0 and "ann" not in str(theirs)
