"""The REST API as tests call it: a request with an organization's key, its checked answer."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from tests.conftest import Org
from tests.credentials import token


def call(
    client: TestClient, org: Org | None, method: str, path: str, body: Any = None, **kw: Any
) -> httpx.Response:
    headers = token(org.key) if org else {}
    return client.request(method, path, json=body, headers=headers, **kw)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def default_campaign(client: TestClient, org: Org) -> dict[str, Any]:
    found = ok(call(client, org, "GET", "/api/v2/campaigns/"))
    return dict(found["results"][0])
