"""Organizations never reach each other's data, on any route of the app.

``ROUTES`` names every route the app serves and how it is probed: a route it does not
name fails ``test_every_route_is_in_the_table``. Organization A owns one of everything,
each with ``MARK`` in it (``A_IDS`` says which of A's resources each path parameter
names; ``_a_owns_everything`` makes them). Organization B, with its own key and a
signed-in user, then tries every route on A's ids: 404, the very answer an id nobody has
gets, and A's rows unchanged. Every listing, search, export and form answers B without
any of A's data. A gets through on the same requests, so that no 404 is an accident of
the probe. The v1 paths get the same sweep, and a revoked key gets 401 everywhere.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus

import httpx2 as httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import false, select, true, update

from promoter.accounts.invites import create_invite
from promoter.accounts.users import create_user
from promoter.app import create_app
from promoter.config import Settings
from promoter.domain.roles import Role
from promoter.orgs.keys import visible_prefix
from promoter.orgs.service import create_api_key
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import (
    contact_lists,
    contacts,
    list_memberships,
    metadata,
    organizations,
    surveys,
    user_sessions,
    users,
)
from promoter.web.rest.v1 import V1_RESOURCES, V1_SURVEY
from promoter.webhooks.events import FEEDBACK_ADDED_OR_CHANGED, emit
from tests.analytics.theme_rows import a_theme
from tests.conftest import Org, make_org
from tests.credentials import token
from tests.dashboard.campaign_form import every_setting
from tests.dashboard.conftest import PASSWORD, add_user, sign_in
from tests.receiver import Receiver
from tests.web.routes import app_routes

#: In everything A owns; lower case, as emails and tags are kept.
MARK = "qx7isolated"
#: What stands for ``MARK`` in the same request about nobody's data.
NOBODY_MARK = "zz9nobody"
A_USER = f"{MARK}-user"
A_EMAIL = f"{MARK}@example.com"
A_ATTRIBUTE = f"{MARK}_seats"

#: Each path parameter (and query placeholder) and the resource of A's it names.
A_IDS = {
    "contact_id": "the contact A's Tracking API identify made",
    "list_id": "a list A made through the API, with that contact on it",
    "campaign_id": "A's campaign, renamed through the API",
    "template_id": "that campaign's email template",
    "segment_id": "a segment A saved through the API",
    "segment_name": "its name",
    "rule_id": "a keyword rule A saved through the API",
    "theme_id": "a theme of A's answer, renamed through the API (written to the database)",
    "feedback_id": "the answer A's contact gave on the survey page",
    "response_id": "the same answer (the dashboard's name for it)",
    "tag": "a tag A put on it through the API",
    "webhook_id": "A's webhook, made through the API",
    "delivery_id": "a delivery of it (the answer emitted it)",
    "key_id": "an API key of A's, made through the service",
    "user_id": "a member of A's (not the user A signs in as)",
    "invite_id": "an invitation of A's, waiting",
    "name": "the file the delivery worker wrote A's survey email to",
}
#: Of B's own (the other ids of paths naming two, bodies naming B's template).
B_IDS = (
    "b_list_id",
    "b_contact_id",
    "b_webhook_id",
    "b_delivery_id",
    "b_template_id",
    "b_campaign_id",
)
MIXABLE = ("list_id", "contact_id", "webhook_id", "delivery_id")

Body = Mapping[str, Any] | Callable[[dict[str, str]], Mapping[str, Any]] | None


@dataclass(frozen=True)
class Owned:
    """A route naming A's resources: B gets 404 for each body and each ``fixed`` set of
    the path's other parts."""

    bodies: tuple[Body, ...] = (None,)
    fixed: tuple[dict[str, str], ...] = ({},)


@dataclass(frozen=True)
class Ask:
    """A request to an organization-wide route. ``{name}`` in ``query`` and in the string
    values of ``body`` stand for A's ids. B gets ``status`` and nothing of A's; when the
    request names A's things, B's answer is the one it gets about nobody's. ``shows``: A's
    own answer holds ``MARK`` (so the check could fail)."""

    query: str = ""
    body: Body = None
    status: int = 200
    shows: bool = False
    path: str | None = None


@dataclass(frozen=True)
class Listing:
    asks: tuple[Ask, ...] = (Ask(),)


@dataclass(frozen=True)
class Ingest:
    """A Segment or Tracking API message of B's naming A's user and email."""

    body: Mapping[str, Any]


@dataclass(frozen=True)
class Elsewhere:
    """Not an organization's route; ``why`` says where it is tested."""

    why: str


Probe = Owned | Listing | Ingest | Elsewhere

OWNED = Owned()
SURVEY_PAGE = Elsewhere("reached by survey token, not by key: tests/web/test_survey_tokens.py")
LINK_PAGE = Elsewhere("reached by a campaign's link key, not by key: tests/web/test_link_pages.py")
SIGN_IN = Elsewhere("signing in and out: tests/dashboard/test_auth.py")
WEB_SURVEY = Elsewhere(
    "reached by site key and a signed userId, not by API key: "
    "tests/web/test_web_survey_api.py (another organization's visitor and survey)"
)
TRAITS = {"email": A_EMAIL, "firstName": "Bea", "plan": "globex"}
ORDER = {"order_id": f"{MARK}-order", "total": 10}
FILTER = {"attribute": "plan", "value": MARK}
B_FILTER = {"attribute": "plan", "value": "globex"}
TEMPLATE = {"name": "T", "subject": "S?", "from_name": "F", "company_brand_product_name": "B"}
B_SOURCE = {"write_key": "wk_globex", "host": "https://b.example"}
NEW_HOOK = {"event": FEEDBACK_ADDED_OR_CHANGED, "target_url": "https://b.example/hook"}
#: The dashboard's webhook form (adding one, changing one).
HOOK_FORM = {"events": FEEDBACK_ADDED_OR_CHANGED, "target_url": "https://b.example/hook"}


def _campaign_put(ids: dict[str, str]) -> dict[str, Any]:
    return {"name": "Renamed", "email": int(ids["template_id"])}


def _campaign_form(ids: dict[str, str]) -> dict[str, Any]:
    return every_setting(int(ids["list_id"]))


def _shows(*queries: str) -> tuple[Ask, ...]:
    return tuple(Ask(query, shows=True) for query in queries)


def _refused(*queries: str, status: int = 400) -> tuple[Ask, ...]:
    return tuple(Ask(query, status=status) for query in queries)


#: B has contacts of its own: their export has rows (none of A's: none shows ``MARK``).
_B_HAS_ROWS = "/api/v2/export/contacts?"
#: Exported tables whose rows hold ``MARK`` (a survey's row holds only ids and times).
_MARKED = ("contacts", "responses", "events")

