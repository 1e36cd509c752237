"""Who is signed in: the session cookie, CSRF checks, and rendering pages for a session."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import jinja2
from fastapi import Depends, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from promoter.accounts.sessions import LIFETIME, Session, find_session
from promoter.domain.roles import Role
from promoter.services import Services
from promoter.web.dashboard.forms import Form
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread

COOKIE = "promoter_session"

#: Sent with every dashboard page: no inline script or style, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


#: Messages a redirect can ask the next page to show (``?done=CODE``); unknown codes show
#: nothing, so a link cannot put words in the dashboard's mouth.
FLASHES = {
    "segment-saved": "Segment saved.",
    "segment-deleted": "Segment deleted.",
    "keyword-rule-saved": "Keyword rule saved: it applies to every view of the keywords.",
    "keyword-rule-deleted": "Keyword rule deleted.",
    "theme-saved": "Theme saved.",
    "tags-saved": "Tags saved.",
    "note-saved": "Note added.",
    "status-saved": "Status changed.",
    "reply-queued": "Reply queued: it is sent within a minute, and answers go to your address.",
    "bulk-tagged": "Tag added to the selected feedback.",
    "bulk-untagged": "Tag removed from the selected feedback.",
    "bulk-closed": "Loop closed on the selected feedback.",
    "bulk-reopened": "Selected feedback reopened.",
    "campaign-created": "Campaign created.",
    "campaign-saved": "Campaign saved.",
    "campaign-paused": "Campaign paused.",
    "campaign-resumed": "Campaign resumed.",
    "template-saved": "Email template saved.",
    "link-made": "Public link made: anyone with it can answer.",
    "link-rotated": "New public link made: the old one no longer works.",
    "link-removed": "Public link taken away: it no longer works.",
    "key-revoked": "API key revoked.",
    "secret-saved": "Webhook shared secret saved.",
    "secret-cleared": "Webhook shared secret removed: X-Signature is no longer required.",
    "timezone-saved": "Time zone saved.",
    "cooldown-saved": "Survey cooldown saved.",
    "contact-unsubscribed": "Contact unsubscribed: no more surveys will be sent.",
    "contact-inactive": "Contact marked inactive.",
    "contact-active": "Contact marked active.",
    "role-saved": "Role changed: it applies from the user's next page.",
    "user-removed": "User removed: they are signed out.",
    "invite-withdrawn": "Invitation withdrawn: its link no longer works.",
}


class SignInRequired(Exception):
    """Raised by pages that need a session; answered with a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class CsrfFailed(Exception):
    """A form arrived without this session's CSRF token (or from another origin)."""


class RoleRequired(Exception):
    """The signed-in user's role is not enough for the page (answered 403)."""

    def __init__(self, needed: Role) -> None:
        super().__init__(needed)
        self.needed = needed


def _load(services: Services, token: str) -> Session | None:
    with services.database.read() as conn:
        return find_session(conn, token=token, now=datetime.now(UTC))


async def current_session(request: Request, services: ServicesDep) -> Session:
    """The request's session, read once per request (its user's role included: a change
    applies from the next request)."""
    known: Session | None = getattr(request.state, "session", None)
    if known is not None:
        return known
    token = request.cookies.get(COOKIE)
    session = await in_thread(_load, services, token) if token else None
    if session is None:
        target = request.url.path
        if request.url.query and request.method == "GET":
            target += "?" + request.url.query
        raise SignInRequired(target)
    request.state.session = session
    return session


SessionDep = Annotated[Session, Depends(current_session)]


def from_another_site(request: Request, *, opaque_origin_allowed: bool = True) -> bool:
    """True when the browser says the request comes from another site: an ``Origin`` that is
    not this host (or ``null``, an opaque origin, unless allowed), or ``Sec-Fetch-Site``
    naming another site."""
    if request.headers.get("sec-fetch-site", "same-origin") in {"cross-site", "same-site"}:
        return True
    origin = request.headers.get("origin")
    if not origin:
        return False
    if origin == "null":
        return not opaque_origin_allowed
    return urlsplit(origin).netloc != request.headers.get("host", "")


def check_csrf(request: Request, session: Session, form: Form) -> None:
    """The form's ``csrf`` field must be the session's token, and a browser's ``Origin``
    (when sent) must be this site."""
    if from_another_site(request):
        raise CsrfFailed("the form came from another site")
    given = form.get("csrf").encode()
    if not hmac.compare_digest(given, session.csrf_token.encode()):
        raise CsrfFailed("the form has expired or did not come from this page")


def sign_in_url(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="")


def safe_next(value: str | None) -> str:
    """Only a path on this site: never an absolute or scheme-relative URL."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def templates(request: Request) -> jinja2.Environment:
    env: jinja2.Environment = request.app.state.dashboard_templates
    return env


def render(
    request: Request,
    template: str,
    session: Session | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    html = (
        templates(request)
        .get_template(template)
        .render(
            session=session,
            user=session.user if session else None,
            can_edit=session is not None and session.user.role.allows(Role.MEMBER),
            is_admin=session is not None and session.user.role.allows(Role.ADMIN),
            csrf=session.csrf_token if session else "",
            path=request.url.path,
            flash=FLASHES.get(request.query_params.get("done", ""), ""),
            **context,
        )
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def refused(
    request: Request, session: Session, *, status: int, heading: str, message: str
) -> HTMLResponse:
    """The error page a form that could not be done answers: 404 for what does not exist
    (or is another organization's), 400 for what was asked wrong."""
    return render(request, "error.html", session, status=status, heading=heading, message=message)


def with_done(url: str, done: str) -> str:
    """``url`` asking its page to show the message ``done`` (``?done=CODE``): any ``done``
    already there is replaced; the other parameters and the fragment are kept."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "done"]
    query.append(("done", done))
    return urlunsplit(parts._replace(query=urlencode(query)))


def see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def signed_in(url: str, token: str, services: Services) -> Response:
    """A redirect to ``url`` that gives the browser the new session's cookie."""
    redirect = see_other(url)
    redirect.set_cookie(
        COOKIE,
        token,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=services.settings.public_url.startswith("https://"),
        path="/",
    )
    return redirect
