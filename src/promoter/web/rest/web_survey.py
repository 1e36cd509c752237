"""REST API under /api/v2/: the organization's in-app web survey settings (site key,
identity secret, allowed origins, enabled) and the rotation of its key and secret."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Connection

from promoter.services import Services
from promoter.web import threads
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.deps import OrgDep
from promoter.web.state import ServicesDep
from promoter.websurveys.origins import MAX_ORIGINS
from promoter.websurveys.settings import (
    InvalidSettings,
    WebSurveySettings,
    get_settings,
    rotate_secret,
    rotate_site_key,
    save_settings,
)

router = APIRouter(prefix="/api/v2", tags=["web survey"])
PATH = "/web-survey/"

Origin = Annotated[str, StringConstraints(max_length=2000)]


class WebSurveyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allowed_origins: list[Origin] = Field(
        default_factory=list,
        max_length=1000,
        description=f"At most {MAX_ORIGINS} origins such as https://app.example.com "
        "(scheme, host, optional port), or https://*.example.com for every subdomain; "
        "stored normalised.",
    )
    enabled: bool = Field(default=False, description="Whether the web survey is shown.")


class WebSurveyOut(BaseModel):
    site_key: str = Field(description="Public: goes in the snippet's data-site-key.")
    identity_secret: str = Field(
        description="In full only in the answer that created or rotated it; "
        "masked (its last four characters) afterwards."
    )
    previous_secret_valid_until: datetime | None = Field(
        description="Until when the secret replaced by the last rotation still verifies."
    )
    allowed_origins: list[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime


#: Before any settings were saved.
NOT_SAVED: dict[int | str, dict[str, Any]] = {404: {"description": "No settings saved yet"}}


def _now() -> datetime:
    return datetime.now(UTC)


@router.get(
    PATH,
    summary="The web survey's settings",
    responses={**schemas.success(WebSurveyOut), **NOT_SAVED},
)
async def web_survey_retrieve(services: ServicesDep, org: OrgDep) -> JSONResponse:
    """404 until the organization saves settings; the identity secret is masked."""
    found = await threads.read(services, lambda conn: get_settings(conn, organization_id=org.id))
    if found is None:
        raise HTTPException(404, "Not found.")
    return JSONResponse(found.to_json())


@router.put(PATH, summary="Save the web survey's settings", responses=schemas.success(WebSurveyOut))
async def web_survey_save(services: ServicesDep, org: OrgDep, body: WebSurveyIn) -> JSONResponse:
    """The first save creates the site key and the identity secret, and its answer holds
    the secret in full (the only time until a rotation). Field errors are a 400."""
    try:
        saved, created = await threads.write(
            services,
            lambda conn: save_settings(
                conn,
                organization_id=org.id,
                allowed_origins=body.allowed_origins,
                enabled=body.enabled,
                now=_now(),
            ),
        )
    except InvalidSettings as exc:
        return JSONResponse(exc.errors, status_code=400)
    services.sites.forget_organization(org.id)
    return JSONResponse(saved.to_json(reveal_secret=created))


Rotation = Callable[..., WebSurveySettings | None]


async def _rotate(services: Services, org_id: int, rotation: Rotation) -> WebSurveySettings:
    def rotate(conn: Connection) -> WebSurveySettings | None:
        return rotation(conn, organization_id=org_id, now=_now())

    found = await threads.write(services, rotate)
    services.sites.forget_organization(org_id)
    if found is None:
        raise HTTPException(404, "Not found.")
    return found


@router.post(
    PATH + "rotate-secret/",
    summary="A new identity secret",
    responses={**schemas.success(WebSurveyOut), **NOT_SAVED},
)
async def web_survey_rotate_secret(services: ServicesDep, org: OrgDep) -> JSONResponse:
    """The answer holds the new secret in full, once. The replaced secret still verifies
    for 24 hours (`previous_secret_valid_until`); a secret older than it stops at once."""
    rotated = await _rotate(services, org.id, rotate_secret)
    return JSONResponse(rotated.to_json(reveal_secret=True))


@router.post(
    PATH + "rotate-site-key/",
    summary="A new site key",
    responses={**schemas.success(WebSurveyOut), **NOT_SAVED},
)
async def web_survey_rotate_site_key(services: ServicesDep, org: OrgDep) -> JSONResponse:
    """The old site key stops naming the organization at once: update the snippet."""
    rotated = await _rotate(services, org.id, rotate_site_key)
    return JSONResponse(rotated.to_json())
