"""Who may use each route: the role every dashboard page and REST operation needs, checked
for every request of the app in one place (``check_access``, a dependency of the app).

A route is open (``OPEN``: public pages, Segment's endpoints, sign-in), a REST operation
(under /api/: the API key's role), or a dashboard page (the signed-in user's role, read
from the database on every request). Reading needs ``read-only``; ``NEEDS`` gives what
every other method needs, and what a page or operation that only reads needs when it is
more than that. A state-changing route it does not name needs ``member``, and fails
tests/web/test_roles.py until it is named.
"""

from __future__ import annotations

import re

from fastapi import HTTPException, Request

from promoter.domain.roles import Role
from promoter.web.dashboard.session import RoleRequired, current_session
from promoter.web.rest.deps import api_key_holder
from promoter.web.state import ServicesDep

Route = tuple[str, str]
READ_METHODS = frozenset({"GET", "HEAD"})
API_PREFIX = "/api/"

#: Routes that take no user and no role: public pages reached by a signed link or a public
#: key, the web survey's calls, Segment's endpoints (any active API key may send data),
#: signing in and accepting an invitation, the API's documents, health and assets.
OPEN: frozenset[Route] = frozenset(
    {
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/assets/{name}"),
        ("GET", "/redoc"),
        ("GET", "/health"),
        ("GET", "/favicon.ico"),
        ("GET", "/static"),
        ("POST", "/segment"),
        *(("POST", f"/v1/{call}") for call in ("batch", "import", "identify", "track")),
        *(("POST", f"/v1/{call}") for call in ("page", "screen", "group", "alias")),
        ("GET", "/s/{signed}"),
        ("POST", "/s/{signed}"),
        ("GET", "/s/{signed}/{score}"),
        ("POST", "/s/{signed}/click"),
        ("GET", "/s/{signed}/comment"),
        ("POST", "/s/{signed}/comment"),
        ("GET", "/s/{signed}/thanks"),
        ("GET", "/u/{signed}"),
        ("POST", "/u/{signed}"),
        ("GET", "/l/{link_key}"),
        ("POST", "/l/{link_key}"),
        ("GET", "/l/{link_key}/qr.svg"),
        ("GET", "/logos/{name}"),
        ("GET", "/w/promoter.js"),
        ("POST", "/w/v1/identify"),
        ("POST", "/w/v1/track"),
        ("POST", "/w/v1/survey"),
        ("POST", "/w/v1/surveys/{token}/{action}"),
        ("OPTIONS", "/w/v1/{path:path}"),
        ("GET", "/login"),
        ("POST", "/login"),
        ("GET", "/invite/{token}"),
        ("POST", "/invite/{token}"),
    }
)

ADMIN, MEMBER, READ_ONLY = Role.ADMIN, Role.MEMBER, Role.READ_ONLY

