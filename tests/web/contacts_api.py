"""The contacts as the REST API lists them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Org
from tests.credentials import token


def contacts(client: TestClient, org: Org, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v2/contacts/", params=params, headers=token(org.key))
    assert response.status_code == 200, response.text
    return response.json()["results"]  # type: ignore[no-any-return]
