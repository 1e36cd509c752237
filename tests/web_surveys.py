"""Web surveys for tests: an organization's web survey set up, a web campaign, and the
script's calls signed as a visitor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import orjson
from fastapi.testclient import TestClient

from promoter.websurveys.identity import sign_user
from tests.conftest import Org
from tests.credentials import basic, token
from tests.web.rest_api import call, default_campaign, ok

ORIGIN = "https://app.example.com"


@dataclass(frozen=True)
class Site:
    org: Org
    site_key: str
    secret: str

    def body(self, user_id: str, **fields: Any) -> dict[str, Any]:
        """A call's body as ``user_id``, signed."""
        return {
            "site_key": self.site_key,
            "user_id": user_id,
            "signature": sign_user(self.secret, user_id),
            **fields,
        }


def set_up_site(client: TestClient, org: Org, *, origins: tuple[str, ...] = (ORIGIN,)) -> Site:
    saved = client.put(
        "/api/v2/web-survey/",
        json={"allowed_origins": list(origins), "enabled": True},
        headers=token(org.key),
    )
    body = ok(saved)
    return Site(org, body["site_key"], body["identity_secret"])


def web_campaign(client: TestClient, org: Org, channel: str = "web", **fields: Any) -> int:
    """The organization's default campaign, made a ``channel`` campaign (it surveys on
    any track event)."""
    campaign = default_campaign(client, org)
    changed = call(
        client,
        org,
        "PATCH",
        f"/api/v2/campaigns/{campaign['id']}/",
        {"channel": channel, **fields},
    )
    ok(changed)
    return int(campaign["id"])


def identify_and_track(client: TestClient, org: Org, user_id: str, event: str = "Opened") -> None:
    """The customer's server, through Segment: the contact, then an event that triggers."""
    traits = {"email": f"{user_id}@example.com", "plan": "pro"}
    for path, body in (
        ("/v1/identify", {"userId": user_id, "traits": traits}),
        ("/v1/track", {"userId": user_id, "event": event}),
    ):
        sent = client.post(path, json=body, headers=basic(org.key))
        assert sent.status_code == 200, sent.text


def script_call(
    client: TestClient, path: str, body: dict[str, Any], *, origin: str | None = ORIGIN
) -> httpx.Response:
    """A call as the script makes it: JSON sent as text/plain from the page's origin."""
    headers = {"Content-Type": "text/plain;charset=UTF-8"}
    if origin is not None:
        headers["Origin"] = origin
    return client.post(f"/w/v1/{path}", content=orjson.dumps(body), headers=headers)
