"""An identify's ``context.traits`` count as traits on every way in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Org
from tests.credentials import basic
from tests.web.contacts_api import contacts

Send = Callable[[TestClient, Org, dict[str, Any]], httpx2.Response]


def _destination(client: TestClient, org: Org, message: dict[str, Any]) -> httpx2.Response:
    return client.post("/segment", json=message, headers=basic(org.key))


def _webhooks_batch(client: TestClient, org: Org, message: dict[str, Any]) -> httpx2.Response:
    return client.post("/segment", json=[message], headers=basic(org.key))


def _identify(client: TestClient, org: Org, message: dict[str, Any]) -> httpx2.Response:
    body = {k: v for k, v in message.items() if k != "type"}
    return client.post("/v1/identify", json=body, headers=basic(org.key))


def _batch(client: TestClient, org: Org, message: dict[str, Any]) -> httpx2.Response:
    return client.post("/v1/batch", json={"batch": [message], "writeKey": org.key})


def _import(client: TestClient, org: Org, message: dict[str, Any]) -> httpx2.Response:
    return client.post("/v1/import", json={"batch": [message]}, headers=basic(org.key))


WAYS: dict[str, Send] = {
    "segment": _destination,
    "segment-array": _webhooks_batch,
    "v1-identify": _identify,
    "v1-batch": _batch,
    "v1-import": _import,
}


@pytest.fixture(params=sorted(WAYS))
def send(request: pytest.FixtureRequest) -> Send:
    return WAYS[request.param]


def test_context_traits_alone_create_the_contact(
    client: TestClient, org: Org, other_org: Org, send: Send
) -> None:
    message = {
        "type": "identify",
        "userId": "rudder-1",
        "messageId": "m-1",
        "context": {
            "traits": {"email": "lily@example.com", "name": "Lily Aldrin", "plan": "Pro"},
            "library": {"name": "analytics-python"},
        },
    }
    response = send(client, org, message)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1, response.text
    (contact,) = contacts(client, org)
    assert contact["email"] == "lily@example.com"
    assert (contact["first_name"], contact["last_name"]) == ("Lily", "Aldrin")
    assert contact["attributes"] == {"plan": "Pro"}
    assert contacts(client, other_org) == []


def test_top_level_traits_win_and_nested_objects_merge(
    client: TestClient, org: Org, send: Send
) -> None:
    message = {
        "type": "identify",
        "userId": "rudder-2",
        "traits": {"plan": "Enterprise", "company": {"name": "Acme"}},
        "context": {
            "traits": {
                "email": "barney@example.com",
                "plan": "Free",
                "company": {"name": "Old Name", "seats": 40},
            }
        },
    }
    response = send(client, org, message)
    assert response.status_code == 200, response.text
    (contact,) = contacts(client, org)
    assert contact["email"] == "barney@example.com"
    assert contact["attributes"] == {
        "plan": "Enterprise",
        "company.name": "Acme",
        "company.seats": 40,
    }


def test_context_traits_not_an_object_are_refused_with_the_reason(
    client: TestClient, org: Org, send: Send
) -> None:
    message = {
        "type": "identify",
        "userId": "rudder-3",
        "traits": {"email": "robin@example.com"},
        "context": {"traits": "robin@example.com"},
    }
    response = send(client, org, message)
    reason = "`context.traits` must be an object"
    if send is _destination or send is _webhooks_batch:
        assert response.status_code == 400, response.text
        assert reason in response.json()["message"]
    else:  # the Tracking API answers a batch 200 and lists what it could not store
        assert response.status_code == 200, response.text
        (rejected,) = response.json()["rejected"]
        assert reason in rejected["reason"]
    assert contacts(client, org) == []
