"""Segment's POSTs answered past the router: the same answers as through it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from promoter.app import create_app
from promoter.services import Services
from promoter.storage.tables import processed_messages
from tests.conftest import Org
from tests.credentials import basic


def _post(services: Services, path: str, headers: dict[str, str], chunks: list[bytes]) -> Any:
    """POST ``chunks`` of a body to the app as an ASGI call, then the client leaves."""
    app = create_app(services)
    messages = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    messages.append({"type": "http.disconnect"})
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


@pytest.mark.parametrize("path", ["/segment", "/v1/track"])
def test_a_client_leaving_mid_body_gets_400_and_nothing_is_stored(
    services: Services, org: Org, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="promoter.web")
    headers = basic(org.key) | {"content-type": "application/json"}
    sent = _post(services, path, headers, [b'{"userId": "u1", "event": "Sig'])
    assert sent[0]["status"] == 400
    assert f"left before sending the whole body of POST {path}" in caplog.text
    with services.database.read() as conn:
        assert conn.scalar(select(func.count()).select_from(processed_messages)) == 0


def test_other_methods_and_paths_still_go_through_the_router(client: TestClient, org: Org) -> None:
    assert client.get("/segment", headers=basic(org.key)).status_code == 405
    assert client.put("/v1/track", headers=basic(org.key), json={}).status_code == 405
    response = client.post(
        "/v1/track",
        headers=basic(org.key),
        json={"userId": "u1", "event": "Signed Up", "messageId": "m-1"},
    )
    assert response.status_code == 200 and response.json()["accepted"] == 1
    again = client.post(
        "/v1/track",
        headers=basic(org.key),
        json={"userId": "u1", "event": "Signed Up", "messageId": "m-1"},
    )
    assert again.status_code == 200 and again.json()["duplicates"] == 1


def test_an_unexpected_error_is_a_500_and_raised_to_the_server(
    services: Services, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the app's stack gives any other path: a plain 500, the exception raised on for
    the server to log with its traceback."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(services.ingestor, "apply_requests", broken)
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        for path in ("/segment", "/v1/track", "/v1/batch"):
            body = {"type": "track", "userId": "u1", "event": "Signed Up", "messageId": path}
            if path == "/v1/batch":
                body = {"batch": [body]}
            response = client.post(path, headers=basic(org.key), json=body)
            assert response.status_code == 500, path
            assert response.text == "Internal Server Error"
    with TestClient(create_app(services)) as client, pytest.raises(RuntimeError, match="a bug"):
        client.post(
            "/v1/track",
            headers=basic(org.key),
            json={"userId": "u1", "event": "Signed Up", "messageId": "m-2"},
        )
