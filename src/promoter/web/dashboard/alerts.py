"""The Alerts page: the NPS alerts raised, newest first; "Check now" for admins; each
user's own choice of alert emails and of the weekly digest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.alerts.check import Alerting, check
from promoter.alerts.notify import set_alert_emails, takes_alert_emails
from promoter.alerts.rule import BEFORE_WEEKS, LATEST_WEEKS, RATE
from promoter.alerts.store import Alert, count_alerts, list_alerts
from promoter.digest.emails import set_digest_emails, takes_digest_emails
from promoter.orgs.service import get_organization
from promoter.web.dashboard.forms import read_form
from promoter.web.dashboard.session import SessionDep, check_csrf, render, see_other, with_done
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread, read, write

router = APIRouter(include_in_schema=False)

PAGE = "/alerts"
MESSAGES = {
    "raised": "Checked: new alerts are below, and sent.",
    "none": "Checked: no new alert.",
    "emails-on": "You will get an email for each new alert.",
    "emails-off": "You will get no alert emails.",
    "digest-on": "You will get the weekly digest by email.",
    "digest-off": "You will get no weekly digest.",
}


@dataclass(frozen=True)
class AlertsView:
    alerts: list[Alert]
    total: int
    emails: bool
    timezone: str
    digest: bool


@router.get(PAGE)
async def alerts_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    user = session.user

    def load(conn: Connection) -> AlertsView:
        org = get_organization(conn, organization_id=user.organization_id)
        return AlertsView(
            list_alerts(conn, organization_id=user.organization_id),
            count_alerts(conn, organization_id=user.organization_id),
            takes_alert_emails(conn, user_id=user.id),
            org.timezone,
            takes_digest_emails(conn, user_id=user.id),
        )

    view = await read(services, load)
    return render(
        request,
        "alerts.html",
        session,
        section="alerts",
        view=view,
        timezone=view.timezone,
        latest_weeks=LATEST_WEEKS,
        before_weeks=BEFORE_WEEKS,
        rate=RATE,
        message=MESSAGES.get(request.query_params.get("done", ""), ""),
    )


@router.post(PAGE + "/check")
async def alerts_check(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    alerting = Alerting(services.database, services.analytics, services.settings.public_url)
    checked = await in_thread(
        lambda: check(
            alerting,
            organization_id=session.user.organization_id,
            now=datetime.now(UTC),
            checked_by="manual",
        )
    )
    return see_other(with_done(PAGE, "raised" if checked.alerts else "none"))


EmailChoice = Callable[..., None]


async def _set_email_choice(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    *,
    field: str,
    setter: EmailChoice,
    done: str,
) -> Response:
    """The signed-in user's own on/off choice of one kind of email, from its checkbox."""
    form = await read_form(request)
    check_csrf(request, session, form)
    on = form.get(field) == "on"
    user = session.user
    await write(
        services,
        lambda conn: setter(conn, user_id=user.id, organization_id=user.organization_id, on=on),
    )
    return see_other(with_done(PAGE, f"{done}-on" if on else f"{done}-off"))


@router.post(PAGE + "/emails")
async def alerts_emails(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    return await _set_email_choice(
        request, services, session, field="alert_emails", setter=set_alert_emails, done="emails"
    )


@router.post(PAGE + "/digest")
async def alerts_digest(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    return await _set_email_choice(
        request, services, session, field="digest_emails", setter=set_digest_emails, done="digest"
    )
