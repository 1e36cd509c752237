"""Sign-in and sign-out."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.accounts.sessions import end_session, start_session
from promoter.accounts.users import check_credentials, throttle_key
from promoter.services import Services
from promoter.web.dashboard.forms import read_form
from promoter.web.dashboard.session import (
    COOKIE,
    SessionDep,
    check_csrf,
    from_another_site,
    render,
    safe_next,
    see_other,
    signed_in,
)
from promoter.web.dashboard.throttle import LoginThrottle
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread, write

router = APIRouter(include_in_schema=False)


def login_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


@router.get("/login")
async def login_page(request: Request) -> Response:
    return render(
        request,
        "login.html",
        None,
        next=safe_next(request.query_params.get("next")),
        email="",
        error=None,
    )


def _sign_in(services: Services, email: str, password: str) -> str | None:
    now = datetime.now(UTC)
    with services.database.write() as conn:
        user = check_credentials(conn, services.passwords, email=email, password=password, now=now)
        return None if user is None else start_session(conn, user_id=user.id, now=now)


@router.post("/login")
async def login(request: Request, services: ServicesDep) -> Response:
    form = await read_form(request)
    email = form.get("email").strip()[:320]
    next_url = safe_next(form.get("next"))
    if from_another_site(request, opaque_origin_allowed=False):
        # Login CSRF: another site must not sign this browser into an account of its choice.
        return render(
            request,
            "login.html",
            None,
            status=403,
            next=next_url,
            email="",
            error="Sign in from this page: forms from other sites are refused.",
        )
    throttle = login_throttle(request)
    client = request.client.host if request.client else "unknown"
    # The address as sign-in reads it, so that no other spelling of it gets fresh attempts.
    keys = (f"email:{throttle_key(email)}", f"ip:{client}")
    wait = throttle.retry_after(*keys)
    if wait:
        response = render(
            request,
            "login.html",
            None,
            status=429,
            next=next_url,
            email=email,
            error=f"Too many failed attempts. Try again in {(wait + 59) // 60} minute(s).",
        )
        response.headers["Retry-After"] = str(wait)
        return response
    token = await in_thread(_sign_in, services, email, form.get("password"))
    if token is None:
        throttle.failed(*keys)
        return render(
            request,
            "login.html",
            None,
            status=400,
            next=next_url,
            email=email,
            error="That email and password do not match an account.",
        )
    throttle.succeeded(keys[0])
    return signed_in(next_url, token, services)


@router.post("/logout")
async def logout(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    token = request.cookies.get(COOKIE, "")

    def end(conn: Connection) -> None:
        end_session(conn, token=token)

    await write(services, end)
    response = see_other("/login")
    response.delete_cookie(COOKIE, path="/")
    return response
