"""Settings > Web survey: the site key and the snippet to paste, the identity secret
(shown once when made), the allowed origins (one per line) and enabled."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.accounts.sessions import Session
from promoter.orgs.service import get_organization
from promoter.services import Services
from promoter.web.dashboard.forms import read_form
from promoter.web.dashboard.session import SessionDep, check_csrf, render, see_other, with_done
from promoter.web.dashboard.shown_once import keep_for_page, take_for_page
from promoter.web.state import ServicesDep
from promoter.web.threads import read, write
from promoter.websurveys.origins import MAX_ORIGINS
from promoter.websurveys.settings import (
    GRACE,
    InvalidSettings,
    WebSurveySettings,
    get_settings,
    rotate_secret,
    rotate_site_key,
    save_settings,
)

router = APIRouter(include_in_schema=False)

PAGE = "/settings/web-survey"
MESSAGES = {
    "saved": "Saved.",
    "site-key": "A new site key: paste the new snippet on your site; the old key no longer works.",
}
#: Characters of the origins field written back into a refused form.
SHOWN_ORIGINS = 20_000


def snippet(services: Services, site_key: str) -> str:
    """The tag a customer pastes into their pages."""
    base = services.settings.public_url
    return f'<script src="{base}/w/promoter.js" data-site-key="{site_key}" async></script>'


def _load(conn: Connection, organization_id: int) -> tuple[WebSurveySettings | None, str]:
    org = get_organization(conn, organization_id=organization_id)
    return get_settings(conn, organization_id=organization_id), org.timezone


async def _page(
    request: Request,
    services: Services,
    session: Session,
    *,
    status: int = 200,
    origins: str | None = None,
    enabled: bool | None = None,
    error: str = "",
    message: str = "",
    new_secret: str = "",
) -> Response:
    org_id = session.user.organization_id
    found, timezone = await read(services, _load, org_id)
    values: dict[str, Any] = {
        "origins": "\n".join(found.allowed_origins) if found else "",
        "enabled": found.enabled if found else False,
    }
    if origins is not None:
        values["origins"] = origins[:SHOWN_ORIGINS]
    if enabled is not None:
        values["enabled"] = enabled
    return render(
        request,
        "settings_web_survey.html",
        session,
        status=status,
        section="settings",
        extra_css=["settings.css"],
        found=found,
        snippet=snippet(services, found.site_key) if found else "",
        values=values,
        error=error,
        message=message,
        new_secret=new_secret,
        timezone=timezone,
        grace_hours=int(GRACE.total_seconds() // 3600),
        max_origins=MAX_ORIGINS,
    )


@router.get(PAGE)
async def web_survey_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    done = request.query_params.get("done", "")
    shown = {"message": MESSAGES.get(done, ""), **await take_for_page(request, PAGE)}
    return await _page(request, services, session, **shown)


@router.post(PAGE)
async def web_survey_save(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    origins = form.get("allowed_origins") or ""
    enabled = form.get("enabled") == "on"
    lines = [line for line in origins.splitlines() if line.strip()]
    try:
        saved, created = await write(
            services,
            lambda conn: save_settings(
                conn,
                organization_id=session.user.organization_id,
                allowed_origins=lines,
                enabled=enabled,
                now=datetime.now(UTC),
            ),
        )
    except InvalidSettings as exc:
        error = " ".join(exc.errors.get("allowed_origins", []))
        return await _page(
            request, services, session, status=400, origins=origins, enabled=enabled, error=error
        )
    services.sites.forget_organization(session.user.organization_id)
    if created:
        message = "Saved. Your site key and identity secret are ready."
        return await _show_secret(request, message, saved.identity_secret)
    return see_other(with_done(PAGE, "saved"))


async def _show_secret(request: Request, message: str, secret: str) -> Response:
    """To the page, which shows the identity secret once: never in a URL."""
    await keep_for_page(request, PAGE, {"message": message, "new_secret": secret})
    return see_other(PAGE)


@router.post(PAGE + "/rotate-secret")
async def web_survey_rotate_secret(
    request: Request, services: ServicesDep, session: SessionDep
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    rotated = await write(
        services,
        lambda conn: rotate_secret(
            conn, organization_id=session.user.organization_id, now=datetime.now(UTC)
        ),
    )
    services.sites.forget_organization(session.user.organization_id)
    if rotated is None:
        return see_other(PAGE)
    message = "A new identity secret. The previous one keeps working for 24 hours."
    return await _show_secret(request, message, rotated.identity_secret)


@router.post(PAGE + "/rotate-site-key")
async def web_survey_rotate_site_key(
    request: Request, services: ServicesDep, session: SessionDep
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    await write(
        services,
        lambda conn: rotate_site_key(
            conn, organization_id=session.user.organization_id, now=datetime.now(UTC)
        ),
    )
    services.sites.forget_organization(session.user.organization_id)
    return see_other(with_done(PAGE, "site-key"))
