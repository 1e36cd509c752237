"""REST API under /api/v2/email/: email templates, with Promoter's field names (ours are
accepted too)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection

from promoter.campaigns import service
from promoter.campaigns.logos import (
    MAX_LOGO_BYTES,
    CheckedImage,
    Logo,
    LogoRefused,
    check_image,
    logos_by_id,
    remove_logo,
    set_logo,
    template_logo,
)
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
from promoter.web.threads import in_thread, read, write

router = APIRouter(prefix="/api/v2", tags=["email templates"])

TemplatePath = Annotated[str, Path(description="email template id", json_schema_extra=ID_IN_PATH)]
#: Promoter's name of a field -> ours.
TEMPLATE_ALIASES = {
    "reply_to_email": "reply_to",
    "logo": "logo_url",
    "company_brand_product_name": "brand_name",
}
#: Fields of the answer a client may send back unchanged; they are ignored.
TEMPLATE_READ_ONLY = frozenset({"id", "href", "uploaded_logo", "created_at", "updated_at"})


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
    brand_color: str | None = Field(default=None, max_length=32)


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
    return _read(conn, services, org_id, template_id)


def _template(conn: Connection, org_id: int, template_id: int) -> EmailTemplate:
    try:
        return service.get_template(conn, organization_id=org_id, template_id=template_id)
    except service.NotFound:
        raise not_found() from None


def _read(conn: Connection, services: Services, org_id: int, template_id: int) -> dict[str, Any]:
    found = _template(conn, org_id, template_id)
    logo = template_logo(conn, organization_id=org_id, logo_id=found.logo_id)
    return template_json(services, found, logo)


def _page(
    conn: Connection, services: Services, org_id: int, paging: Page
) -> tuple[int, list[dict[str, Any]]]:
    total, found = list_templates(conn, organization_id=org_id, page=paging)
    ids = [t.logo_id for t in found if t.logo_id is not None]
    uploaded = logos_by_id(conn, organization_id=org_id, logo_ids=ids)
    return total, [
        template_json(services, t, uploaded.get(t.logo_id) if t.logo_id else None) for t in found
    ]


def logo_json(services: Services, logo: Logo | None) -> dict[str, Any] | None:
    if logo is None:
        return None
    return {
        "url": services.settings.public_url + logo.stored.path,
        "content_type": logo.content_type,
        "bytes": logo.byte_size,
        "width": logo.width,
        "height": logo.height,
    }


def template_json(services: Services, t: EmailTemplate, logo: Logo | None = None) -> dict[str, Any]:
    return {
        "id": t.id,
        "href": f"{services.settings.public_url}{router.prefix}/email/{t.id}/",
        "name": t.name,
        "subject": t.subject,
        "from_name": t.from_name,
        "reply_to_email": t.reply_to,
        "logo": t.logo_url,
        "uploaded_logo": logo_json(services, logo),
        "brand_color": t.brand_color,
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
    total, results = await read(services, _page, services, org.id, paging)
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


#: The answers of the logo's PUT beyond every operation's.
LOGO_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "An image that cannot be read, or over 2048 pixels wide or tall"},
    413: {"description": f"Over {MAX_LOGO_BYTES // 1024} KB"},
    415: {"description": "Not PNG, JPEG, GIF or WebP, or not the type declared"},
}
LOGO_BODY = {
    "requestBody": {
        "required": True,
        "description": "The image's bytes, its type in Content-Type.",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in ("image/png", "image/jpeg", "image/gif", "image/webp")
        },
    }
}


async def _image(request: Request) -> CheckedImage:
    """The body as a logo, checked; else 413, 415 or 400 saying why."""
    if request.headers.get("content-encoding", "identity").strip().lower() != "identity":
        raise HTTPException(415, "Send the image as it is, without Content-Encoding.")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_LOGO_BYTES:
        raise _refused(LogoRefused(413, f"The logo is over {MAX_LOGO_BYTES // 1024} KB."))
    content = bytearray()
    async for chunk in request.stream():
        content += chunk
        if len(content) > MAX_LOGO_BYTES:
            raise _refused(LogoRefused(413, f"The logo is over {MAX_LOGO_BYTES // 1024} KB."))
    try:
        return await in_thread(check_image, bytes(content), request.headers.get("content-type"))
    except LogoRefused as exc:
        raise _refused(exc) from None


def _refused(exc: LogoRefused) -> HTTPException:
    return HTTPException(exc.status, exc.message)


def _set_logo(
    conn: Connection, services: Services, org_id: int, template_id: int, image: CheckedImage
) -> dict[str, Any]:
    try:
        set_logo(conn, organization_id=org_id, template_id=template_id, image=image)
    except service.NotFound:
        raise not_found() from None
    return _read(conn, services, org_id, template_id)


def _remove_logo(conn: Connection, org_id: int, template_id: int) -> None:
    try:
        remove_logo(conn, organization_id=org_id, template_id=template_id)
    except service.NotFound:
        raise not_found() from None


@router.put(
    "/email/{template_id}/logo/",
    summary="Upload an email template's logo",
    openapi_extra=LOGO_BODY,
    responses={**schemas.success(schemas.EmailTemplate), **LOGO_REFUSALS},
)
async def templates_logo_put(
    request: Request, services: ServicesDep, org: OrgDep, template_id: TemplatePath
) -> JSONResponse:
    """The body is the image (at most 256 KB and 2048x2048 pixels), stored as sent and
    shown instead of `logo`; it replaces the template's uploaded logo. Answers the
    template."""
    found = object_id(template_id, MAX_INT_ID)
    await read(services, _template, org.id, found)
    image = await _image(request)
    return JSONResponse(await write(services, _set_logo, services, org.id, found, image))


@router.delete(
    "/email/{template_id}/logo/", summary="Remove an email template's logo", status_code=204
)
async def templates_logo_delete(
    services: ServicesDep, org: OrgDep, template_id: TemplatePath
) -> Response:
    """The template shows its `logo` URL again, if it has one. Answers 204 also when it
    had no uploaded logo."""
    found = object_id(template_id, MAX_INT_ID)
    await write(services, _remove_logo, org.id, found)
    return Response(status_code=204)
