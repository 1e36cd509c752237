"""Settings > Segment source: where the organization's survey facts are sent as Segment
messages (write key, host, events, identify), and the log of the messages sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.accounts.sessions import Session
from promoter.orgs.service import get_organization
from promoter.segment_source.outbox import LoggedMessage, list_messages
from promoter.segment_source.settings import (
    DEFAULT_HOST,
    DEFAULT_PREFIX,
    EVENTS,
    SURVEY_DISMISSED,
    InvalidSource,
    SourceSettings,
    delete_source,
    get_source,
    save_source,
)
from promoter.services import Services
from promoter.web.dashboard.forms import Form, read_form
from promoter.web.dashboard.session import SessionDep, check_csrf, render, see_other, with_done
from promoter.web.state import ServicesDep
from promoter.web.threads import read, write

router = APIRouter(include_in_schema=False)

PAGE = "/settings/segment-source"
LOGGED = 50
MESSAGES = {
    "saved": "Saved: new survey facts are sent to the host.",
    "removed": "Removed: nothing more is sent, and what was waiting is dropped.",
}
HINTS = {
    "Survey Sent": "a survey email or its reminder was sent",
    "Survey Responded": "a score (with its comment and follow-up answers) was recorded",
    "Survey Comment Added": "a comment was written",
    SURVEY_DISMISSED: "reserved for web surveys: not sent yet",
}


@dataclass(frozen=True)
class SourceView:
    source: SourceSettings | None
    total: int
    messages: list[LoggedMessage]
    timezone: str


def _load(conn: Connection, organization_id: int) -> SourceView:
    total, found = list_messages(conn, organization_id=organization_id, limit=LOGGED)
    org = get_organization(conn, organization_id=organization_id)
    return SourceView(get_source(conn, organization_id=organization_id), total, found, org.timezone)


def _values(view: SourceView) -> dict[str, Any]:
    source = view.source
    if source is None:
        return {
            "host": DEFAULT_HOST,
            "events": list(EVENTS[:3]),
            "identify": True,
            "trait_prefix": DEFAULT_PREFIX,
            "enabled": True,
        }
    return {
        "host": source.host,
        "events": list(source.events),
        "identify": source.identify,
        "trait_prefix": source.trait_prefix,
        "enabled": source.enabled,
    }


async def _page(
    request: Request,
    services: Services,
    session: Session,
    *,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    message: str = "",
) -> Response:
    view = await read(services, _load, session.user.organization_id)
    return render(
        request,
        "settings_segment_source.html",
        session,
        status=status,
        section="settings",
        extra_css=["settings.css"],
        view=view,
        values=values or _values(view),
        errors=errors or {},
        events=EVENTS,
        hints=HINTS,
        message=message,
        timezone=view.timezone,
    )


@router.get(PAGE)
async def source_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    done = request.query_params.get("done", "")
    return await _page(request, services, session, message=MESSAGES.get(done, ""))


def _submitted(form: Form) -> dict[str, Any]:
    return {
        "write_key": form.get("write_key"),
        "host": form.get("host") or "",
        "events": form.getlist("events"),
        "identify": form.get("identify") == "on",
        "trait_prefix": form.get("trait_prefix") or "",
        "enabled": form.get("enabled") == "on",
    }


@router.post(PAGE)
async def source_save(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    values = _submitted(form)
    try:
        await write(
            services,
            lambda conn: save_source(
                conn,
                organization_id=session.user.organization_id,
                policy=services.webhook_policy,
                now=datetime.now(UTC),
                **values,
            ),
        )
    except InvalidSource as exc:
        errors = {field: " ".join(problems) for field, problems in exc.errors.items()}
        values.pop("write_key")  # never written back into the page
        shown = {
            **values,
            "host": values["host"][:2000],
            "trait_prefix": values["trait_prefix"][:40],
        }
        return await _page(request, services, session, status=400, values=shown, errors=errors)
    return see_other(with_done(PAGE, "saved"))


@router.post(PAGE + "/delete")
async def source_delete(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    await write(
        services, lambda conn: delete_source(conn, organization_id=session.user.organization_id)
    )
    return see_other(with_done(PAGE, "removed"))
