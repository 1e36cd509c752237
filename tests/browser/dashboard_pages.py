"""Every page of the dashboard, for the walk that looks at all of them (test_layout.py).

The pages are the GET routes the app serves from ``promoter.web.dashboard``: each is
either in ``PAGES`` (the URL that shows it, its path parameters filled with ids of the
seeded data by ``example_ids``) or in ``EXCLUDED`` with the reason it is not a page. A
route in neither fails ``unlisted``, so a new page cannot be forgotten.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx2
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import func, select

from promoter.storage.engine import Database
from promoter.storage.tables import campaigns, responses
from promoter.webhooks.subscriptions import create_subscription
from promoter.webhooks.targets import TargetPolicy
from tests.analytics.theme_rows import a_theme
from tests.conftest import Org
from tests.credentials import basic
from tests.e2e.conftest import ServerProcess

DASHBOARD = "promoter.web.dashboard"
HERE = "tests/browser/dashboard_pages.py"

#: Each page's route and the URL visited (``{name}``: an id from ``example_ids``).
PAGES = {
    "/login": "/login",
    "/": "/?range=all",
    "/breakdown": "/breakdown?range=all&by=plan",
    "/drivers": "/drivers?range=all",
    "/keywords": "/keywords?range=all",
    "/themes": "/themes?range=all",
    "/themes/{theme_id}": "/themes/{theme_id}?range=all",
    "/feedback": "/feedback?range=all",
    "/feedback/{response_id}": "/feedback/{response_id}",
    "/contacts": "/contacts",
    "/contacts/{contact_id}": "/contacts/{contact_id}",
    "/campaigns": "/campaigns",
    "/campaigns/new": "/campaigns/new",
    "/campaigns/{campaign_id}": "/campaigns/{campaign_id}",
    "/campaigns/{campaign_id}/preview": "/campaigns/{campaign_id}/preview",
    "/settings/segment": "/settings/segment",
    "/settings/segment-source": "/settings/segment-source",
    "/settings/web-survey": "/settings/web-survey",
    "/settings/webhooks": "/settings/webhooks",
    "/settings/webhooks/{webhook_id}": "/settings/webhooks/{webhook_id}",
    "/settings/users": "/settings/users",
    "/alerts": "/alerts",
    "/outbox": "/outbox",
    "/outbox/{name}": "/outbox/{name}",
}
#: The dashboard's GET routes that are not pages, and why.
EXCLUDED = {
    "/favicon.ico": "the icon",
    "/filter": "a redirect to the page that holds the filter",
    "/filter/values": "the JSON the filter builder's value suggestions are read from",
    "/feedback/export.csv": "a CSV download",
    "/campaigns/{campaign_id}/preview/email": "the email's HTML, framed by the preview page",
    "/outbox/{name}/html": "an email's HTML part, framed by the message page",
    "/settings/segment/received": "the table the Segment settings page refreshes in place",
    "/invite/{token}": "an invitation's page, reached by its one-time link (test_roles.py)",
}


def dashboard_routes(app: FastAPI) -> set[str]:
    """The paths of the GET routes the dashboard serves."""
    return {
        str(context.path)
        for context in iter_route_contexts(app.routes)
        if "GET" in (context.methods or ())
        and getattr(context.endpoint, "__module__", "").startswith(DASHBOARD)
    }


def unlisted(app: FastAPI) -> list[str]:
    """What is wrong with ``PAGES`` and ``EXCLUDED`` for the routes ``app`` serves."""
    served = dashboard_routes(app)
    listed = PAGES.keys() | EXCLUDED.keys()
    problems = []
    if new := sorted(served - listed):
        problems.append(
            f"dashboard pages that no walk visits: {new}. Add each to PAGES in {HERE} (its "
            "path parameters filled by example_ids), or to EXCLUDED with why it is no page."
        )
    if gone := sorted(listed - served):
        problems.append(f"{HERE} lists routes the dashboard no longer serves: {gone}")
    if both := sorted(PAGES.keys() & EXCLUDED.keys()):
        problems.append(f"{HERE} both visits and excludes {both}")
    return problems


def page_name(route: str) -> str:
    """A file name for the route's screenshots: ``/contacts/{contact_id}`` -> ``contacts-id``."""
    parts = [part if "{" not in part else "id" for part in route.strip("/").split("/")]
    return "-".join(parts) or "overview"


def send_a_survey(site: ServerProcess, org: Org) -> None:
    """An identify and a track that the seeded campaign answers with a survey email (the
    server's worker writes it to its mail folder)."""
    traits = {"email": "walker@example.com", "firstName": "Wendy", "plan": "Pro"}
    batch = [
        {"type": "identify", "userId": "walker", "traits": traits},
        {"type": "track", "userId": "walker", "event": "Signed Up"},
    ]
    sent = httpx2.post(f"{site.url}/v1/batch", json={"batch": batch}, headers=basic(org.key))
    assert sent.status_code == 200, sent.text


def example_ids(database: Database, org: Org, mail_dir: Path) -> dict[str, str]:
    """An id of the seeded data for each path parameter of ``PAGES``: the newest answer
    with a comment and its contact, the first campaign, a webhook made here, and the
    email ``send_a_survey`` had written (waited for)."""
    with database.write() as conn:
        answered = responses.c.organization_id == org.id, responses.c.comment.is_not(None)
        response_id = conn.scalar(select(func.max(responses.c.id)).where(*answered))
        contact_id = conn.scalar(
            select(responses.c.contact_id).where(responses.c.id == response_id)
        )
        mine = campaigns.c.organization_id == org.id
        campaign_id = conn.scalar(select(func.min(campaigns.c.id)).where(mine))
        webhook = create_subscription(
            conn,
            organization_id=org.id,
            events=["feedback.added_or_changed"],
            target_url="https://hooks.example.com/promoter",
            now=datetime.now(UTC),
            policy=TargetPolicy(),
        )
        theme_id = a_theme(conn, org.id, response_id, "price · cost")
    deadline = time.monotonic() + 30
    while not (emails := sorted(mail_dir.glob("*.eml"))) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert emails, f"no survey email was written to {mail_dir}"
    return {
        "response_id": str(response_id),
        "contact_id": str(contact_id),
        "campaign_id": str(campaign_id),
        "webhook_id": str(webhook.id),
        "theme_id": str(theme_id),
        "name": emails[0].name,
    }
