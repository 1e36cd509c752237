"""Settings > Webhooks: the organization's outbound webhooks (create, enable or disable,
test, delete) and each one's page: its settings and recent deliveries with their answers
(redeliver). Changing a webhook's settings is in ``webhook_edit``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.accounts.sessions import Session
from promoter.campaigns.service import list_campaigns
from promoter.domain.ids import MAX_BIGINT_ID, MAX_INT_ID
from promoter.orgs.service import get_organization
from promoter.services import Services
from promoter.web.dashboard import webhook_form
from promoter.web.dashboard.forms import read_form
from promoter.web.dashboard.session import SessionDep, check_csrf, render, see_other, with_done
from promoter.web.dashboard.shown_once import keep_for_page, take_for_page
from promoter.web.state import ServicesDep
from promoter.web.threads import read, write
from promoter.webhooks.events import EVENTS
from promoter.webhooks.outbox import DeliveryBusy
from promoter.webhooks.sender import WebhookSender
from promoter.webhooks.subscriptions import (
    FORMATS,
    Delivery,
    InvalidWebhook,
    Subscription,
    WebhookNotFound,
    create_subscription,
    delete_subscription,
    get_delivery,
    get_subscription,
    list_deliveries,
    list_subscriptions,
    update_subscription,
)

router = APIRouter(include_in_schema=False)

PAGE = "/settings/webhooks"
DELIVERIES_PER_PAGE = 25
MAX_PAGE = 10**6
WebhookId = Annotated[int, Path(ge=1, le=MAX_INT_ID)]
DeliveryId = Annotated[int, Path(ge=1, le=MAX_BIGINT_ID)]

#: Messages a redirect may ask for (``?done=CODE``): unknown codes show nothing.
MESSAGES = {
    "enabled": "Webhook enabled: events are sent to it again.",
    "disabled": "Webhook disabled: nothing is sent to it, and what was pending was dropped.",
    "deleted": "Webhook deleted, with its deliveries.",
    "saved": "Webhook saved.",
    "rotated": "New signing secret made: it signs every request from now on; for 24 hours "
    "each request carries a signature with the previous one too.",
}


@dataclass(frozen=True)
class Row:
    subscription: Subscription
    campaign: str
    last: Delivery | None


def _campaign_names(conn: Connection, organization_id: int) -> dict[int, str]:
    return {c.id: c.name for c in list_campaigns(conn, organization_id=organization_id)}


def _campaign_label(names: dict[int, str], campaign_id: int | None) -> str:
    if campaign_id is None:
        return "All campaigns"
    return names.get(campaign_id, f"Campaign {campaign_id}")


def _timezone(conn: Connection, organization_id: int) -> str:
    return get_organization(conn, organization_id=organization_id).timezone


def _sender(services: Services) -> WebhookSender:
    return services.webhook_sender()


def not_found(request: Request, session: Session) -> Response:
    return render(
        request,
        "error.html",
        session,
        status=404,
        section="settings",
        heading="Not found",
        message="There is no such webhook.",
    )


# --- the list --------------------------------------------------------------------------------


async def _list_page(
    request: Request,
    services: Services,
    session: Session,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    organization_id = session.user.organization_id

    def load(conn: Connection) -> dict[str, Any]:
        names = _campaign_names(conn, organization_id)
        rows = []
        for subscription in list_subscriptions(conn, organization_id=organization_id):
            _, last = list_deliveries(
                conn,
                organization_id=organization_id,
                subscription_id=subscription.id,
                limit=1,
            )
            rows.append(
                Row(
                    subscription,
                    _campaign_label(names, subscription.campaign_id),
                    last[0] if last else None,
                )
            )
        return {"rows": rows, "campaigns": names, "timezone": _timezone(conn, organization_id)}

    loaded = await read(services, load)
    context.setdefault("message", MESSAGES.get(request.query_params.get("done", ""), ""))
    context.setdefault("created", None)
    context.setdefault("errors", {})
    context.setdefault("values", webhook_form.blank())
    return render(
        request,
        "webhooks.html",
        session,
        status=status,
        section="settings",
        extra_css=["settings.css", "webhooks.css"],
        **_form_choices(),
        **loaded,
        **context,
    )


def _form_choices() -> dict[str, Any]:
    return {"events": EVENTS, "hints": webhook_form.EVENT_HINTS, "formats": FORMATS}


@router.get(PAGE)
async def webhooks_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    return await _list_page(request, services, session, **await take_for_page(request, PAGE))


@router.post(PAGE)
async def webhooks_create(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    values, campaign_id, errors = webhook_form.read(form)

    def create(conn: Connection) -> Subscription:
        return create_subscription(
            conn,
            organization_id=session.user.organization_id,
            now=datetime.now(UTC),
            policy=services.webhook_policy,
            **webhook_form.settings(values, campaign_id),
        )

    if not errors:
        try:
            created = await write(services, create)
        except InvalidWebhook as exc:
            errors = webhook_form.errors_of(exc)
        else:
            # Its signing secret is shown once by the page redirected to: never in a URL.
            shown = {
                "created": {"id": created.id, "events": created.events, "secret": created.secret},
                "message": "Webhook created. Its signing secret is below.",
            }
            await keep_for_page(request, PAGE, shown)
            return see_other(PAGE)
    return await _list_page(request, services, session, status=400, errors=errors, values=values)


async def _change(
    request: Request,
    services: Services,
    session: Session,
    webhook_id: int,
    change: Callable[[Connection, int], object],
    done: str,
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    organization_id = session.user.organization_id

    def run(conn: Connection) -> None:
        change(conn, organization_id)

    try:
        await write(services, run)
    except WebhookNotFound:
        return not_found(request, session)
    return see_other(with_done(PAGE, done))


@router.post(PAGE + "/{webhook_id}/enable")
async def webhook_enable(
    request: Request, services: ServicesDep, session: SessionDep, webhook_id: WebhookId
) -> Response:
    return await _change(
        request,
        services,
        session,
        webhook_id,
        lambda conn, org: update_subscription(
            conn,
            organization_id=org,
            subscription_id=webhook_id,
            status="active",
            now=datetime.now(UTC),
            policy=services.webhook_policy,
        ),
        "enabled",
    )


@router.post(PAGE + "/{webhook_id}/disable")
async def webhook_disable(
    request: Request, services: ServicesDep, session: SessionDep, webhook_id: WebhookId
) -> Response:
    return await _change(
        request,
        services,
        session,
        webhook_id,
        lambda conn, org: update_subscription(
            conn,
            organization_id=org,
            subscription_id=webhook_id,
            status="disabled",
            now=datetime.now(UTC),
            policy=services.webhook_policy,
        ),
        "disabled",
    )


@router.post(PAGE + "/{webhook_id}/delete")
async def webhook_delete(
    request: Request, services: ServicesDep, session: SessionDep, webhook_id: WebhookId
) -> Response:
    return await _change(
        request,
        services,
        session,
        webhook_id,
        lambda conn, org: delete_subscription(
            conn, organization_id=org, subscription_id=webhook_id
        ),
        "deleted",
    )


# --- one webhook and its deliveries ----------------------------------------------------------


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE else 1


def _number(raw: str, limit: int) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) <= limit else None


@router.get(PAGE + "/{webhook_id}")
async def webhook_page(
    request: Request, services: ServicesDep, session: SessionDep, webhook_id: WebhookId
) -> Response:
    return await detail_page(request, services, session, webhook_id)


async def detail_page(
    request: Request,
    services: Services,
    session: Session,
    webhook_id: int,
    *,
    status: int = 200,
    values: webhook_form.Values | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    """The webhook's page; ``values`` and ``errors``: its settings' form sent back with
    mistakes."""
    organization_id = session.user.organization_id
    number = _page_number(request)
    #: A redelivery or test just made: its outcome is shown on top.
    just = _number(request.query_params.get("sent", ""), MAX_BIGINT_ID)

    def load(conn: Connection) -> dict[str, Any]:
        subscription = get_subscription(
            conn, organization_id=organization_id, subscription_id=webhook_id
        )
        total, found = list_deliveries(
            conn,
            organization_id=organization_id,
            subscription_id=webhook_id,
            limit=DELIVERIES_PER_PAGE,
            offset=(number - 1) * DELIVERIES_PER_PAGE,
        )
        sent = None
        if just is not None:
            try:
                sent = get_delivery(
                    conn,
                    organization_id=organization_id,
                    subscription_id=webhook_id,
                    delivery_id=just,
                )
            except WebhookNotFound:
                sent = None
        names = _campaign_names(conn, organization_id)
        return {
            "s": subscription,
            "values": values or webhook_form.values_of(subscription),
            "campaigns": names,
            "campaign": _campaign_label(names, subscription.campaign_id),
            "deliveries": found,
            "total": total,
            "page": number,
            "pages": max(1, -(-total // DELIVERIES_PER_PAGE)),
            "sent": sent,
            "timezone": _timezone(conn, organization_id),
            "now": datetime.now(UTC),
            # Just rotated: the new secret is shown.
            "secret_open": request.query_params.get("done") == "rotated",
        }

    try:
        loaded = await read(services, load)
    except WebhookNotFound:
        return not_found(request, session)
    return render(
        request,
        "webhooks_detail.html",
        session,
        status=status,
        section="settings",
        extra_css=["settings.css", "webhooks.css"],
        message=MESSAGES.get(request.query_params.get("done", ""), ""),
        errors=errors or {},
        **_form_choices(),
        **loaded,
    )


async def _by_hand(
    request: Request,
    session: Session,
    webhook_id: int,
    send: Callable[[], Awaitable[Delivery]],
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    try:
        delivery = await send()
    except WebhookNotFound:
        return not_found(request, session)
    except DeliveryBusy as exc:
        return render(
            request,
            "error.html",
            session,
            status=409,
            section="settings",
            heading="Not sent",
            message=str(exc)[:1].upper() + str(exc)[1:] + ".",
        )
    return see_other(f"{PAGE}/{webhook_id}?sent={delivery.id}")


@router.post(PAGE + "/{webhook_id}/test")
async def webhook_test(
    request: Request, services: ServicesDep, session: SessionDep, webhook_id: WebhookId
) -> Response:
    organization_id = session.user.organization_id
    return await _by_hand(
        request,
        session,
        webhook_id,
        lambda: _sender(services).ping(organization_id=organization_id, subscription_id=webhook_id),
    )


@router.post(PAGE + "/{webhook_id}/deliveries/{delivery_id}/redeliver")
async def webhook_redeliver(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
) -> Response:
    organization_id = session.user.organization_id
    return await _by_hand(
        request,
        session,
        webhook_id,
        lambda: _sender(services).redeliver(
            organization_id=organization_id, subscription_id=webhook_id, delivery_id=delivery_id
        ),
    )
