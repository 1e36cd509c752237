"""The Settings page for Segment: API keys, the URLs to paste into Segment, the webhook
shared secret, the organization's time zone and survey cooldown, and a live view of the
last messages received."""

from __future__ import annotations

import base64
import functools
import secrets
from dataclasses import dataclass
from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.accounts.sessions import Session
from promoter.analytics.params import zone_of
from promoter.domain.eligibility import MAX_COOLDOWN_DAYS
from promoter.domain.roles import ROLES, Role, parse_role
from promoter.ingest.received import Received
from promoter.orgs.service import (
    ApiKeyInfo,
    NewKey,
    NotFound,
    Organization,
    create_api_key,
    get_organization,
    list_api_keys,
    revoke_api_key,
    set_cooldown,
    set_timezone,
    set_webhook_secret,
)
from promoter.services import Services
from promoter.web.dashboard.forms import read_form
from promoter.web.dashboard.session import (
    FLASHES,
    SessionDep,
    check_csrf,
    render,
    see_other,
    with_done,
)
from promoter.web.dashboard.shown_once import keep_for_page, take_for_page
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread, write

router = APIRouter(include_in_schema=False)

PAGE = "/settings/segment"
#: Messages shown in the live view.
RECEIVED_SHOWN = 50
#: A shared secret is typed or pasted by a person: keep it to one printable line.
MAX_SECRET = 200
STATUSES = ("accepted", "duplicate", "ignored", "rejected")


@dataclass(frozen=True)
class Endpoints:
    """The URLs Segment needs, from the service's public URL."""

    base: str

    @property
    def segment(self) -> str:
        return f"{self.base}/segment"

    @property
    def batch(self) -> str:
        return f"{self.base}/v1/batch"


@dataclass(frozen=True)
class SettingsView:
    org: Organization
    keys: list[ApiKeyInfo]

    @property
    def active_keys(self) -> int:
        return sum(key.active for key in self.keys)


@functools.cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones() - {"localtime", "posixrules"}))


def _load(services: Services, organization_id: int) -> SettingsView:
    with services.database.read() as conn:
        org = get_organization(conn, organization_id=organization_id)
        keys = list_api_keys(conn, organization_id=organization_id)
    # Newest first; revoked keys after the active ones.
    keys.sort(key=lambda k: (not k.active, -k.id))
    return SettingsView(org, keys)


def _received(services: Services, session: Session) -> list[Received]:
    return services.received.latest(session.user.organization_id, RECEIVED_SHOWN)


