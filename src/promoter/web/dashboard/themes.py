"""Themes: groups of similar comments, each with its count, NPS and interval, change and a
small weekly trend; a theme's page lists its comments, linked to their feedback, and lets
members rename or hide it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.analytics.keywords import MIN_NPS
from promoter.analytics.query import Scope
from promoter.analytics.themes import (
    MAX_NAME,
    Comment,
    Theme,
    ThemeError,
    ThemeNotFound,
    Themes,
    change_theme,
    theme_comments,
    themes_report,
)
from promoter.domain.ids import MAX_INT_ID
from promoter.services import Services
from promoter.web.dashboard.answers import ask_async
from promoter.web.dashboard.forms import read_form
from promoter.web.dashboard.keywords import BAR_HEIGHT, trend_bars
from promoter.web.dashboard.session import (
    SessionDep,
    check_csrf,
    refused,
    render,
    safe_next,
    see_other,
    with_done,
)
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread

router = APIRouter(include_in_schema=False)
PAGE = "/themes"


def _list(services: Services, hidden: bool) -> Callable[[Connection, Scope, ZoneInfo], Themes]:
    def compute(conn: Connection, scope: Scope, zone: ZoneInfo) -> Themes:
        cache = services.analytics.phrases
        return themes_report(conn, scope, cache=cache, zone=zone, hidden=hidden)

    return compute


def _one(
    services: Services, theme_id: int
) -> Callable[[Connection, Scope, ZoneInfo], tuple[Theme, list[Comment]] | None]:
    def compute(
        conn: Connection, scope: Scope, zone: ZoneInfo
    ) -> tuple[Theme, list[Comment]] | None:
        if not 1 <= theme_id <= MAX_INT_ID:
            return None
        try:
            return theme_comments(
                conn, scope, theme_id=theme_id, cache=services.analytics.phrases, zone=zone
            )
        except ThemeNotFound:
            return None

    return compute


def _common(request: Request) -> dict[str, Any]:
    return {
        "section": "themes",
        "min_nps": MIN_NPS,
        "trend_bars": trend_bars,
        "bar_height": BAR_HEIGHT,
        "back": request.url.path + ("?" + request.url.query if request.url.query else ""),
    }


@router.get(PAGE)
async def themes_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    hidden = request.query_params.get("hidden") == "1"
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "hidden"]
    asked = await ask_async(services, session, query, _list(services, hidden))
    return render(
        request,
        "themes.html",
        session,
        asked=asked,
        result=asked.answer,
        hidden=hidden,
        **_common(request),
        **asked.bar,
    )


@router.get(PAGE + "/{theme_id}")
async def theme_page(
    request: Request, services: ServicesDep, session: SessionDep, theme_id: int
) -> Response:
    asked = await ask_async(
        services, session, request.query_params.multi_items(), _one(services, theme_id)
    )
    if asked.answer is None and not asked.bar.get("filter_error"):
        message = "There is no such theme."
        return refused(request, session, status=404, heading="Not found", message=message)
    theme, comments = asked.answer if asked.answer is not None else (None, [])
    return render(
        request,
        "theme.html",
        session,
        asked=asked,
        theme=theme,
        comments=comments,
        max_name=MAX_NAME,
        **_common(request),
        **asked.bar,
    )


@router.post(PAGE + "/{theme_id}")
async def theme_save(
    request: Request, services: ServicesDep, session: SessionDep, theme_id: int
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    hidden = {"hide": True, "show": False}.get(form.get("visibility"))

    def save() -> tuple[int, str] | None:
        if not 1 <= theme_id <= MAX_INT_ID:
            return 404, "There is no such theme."
        try:
            with services.database.write() as conn:
                change_theme(
                    conn,
                    organization_id=session.user.organization_id,
                    theme_id=theme_id,
                    name=form.get("name"),
                    rename="name" in form,
                    hidden=hidden,
                )
        except ThemeNotFound:
            return 404, "There is no such theme."
        except ThemeError as exc:
            return 400, str(exc)
        return None

    problem = await in_thread(save)
    if problem is not None:
        status, message = problem
        heading = "Not found" if status == 404 else "The theme was not saved"
        return refused(request, session, status=status, heading=heading, message=message)
    back = safe_next(form.get("return"))
    return see_other(with_done(back if back.startswith(PAGE) else PAGE, "theme-saved"))