#: The dashboard's forms (each a POST), and its pages that need more than read-only.
DASHBOARD: dict[Route, Role] = {
    ("POST", "/logout"): READ_ONLY,
    # The feedback, saved segments, keyword rules, contacts: members
    ("POST", "/feedback/{response_id}/status"): MEMBER,
    ("POST", "/feedback/{response_id}/tags"): MEMBER,
    ("POST", "/feedback/{response_id}/tags/remove"): MEMBER,
    ("POST", "/feedback/{response_id}/notes"): MEMBER,
    ("POST", "/feedback/{response_id}/reply"): MEMBER,
    ("POST", "/feedback/bulk"): MEMBER,
    ("POST", "/segments"): MEMBER,
    ("POST", "/segments/{segment_id}/delete"): MEMBER,
    ("POST", "/keywords/rules"): MEMBER,
    ("POST", "/keywords/rules/{rule_id}/delete"): MEMBER,
    ("POST", "/themes/{theme_id}"): MEMBER,
    ("POST", "/contacts/{contact_id}/{action}"): MEMBER,
    # Campaigns: members; a campaign's public link (its key) is an admin's
    ("POST", "/campaigns"): MEMBER,
    ("POST", "/campaigns/{campaign_id}"): MEMBER,
    ("POST", "/campaigns/{campaign_id}/template"): MEMBER,
    ("POST", "/campaigns/{campaign_id}/pause"): MEMBER,
    ("POST", "/campaigns/{campaign_id}/resume"): MEMBER,
    ("POST", "/campaigns/{campaign_id}/link"): ADMIN,
    # NPS alerts: a check (it sends webhooks and emails) is an admin's; one's own emails, anyone's
    ("POST", "/alerts/check"): ADMIN,
    ("POST", "/alerts/emails"): READ_ONLY,
    ("POST", "/alerts/digest"): READ_ONLY,
    # The organization's settings: admins
    ("POST", "/settings/segment/keys"): ADMIN,
    ("POST", "/settings/segment/keys/{key_id}/revoke"): ADMIN,
    ("POST", "/settings/segment/secret"): ADMIN,
    ("POST", "/settings/segment/secret/clear"): ADMIN,
    ("POST", "/settings/segment/timezone"): ADMIN,
    ("POST", "/settings/segment/cooldown"): ADMIN,
    ("POST", "/settings/segment-source"): ADMIN,
    ("POST", "/settings/segment-source/delete"): ADMIN,
    ("POST", "/settings/web-survey"): ADMIN,
    ("POST", "/settings/web-survey/rotate-secret"): ADMIN,
    ("POST", "/settings/web-survey/rotate-site-key"): ADMIN,
    # Webhooks (their URLs and signing secrets are credentials): admins, reading included
    ("GET", "/settings/webhooks"): ADMIN,
    ("POST", "/settings/webhooks"): ADMIN,
    ("GET", "/settings/webhooks/{webhook_id}"): ADMIN,
    ("POST", "/settings/webhooks/{webhook_id}"): ADMIN,
    ("POST", "/settings/webhooks/{webhook_id}/rotate-secret"): ADMIN,
    ("POST", "/settings/webhooks/{webhook_id}/enable"): ADMIN,
    ("POST", "/settings/webhooks/{webhook_id}/disable"): ADMIN,
    ("POST", "/settings/webhooks/{webhook_id}/delete"): ADMIN,
    ("POST", "/settings/webhooks/{webhook_id}/test"): ADMIN,
    ("POST", "/settings/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): ADMIN,
    # Users and invitations: admins
    ("GET", "/settings/users"): ADMIN,
    ("POST", "/settings/users/invite"): ADMIN,
    ("POST", "/settings/users/{user_id}/role"): ADMIN,
    ("POST", "/settings/users/{user_id}/remove"): ADMIN,
    ("POST", "/settings/users/invites/{invite_id}/withdraw"): ADMIN,
}

_V2 = "/api/v2"
#: The REST operations that change something, and those that only read but need more
#: than a read-only key.
API: dict[Route, Role] = {
    # Contacts, lists, unsubscribes, surveys sent by hand: members
    ("POST", f"{_V2}/contacts/"): MEMBER,
    ("POST", f"{_V2}/contacts/remove/"): MEMBER,
    ("PUT", f"{_V2}/contacts/{{contact_id}}/"): MEMBER,
    ("PATCH", f"{_V2}/contacts/{{contact_id}}/"): MEMBER,
    ("DELETE", f"{_V2}/contacts/{{contact_id}}/"): MEMBER,
    ("POST", f"{_V2}/lists/"): MEMBER,
    ("PUT", f"{_V2}/lists/{{list_id}}/"): MEMBER,
    ("PATCH", f"{_V2}/lists/{{list_id}}/"): MEMBER,
    ("DELETE", f"{_V2}/lists/{{list_id}}/"): MEMBER,
    ("POST", f"{_V2}/lists/{{list_id}}/contacts/"): MEMBER,
    ("DELETE", f"{_V2}/lists/{{list_id}}/contacts/{{contact_id}}/"): MEMBER,
    ("POST", f"{_V2}/unsubscribes/"): MEMBER,
    ("POST", f"{_V2}/survey/"): MEMBER,
    # Campaigns and their email templates: members; a public link (its key): admins
    ("POST", f"{_V2}/campaigns/"): MEMBER,
    ("PUT", f"{_V2}/campaigns/{{campaign_id}}/"): MEMBER,
    ("PATCH", f"{_V2}/campaigns/{{campaign_id}}/"): MEMBER,
    ("POST", f"{_V2}/campaigns/{{campaign_id}}/pause/"): MEMBER,
    ("POST", f"{_V2}/campaigns/{{campaign_id}}/resume/"): MEMBER,
    ("POST", f"{_V2}/campaigns/{{campaign_id}}/complete/"): MEMBER,
    ("POST", f"{_V2}/campaigns/{{campaign_id}}/send-surveys/"): MEMBER,
    ("POST", f"{_V2}/campaigns/{{campaign_id}}/link/"): ADMIN,
    ("DELETE", f"{_V2}/campaigns/{{campaign_id}}/link/"): ADMIN,
    ("POST", f"{_V2}/email/"): MEMBER,
    ("PUT", f"{_V2}/email/{{template_id}}/"): MEMBER,
    ("PATCH", f"{_V2}/email/{{template_id}}/"): MEMBER,
    ("PUT", f"{_V2}/email/{{template_id}}/logo/"): MEMBER,
    ("DELETE", f"{_V2}/email/{{template_id}}/logo/"): MEMBER,
    # Feedback and saved segments: members
    ("PUT", f"{_V2}/feedback/{{feedback_id}}/"): MEMBER,
    ("PATCH", f"{_V2}/feedback/{{feedback_id}}/"): MEMBER,
    ("POST", f"{_V2}/feedback/{{feedback_id}}/tags/"): MEMBER,
    ("DELETE", f"{_V2}/feedback/{{feedback_id}}/tags/{{tag:path}}/"): MEMBER,
    ("POST", f"{_V2}/feedback/{{feedback_id}}/notes/"): MEMBER,
    ("POST", f"{_V2}/segments/"): MEMBER,
    ("PATCH", f"{_V2}/segments/{{segment_id}}/"): MEMBER,
    ("DELETE", f"{_V2}/segments/{{segment_id}}/"): MEMBER,
    # Comment keywords: anyone reads them and their rules; members hide, rename and merge
    ("POST", f"{_V2}/analytics/keywords/rules/"): MEMBER,
    ("DELETE", f"{_V2}/analytics/keywords/rules/{{rule_id}}/"): MEMBER,
    # Comment themes: anyone reads them; members rename, hide and merge them
    ("PATCH", f"{_V2}/analytics/themes/{{theme_id}}/"): MEMBER,
    ("POST", f"{_V2}/analytics/themes/{{theme_id}}/merge/"): MEMBER,
    # The organization's settings: admins
    ("PATCH", f"{_V2}/organization/"): ADMIN,
    ("PUT", f"{_V2}/segment-source/"): ADMIN,
    ("DELETE", f"{_V2}/segment-source/"): ADMIN,
    ("PUT", f"{_V2}/web-survey/"): ADMIN,
    ("POST", f"{_V2}/web-survey/rotate-secret/"): ADMIN,
    ("POST", f"{_V2}/web-survey/rotate-site-key/"): ADMIN,
    # NPS alerts: anyone reads them; a check (it sends webhooks and emails): admins
    ("POST", f"{_V2}/alerts/check/"): ADMIN,
    # Webhooks: admins, reading included
    ("GET", f"{_V2}/webhooks/"): ADMIN,
    ("POST", f"{_V2}/webhooks/"): ADMIN,
    ("GET", f"{_V2}/webhooks/{{webhook_id}}/"): ADMIN,
    ("PATCH", f"{_V2}/webhooks/{{webhook_id}}/"): ADMIN,
    ("DELETE", f"{_V2}/webhooks/{{webhook_id}}/"): ADMIN,
    ("POST", f"{_V2}/webhooks/{{webhook_id}}/test/"): ADMIN,
    ("POST", f"{_V2}/webhooks/{{webhook_id}}/rotate-secret/"): ADMIN,
    ("GET", f"{_V2}/webhooks/{{webhook_id}}/deliveries/"): ADMIN,
    ("GET", f"{_V2}/webhooks/{{webhook_id}}/deliveries/{{delivery_id}}/"): ADMIN,
    ("POST", f"{_V2}/webhooks/{{webhook_id}}/deliveries/{{delivery_id}}/redeliver/"): ADMIN,
}

NEEDS: dict[Route, Role] = {**DASHBOARD, **API}
_CONVERTOR = re.compile(r"\{(\w+):\w+\}")
#: ``NEEDS`` by paths as the OpenAPI document writes them (``{tag}``, not ``{tag:path}``).
_BY_DOCUMENT_PATH = {(m, _CONVERTOR.sub(r"{\1}", p)): role for (m, p), role in NEEDS.items()}


def role_needed(method: str, path: str) -> Role | None:
    """The role the route ``path`` (its template) needs for ``method``; ``None``: open."""
    method = "GET" if method == "HEAD" else method
    if (method, path) in OPEN:
        return None
    found = NEEDS.get((method, path)) or _BY_DOCUMENT_PATH.get((method, path))
    if found is not None:
        return found
    return READ_ONLY if method in READ_METHODS else MEMBER


async def check_access(request: Request, services: ServicesDep) -> None:
    """Refuse the request unless its key or user has the role its route needs: 401 (or the
    sign-in page) without one, 403 with too small a role."""
    path = getattr(request.scope.get("route"), "path", None)
    needed = role_needed(request.method, path) if isinstance(path, str) else READ_ONLY
    if needed is None:
        return
    if isinstance(path, str) and path.startswith(API_PREFIX):
        role = api_key_holder(request, services).role
        if not role.allows(needed):
            raise HTTPException(
                403, f"This API key is {role.value}: this needs a key with the {needed} role."
            )
        return
    session = await current_session(request, services)
    if not session.user.role.allows(needed):
        raise RoleRequired(needed)
