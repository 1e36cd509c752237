"""REST API under /api/v2/: webhooks (subscriptions, their delivery log, redelivery, ping)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.domain.ids import MAX_BIGINT_ID, MAX_INT_ID
from promoter.domain.paging import Page
from promoter.services import Services
from promoter.web import threads
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.deps import OrgDep, PageNumber, PageSize, paginated
from promoter.web.state import ServicesDep
from promoter.webhooks.outbox import DeliveryBusy
from promoter.webhooks.rotation import rotate_secret
from promoter.webhooks.sender import WebhookSender
from promoter.webhooks.subscriptions import (
    UNCHANGED,
    Delivery,
    InvalidWebhook,
    Subscription,
    Unchanged,
    WebhookNotFound,
    create_subscription,
    delete_subscription,
    get_delivery,
    get_subscription,
    list_deliveries,
    list_subscriptions,
    update_subscription,
)

router = APIRouter(prefix="/api/v2", tags=["webhooks"])

T = TypeVar("T")
WebhookId = Annotated[int, Path(ge=1, le=MAX_INT_ID, description="webhook id")]
DeliveryId = Annotated[int, Path(ge=1, le=MAX_BIGINT_ID, description="delivery id")]
CampaignId = Annotated[int, Field(ge=1, le=MAX_INT_ID)]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[str] | None = Field(
        default=None, description="The events to receive, one or more (see docs/webhooks.md)."
    )
    event: str | None = Field(
        default=None, description="One event to receive: the same as `events` with one name."
    )
    target_url: str = Field(description="Where to POST them: an http(s) URL.")
    campaign_id: CampaignId | None = Field(
        default=None, description="Only events about this campaign."
    )
    format: str = Field(default="json", description="json (signed envelope) or slack.")


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[str] | None = Field(
        default=None, description="The events to receive from now on, one or more."
    )
    target_url: str | None = None
    campaign_id: CampaignId | None = None
    format: str | None = None
    status: str | None = Field(default=None, description="active or disabled.")


async def _run(services: Services, fn: Callable[[Connection], T], *, write: bool) -> T:
    """``fn`` in a transaction; a missing object is a 404 (``InvalidWebhook`` goes up)."""

    try:
        if write:
            return await threads.write(services, fn)
        return await threads.read(services, fn)
    except WebhookNotFound:
        raise HTTPException(404, "Not found.") from None


def _invalid(errors: dict[str, list[str]]) -> JSONResponse:
    """Field errors, in Django REST Framework's shape."""
    return JSONResponse(errors, status_code=400)


def _events_given(body: WebhookIn) -> list[str] | dict[str, list[str]]:
    """The events a new webhook asks for (``events``, or the single ``event`` of clients
    written before a webhook had several), or what is wrong."""
    if body.events is not None and body.event is not None:
        return {"events": ["Give events or event, not both."]}
    if body.events is not None:
        return body.events
    if body.event is not None:
        return [body.event]
    return {"events": ["This field is required."]}


def _json(services: Services, subscription: Subscription, *, secret: bool) -> dict[str, Any]:
    return {
        "href": f"{services.settings.public_url}{router.prefix}/webhooks/{subscription.id}/",
        **subscription.to_json(secret=secret),
    }


def _sender(services: Services) -> WebhookSender:
    return services.webhook_sender()


def _now() -> datetime:
    return datetime.now(UTC)


@router.get(
    "/webhooks/",
    summary="The organization's webhooks",
    responses=schemas.success(schemas.WebhookPage),
)
async def webhooks_list(services: ServicesDep, org: OrgDep) -> JSONResponse:
    found = await _run(
        services, lambda conn: list_subscriptions(conn, organization_id=org.id), write=False
    )
    results = [_json(services, s, secret=False) for s in found]
    return JSONResponse({"count": len(results), "next": None, "previous": None, "results": results})


@router.post(
    "/webhooks/",
    summary="Subscribe a URL to events",
    status_code=201,
    responses=schemas.success(schemas.WebhookWithSecret, 201),
)
async def webhooks_create(services: ServicesDep, org: OrgDep, body: WebhookIn) -> JSONResponse:
    """Answers the webhook with its signing `secret`. `event` (one name) is accepted
    instead of `events`."""
    events = _events_given(body)
    if isinstance(events, dict):
        return _invalid(events)
    try:
        created = await _run(
            services,
            lambda conn: create_subscription(
                conn,
                organization_id=org.id,
                events=events,
                target_url=body.target_url,
                campaign_id=body.campaign_id,
                format=body.format,
                now=_now(),
                policy=services.webhook_policy,
            ),
            write=True,
        )
    except InvalidWebhook as exc:
        errors = exc.errors
        if body.event is not None and "events" in errors:  # named as the client named it
            errors = {("event" if k == "events" else k): v for k, v in errors.items()}
        return _invalid(errors)
    return JSONResponse(_json(services, created, secret=True), status_code=201)


@router.get(
    "/webhooks/{webhook_id}/",
    summary="A webhook, with its signing secret",
    responses=schemas.success(schemas.WebhookWithSecret),
)
async def webhooks_retrieve(
    services: ServicesDep, org: OrgDep, webhook_id: WebhookId
) -> JSONResponse:
    found = await _run(
        services,
        lambda conn: get_subscription(conn, organization_id=org.id, subscription_id=webhook_id),
        write=False,
    )
    return JSONResponse(_json(services, found, secret=True))


