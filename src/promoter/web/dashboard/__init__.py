"""The dashboard: server-rendered pages for reading the NPS and acting on feedback.

Pages render on the server (Jinja2, charts as inline SVG); the one script only adds
conveniences, and assets are served from the package, so it works offline.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse, Response

from promoter.web.dashboard import (
    alerts,
    auth,
    breakdown,
    campaign_link,
    campaigns,
    contacts,
    drivers,
    feedback,
    filter_values,
    invites,
    keywords,
    mail_folder,
    overview,
    replies,
    segment_source,
    segments,
    selection,
    settings,
    themes,
    users,
    web_survey,
    webhook_edit,
    webhooks,
)
from promoter.web.dashboard.session import (
    CsrfFailed,
    RoleRequired,
    SignInRequired,
    render,
    see_other,
    sign_in_url,
)
from promoter.web.dashboard.templating import environment
from promoter.web.dashboard.throttle import LoginThrottle

HERE = Path(__file__).parent


def install(app: FastAPI) -> None:
    app.state.dashboard_templates = environment(HERE / "templates")
    app.state.login_throttle = LoginThrottle()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        # Asked for by browsers on every page without an icon link (the survey pages).
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    for module in (
        auth,
        invites,
        overview,
        alerts,
        segments,
        filter_values,
        breakdown,
        drivers,
        keywords,
        themes,
        feedback,
        selection,
        replies,
        contacts,
        campaigns,
        campaign_link,
        settings,
        webhooks,
        webhook_edit,
        segment_source,
        web_survey,
        mail_folder,
        users,
    ):
        app.include_router(module.router)

    def page_error(request: Request, status: int, message: str) -> Response:
        heading = "Not found" if status == 404 else "Something is wrong with this request"
        return render(request, "error.html", None, status=status, heading=heading, message=message)

    app.state.page_error = page_error

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        if request.method != "GET":
            return render(
                request,
                "error.html",
                None,
                status=401,
                heading="Signed out",
                message="Your session has ended. Sign in again, then repeat what you did.",
            )
        return see_other(sign_in_url(exc.next_url))

    @app.exception_handler(RoleRequired)
    async def role_required(request: Request, exc: RoleRequired) -> Response:
        session = getattr(request.state, "session", None)
        role = session.user.role.label.lower() if session else "not enough"
        return render(
            request,
            "error.html",
            session,
            status=403,
            heading="Not allowed",
            message=f"Your role ({role}) cannot do this: it needs {exc.needed.label.lower()} "
            "rights. An admin of your organization can change your role.",
        )

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return render(
            request,
            "error.html",
            None,
            status=403,
            heading="Form refused",
            message=f"{exc} Reload the page and try again.",
        )
