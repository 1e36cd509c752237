"""REST API under /api/v2/: the organization the key belongs to, its time zone and its
cooldown across campaigns and channels."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Connection

from promoter.domain.eligibility import MAX_COOLDOWN_DAYS
from promoter.orgs.service import Organization, get_organization, set_cooldown, set_timezone
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.bodies import ApiBody, body_schema, invalid, parse, raw_body
from promoter.web.rest.deps import OrgDep
from promoter.web.state import ServicesDep
from promoter.web.threads import read, write

router = APIRouter(prefix="/api/v2", tags=["organization"])
PATH = "/organization/"
#: Fields of the answer a client may send back unchanged; they are ignored.
READ_ONLY = frozenset({"id", "name"})

COOLDOWN = (
    "Days after any survey (of any campaign, on any channel: email or in the app, "
    "dismissed ones too) before a contact gets another; 0: only the 24-hour floor."
)


class OrganizationBody(ApiBody):
    """The fields a PATCH may change; those left out keep their value."""

    cooldown_days: int = Field(default=0, ge=0, le=MAX_COOLDOWN_DAYS, description=COOLDOWN)
    timezone: str = Field(
        default="UTC",
        max_length=64,
        description="An IANA name such as Europe/Paris: the NPS's days, weeks and months.",
    )

    @field_validator("cooldown_days", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("A valid integer is required.")
        return value


class OrganizationOut(BaseModel):
    id: int
    name: str
    timezone: str = Field(description="An IANA name: the NPS's days, weeks and months.")
    cooldown_days: int = Field(ge=0, le=MAX_COOLDOWN_DAYS, description=COOLDOWN)


def organization_json(org: Organization) -> dict[str, Any]:
    """The answer's shape (never the webhook secret)."""
    return {name: getattr(org, name) for name in OrganizationOut.model_fields}


def _change(conn: Connection, organization_id: int, body: OrganizationBody) -> Organization:
    """Apply the fields the body gives; the organization as it is then."""
    given = body.model_fields_set
    if "timezone" in given:
        try:
            set_timezone(conn, organization_id=organization_id, timezone=body.timezone)
        except ValueError as exc:
            raise invalid({"timezone": [str(exc)[:1].upper() + str(exc)[1:] + "."]}) from None
    if "cooldown_days" in given:
        set_cooldown(conn, organization_id=organization_id, cooldown_days=body.cooldown_days)
    return get_organization(conn, organization_id=organization_id)


@router.get(PATH, summary="The organization", responses=schemas.success(OrganizationOut))
async def organization_retrieve(services: ServicesDep, org: OrgDep) -> JSONResponse:
    """The organization the key belongs to."""
    found = await read(services, lambda conn: get_organization(conn, organization_id=org.id))
    return JSONResponse(organization_json(found))


@router.patch(
    PATH,
    summary="Change the organization's settings",
    openapi_extra=body_schema(OrganizationBody),
    responses=schemas.success(OrganizationOut),
)
async def organization_patch(request: Request, services: ServicesDep, org: OrgDep) -> JSONResponse:
    """`cooldown_days` (0 to 365) and `timezone`; `id` and `name` sent back are ignored,
    other fields refused. A new cooldown applies to the next trigger, on every campaign."""
    body = parse(OrganizationBody, await raw_body(request), ignored=READ_ONLY)
    changed = await write(services, _change, org.id, body)
    services.keys.forget_organization(org.id)
    return JSONResponse(organization_json(changed))
