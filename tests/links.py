"""Public links for tests: made through the API, their page's form, answers sent to them."""

from __future__ import annotations

import re
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from promoter.storage.engine import Database
from promoter.storage.tables import contacts, responses, surveys
from promoter.websurveys.identity import sign_user
from tests.conftest import Org
from tests.credentials import token
from tests.web.rest_api import default_campaign

NONCE = re.compile(r'name="nonce" value="([^"]+)"')


def make_link(client: TestClient, org: Org, campaign_id: int | None = None) -> str:
    """The path (``/l/<key>``) of a new public link of the campaign (default: the
    organization's first)."""
    if campaign_id is None:
        campaign_id = default_campaign(client, org)["id"]
    made = client.post(f"/api/v2/campaigns/{campaign_id}/link/", headers=token(org.key))
    assert made.status_code == 200, made.text
    url: str = made.json()["url"]
    return url.removeprefix("http://testserver")


def identity_secret(client: TestClient, org: Org) -> str:
    """The organization's web survey identity secret (its settings made now)."""
    saved = client.put("/api/v2/web-survey/", json={"allowed_origins": []}, headers=token(org.key))
    assert saved.status_code in (200, 201), saved.text
    secret: str = saved.json()["identity_secret"]
    return secret


def signed_query(secret: str, user_id: str) -> str:
    return f"?u={user_id}&sig={sign_user(secret, user_id)}"


def nonce_of(page: httpx.Response) -> str:
    found = NONCE.search(page.text)
    assert found, page.text
    return found.group(1)


def answer_link(
    client: TestClient, link: str, score: int | str, query: str = "", **fields: Any
) -> httpx.Response:
    """Open the link's page and send its form with ``score`` (and ``fields``), not
    following the redirect."""
    page = client.get(link + query, follow_redirects=False)
    assert page.status_code == 200, page.text
    form = {"score": str(score), "nonce": nonce_of(page), "website": "", **fields}
    for name in ("u", "sig"):
        found = re.search(f'name="{name}" value="([^"]*)"', page.text)
        if found:
            form.setdefault(name, found.group(1))
    return client.post(link, data=form, follow_redirects=False)


def link_answers(database: Database) -> list[Any]:
    """Every response on the link channel, with its contact's status and userId and its
    survey's attributes, oldest first."""
    with database.read() as conn:
        return list(
            conn.execute(
                select(
                    responses.c.id,
                    responses.c.score,
                    responses.c.channel,
                    responses.c.contact_snapshot,
                    contacts.c.id.label("contact_id"),
                    contacts.c.status,
                    contacts.c.user_id,
                    surveys.c.attributes,
                    surveys.c.channel.label("survey_channel"),
                )
                .join(contacts, contacts.c.id == responses.c.contact_id)
                .join(surveys, surveys.c.id == responses.c.survey_id)
                .where(responses.c.channel == "link")
                .order_by(responses.c.id)
            )
        )
