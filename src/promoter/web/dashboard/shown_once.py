"""Secrets a dashboard page shows once, after the form that made them has redirected.

A new API key or signing secret is made by a POST; the browser is then sent to the page
(303, Post/Redirect/Get) which shows it. Between the two it is kept in the database,
sealed under the session's cookie (``accounts/shown_once.py``), so that whichever server
process answers the redirect shows it; never in a URL, and taken (deleted) by the first
page that shows it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from promoter.accounts import shown_once
from promoter.services import Services
from promoter.web.dashboard.session import COOKIE
from promoter.web.threads import read, write


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def keep_for_page(request: Request, page: str, context: dict[str, Any]) -> None:
    """Show ``context`` (JSON values) on the next view of ``page`` by this session (then
    forget it)."""
    await write(
        _services(request),
        shown_once.keep,
        session_token=request.cookies.get(COOKIE, ""),
        page=page,
        context=context,
        now=datetime.now(UTC),
    )


async def take_for_page(request: Request, page: str) -> dict[str, Any]:
    """What a redirecting form left for this view of ``page``, once."""
    services = _services(request)
    token = request.cookies.get(COOKIE, "")
    now = datetime.now(UTC)
    if not await read(services, shown_once.waiting, session_token=token, page=page, now=now):
        return {}
    return await write(services, shown_once.take, session_token=token, page=page, now=now)
