"""REST API under /api/v2/email/: email templates, with Promoter's field names (ours are
accepted too)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection

from promoter.campaigns import service
from promoter.campaigns.models import EmailTemplate, TemplateSettings
from promoter.campaigns.templates import list_templates, rename_template
from promoter.domain.ids import MAX_INT_ID
from promoter.domain.paging import Page
from promoter.services import Services
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.bodies import (
    ID_IN_PATH,
    ApiBody,
    Errors,
    body_schema,
    field_errors,
    invalid,
    not_found,
    object_id,
    parse,
    raw_body,
    renamed,
    require,
)
from promoter.web.rest.deps import OrgDep, PageNumber, PageSize, paginated
from promoter.web.state import ServicesDep
from promoter.web.threads import read, write

router = APIRouter(prefix="/api/v2", tags=["email templates"])

TemplatePath = Annotated[str, Path(description="email template id", json_schema_extra=ID_IN_PATH)]
#: Promoter's name of a field -> ours.
TEMPLATE_ALIASES = {
    "reply_to_email": "reply_to",
    "logo": "logo_url",
    "company_brand_product_name": "brand_name",
}
#: Fields of the answer a client may send back unchanged; they are ignored.
TEMPLATE_READ_ONLY = frozenset({"id", "href", "created_at", "updated_at"})


class TemplateBody(ApiBody):
    """An email template's fields, by Promoter's names or ours."""

    name: str | None = Field(default=None, max_length=200)
    subject: str | None = Field(default=None, max_length=300)
    from_name: str | None = Field(default=None, max_length=200)
    reply_to_email: str | None = Field(default=None, max_length=320)
    reply_to: str | None = Field(default=None, max_length=320)
    logo: str | None = Field(default=None, max_length=2000)
    logo_url: str | None = Field(default=None, max_length=2000)
    intro_message: str | None = Field(default=None, max_length=5000)
    language: str | None = Field(default=None, max_length=8)
    company_brand_product_name: str | None = Field(default=None, max_length=200)
    brand_name: str | None = Field(default=None, max_length=200)


class _Name(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)


def _split(body: TemplateBody) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The name (if given), the settings given, and the names to report errors under."""
    changes, names = renamed(body.model_dump(exclude_unset=True), TEMPLATE_ALIASES)
    name = {"name": changes.pop("name")} if "name" in changes else {}
    return name, changes, names


def _name(given: dict[str, Any], errors: Errors) -> str | None:
    try:
        return _Name.model_validate(given).name
    except ValidationError as exc:
        errors.update(field_errors(exc))
        return None


def _parse(raw: bytes, *, partial: bool) -> TemplateBody:
    body = parse(TemplateBody, raw, ignored=TEMPLATE_READ_ONLY)
    if not partial:
        require(
            body.model_fields_set,
            ("name",),
            ("subject",),
            ("from_name",),
            ("company_brand_product_name", "brand_name"),
        )
    return body


def _new(raw: bytes) -> tuple[str, TemplateSettings]:
    """A new template's name and settings, or 400."""
    given_name, changes, names = _split(_parse(raw, partial=True))
    errors: Errors = {}
    name = _name(given_name, errors)
    try:
        settings = TemplateSettings.model_validate(changes)
    except ValidationError as exc:
        errors.update(field_errors(exc, names))
    if errors or name is None:
        raise invalid(errors)
    return name, settings


def _update(
    conn: Connection,
    services: Services,
    org_id: int,
    template_id: int,
    raw: bytes,
    *,
    partial: bool,
) -> dict[str, Any]:
    """Another organization's template is not found before the body is read."""
    _template(conn, org_id, template_id)
    given_name, changes, names = _split(_parse(raw, partial=partial))
    errors: Errors = {}
    name = _name(given_name, errors) if given_name else None
    if changes:
        try:
            service.update_template(
                conn, organization_id=org_id, template_id=template_id, changes=changes
            )
        except ValidationError as exc:
            errors.update(field_errors(exc, names))
    if errors:
        raise invalid(errors)
    if name is not None:
        rename_template(conn, organization_id=org_id, template_id=template_id, name=name)
    return template_json(services, _template(conn, org_id, template_id))


def _template(conn: Connection, org_id: int, template_id: int) -> EmailTemplate:
    try:
        return service.get_template(conn, organization_id=org_id, template_id=template_id)
    except service.NotFound:
        raise not_found() from None


def _read(conn: Connection, services: Services, org_id: int, template_id: int) -> dict[str, Any]:
    return template_json(services, _template(conn, org_id, template_id))


def template_json(services: Services, t: EmailTemplate) -> dict[str, Any]:
    return {
        "id": t.id,
        "href": f"{services.settings.public_url}{router.prefix}/email/{t.id}/",
        "name": t.name,
        "subject": t.subject,
        "from_name": t.from_name,
        "reply_to_email": t.reply_to,
        "logo": t.logo_url,
        "intro_message": t.intro_message,
        "language": t.language,
        "company_brand_product_name": t.brand_name,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
    }


@router.get(
    "/email/", summary="List email templates", responses=schemas.success(schemas.EmailTemplatePage)
)
async def templates_list(
    request: Request,
    services: ServicesDep,
    org: OrgDep,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    paging = Page(page, page_size)
    total, found = await read(services, list_templates, organization_id=org.id, page=paging)
    results = [template_json(services, t) for t in found]
    return JSONResponse(paginated(request, services, total, paging, results))


@router.post(
    "/email/",
    summary="Create an email template",
    status_code=201,
    openapi_extra=body_schema(TemplateBody),
    responses=schemas.success(schemas.EmailTemplate, 201),
)
async def templates_create(request: Request, services: ServicesDep, org: OrgDep) -> JSONResponse:
    """Required: `name`, `subject`, `from_name`, `company_brand_product_name`."""
    name, settings = _new(await raw_body(request))
    created = await write(
        services, service.create_template, organization_id=org.id, name=name, settings=settings
    )
    return JSONResponse(template_json(services, created), status_code=201)


@router.get(
    "/email/{template_id}/",
    summary="Retrieve an email template",
    responses=schemas.success(schemas.EmailTemplate),
)
async def templates_retrieve(
    services: ServicesDep, org: OrgDep, template_id: TemplatePath
) -> JSONResponse:
    found = object_id(template_id, MAX_INT_ID)
    return JSONResponse(await read(services, _read, services, org.id, found))


@router.patch(
    "/email/{template_id}/",
    summary="Change some of an email template's fields",
    openapi_extra=body_schema(TemplateBody),
    responses=schemas.success(schemas.EmailTemplate),
)
async def templates_patch(
    request: Request, services: ServicesDep, org: OrgDep, template_id: TemplatePath
) -> JSONResponse:
    """Every campaign that sends the template sends the changed one."""
    found = object_id(template_id, MAX_INT_ID)
    raw = await raw_body(request)
    return JSONResponse(await write(services, _update, services, org.id, found, raw, partial=True))


@router.put(
    "/email/{template_id}/",
    summary="Change an email template",
    openapi_extra=body_schema(TemplateBody),
    responses=schemas.success(schemas.EmailTemplate),
)
async def templates_put(
    request: Request, services: ServicesDep, org: OrgDep, template_id: TemplatePath
) -> JSONResponse:
    """As PATCH, but `name`, `subject`, `from_name` and `company_brand_product_name` are
    required (fields left out keep their value)."""
    found = object_id(template_id, MAX_INT_ID)
    raw = await raw_body(request)
    return JSONResponse(await write(services, _update, services, org.id, found, raw, partial=False))