@router.patch(
    "/webhooks/{webhook_id}/",
    summary="Change a webhook: its events, URL, campaign, format or state",
    responses=schemas.success(schemas.WebhookWithSecret),
)
async def webhooks_update(
    services: ServicesDep, org: OrgDep, webhook_id: WebhookId, body: WebhookPatch
) -> JSONResponse:
    given = body.model_fields_set
    nulls = {
        name: ["This field may not be null."]
        for name in ("events", "target_url", "format", "status")
    }
    refused = {k: v for k, v in nulls.items() if k in given and getattr(body, k) is None}
    if refused:
        return _invalid(refused)

    def pick(name: str) -> Any:
        return getattr(body, name) if name in given else UNCHANGED

    campaign: int | Unchanged | None = pick("campaign_id")
    try:
        updated = await _run(
            services,
            lambda conn: update_subscription(
                conn,
                organization_id=org.id,
                subscription_id=webhook_id,
                events=pick("events"),
                target_url=pick("target_url"),
                campaign_id=campaign,
                format=pick("format"),
                status=pick("status"),
                now=_now(),
                policy=services.webhook_policy,
            ),
            write=True,
        )
    except InvalidWebhook as exc:
        return _invalid(exc.errors)
    return JSONResponse(_json(services, updated, secret=True))


@router.post(
    "/webhooks/{webhook_id}/rotate-secret/",
    summary="Give a webhook a new signing secret",
    responses=schemas.success(schemas.WebhookWithSecret),
)
async def webhooks_rotate_secret(
    services: ServicesDep, org: OrgDep, webhook_id: WebhookId
) -> JSONResponse:
    """Answers the webhook with its new `secret`. For 24 hours (until
    `previous_secret_until`) each request also carries a signature with the previous one."""
    rotated = await _run(
        services,
        lambda conn: rotate_secret(
            conn, organization_id=org.id, subscription_id=webhook_id, now=_now()
        ),
        write=True,
    )
    return JSONResponse(_json(services, rotated, secret=True))


@router.delete("/webhooks/{webhook_id}/", summary="Delete a webhook and its log", status_code=204)
async def webhooks_delete(services: ServicesDep, org: OrgDep, webhook_id: WebhookId) -> Response:
    await _run(
        services,
        lambda conn: delete_subscription(conn, organization_id=org.id, subscription_id=webhook_id),
        write=True,
    )
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries/",
    summary="A webhook's deliveries, newest first",
    responses=schemas.success(schemas.DeliveryPage),
)
async def deliveries_list(
    request: Request,
    services: ServicesDep,
    org: OrgDep,
    webhook_id: WebhookId,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    paging = Page(page, page_size)
    total, found = await _run(
        services,
        lambda conn: list_deliveries(
            conn,
            organization_id=org.id,
            subscription_id=webhook_id,
            limit=paging.size,
            offset=paging.offset,
        ),
        write=False,
    )
    results = [d.to_json() for d in found]
    return JSONResponse(paginated(request, services, total, paging, results))


@router.get(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/",
    summary="A delivery, with its payload and every attempt",
    responses=schemas.success(schemas.DeliveryDetail),
)
async def deliveries_retrieve(
    services: ServicesDep, org: OrgDep, webhook_id: WebhookId, delivery_id: DeliveryId
) -> JSONResponse:
    found = await _run(
        services,
        lambda conn: get_delivery(
            conn, organization_id=org.id, subscription_id=webhook_id, delivery_id=delivery_id
        ),
        write=False,
    )
    return JSONResponse(found.to_json())


async def _by_hand(send: Callable[[], Any]) -> Delivery:
    try:
        delivered: Delivery = await send()
    except WebhookNotFound:
        raise HTTPException(404, "Not found.") from None
    except DeliveryBusy as exc:
        raise HTTPException(409, str(exc)) from None
    return delivered


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver/",
    summary="Send a delivery again now",
    responses={
        **schemas.success(schemas.DeliveryDetail),
        **schemas.conflict("A sender is delivering it now"),
    },
)
async def deliveries_redeliver(
    services: ServicesDep, org: OrgDep, webhook_id: WebhookId, delivery_id: DeliveryId
) -> JSONResponse:
    """Answers the delivery once the request is made: its `last_status_code` and
    `last_error` tell how it went. 409 while a sender is delivering it."""
    delivery = await _by_hand(
        lambda: _sender(services).redeliver(
            organization_id=org.id, subscription_id=webhook_id, delivery_id=delivery_id
        )
    )
    return JSONResponse(delivery.to_json())


@router.post(
    "/webhooks/{webhook_id}/test/",
    summary="Send a ping event now",
    responses=schemas.success(schemas.DeliveryDetail),
)
async def webhooks_test(services: ServicesDep, org: OrgDep, webhook_id: WebhookId) -> JSONResponse:
    """A `ping` event, tried once (also to a disabled webhook); answers its delivery."""
    delivery = await _by_hand(
        lambda: _sender(services).ping(organization_id=org.id, subscription_id=webhook_id)
    )
    return JSONResponse(delivery.to_json())
