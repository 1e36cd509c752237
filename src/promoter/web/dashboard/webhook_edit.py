"""Settings > Webhooks > a webhook: changing its events, URL, campaign and format (the
form on its page; a form with mistakes comes back explained, nothing changed), and
rotating its signing secret."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.web.dashboard import webhook_form
from promoter.web.dashboard.forms import read_form
from promoter.web.dashboard.session import SessionDep, check_csrf, see_other, with_done
from promoter.web.dashboard.webhooks import PAGE, WebhookId, detail_page, not_found
from promoter.web.state import ServicesDep
from promoter.web.threads import write
from promoter.webhooks.rotation import rotate_secret
from promoter.webhooks.subscriptions import (
    InvalidWebhook,
    Subscription,
    WebhookNotFound,
    update_subscription,
)

router = APIRouter(include_in_schema=False)


@router.post(PAGE + "/{webhook_id}")
async def webhook_save(
    request: Request, services: ServicesDep, session: SessionDep, webhook_id: WebhookId
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    values, campaign_id, errors = webhook_form.read(form)

    def save(conn: Connection) -> Subscription:
        return update_subscription(
            conn,
            organization_id=session.user.organization_id,
            subscription_id=webhook_id,
            now=datetime.now(UTC),
            policy=services.webhook_policy,
            **webhook_form.settings(values, campaign_id),
        )

    if not errors:
        try:
            await write(services, save)
        except WebhookNotFound:
            return not_found(request, session)
        except InvalidWebhook as exc:
            errors = webhook_form.errors_of(exc)
        else:
            return see_other(with_done(f"{PAGE}/{webhook_id}", "saved"))
    return await detail_page(
        request, services, session, webhook_id, status=400, values=values, errors=errors
    )


@router.post(PAGE + "/{webhook_id}/rotate-secret")
async def webhook_rotate_secret(
    request: Request, services: ServicesDep, session: SessionDep, webhook_id: WebhookId
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)

    def rotate(conn: Connection) -> Subscription:
        return rotate_secret(
            conn,
            organization_id=session.user.organization_id,
            subscription_id=webhook_id,
            now=datetime.now(UTC),
        )

    try:
        await write(services, rotate)
    except WebhookNotFound:
        return not_found(request, session)
    return see_other(with_done(f"{PAGE}/{webhook_id}#secret", "rotated"))
