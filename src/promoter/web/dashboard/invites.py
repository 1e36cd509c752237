"""Accepting an invitation: /invite/{token} asks the invitee for a name and a password,
makes their user (with the invitation's role) and signs them in. An unknown link is 404,
a used, withdrawn or expired one 410; failures are throttled as sign-ins are."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from promoter.accounts.invites import (
    Invite,
    InviteGone,
    InviteUnknown,
    accept_invite,
    find_invite,
)
from promoter.accounts.passwords import MIN_LENGTH, WeakPassword
from promoter.accounts.sessions import start_session
from promoter.accounts.users import UserError
from promoter.services import Services
from promoter.web.dashboard.auth import login_throttle
from promoter.web.dashboard.forms import read_form
from promoter.web.dashboard.session import from_another_site, render, signed_in
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread, read

router = APIRouter(include_in_schema=False)

MAX_NAME = 200


def _gone(request: Request, exc: Exception) -> Response:
    if isinstance(exc, InviteGone):
        message = f"{str(exc)[:1].upper()}{str(exc)[1:]}. Ask an admin for a new one."
        return render(
            request, "error.html", None, status=410, heading="Invitation ended", message=message
        )
    return render(
        request,
        "error.html",
        None,
        status=404,
        heading="Not found",
        message="This invitation link is not valid: check that it was copied whole.",
    )


def _form(
    request: Request, invite: Invite, *, status: int = 200, name: str = "", error: str = ""
) -> Response:
    return render(
        request,
        "invite.html",
        None,
        status=status,
        invite=invite,
        name=name,
        error=error,
        min_length=MIN_LENGTH,
        action=request.url.path,
    )


def _throttle_keys(request: Request, token: str) -> tuple[str, str]:
    client = request.client.host if request.client else "unknown"
    digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
    return f"invite:{digest}", f"ip:{client}"


@router.get("/invite/{token}")
async def invite_page(request: Request, services: ServicesDep, token: str) -> Response:
    try:
        invite = await read(services, lambda conn: find_invite(conn, token=token, now=_now()))
    except (InviteUnknown, InviteGone) as exc:
        return _gone(request, exc)
    return _form(request, invite)


def _now() -> datetime:
    return datetime.now(UTC)


def _accept(services: Services, token: str, name: str, password: str) -> str:
    """The new user's session token."""
    now = _now()
    with services.database.write() as conn:
        user = accept_invite(
            conn, services.passwords, token=token, name=name, password=password, now=now
        )
        return start_session(conn, user_id=user.id, now=now)


@router.post("/invite/{token}")
async def accept(request: Request, services: ServicesDep, token: str) -> Response:
    form = await read_form(request)
    throttle = login_throttle(request)
    keys = _throttle_keys(request, token)
    wait = throttle.retry_after(*keys)
    if wait:
        return render(
            request,
            "error.html",
            None,
            status=429,
            heading="Too many attempts",
            message=f"Try again in {(wait + 59) // 60} minute(s).",
        )
    try:
        invite = await read(services, lambda conn: find_invite(conn, token=token, now=_now()))
    except (InviteUnknown, InviteGone) as exc:
        throttle.failed(*keys)
        return _gone(request, exc)
    name = " ".join(form.get("name").split())[:MAX_NAME]
    if from_another_site(request, opaque_origin_allowed=False):
        error = "Accept the invitation from its own page: forms from other sites are refused."
        return _form(request, invite, status=403, name=name, error=error)
    if form.get("password") != form.get("password_again"):
        return _form(request, invite, status=400, name=name, error="The passwords differ.")
    try:
        session_token = await in_thread(_accept, services, token, name, form.get("password"))
    except (InviteUnknown, InviteGone) as exc:
        return _gone(request, exc)
    except (WeakPassword, UserError) as exc:
        throttle.failed(*keys)
        error = f"{str(exc)[:1].upper()}{str(exc)[1:]}."
        return _form(request, invite, status=400, name=name, error=error)
    throttle.succeeded(keys[0])
    return signed_in("/", session_token, services)