async def _page(
    request: Request,
    services: Services,
    session: Session,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    view = await in_thread(_load, services, session.user.organization_id)
    context.setdefault("message", "")
    context.setdefault("new_key", None)
    context.setdefault("new_key_basic", "")
    context.setdefault("new_secret", None)
    context.setdefault("key_error", "")
    context.setdefault("secret_error", "")
    context.setdefault("timezone_error", "")
    context.setdefault("timezone_value", view.org.timezone)
    context.setdefault("cooldown_error", "")
    context.setdefault("cooldown_value", str(view.org.cooldown_days))
    return render(
        request,
        "settings_segment.html",
        session,
        status=status,
        section="settings",
        extra_css=["settings.css"],
        extra_js=["settings.js"],
        view=view,
        endpoints=Endpoints(services.settings.public_url),
        cache_seconds=services.settings.key_cache_seconds,
        zones=_zones(),
        received=_received(services, session),
        zone=zone_of(view.org.timezone),
        max_cooldown=MAX_COOLDOWN_DAYS,
        roles=ROLES,
        **context,
    )


def _not_found(request: Request, session: Session, what: str) -> Response:
    return render(request, "error.html", session, status=404, heading="Not found", message=what)


@router.get(PAGE)
async def segment_settings(
    request: Request, services: ServicesDep, session: SessionDep
) -> Response:
    return await _page(request, services, session, **await take_for_page(request, PAGE))


@router.get(PAGE + "/received")
async def received_fragment(
    request: Request, services: ServicesDep, session: SessionDep
) -> Response:
    """The table of the last messages received, alone: the page refreshes it in place."""

    def timezone() -> str:
        with services.database.read() as conn:
            org = get_organization(conn, organization_id=session.user.organization_id)
        return org.timezone

    zone = zone_of(await in_thread(timezone))
    return render(
        request,
        "settings_received.html",
        session,
        received=_received(services, session),
        zone=zone,
    )


# --- API keys ------------------------------------------------------------------------------


@router.post(PAGE + "/keys")
async def create_key(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    name = " ".join(form.get("name").split())
    problem = "The name is too long: at most 100 characters." if len(name) > 100 else ""
    try:
        role = parse_role(form.get("role") or Role.ADMIN.value)
    except ValueError as exc:
        problem = f"{str(exc)[:1].upper()}{str(exc)[1:]}."
    if problem:
        return await _page(request, services, session, status=400, key_error=problem)

    def create(conn: Connection) -> NewKey:
        return create_api_key(
            conn, organization_id=session.user.organization_id, name=name or "default", role=role
        )

    key = await write(services, create)
    # The full key is shown once by the page redirected to: never in a URL, never stored.
    await keep_for_page(
        request,
        PAGE,
        {
            "new_key": {"key": key.key},
            "new_key_basic": "Basic " + base64.b64encode(f"{key.key}:".encode()).decode("ascii"),
            "message": "API key created. Copy it now: it is not shown again.",
        },
    )
    return see_other(PAGE + "#keys-h")


@router.post(PAGE + "/keys/{key_id}/revoke")
async def revoke_key(
    request: Request, services: ServicesDep, session: SessionDep, key_id: int
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)

    def revoke() -> bool:
        try:
            with services.database.write() as conn:
                revoke_api_key(conn, organization_id=session.user.organization_id, key_id=key_id)
        except NotFound:
            return False
        services.keys.forget_organization(session.user.organization_id)
        return True

    if not await in_thread(revoke):
        return _not_found(request, session, "There is no such active API key.")
    return see_other(with_done(PAGE, "key-revoked"))


# --- Webhook shared secret -----------------------------------------------------------------


def _secret_problem(secret: str) -> str:
    if not secret:
        return "Enter a shared secret, or generate one."
    if len(secret) > MAX_SECRET:
        return f"The secret is too long: at most {MAX_SECRET} characters."
    if not secret.isprintable():
        return "The secret must be one line of printable characters."
    return ""


@router.post(PAGE + "/secret")
async def save_secret(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    if form.get("generate"):
        secret = secrets.token_urlsafe(32)
    else:
        secret = form.get("secret").strip()
        problem = _secret_problem(secret)
        if problem:
            return await _page(request, services, session, status=400, secret_error=problem)

    def save() -> None:
        with services.database.write() as conn:
            set_webhook_secret(conn, organization_id=session.user.organization_id, secret=secret)
        services.keys.forget_organization(session.user.organization_id)

    await in_thread(save)
    # Shown once by the page redirected to, so that it can be copied into Segment.
    await keep_for_page(request, PAGE, {"new_secret": secret, "message": FLASHES["secret-saved"]})
    return see_other(PAGE + "#secret-h")


@router.post(PAGE + "/secret/clear")
async def clear_secret(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)

    def clear() -> None:
        with services.database.write() as conn:
            set_webhook_secret(conn, organization_id=session.user.organization_id, secret=None)
        services.keys.forget_organization(session.user.organization_id)

    await in_thread(clear)
    return see_other(with_done(PAGE, "secret-cleared"))


# --- Time zone -----------------------------------------------------------------------------


@router.post(PAGE + "/timezone")
async def save_timezone(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    wanted = form.get("timezone")

    def save() -> str | None:
        try:
            with services.database.write() as conn:
                set_timezone(conn, organization_id=session.user.organization_id, timezone=wanted)
        except ValueError as exc:
            return str(exc)
        return None

    problem = await in_thread(save)
    if problem is not None:
        return await _page(
            request,
            services,
            session,
            status=400,
            timezone_error=problem[0].upper() + problem[1:] + ".",
            timezone_value=wanted[:80],
        )
    return see_other(with_done(PAGE + "#timezone-h", "timezone-saved"))


# --- Survey cooldown -----------------------------------------------------------------------


def _cooldown_days(text: str) -> int | None:
    """The days typed, or ``None`` when they are not a whole number in range."""
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 3):
        return None
    days = int(text)
    return days if days <= MAX_COOLDOWN_DAYS else None


@router.post(PAGE + "/cooldown")
async def save_cooldown(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    wanted = form.get("cooldown_days")
    days = _cooldown_days(wanted)
    if days is None:
        return await _page(
            request,
            services,
            session,
            status=400,
            cooldown_error=f"Enter a whole number of days from 0 to {MAX_COOLDOWN_DAYS}.",
            cooldown_value=wanted[:20],
        )
    await write(
        services,
        lambda conn: set_cooldown(
            conn, organization_id=session.user.organization_id, cooldown_days=days
        ),
    )
    return see_other(with_done(PAGE + "#cooldown-h", "cooldown-saved"))