ROUTES: dict[tuple[str, str], Probe] = {
    ("GET", "/openapi.json"): Listing(),
    ("GET", "/docs"): Listing(),
    ("GET", "/docs/assets/{name}"): Listing((Ask(path="/docs/assets/swagger-ui.css"),)),
    ("GET", "/redoc"): Listing((Ask(status=307),)),  # to /docs
    ("GET", "/health"): Listing(),
    ("GET", "/favicon.ico"): Listing(),
    ("GET", "/static"): Listing((Ask(path="/static/favicon.svg"),)),
    # Segment and the Tracking API
    ("POST", "/segment"): Ingest({"type": "identify", "userId": A_USER, "traits": TRAITS}),
    ("POST", "/v1/batch"): Ingest(
        {"batch": [{"type": "track", "userId": A_USER, "event": "Signed Up"}]}
    ),
    ("POST", "/v1/import"): Ingest({"batch": [{"type": "identify", "userId": A_USER}]}),
    ("POST", "/v1/identify"): Ingest({"userId": A_USER, "traits": TRAITS}),
    ("POST", "/v1/track"): Ingest(
        {"userId": A_USER, "event": "Order Completed", "properties": ORDER}
    ),
    ("POST", "/v1/page"): Ingest({"userId": A_USER, "name": "Home"}),
    ("POST", "/v1/screen"): Ingest({"userId": A_USER, "name": "Home"}),
    ("POST", "/v1/group"): Ingest({"userId": A_USER, "groupId": MARK, "traits": {"plan": "b"}}),
    ("POST", "/v1/alias"): Ingest({"previousId": A_USER, "userId": "bea"}),
    # Contacts
    ("GET", "/api/v2/contacts/"): Listing(
        (
            *_shows("", f"email={A_EMAIL}", f"user_id={A_USER}", f"userId={A_USER}"),
            *_shows("list={list_id}", "contact_list__id={list_id}", f"attributes[plan]={MARK}"),
            *_shows(f"attributes[{A_ATTRIBUTE}]=4", f"email={A_EMAIL.upper()}"),
        )
    ),
    ("GET", "/api/v2/contacts/{contact_id}/"): OWNED,
    ("GET", "/api/v2/contacts/{contact_id}/events/"): OWNED,
    ("GET", "/api/v2/contacts/{contact_id}/orders/"): OWNED,
    ("POST", "/api/v2/contacts/"): Listing(
        (
            Ask(body={"email": "new@b.example", "contact_list": ["{list_id}"]}, status=400),
            Ask(
                body={"email": "new@b.example", "contact_lists": [{"id": "{list_id}"}]}, status=400
            ),
            Ask(
                body={"email": "n@b.example", "send": True, "campaign": "{campaign_id}"}, status=400
            ),
        )
    ),
    ("PUT", "/api/v2/contacts/{contact_id}/"): Owned(({"email": A_EMAIL, "first_name": "B"},)),
    ("PATCH", "/api/v2/contacts/{contact_id}/"): Owned(
        ({"first_name": "B"}, {"status": "inactive"})
    ),
    ("POST", "/api/v2/contacts/remove/"): Listing((Ask(body={"email": A_EMAIL}, status=404),)),
    ("DELETE", "/api/v2/contacts/{contact_id}/"): OWNED,
    # Lists
    ("GET", "/api/v2/lists/"): Listing(_shows("")),
    ("POST", "/api/v2/lists/"): Listing((Ask(body={"name": "Globex list 2"}, status=201),)),
    ("GET", "/api/v2/lists/{list_id}/"): OWNED,
    ("PATCH", "/api/v2/lists/{list_id}/"): Owned(({"name": "Renamed"},)),
    ("PUT", "/api/v2/lists/{list_id}/"): Owned(({"name": "Renamed"},)),
    ("DELETE", "/api/v2/lists/{list_id}/"): OWNED,
    ("GET", "/api/v2/lists/{list_id}/contacts/"): OWNED,
    ("POST", "/api/v2/lists/{list_id}/contacts/"): Owned(({"email": "new@b.example"},)),
    ("DELETE", "/api/v2/lists/{list_id}/contacts/{contact_id}/"): OWNED,
    # Surveys, campaigns, email templates
    ("POST", "/api/v2/survey/"): Listing(
        (
            Ask(
                body={"campaign_id": "{campaign_id}", "contact": {"email": "n@b.example"}},
                status=400,
            ),
        )
    ),
    ("POST", "/api/v2/campaigns/{campaign_id}/send-surveys/"): Owned(({"all_contacts": True},)),
    ("GET", "/api/v2/campaigns/"): Listing(_shows("", "status=active")),
    ("POST", "/api/v2/campaigns/"): Listing(
        (
            Ask(body={"name": "B", "email": "{template_id}"}, status=400),
            Ask(body={"name": "B", "email_template_id": "{template_id}"}, status=400),
            Ask(
                body={"name": "B", "email": "{b_template_id}", "contact_list": "{list_id}"},
                status=400,
            ),
        )
    ),
    ("GET", "/api/v2/campaigns/{campaign_id}/"): OWNED,
    ("PATCH", "/api/v2/campaigns/{campaign_id}/"): Owned(({"name": "Renamed"},)),
    ("PUT", "/api/v2/campaigns/{campaign_id}/"): Owned((_campaign_put,)),
    ("POST", "/api/v2/campaigns/{campaign_id}/pause/"): OWNED,
    ("POST", "/api/v2/campaigns/{campaign_id}/resume/"): OWNED,
    ("POST", "/api/v2/campaigns/{campaign_id}/complete/"): OWNED,
    ("POST", "/api/v2/campaigns/{campaign_id}/link/"): OWNED,
    ("DELETE", "/api/v2/campaigns/{campaign_id}/link/"): OWNED,
    ("GET", "/api/v2/email/"): Listing(_shows("")),
    ("POST", "/api/v2/email/"): Listing((Ask(body=TEMPLATE, status=201),)),
    ("GET", "/api/v2/email/{template_id}/"): OWNED,
    ("PATCH", "/api/v2/email/{template_id}/"): Owned(({"subject": "Changed?"},)),
    ("PUT", "/api/v2/email/{template_id}/"): Owned((TEMPLATE,)),
    # A JSON body: B is answered 404 before it is read, A 415 (tests/web/test_logos.py
    # uploads images).
    ("PUT", "/api/v2/email/{template_id}/logo/"): OWNED,
    ("DELETE", "/api/v2/email/{template_id}/logo/"): OWNED,
    # Metrics, suppressions, analytics, segments
    ("GET", "/api/v2/metrics/"): Listing(
        (
            *_shows(""),
            *_refused("campaign={campaign_id}", "survey__campaign={campaign_id}", status=404),
        )
    ),
    ("GET", "/api/v2/unsubscribes/"): Listing(_shows("", f"email={MARK}-gone@example.com")),
    ("POST", "/api/v2/unsubscribes/"): Listing((Ask(body={"email": A_EMAIL}, status=400),)),
    ("GET", "/api/v2/bounces/"): Listing(_shows("", f"email={MARK}-bounced@example.com")),
    ("GET", "/api/v2/nps/"): Listing(
        (
            Ask(),
            Ask("campaign={campaign_id}"),
            *_refused("segment={segment_id}", "segment={segment_name}"),
        )
    ),
    ("GET", "/api/v2/nps/trend/"): Listing(
        (
            Ask(),
            Ask("campaign={campaign_id}"),
            *_refused("segment={segment_id}", "segment={segment_name}"),
        )
    ),
    ("GET", "/api/v2/nps/breakdown/"): Listing(
        (
            *_shows("by=plan", "by=plan&campaign={campaign_id}", "by=plan&tag={tag}"),
            Ask(f"by={A_ATTRIBUTE}"),
        )
    ),
    ("GET", "/api/v2/analytics/drivers/"): Listing(
        (Ask("by=plan"), Ask(f"by={A_ATTRIBUTE}"), Ask("by=plan&campaign={campaign_id}"))
    ),
    ("GET", "/api/v2/analytics/keywords/"): Listing(
        (Ask(), Ask("campaign={campaign_id}"), *_refused("segment={segment_id}"))
    ),
    ("GET", "/api/v2/analytics/keywords/rules/"): Listing(_shows("")),
    ("POST", "/api/v2/analytics/keywords/rules/"): Listing(
        (Ask(body={"keyword": "globex", "action": "hide"}, status=201),)
    ),
    ("DELETE", "/api/v2/analytics/keywords/rules/{rule_id}/"): OWNED,
    ("GET", "/api/v2/analytics/themes/"): Listing(
        (*_shows("", "hidden=true", "campaign={campaign_id}"), *_refused("segment={segment_id}"))
    ),
    ("GET", "/api/v2/analytics/themes/{theme_id}/"): OWNED,
    ("PATCH", "/api/v2/analytics/themes/{theme_id}/"): Owned(({"name": "Globex theme"},)),
    ("POST", "/api/v2/analytics/themes/{theme_id}/merge/"): Owned(({"into": 1},)),
    ("GET", "/api/v2/feedback/export.csv"): Listing(
        _shows("", "campaign={campaign_id}", "tag={tag}", f"attributes[plan]={MARK}")
    ),
    ("GET", "/api/v2/export/{table}"): Listing(
        (
            *(Ask("format=csv", shows=True, path=f"/api/v2/export/{t}") for t in _MARKED),
            Ask("format=csv", path="/api/v2/export/surveys"),
            Ask("format=csv&since=2000-01-01", shows=True, path="/api/v2/export/contacts"),
        )
    ),
    ("GET", "/api/v2/alerts/"): Listing(),
    ("POST", "/api/v2/alerts/check/"): Listing(),
    ("GET", "/api/v2/segments/"): Listing(_shows("")),
    ("POST", "/api/v2/segments/"): Listing(
        (Ask(body={"name": "Globex", "filter": B_FILTER}, status=201),)
    ),
    ("GET", "/api/v2/segments/{segment_id}/"): OWNED,
    ("PATCH", "/api/v2/segments/{segment_id}/"): Owned(({"name": "Renamed"},)),
    ("DELETE", "/api/v2/segments/{segment_id}/"): OWNED,
    # Feedback
    ("GET", "/api/v2/feedback/"): Listing(
        (
            *_shows("", "survey__campaign={campaign_id}", f"survey__contact__email={A_EMAIL}"),
            *_shows("campaign={campaign_id}", "tag={tag}", "status=OPEN", "score=9"),
            *_refused("segment={segment_id}", "segment={segment_name}"),
        )
    ),
    ("GET", "/api/v2/feedback/{feedback_id}/"): OWNED,
    ("PATCH", "/api/v2/feedback/{feedback_id}/"): Owned(({"status": "CLOSED"},)),
    ("PUT", "/api/v2/feedback/{feedback_id}/"): Owned(
        ({"status": "CLOSED", "tags": ["{tag}", "b"]},)
    ),
    ("POST", "/api/v2/feedback/{feedback_id}/tags/"): Owned(({"tags": ["b"]},)),
    ("DELETE", "/api/v2/feedback/{feedback_id}/tags/{tag:path}/"): OWNED,
    ("GET", "/api/v2/feedback/{feedback_id}/notes/"): OWNED,
    ("POST", "/api/v2/feedback/{feedback_id}/notes/"): Owned(({"body": "Globex was here"},)),
    # Webhooks
    ("GET", "/api/v2/webhooks/"): Listing(_shows("")),
    ("POST", "/api/v2/webhooks/"): Listing(
        (Ask(body={**NEW_HOOK, "campaign_id": "{campaign_id}"}, status=400),)
    ),
    ("GET", "/api/v2/webhooks/{webhook_id}/"): OWNED,
    ("PATCH", "/api/v2/webhooks/{webhook_id}/"): Owned(
        ({"status": "disabled"}, {"events": [FEEDBACK_ADDED_OR_CHANGED]})
    ),
    ("DELETE", "/api/v2/webhooks/{webhook_id}/"): OWNED,
    ("POST", "/api/v2/webhooks/{webhook_id}/rotate-secret/"): OWNED,
    ("GET", "/api/v2/webhooks/{webhook_id}/deliveries/"): OWNED,
    ("GET", "/api/v2/webhooks/{webhook_id}/deliveries/{delivery_id}/"): OWNED,
    ("POST", "/api/v2/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver/"): OWNED,
    ("POST", "/api/v2/webhooks/{webhook_id}/test/"): OWNED,
    # The Segment source (one per organization: B's own, made by B's PUT)
    ("GET", "/api/v2/segment-source/"): Listing((Ask(status=404),)),
    ("PUT", "/api/v2/segment-source/"): Listing(
        (Ask(body={**B_SOURCE, "events": ["Survey Sent"]}),)
    ),
    ("DELETE", "/api/v2/segment-source/"): Listing((Ask(status=204),)),
    ("GET", "/api/v2/segment-source/messages/"): Listing(_shows("", "status=pending")),
    # The web survey (one per organization: B's own, made by B's PUT)
    ("GET", "/api/v2/web-survey/"): Listing((Ask(status=404),)),
    ("PUT", "/api/v2/web-survey/"): Listing(
        (Ask(body={"allowed_origins": ["https://b.example"]}),)
    ),
    ("POST", "/api/v2/web-survey/rotate-secret/"): Listing((Ask(status=200),)),
    ("POST", "/api/v2/web-survey/rotate-site-key/"): Listing((Ask(status=200),)),
    # The organization (B's own, whichever id the body names)
    ("GET", "/api/v2/organization/"): Listing(),
    ("PATCH", "/api/v2/organization/"): Listing((Ask(body={"cooldown_days": 7}),)),
    # Survey pages
    ("GET", "/s/{signed}/comment"): SURVEY_PAGE,
    ("POST", "/s/{signed}/comment"): SURVEY_PAGE,
    ("GET", "/s/{signed}/thanks"): SURVEY_PAGE,
    ("GET", "/s/{signed}"): SURVEY_PAGE,
    ("GET", "/s/{signed}/{score}"): SURVEY_PAGE,
    ("POST", "/s/{signed}"): SURVEY_PAGE,
    ("POST", "/s/{signed}/click"): SURVEY_PAGE,
    ("GET", "/u/{signed}"): SURVEY_PAGE,
    ("POST", "/u/{signed}"): SURVEY_PAGE,
    ("POST", "/w/v1/identify"): WEB_SURVEY,
    ("POST", "/w/v1/track"): WEB_SURVEY,
    ("POST", "/w/v1/survey"): WEB_SURVEY,
    ("POST", "/w/v1/surveys/{token}/{action}"): WEB_SURVEY,
    ("OPTIONS", "/w/v1/{path:path}"): WEB_SURVEY,
    ("GET", "/l/{link_key}"): LINK_PAGE,
    ("POST", "/l/{link_key}"): LINK_PAGE,
    ("GET", "/l/{link_key}/qr.svg"): LINK_PAGE,
    ("GET", "/logos/{name}"): Elsewhere(
        "served to whoever has the URL, which carries the logo's hash: tests/web/test_logos.py"
    ),
    ("GET", "/w/promoter.js"): Elsewhere(
        "the same script for every organization: tests/web/test_widget_script.py"
    ),
    # Dashboard
    ("GET", "/login"): Listing(),
    ("POST", "/login"): SIGN_IN,
    ("POST", "/logout"): SIGN_IN,
    ("GET", "/"): Listing(
        (
            *_shows("", "campaign={campaign_id}"),
            Ask("segment={segment_id}"),
            Ask("segment={segment_name}"),
        )
    ),
    ("GET", "/filter"): Listing((Ask("return=/feedback&campaign={campaign_id}", status=303),)),
    ("GET", "/filter/values"): Listing(_shows("name=plan", f"name=plan&q={MARK[2:6].upper()}")),
    ("POST", "/segments"): Listing(
        (Ask(body={"name": "Globex 2", "filter": orjson.dumps(B_FILTER).decode()}, status=303),)
    ),
    ("POST", "/segments/{segment_id}/delete"): OWNED,
    ("GET", "/breakdown"): Listing(
        (*_shows("by=plan", "by=plan&campaign={campaign_id}"), Ask(f"by={A_ATTRIBUTE}"))
    ),
    ("GET", "/drivers"): Listing((Ask("by=plan"), Ask(f"by={A_ATTRIBUTE}"))),
    ("GET", "/keywords"): Listing((Ask(), Ask("campaign={campaign_id}"))),
    ("POST", "/keywords/rules"): Listing(
        (Ask(body={"keyword": "globex 2", "action": "hide"}, status=303),)
    ),
    ("POST", "/keywords/rules/{rule_id}/delete"): OWNED,
    ("GET", "/themes"): Listing((*_shows("", "hidden=1"), Ask("campaign={campaign_id}"))),
    ("GET", "/themes/{theme_id}"): OWNED,
    ("POST", "/themes/{theme_id}"): Owned(({"name": "Globex theme"},)),
    ("GET", "/alerts"): Listing(),
    ("POST", "/alerts/check"): Listing((Ask(status=303),)),
    ("POST", "/alerts/emails"): Listing((Ask(body={"alert_emails": "on"}, status=303),)),
    ("POST", "/alerts/digest"): Listing((Ask(body={"digest_emails": "on"}, status=303),)),
    ("GET", "/feedback"): Listing(
        (
            *_shows("", "campaign={campaign_id}", "tag={tag}", "status=OPEN"),
            Ask("segment={segment_id}"),
            Ask("segment={segment_name}"),
        )
    ),
    ("GET", "/feedback/export.csv"): Listing(_shows("", "campaign={campaign_id}", "tag={tag}")),
    ("GET", "/feedback/{response_id}"): OWNED,
    ("POST", "/feedback/{response_id}/status"): Owned(({"status": "CLOSED"},)),
    ("POST", "/feedback/{response_id}/tags"): Owned(({"tags": "b"},)),
    ("POST", "/feedback/{response_id}/tags/remove"): Owned(({"tag": "{tag}"},)),
    ("POST", "/feedback/{response_id}/notes"): Owned(({"body": "Globex was here"},)),
    ("POST", "/feedback/{response_id}/reply"): Owned(
        ({"subject": "Re: your feedback", "body": "Globex was here", "close": "1"},)
    ),
    ("POST", "/feedback/bulk"): Listing(
        tuple(
            Ask(body={"id": "{response_id}", "action": action, "tag": "b"}, status=404)
            for action in ("close", "tag", "untag")
        )
    ),
    ("GET", "/contacts"): Listing(
        _shows("", f"q={MARK[:5]}", "list={list_id}", "status=active", f"q={A_USER[:-1]}")
    ),
    ("GET", "/contacts/{contact_id}"): OWNED,
    ("POST", "/contacts/{contact_id}/{action}"): Owned(
        fixed=({"action": "inactive"}, {"action": "active"}, {"action": "unsubscribe"})
    ),
    ("GET", "/campaigns"): Listing(_shows("")),
    ("GET", "/campaigns/new"): Listing(_shows("")),
    ("POST", "/campaigns"): Listing((Ask(body=_campaign_form, status=400),)),
    ("GET", "/campaigns/{campaign_id}"): OWNED,
    ("POST", "/campaigns/{campaign_id}"): Owned((_campaign_form,)),
    ("POST", "/campaigns/{campaign_id}/template"): Owned((_campaign_form,)),
    ("POST", "/campaigns/{campaign_id}/pause"): OWNED,
    ("POST", "/campaigns/{campaign_id}/resume"): OWNED,
    ("POST", "/campaigns/{campaign_id}/link"): Owned(({"action": "rotate"}, {"action": "off"})),
    ("GET", "/campaigns/{campaign_id}/preview"): OWNED,
    ("GET", "/campaigns/{campaign_id}/preview/email"): OWNED,
    ("GET", "/settings/segment"): Listing(_shows("")),
    ("GET", "/settings/segment/received"): Listing(_shows("")),
    ("POST", "/settings/segment/keys"): Listing((Ask(body={"name": "Globex key"}, status=303),)),
    ("POST", "/settings/segment/keys/{key_id}/revoke"): OWNED,
    ("POST", "/settings/segment/secret"): Listing(
        (Ask(body={"secret": "globex-secret"}, status=303),)
    ),
    ("POST", "/settings/segment/secret/clear"): Listing((Ask(status=303),)),
    ("POST", "/settings/segment/timezone"): Listing(
        (Ask(body={"timezone": "Asia/Tokyo"}, status=303),)
    ),
    ("POST", "/settings/segment/cooldown"): Listing(
        (Ask(body={"cooldown_days": "7"}, status=303),)
    ),
    ("GET", "/settings/webhooks"): Listing(_shows("")),
    ("POST", "/settings/webhooks"): Listing(
        (Ask(body={**HOOK_FORM, "campaign": "{campaign_id}"}, status=400),)
    ),
    ("POST", "/settings/webhooks/{webhook_id}"): Owned(({**HOOK_FORM, "campaign": ""},)),
    ("POST", "/settings/webhooks/{webhook_id}/rotate-secret"): OWNED,
    ("POST", "/settings/webhooks/{webhook_id}/enable"): OWNED,
    ("POST", "/settings/webhooks/{webhook_id}/disable"): OWNED,
    ("POST", "/settings/webhooks/{webhook_id}/delete"): OWNED,
    ("GET", "/settings/webhooks/{webhook_id}"): OWNED,
    ("POST", "/settings/webhooks/{webhook_id}/test"): OWNED,
    ("POST", "/settings/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): OWNED,
    ("GET", "/settings/segment-source"): Listing(_shows("")),
    ("POST", "/settings/segment-source"): Listing(
        (Ask(body={**B_SOURCE, "events": "Survey Sent"}, status=303),)
    ),
    ("POST", "/settings/segment-source/delete"): Listing((Ask(status=303),)),
    ("GET", "/settings/web-survey"): Listing(_shows("")),
    ("POST", "/settings/web-survey"): Listing(
        (Ask(body={"allowed_origins": "https://b.example"}, status=303),)
    ),
    ("POST", "/settings/web-survey/rotate-secret"): Listing((Ask(status=303),)),
    ("POST", "/settings/web-survey/rotate-site-key"): Listing((Ask(status=303),)),
    ("GET", "/settings/users"): Listing(_shows("")),
    ("POST", "/settings/users/invite"): Listing(
        (Ask(body={"email": "new@b.example", "role": "member"}, status=303),)
    ),
    ("POST", "/settings/users/{user_id}/role"): Owned(({"role": "read-only"},)),
    ("POST", "/settings/users/{user_id}/remove"): OWNED,
    ("POST", "/settings/users/invites/{invite_id}/withdraw"): OWNED,
    ("GET", "/invite/{token}"): Elsewhere(
        "reached by an invitation's one-time token, not by key: tests/dashboard/test_users.py"
    ),
    ("POST", "/invite/{token}"): Elsewhere(
        "reached by an invitation's one-time token, not by key: tests/dashboard/test_users.py"
    ),
    ("GET", "/outbox"): Listing(_shows("")),
    ("GET", "/outbox/{name}"): OWNED,
    ("GET", "/outbox/{name}/html"): OWNED,
}

#: B's own resources changed to point at A's: refused as if A's did not exist.
B_POINTING_AT_A = tuple(
    (method, Ask(path=path, body=body, status=400))
    for method, path, body in (
        ("PATCH", "/api/v2/campaigns/{b_campaign_id}/", {"contact_list": "{list_id}"}),
        ("PATCH", "/api/v2/campaigns/{b_campaign_id}/", {"email": "{template_id}"}),
        ("PUT", "/api/v2/campaigns/{b_campaign_id}/", _campaign_put),
        ("PATCH", "/api/v2/contacts/{b_contact_id}/", {"contact_list": ["{list_id}"]}),
        (
            "PUT",
            "/api/v2/contacts/{b_contact_id}/",
            {"email": "b@b.example", "contact_lists": ["{list_id}"]},
        ),
        ("POST", "/api/v2/lists/{b_list_id}/contacts/", {"contact": "{contact_id}"}),
        ("PATCH", "/api/v2/webhooks/{b_webhook_id}/", {"campaign_id": "{campaign_id}"}),
        ("POST", "/campaigns/{b_campaign_id}", _campaign_form),
        ("POST", "/settings/webhooks/{b_webhook_id}", {**HOOK_FORM, "campaign": "{campaign_id}"}),
    )
)

#: B's own resources: what B reads of them holds nothing of A's.
B_OWN = (
    "/api/v2/webhooks/{b_webhook_id}/deliveries/",
    "/api/v2/lists/{b_list_id}/contacts/",
    "/api/v2/contacts/{b_contact_id}/",
    "/settings/webhooks/{b_webhook_id}",
    "/contacts/{b_contact_id}",
)


# --- the world: A owns one of everything, B a little of its own ------------------------------


@dataclass
class Actor:
    """An organization's key, and a client signed in as one of its users."""

    org: Org
    client: TestClient
    csrf: str

    def send(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> httpx.Response:
        if path.startswith("/api/"):
            headers = token(self.org.key)
            return self.client.request(method, path, json=body, headers=headers)
        if path == "/segment" or path.startswith("/v1/"):
            return self.client.post(path, json=body, auth=(self.org.key, ""))
        if method == "GET":
            return self.client.get(path, follow_redirects=False)
        form = {"csrf": self.csrf, **(body or {})}
        return self.client.post(path, data=form, follow_redirects=False)

    def ok(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        response = self.send(method, path, body)
        assert response.status_code in (200, 201), (method, path, response.text)
        return response.json()


@dataclass
class World:
    a: Actor
    b: Actor
    #: ``A_IDS`` and ``B_IDS``: the ids (and names) in paths, queries and bodies.
    ids: dict[str, str]
    receiver: Receiver
    database: Database
    nobody: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        """The ids with A's replaced by ones nobody has (each a different one)."""
        self.nobody = {}
        for n, (name, value) in enumerate(sorted(self.ids.items())):
            if name in B_IDS:
                self.nobody[name] = value
            elif MARK in value:
                self.nobody[name] = value.replace(MARK, NOBODY_MARK)
            else:
                self.nobody[name] = "nosuch.eml" if name == "name" else str(987654300 + n)


def _answered_survey(services: Services, a: Actor, mail: Path) -> str:
    """A's contact gets a survey by email and answers it; the email's file name."""
    traits = {"email": A_EMAIL, "plan": MARK, A_ATTRIBUTE: 4}
    batch = [
        {"type": "identify", "userId": A_USER, "traits": traits},
        {"type": "track", "userId": A_USER, "event": "Signed Up"},
        {"type": "track", "userId": A_USER, "event": f"{MARK} Clicked"},
        {"type": "track", "userId": A_USER, "event": "Order Completed", "properties": ORDER},
    ]
    assert a.ok("POST", "/v1/batch", {"batch": batch})["accepted"] == len(batch)
    assert asyncio.run(services.worker().run_once()) == 1
    (name,) = [path.name for path in mail.glob("*.eml")]
    with services.database.read() as conn:
        token = conn.execute(select(surveys.c.token)).scalar_one()
    link = f"/s/{services.signer.sign(token)}"
    assert a.client.post(link, data={"score": "9"}, follow_redirects=False).status_code == 303
    comment = a.client.post(f"{link}/comment", data={"comment": f"{MARK} comment"})
    assert comment.status_code == 200
    return name


def _a_owns_everything(services: Services, a: Actor, mail: Path, hooks: str) -> dict[str, str]:
    """The resources of ``A_IDS``, and more with ``MARK`` in them."""
    new_hook = {"event": FEEDBACK_ADDED_OR_CHANGED, "target_url": f"{hooks}/{MARK}"}
    webhook = a.ok("POST", "/api/v2/webhooks/", new_hook)
    campaign = a.ok("GET", "/api/v2/campaigns/")["results"][0]
    a.ok("PATCH", f"/api/v2/campaigns/{campaign['id']}/", {"name": f"{MARK} campaign"})
    brand = {"company_brand_product_name": f"{MARK} brand"}
    a.ok("PATCH", f"/api/v2/email/{campaign['email']}/", brand)
    source = {"write_key": f"wk_{MARK}", "host": hooks.rsplit("/", 1)[0]}
    a.ok("PUT", "/api/v2/segment-source/", {**source, "trait_prefix": f"{MARK}_"})
    a.ok("PUT", "/api/v2/web-survey/", {"allowed_origins": [f"https://{MARK}.example"]})
    name = _answered_survey(services, a, mail)
    (contact,) = a.ok("GET", f"/api/v2/contacts/?email={A_EMAIL}")["results"]
    (feedback,) = a.ok("GET", "/api/v2/feedback/")["results"]
    tags = {"tags": [f"{MARK}-tag", f"{MARK}-tag2"]}
    a.ok("POST", f"/api/v2/feedback/{feedback['id']}/tags/", tags)
    a.ok("POST", f"/api/v2/feedback/{feedback['id']}/notes/", {"body": f"{MARK} note"})
    listed = a.ok("POST", "/api/v2/lists/", {"name": f"{MARK} list"})
    a.ok("POST", f"/api/v2/lists/{listed['id']}/contacts/", {"contact": contact["id"]})
    segment = a.ok("POST", "/api/v2/segments/", {"name": f"{MARK} segment", "filter": FILTER})
    rule = {"keyword": f"{MARK} keyword", "action": "rename", "target": f"{MARK} renamed"}
    keyword_rule = a.ok("POST", "/api/v2/analytics/keywords/rules/", rule)
    with services.database.write() as conn:
        theme_id = a_theme(conn, a.org.id, feedback["id"], f"{MARK} label")
    a.ok("PATCH", f"/api/v2/analytics/themes/{theme_id}/", {"name": f"{MARK} theme"})
    a.ok("POST", "/api/v2/contacts/", {"email": f"{MARK}-gone@example.com"})
    a.ok("POST", "/api/v2/unsubscribes/", {"email": f"{MARK}-gone@example.com"})
    bounced = a.ok("POST", "/api/v2/contacts/", {"email": f"{MARK}-bounced@example.com"})
    delivery = a.ok("GET", f"/api/v2/webhooks/{webhook['id']}/deliveries/")["results"][0]
    with services.database.write() as conn:
        bounce = update(contacts).where(contacts.c.id == bounced["id"]).values(status="bounced")
        conn.execute(bounce)
        key = create_api_key(conn, organization_id=a.org.id, name=f"{MARK} key")
        member = create_user(
            conn,
            services.passwords,
            organization_id=a.org.id,
            email=f"{MARK}-member@a.example",
            password=PASSWORD,
            role=Role.MEMBER,
        )
        invite = create_invite(
            conn,
            organization_id=a.org.id,
            email=f"{MARK}-invitee@a.example",
            role=Role.MEMBER,
            invited_by=f"{MARK}@a.example",
            now=datetime.now(UTC),
        )
    made = {
        "contact_id": contact["id"],
        "list_id": listed["id"],
        "campaign_id": campaign["id"],
        "template_id": campaign["email"],
        "segment_id": segment["id"],
        "segment_name": segment["name"],
        "rule_id": keyword_rule["id"],
        "theme_id": theme_id,
        "feedback_id": feedback["id"],
        "response_id": feedback["id"],
        "tag": f"{MARK}-tag",
        "webhook_id": webhook["id"],
        "delivery_id": delivery["id"],
        "key_id": key.id,
        "user_id": member.id,
        "invite_id": invite.invite.id,
        "name": name,
    }
    assert set(made) == set(A_IDS)
    return {param: str(value) for param, value in made.items()}


def _b_owns_a_little(services: Services, b: Actor, hooks: str) -> dict[str, str]:
    """B's list with a contact on it, its template, and a webhook for the events A's
    answers emit (before they are), with one delivery of B's own."""
    listed = b.ok("POST", "/api/v2/lists/", {"name": "Globex list"})
    contact = b.ok("POST", f"/api/v2/lists/{listed['id']}/contacts/", {"email": "bea@b.example"})
    new_hook = {"event": FEEDBACK_ADDED_OR_CHANGED, "target_url": f"{hooks}/globex"}
    webhook = b.ok("POST", "/api/v2/webhooks/", new_hook)
    with services.database.write() as conn:
        now = datetime.now(UTC)
        emit(conn, organization_id=b.org.id, event=new_hook["event"], data={"b": 1}, now=now)
    (delivery,) = b.ok("GET", f"/api/v2/webhooks/{webhook['id']}/deliveries/")["results"]
    (campaign,) = b.ok("GET", "/api/v2/campaigns/")["results"]
    made = (
        listed["id"],
        contact["id"],
        webhook["id"],
        delivery["id"],
        campaign["email"],
        campaign["id"],
    )
    return {name: str(value) for name, value in zip(B_IDS, made, strict=True)}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        base_url="http://testserver",
        rate_limit_api="0",
        rate_limit_ingest="0",
        rate_limit_failed_auth="0",
        rate_limit_survey_pages="0",
        email_url=f"file:{tmp_path / 'mail'}",
        webhook_allow_private=True,  # the webhook receiver listens on 127.0.0.1
    )


def _actor(services: Services, client: TestClient, org: Org, email: str) -> Actor:
    add_user(services, org, email)
    return Actor(org, client, sign_in(client, email))


@pytest.fixture
def world(services: Services, database: Database, tmp_path: Path) -> Iterator[World]:
    receiver = Receiver()
    receiver.start()
    with TestClient(create_app(services)) as a_client, TestClient(create_app(services)) as b_client:
        a = _actor(services, a_client, make_org(database, f"{MARK} Inc"), f"{MARK}@a.example")
        b = _actor(services, b_client, make_org(database, "Globex"), "bea@globex.example")
        ids = _b_owns_a_little(services, b, receiver.url)
        ids |= _a_owns_everything(services, a, tmp_path / "mail", receiver.url)
        receiver.requests.clear()
        try:
            yield World(a, b, ids, receiver, database)
        finally:
            receiver.stop()


def rows_of(database: Database, org: Org) -> dict[str, list[str]]:
    """Every row that belongs to the organization, table by table."""
    of_lists = select(contact_lists.c.id).where(contact_lists.c.organization_id == org.id)
    of_users = select(users.c.id).where(users.c.organization_id == org.id)
    without_organization = {
        organizations.name: organizations.c.id == org.id,
        list_memberships.name: list_memberships.c.list_id.in_(of_lists),
        user_sessions.name: user_sessions.c.user_id.in_(of_users),
        "instance_settings": true(),
        # Sealed under a session's cookie, which the database never holds: no organization
        # can be read from a row, and none is left once its page has shown it.
        "shown_once": false(),
    }
    found: dict[str, list[str]] = {}
    with database.read() as conn:
        for table in metadata.sorted_tables:
            if "organization_id" in table.c:
                where = table.c.organization_id == org.id
            else:
                assert table.name in without_organization, f"whose are {table.name}'s rows?"
                where = without_organization[table.name]
            rows = conn.execute(select(table).where(where))
            found[table.name] = sorted(repr(tuple(row)) for row in rows)
    return found


# --- requests and what is wrong with their answers ------------------------------------------

PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def fill(text: str, values: Mapping[str, str]) -> str:
    return PARAM.sub(lambda match: values[match.group(1)], text)


def _filled(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str) and PARAM.fullmatch(value):
        text = fill(value, values)
        return int(text) if text.isdigit() else text
    if isinstance(value, list):
        return [_filled(item, values) for item in value]
    if isinstance(value, dict):
        return {name: _filled(item, values) for name, item in value.items()}
    return value


def resolve(body: Body, values: Mapping[str, str]) -> Mapping[str, Any] | None:
    if body is None:
        return None
    if callable(body):
        return body(dict(values))
    return {name: _filled(value, values) for name, value in body.items()}


def v1_twin(path: str) -> str | None:
    """The v1 path that stands for a v2 path, if there is one."""
    rest = path.removeprefix("/api/v2/")
    if rest == path or rest.split("/")[0] not in V1_RESOURCES:
        return None
    return V1_SURVEY if rest == "survey/" else "/api/" + rest


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif value is not None:
        yield str(value)


def _echoes(path: str, body: Mapping[str, Any] | None) -> frozenset[str]:
    """What of A's B's request carries, as an answer may repeat it."""
    sent = [value for _, value in parse_qsl(path.partition("?")[2])] + list(_leaves(body))
    mine = {text for text in sent if MARK in text.lower()}
    forms = (quote, quote_plus, html.escape)
    return frozenset(mine | {form(text) for text in mine for form in forms})


def _json(response: httpx.Response) -> Any:
    if response.headers.get("content-type", "").startswith("application/json") and response.text:
        return orjson.loads(response.text)
    return None


def _counts(value: Any) -> Iterator[Any]:
    """The numbers of answers and surveys in an answer."""
    if isinstance(value, dict):
        for name, item in value.items():
            counts = ("responses", "organization_responses", "sent", "responded")
            if name in counts and isinstance(item, int | str):
                yield item
            yield from _counts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _counts(item)


def leaks(
    world: World, where: str, response: httpx.Response, sent: frozenset[str] = frozenset()
) -> list[str]:
    """What of A's an answer to B shows: ``MARK`` (but for what B sent), A's key, numbers
    above 0 (B has no answers), rows in a CSV export."""
    text = response.text
    for echoed in sorted(sent, key=len, reverse=True):
        text = text.replace(echoed, "")
    found = [f"{where}: shows {MARK}"] if MARK in text.lower() else []
    if visible_prefix(world.a.org.key) in text:
        found.append(f"{where}: shows A's key")
    counted = [n for n in _counts(_json(response)) if n not in (0, "0", None)]
    if counted:
        found.append(f"{where}: counts {counted}")
    csv = response.headers.get("content-type", "").startswith("text/csv")
    if csv and len(text.strip().splitlines()) > 1 and _B_HAS_ROWS not in where:
        found.append(f"{where}: exports rows")
    return found


def _without_windows(value: Any) -> Any:
    """An answer without its ``window`` (the time it was asked at)."""
    if isinstance(value, dict):
        return {k: _without_windows(v) for k, v in value.items() if k != "window"}
    if isinstance(value, list):
        return [_without_windows(v) for v in value]
    return value


def _normalised(response: httpx.Response, replace: Mapping[str, str]) -> str:
    text = response.text
    for old, new in replace.items():
        text = text.replace(old, new)
    if _json(response) is None:
        return text
    return orjson.dumps(_without_windows(orjson.loads(text)), option=orjson.OPT_SORT_KEYS).decode()


def as_for_nobody(
    world: World, where: str, got: httpx.Response, unknown: httpx.Response
) -> list[str]:
    """B's answer about A's things is the one it gets about things nobody has."""
    replace = {world.nobody[n]: world.ids[n] for n in A_IDS if MARK not in world.ids[n]}
    replace[NOBODY_MARK] = MARK
    if got.status_code == unknown.status_code and _normalised(got, {}) == _normalised(
        unknown, replace
    ):
        return []
    ours = f"{got.status_code} {got.text[:300]!r}"
    return [f"{where}: {ours}, but {unknown.status_code} {unknown.text[:300]!r} for nobody's"]


@dataclass(frozen=True)
class Try:
    """One request on a route naming resources: its path parameters and body."""

    method: str
    route: str
    values: dict[str, str]
    body: Body

    @property
    def path(self) -> str:
        return fill(self.route, self.values)

    def body_for(self, values: Mapping[str, str] | None = None) -> Mapping[str, Any] | None:
        return resolve(self.body, values or self.values)


def owned_tries(ids: Mapping[str, str], *, api: bool) -> list[Try]:
    found = []
    for (method, route), probe in ROUTES.items():
        if isinstance(probe, Owned) and route.startswith("/api/") == api:
            for fixed in probe.fixed:
                found += [Try(method, route, {**ids, **fixed}, body) for body in probe.bodies]
    return found


def mixed_tries(ids: Mapping[str, str], *, api: bool) -> list[Try]:
    """Paths naming one of A's resources beside B's own (B's webhook, A's delivery...)."""
    found = []
    for attempt in owned_tries(ids, api=api):
        names = [n for n in PARAM.findall(attempt.route) if n in MIXABLE]
        for theirs in names if len(names) > 1 else []:
            values = {**attempt.values, **{n: ids[f"b_{n}"] for n in names if n != theirs}}
            found.append(Try(attempt.method, attempt.route, values, attempt.body))
    return found


def _not_found(world: World, where: str, got: httpx.Response) -> list[str]:
    wrong = [] if got.status_code == 404 else [f"{where}: {got.status_code} {got.text[:200]!r}"]
    return wrong + leaks(world, where, got)


def refusals(world: World, attempts: list[Try]) -> list[str]:
    """What is wrong with B's answers on A's resources (at v2 and v1 paths)."""
    problems = []
    for attempt in attempts:
        where = f"{attempt.method} {attempt.path}"
        got = world.b.send(attempt.method, attempt.path, attempt.body_for())
        problems += _not_found(world, where, got)
        nobody = {
            name: world.nobody[name] if world.ids.get(name) == value else value
            for name, value in attempt.values.items()
        }
        path = fill(attempt.route, nobody)
        problems += as_for_nobody(
            world, where, got, world.b.send(attempt.method, path, attempt.body_for(nobody))
        )
        twin = v1_twin(attempt.path)
        if twin is not None:
            old = world.b.send(attempt.method, twin, attempt.body_for())
            problems += _not_found(world, f"{attempt.method} {twin}", old)
    return problems


def _last_the_deletions(attempt: Try) -> tuple[bool, bool, int]:
    """The order A's own tries run in: deleting last, a list's member before the list,
    the contact last of all."""
    deletes = attempt.method == "DELETE" or attempt.route.endswith(
        ("/delete", "/revoke", "/remove")
    )
    return deletes, attempt.route.startswith("/api/v2/contacts/"), -attempt.route.count("{")


def gets_through(world: World, attempts: list[Try]) -> list[str]:
    """A's own tries that fail as if the resource were not A's."""
    problems = []
    for attempt in sorted(attempts, key=_last_the_deletions):
        got = world.a.send(attempt.method, attempt.path, attempt.body_for())
        if got.status_code in (401, 403, 404) or got.status_code >= 500:
            where = f"{attempt.method} {attempt.path}"
            problems.append(f"A: {where}: {got.status_code} {got.text[:200]!r}")
    return problems


def _asks() -> Iterator[tuple[str, str, Ask]]:
    for (method, route), probe in ROUTES.items():
        if isinstance(probe, Listing):
            for ask in probe.asks:
                yield method, ask.path or route, ask


def _request(ask: Ask, path: str, values: Mapping[str, str], *, nobody: bool = False) -> Any:
    """The path with the query, and the body, of ``ask``: about A's things, or nobody's."""
    query = fill(ask.query, values)
    target = fill(path, values) + (f"?{query}" if query else "")
    body = resolve(ask.body, values)
    if not nobody:
        return target, body
    swapped = orjson.loads(orjson.dumps(body).decode().replace(MARK, NOBODY_MARK))
    return target.replace(MARK, NOBODY_MARK), swapped


def _names_a(ask: Ask) -> bool:
    return (
        bool(PARAM.search(ask.query + repr(ask.body)))
        or callable(ask.body)
        or (MARK in ask.query + repr(ask.body))
    )


def answers_to_b(world: World, method: str, path: str, ask: Ask) -> list[str]:
    """What is wrong with B's answer to ``ask`` (at v2 and v1 paths)."""
    target, body = _request(ask, path, world.ids)
    got = world.b.send(method, target, body)
    where = f"{method} {target}"
    problems = (
        [] if got.status_code == ask.status else [f"{where}: {got.status_code} {got.text[:300]!r}"]
    )
    problems += leaks(world, where, got, _echoes(target, body))
    if _names_a(ask) and (method == "GET" or ask.status >= 300):
        unknown = world.b.send(method, *_request(ask, path, world.nobody, nobody=True))
        problems += as_for_nobody(world, where, got, unknown)
    twin = v1_twin(target)
    if twin is not None and (method == "GET" or _names_a(ask)):
        old = world.b.send(method, twin, body)
        if old.status_code != ask.status:
            problems.append(f"{method} {twin}: {old.status_code} {old.text[:300]!r}")
        problems += leaks(world, f"{method} {twin}", old, _echoes(target, body))
    return problems


# --- the sweeps ----------------------------------------------------------------------------


def test_every_route_is_in_the_table(services: Services) -> None:
    served = app_routes(create_app(services))
    assert sorted(served - set(ROUTES)) == [], "routes ROUTES does not probe"
    assert sorted(set(ROUTES) - served) == [], "routes the app does not serve"
    for (_, path), probe in ROUTES.items():
        if isinstance(probe, Owned):  # each id in the path names one of A's resources
            for fixed in probe.fixed:
                assert set(PARAM.findall(path)) <= set(A_IDS) | set(fixed), path
        for ask in probe.asks if isinstance(probe, Listing) else ():
            assert set(PARAM.findall(ask.query + repr(ask.body))) <= set(A_IDS) | set(B_IDS)


@pytest.mark.parametrize("api", [True, False], ids=["api", "dashboard"])
def test_b_gets_404_on_every_path_naming_a_resource_of_a(world: World, api: bool) -> None:
    before = rows_of(world.database, world.a.org)
    attempts = owned_tries(world.ids, api=api)
    problems = refusals(world, attempts + mixed_tries(world.ids, api=api))
    assert not problems, "\n".join(problems)
    assert rows_of(world.database, world.a.org) == before
    assert world.receiver.requests == []
    problems = gets_through(world, attempts)
    assert not problems, "\n".join(problems)
    assert world.receiver.requests, "A's test and redelivery are sent"


def test_b_sees_nothing_of_a_in_any_listing_search_export_or_form(world: World) -> None:
    before = rows_of(world.database, world.a.org)
    asks = [*_asks(), *((method, str(ask.path), ask) for method, ask in B_POINTING_AT_A)]
    problems = [p for method, path, ask in asks for p in answers_to_b(world, method, path, ask)]
    for path in B_OWN:
        got = world.b.send("GET", fill(path, world.ids))
        problems += [] if got.status_code == 200 else [f"B's own {path}: {got.status_code}"]
        problems += leaks(world, f"B's own {path}", got)
    assert not problems, "\n".join(problems)
    assert rows_of(world.database, world.a.org) == before
    theirs = world.b.ok("GET", fill("/api/v2/webhooks/{b_webhook_id}/deliveries/", world.ids))
    assert theirs["count"] == 1, "A's answers emitted nothing to B's webhook"
    unseen = [
        f"{method} {path}?{ask.query}"
        for method, path, ask in _asks()
        if ask.shows and MARK not in world.a.send(method, *_request(ask, path, world.ids)).text
    ]
    assert unseen == [], "A's own answers show A's data"


def test_b_cannot_write_into_a_through_segment_or_the_tracking_api(world: World) -> None:
    before = rows_of(world.database, world.a.org)
    for (method, path), probe in ROUTES.items():
        if isinstance(probe, Ingest):
            got = world.b.send(method, path, probe.body)
            assert got.status_code == 200 and "rejected" not in got.json(), (path, got.text)
            assert leaks(world, path, got) == []
    assert rows_of(world.database, world.a.org) == before
    with world.database.read() as conn:
        mine = (contacts.c.organization_id == world.b.org.id) & (contacts.c.user_id == A_USER)
        email = conn.execute(select(contacts.c.email).where(mine)).scalar_one()
    assert email == A_EMAIL  # B's own contact, with A's user id and email


def _keyed_requests(world: World) -> Iterator[tuple[str, str, Mapping[str, Any] | None]]:
    """A request to every route that takes an API key, on A's resources."""
    for attempt in owned_tries(world.ids, api=True):
        for path in (attempt.path, v1_twin(attempt.path)):
            if path is not None:
                yield attempt.method, path, attempt.body_for()
    for method, route, ask in _asks():
        if route.startswith("/api/"):
            target, body = _request(ask, route, world.ids)
            for path in (target, v1_twin(target)):
                if path is not None:
                    yield method, path, body
    for (method, route), probe in ROUTES.items():
        if isinstance(probe, Ingest):
            yield method, route, probe.body


def test_a_revoked_key_gets_401_on_every_route_that_takes_a_key(world: World) -> None:
    with world.database.write() as conn:
        key = create_api_key(conn, organization_id=world.a.org.id, name="leaving")
    revoked = Actor(Org(world.a.org.id, key.key), world.a.client, world.a.csrf)
    assert revoked.send("GET", "/api/v2/contacts/").status_code == 200  # now in the key cache
    assert world.a.send("POST", f"/settings/segment/keys/{key.id}/revoke").status_code == 303
    before = rows_of(world.database, world.a.org)
    answers = {(m, p): revoked.send(m, p, body) for m, p, body in _keyed_requests(world)}
    wrong = {where: got.status_code for where, got in answers.items() if got.status_code != 401}
    assert wrong == {}
    assert len(answers) > 150
    assert rows_of(world.database, world.a.org) == before
