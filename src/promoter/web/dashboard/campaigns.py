"""Dashboard: the campaigns pages. List, create, edit every setting and the email
template, pause and resume, and preview the survey email."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import Connection
from starlette.responses import HTMLResponse, Response

from promoter.accounts.sessions import Session
from promoter.campaigns import service
from promoter.campaigns.counts import CampaignResults, campaign_results
from promoter.campaigns.links import public_link
from promoter.campaigns.logos import (
    Logo,
    LogoRefused,
    check_image,
    remove_logo,
    set_logo,
    template_logo,
)
from promoter.campaigns.models import (
    REMINDER_DAYS,
    Campaign,
    CampaignSettings,
    EmailTemplate,
    TemplateSettings,
)
from promoter.campaigns.questions import DEFAULT_ANSWER_WINDOW_DAYS
from promoter.contacts.lists import list_names
from promoter.delivery.render import SurveyEmail, TemplateView
from promoter.domain.colors import DEFAULT_ACCENT
from promoter.domain.ids import MAX_INT_ID
from promoter.domain.languages import LANGUAGE_NAMES
from promoter.services import Services
from promoter.web.dashboard import campaign_channels, campaign_questions
from promoter.web.dashboard.campaign_channels import WebSurveyState, web_survey_state
from promoter.web.dashboard.campaign_prefill import (
    ADD_EVENT,
    FormHelp,
    form_help,
    new_template,
    with_added_event,
)
from promoter.web.dashboard.forms import Form, Upload, chosen_id, read_form
from promoter.web.dashboard.session import SessionDep, check_csrf, render, see_other, with_done
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread

router = APIRouter(include_in_schema=False)

CSS = ["campaigns.css"]
STATUSES = ("active", "paused", "complete")
#: The fields of each form, as the page names its inputs.
CAMPAIGN_FIELDS = (
    "name",
    "kind",
    "status",
    "channel",
    "trigger_events",
    "delay_minutes",
    "throttle_days",
    "weekdays_only",
    "send_window_start",
    "send_window_end",
    "reminder_days",
    "forward_email",
    "contact_list_id",
    "thanks_url",
    "answer_window_days",
)
TEMPLATE_FIELDS = tuple(TemplateSettings.model_fields)
#: How the error summary names each field.
LABELS = {
    "name": "Name",
    "kind": "Kind",
    "status": "Status",
    "channel": "Channel",
    "trigger_events": "Trigger events",
    "delay_minutes": "Delay",
    "throttle_days": "Throttle",
    "weekdays_only": "Weekdays only",
    "send_window": "Send window",
    "send_window_start": "Send window start",
    "send_window_end": "Send window end",
    "reminder_days": "Reminder",
    "forward_email": "Forward feedback to",
    "contact_list_id": "Contact list",
    "subject": "Subject",
    "from_name": "From name",
    "reply_to": "Reply-To",
    "intro_message": "Intro message",
    "brand_name": "Brand or product",
    "language": "Language",
    "logo_url": "Logo URL",
    "brand_color": "Brand colour",
    "logo_file": "Logo",
    **campaign_questions.LABELS,
}
#: Whom the preview is addressed to.
SAMPLE_ADDRESS = "alex@example.com"
SAMPLE_NAME = "Alex Example"
SAMPLE_TOKEN = "preview"
#: The survey email's HTML, shown in a sandboxed frame: no script, no fetches but images.
EMAIL_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
    ),
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


Values = dict[str, Any]
Errors = dict[str, str]


# Reading forms -------------------------------------------------------------------------


def campaign_values(campaign: Campaign | None = None) -> Values:
    """What the campaign form shows: a campaign's settings, or a new campaign's defaults."""
    settings = campaign or CampaignSettings.model_construct(name="")
    return {
        "name": settings.name,
        "kind": settings.kind,
        "status": settings.status,
        "channel": settings.channel,
        "trigger_events": "\n".join(settings.trigger_events),
        "delay_minutes": str(settings.delay_minutes),
        "throttle_days": str(settings.throttle_days),
        "weekdays_only": settings.weekdays_only,
        "send_window_start": _text(settings.send_window_start),
        "send_window_end": _text(settings.send_window_end),
        "reminder_days": _text(settings.reminder_days),
        "forward_email": settings.forward_email or "",
        "contact_list_id": str(campaign.contact_list_id) if campaign else "",
        "thanks_url": settings.thanks_url or "",
        "answer_window_days": _text(
            settings.answer_window_days if campaign else DEFAULT_ANSWER_WINDOW_DAYS
        ),
        "questions": campaign_questions.slots_of(campaign.questions if campaign else []),
    }


def template_values(template: TemplateSettings | None = None) -> Values:
    """What the template form shows (a new campaign's: empty, English)."""
    if template is None:
        return {name: "" for name in TEMPLATE_FIELDS} | {"language": "en"}
    return {name: _text(getattr(template, name)) for name in TEMPLATE_FIELDS}


def _text(value: object) -> str:
    return "" if value is None else str(value)


def campaign_values_from(form: Form) -> Values:
    values: Values = {name: form.get(name) for name in CAMPAIGN_FIELDS}
    values["trigger_events"] = with_added_event(values["trigger_events"], form.get(ADD_EVENT))
    values["weekdays_only"] = form.get("weekdays_only") in {"on", "true", "1", "yes"}
    values["questions"] = campaign_questions.slots_from(form)
    return values


def template_values_from(form: Form) -> Values:
    values = {name: form.get(name) for name in TEMPLATE_FIELDS}
    # The colour picker, when it was moved (without script it does not fill the text).
    picked = form.get("brand_color_picker")
    if picked and picked != form.get("brand_color_picker_shown"):
        values["brand_color"] = picked
    return values


def campaign_input(values: Values) -> tuple[dict[str, Any], int | None, Errors]:
    """The settings to validate, the chosen list (None: the Segment List), and what
    could not be read at all."""
    errors: Errors = {}
    data: dict[str, Any] = {
        "name": values["name"],
        "kind": values["kind"] or "segment",
        "status": values["status"] or "active",
        # A manual campaign's radios are disabled, so the browser sends none: email.
        "channel": values["channel"] or "email",
        "trigger_events": [e for e in values["trigger_events"].splitlines() if e.strip()],
        "delay_minutes": values["delay_minutes"].strip(),
        "throttle_days": values["throttle_days"].strip(),
        "weekdays_only": values["weekdays_only"],
        "send_window_start": values["send_window_start"].strip() or None,
        "send_window_end": values["send_window_end"].strip() or None,
        "reminder_days": _reminder(values["reminder_days"]),
        "forward_email": values["forward_email"].strip() or None,
        "thanks_url": values["thanks_url"].strip() or None,
        "answer_window_days": values["answer_window_days"].strip() or None,
        "questions": campaign_questions.questions_input(values["questions"]),
    }
    list_id: int | None = None
    chosen = values["contact_list_id"].strip()
    if chosen:
        list_id = chosen_id(chosen)
        if list_id is None:
            errors["contact_list_id"] = "Choose one of the lists."
    return data, list_id, errors


def _reminder(text: str) -> str | None:
    text = text.strip()
    return None if text in {"", "off"} else text


def template_input(values: Values) -> dict[str, Any]:
    data: dict[str, Any] = {name: values[name] for name in TEMPLATE_FIELDS}
    for optional in ("reply_to", "logo_url", "brand_color"):
        data[optional] = data[optional].strip() or None
    data["language"] = data["language"] or "en"
    return data


def field_errors(exc: ValidationError) -> Errors:
    """One message per form field. A rule about several fields (the send window's) is
    shown with the send window."""
    errors: Errors = {}
    for error in exc.errors():
        loc = error["loc"]
        name = str(loc[0]) if loc else "send_window"
        message = _message(error)
        if name == "questions":
            name, before = campaign_questions.error_place(loc)
            message = before + message
        errors[name] = f"{errors[name]} {message}" if name in errors else message
    return errors


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return "Required."
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return "Enter a whole number."
    if kind == "greater_than_equal":
        return f"Must be {ctx['ge']} or more."
    if kind == "less_than_equal":
        return f"Must be {ctx['le']} or less."
    if kind == "string_too_long":
        return f"At most {ctx['max_length']} characters."
    if kind == "too_long":
        return f"At most {ctx['max_length']} entries."
    if kind == "string_pattern_mismatch":
        return "Must start with http:// or https://."
    if kind == "literal_error":
        return f"Choose {ctx.get('expected', 'one of the options')}."
    if kind == "value_error" and "email address" in error["msg"]:
        reason = error["msg"].split(":", 1)[-1].strip()
        return f"Not a valid email address: {reason}"
    message = error["msg"].removeprefix("Value error, ")
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


# Reading and writing the database ------------------------------------------------------


@dataclass
class Listing:
    campaigns: list[Campaign]
    counts: dict[int, CampaignResults]
    lists: dict[int, str]


def load_listing(services: Services, organization_id: int) -> Listing:
    with services.database.read() as conn:
        return Listing(
            service.list_campaigns(conn, organization_id=organization_id),
            campaign_results(conn, organization_id=organization_id),
            list_names(conn, organization_id=organization_id),
        )


@dataclass
class Editing:
    """A campaign with what its edit page shows besides the forms."""

    campaign: Campaign
    template: EmailTemplate
    lists: dict[int, str]
    #: Other campaigns that send the same template.
    sharing: list[Campaign] = field(default_factory=list)
    #: The template's uploaded logo.
    logo: Logo | None = None
    #: Whether the organization's web survey can show the campaign's in-app surveys.
    web_survey: WebSurveyState = "ready"
    #: What it sent and got back, in all and per channel.
    results: CampaignResults = field(default_factory=CampaignResults)
    #: The organization's event names and time zone.
    help: FormHelp = field(default_factory=FormHelp)


def load_editing(services: Services, organization_id: int, campaign_id: int) -> Editing | None:
    if not 0 < campaign_id <= MAX_INT_ID:
        return None
    with services.database.read() as conn:
        try:
            campaign = service.get_campaign(
                conn, organization_id=organization_id, campaign_id=campaign_id
            )
            template = service.get_template(
                conn, organization_id=organization_id, template_id=campaign.email_template_id
            )
        except service.NotFound:
            return None
        sharing = [
            c
            for c in service.list_campaigns(conn, organization_id=organization_id)
            if c.email_template_id == template.id and c.id != campaign.id
        ]
        logo = template_logo(conn, organization_id=organization_id, logo_id=template.logo_id)
        results = campaign_results(conn, organization_id=organization_id, campaign_id=campaign.id)
        return Editing(
            campaign,
            template,
            list_names(conn, organization_id=organization_id),
            sharing,
            logo,
            web_survey_state(conn, organization_id),
            results.get(campaign.id, CampaignResults()),
            form_help(conn, organization_id),
        )


def create(
    services: Services, organization_id: int, campaign: Values, template: Values
) -> Campaign | Errors:
    data, list_id, errors = campaign_input(campaign)
    settings = template_settings = None
    try:
        settings = CampaignSettings.model_validate(data)
    except ValidationError as exc:
        errors = field_errors(exc) | errors
    try:
        template_settings = TemplateSettings.model_validate(template_input(template))
    except ValidationError as exc:
        errors |= field_errors(exc)
    if errors or settings is None or template_settings is None:
        return errors
    try:
        with services.database.write() as conn:
            created = service.create_template(
                conn,
                organization_id=organization_id,
                name=settings.name,
                settings=template_settings,
            )
            return service.create_campaign(
                conn,
                organization_id=organization_id,
                settings=settings,
                template_id=created.id,
                list_id=list_id,
            )
    except service.NotFound:
        return {"contact_list_id": "There is no such list."}


class Missing(Exception):
    """The campaign is not one of this organization's."""


def save_campaign(
    services: Services, organization_id: int, campaign_id: int, values: Values
) -> Errors:
    data, list_id, errors = campaign_input(values)
    if errors:
        return errors
    changes = dict(data)
    if list_id is not None:
        changes["contact_list_id"] = list_id
    try:
        with services.database.write() as conn:
            _existing(conn, organization_id, campaign_id)
            service.update_campaign(
                conn, organization_id=organization_id, campaign_id=campaign_id, changes=changes
            )
    except ValidationError as exc:
        return field_errors(exc)
    except service.NotFound:
        return {"contact_list_id": "There is no such list."}
    return {}


@dataclass(frozen=True)
class LogoChange:
    """What the template form asks of the logo: a new one, or none any more."""

    upload: Upload | None = None
    remove: bool = False


def save_template(
    services: Services,
    organization_id: int,
    campaign_id: int,
    values: Values,
    logo: LogoChange | None = None,
) -> Errors:
    logo = logo or LogoChange()
    try:
        image = logo.upload and check_image(logo.upload.content, logo.upload.content_type)
    except LogoRefused as exc:
        return {"logo_file": exc.message}
    try:
        with services.database.write() as conn:
            campaign = _existing(conn, organization_id, campaign_id)
            template_id = campaign.email_template_id
            service.update_template(
                conn,
                organization_id=organization_id,
                template_id=template_id,
                changes=template_input(values),
            )
            if image:
                set_logo(
                    conn, organization_id=organization_id, template_id=template_id, image=image
                )
            elif logo.remove:
                remove_logo(conn, organization_id=organization_id, template_id=template_id)
    except ValidationError as exc:
        return field_errors(exc)
    return {}


def set_status(services: Services, organization_id: int, campaign_id: int, status: str) -> None:
    with services.database.write() as conn:
        _existing(conn, organization_id, campaign_id)
        service.update_campaign(
            conn,
            organization_id=organization_id,
            campaign_id=campaign_id,
            changes={"status": status},
        )


def _existing(conn: Connection, organization_id: int, campaign_id: int) -> Campaign:
    if not 0 < campaign_id <= MAX_INT_ID:
        raise Missing(campaign_id)
    try:
        return service.get_campaign(conn, organization_id=organization_id, campaign_id=campaign_id)
    except service.NotFound:
        raise Missing(campaign_id) from None


@dataclass
class Preview:
    campaign: Campaign
    subject: str
    sender: str
    reply_to: str | None
    recipient: str
    language: str
    text: str
    html: str


def load_preview(
    services: Services, organization_id: int, campaign_id: int, reminder: bool
) -> Preview | None:
    editing = load_editing(services, organization_id, campaign_id)
    if editing is None:
        return None
    t = editing.template
    view = TemplateView(
        t.subject,
        t.from_name,
        t.reply_to,
        t.intro_message,
        t.brand_name,
        t.language,
        t.logo_url,
        brand_color=t.brand_color,
        logo=editing.logo.stored if editing.logo else None,
    )
    email = SurveyEmail(SAMPLE_ADDRESS, SAMPLE_NAME, SAMPLE_TOKEN, reminder=reminder)
    outgoing = services.renderer().render(email, view)
    message = message_from_bytes(outgoing.data, policy=email_policy.default)
    assert isinstance(message, EmailMessage)
    parts: dict[str, str] = {}
    for part in message.walk():
        if not part.is_multipart() and isinstance(part, EmailMessage):
            parts.setdefault(part.get_content_type(), str(part.get_content()))
    return Preview(
        campaign=editing.campaign,
        subject=str(message["Subject"]),
        sender=str(message["From"]),
        reply_to=str(message["Reply-To"]) if message["Reply-To"] else None,
        recipient=str(message["To"]),
        language=LANGUAGE_NAMES.get(t.language, t.language),
        text=parts.get("text/plain", ""),
        html=parts.get("text/html", ""),
    )


# Pages -------------------------------------------------------------------------------


def _not_found(request: Request, session: Session) -> Response:
    return render(
        request,
        "error.html",
        session,
        status=404,
        section="campaigns",
        heading="Not found",
        message="There is no such campaign.",
    )


def _choices(lists: dict[int, str], web_survey: WebSurveyState, help: FormHelp) -> dict[str, Any]:
    """The options of the forms' menus, as (value, label), and the suggestions."""
    return help.context() | {
        "channel_options": campaign_channels.OPTIONS,
        "web_survey": web_survey,
        "kind_options": [
            ("segment", "Segment: track events trigger it"),
            ("manual", "Manual: sent only when asked through the API"),
        ],
        "status_options": [(s, s.capitalize()) for s in STATUSES],
        "start_options": [("", "any time")] + [(str(h), f"{h:02d}:00") for h in range(24)],
        "end_options": [("", "any time")] + [(str(h), f"{h:02d}:00") for h in range(1, 25)],
        "reminder_options": [("", "No reminder")]
        + [(str(d), f"After {d} days") for d in REMINDER_DAYS],
        "language_options": list(LANGUAGE_NAMES.items()),
        "default_color": DEFAULT_ACCENT,
        "type_options": campaign_questions.TYPE_OPTIONS,
        "audience_options": campaign_questions.AUDIENCE_OPTIONS,
        "list_options": [(str(i), name) for i, name in lists.items()],
        "labels": LABELS,
    }


@router.get("/campaigns")
async def campaign_list(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    listing = await in_thread(load_listing, services, session.user.organization_id)
    return render(
        request,
        "campaigns.html",
        session,
        section="campaigns",
        extra_css=CSS,
        listing=listing,
        empty=CampaignResults(),
        channel_names=campaign_channels.NAMES,
    )


@dataclass(frozen=True)
class NewForm:
    """What the new campaign form needs of the organization."""

    lists: dict[int, str]
    web_survey: WebSurveyState
    help: FormHelp
    #: The email it starts with.
    template: TemplateSettings


def _new_page(
    request: Request,
    session: Session,
    form: NewForm,
    campaign: Values,
    template: Values,
    errors: Errors,
) -> Response:
    return render(
        request,
        "campaigns_new.html",
        session,
        status=400 if errors else 200,
        section="campaigns",
        extra_css=CSS,
        **_choices(form.lists, form.web_survey, form.help),
        c=campaign,
        t=template,
        errors=errors,
        locked=False,
    )


def _form_data(services: Services, organization_id: int) -> NewForm:
    with services.database.read() as conn:
        return NewForm(
            list_names(conn, organization_id=organization_id),
            web_survey_state(conn, organization_id),
            form_help(conn, organization_id),
            new_template(conn, organization_id),
        )


@router.get("/campaigns/new")
async def new_campaign(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await in_thread(_form_data, services, session.user.organization_id)
    return _new_page(request, session, form, campaign_values(), template_values(form.template), {})


@router.post("/campaigns")
async def create_campaign(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    org = session.user.organization_id
    campaign, template = campaign_values_from(form), template_values_from(form)
    result = await in_thread(create, services, org, campaign, template)
    if isinstance(result, Campaign):
        return see_other(with_done(f"/campaigns/{result.id}", "campaign-created"))
    form_data = await in_thread(_form_data, services, org)
    return _new_page(request, session, form_data, campaign, template, result)


def _edit_page(
    request: Request,
    session: Session,
    editing: Editing,
    *,
    campaign: Values | None = None,
    template: Values | None = None,
    errors: Errors | None = None,
    template_errors: Errors | None = None,
) -> Response:
    failed = bool(errors or template_errors)
    return render(
        request,
        "campaigns_edit.html",
        session,
        status=400 if failed else 200,
        section="campaigns",
        extra_css=CSS,
        **_choices(editing.lists, editing.web_survey, editing.help),
        editing=editing,
        # A manual campaign emails: its channel cannot be chosen.
        locked=editing.campaign.kind == "manual",
        channel_names=campaign_channels.NAMES,
        logo=editing.logo,
        campaign=editing.campaign,
        c=campaign or campaign_values(editing.campaign),
        t=template or template_values(editing.template),
        errors=errors or {},
        template_errors=template_errors or {},
        link=public_link(request.app.state.services.settings.public_url, editing.campaign),
    )


@router.get("/campaigns/{campaign_id}")
async def edit_campaign(
    request: Request, services: ServicesDep, session: SessionDep, campaign_id: int
) -> Response:
    org = session.user.organization_id
    editing = await in_thread(load_editing, services, org, campaign_id)
    if editing is None:
        return _not_found(request, session)
    return _edit_page(request, session, editing)


@router.post("/campaigns/{campaign_id}")
async def update_campaign(
    request: Request, services: ServicesDep, session: SessionDep, campaign_id: int
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    org = session.user.organization_id
    values = campaign_values_from(form)
    try:
        errors = await in_thread(save_campaign, services, org, campaign_id, values)
    except Missing:
        return _not_found(request, session)
    if not errors:
        return see_other(with_done(f"/campaigns/{campaign_id}", "campaign-saved"))
    editing = await in_thread(load_editing, services, org, campaign_id)
    if editing is None:
        return _not_found(request, session)
    return _edit_page(request, session, editing, campaign=values, errors=errors)


@router.post("/campaigns/{campaign_id}/template")
async def update_template(
    request: Request, services: ServicesDep, session: SessionDep, campaign_id: int
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    org = session.user.organization_id
    values = template_values_from(form)
    logo = LogoChange(form.files.get("logo_file"), form.get("remove_logo") == "on")
    try:
        errors = await in_thread(save_template, services, org, campaign_id, values, logo)
    except Missing:
        return _not_found(request, session)
    if not errors:
        return see_other(with_done(f"/campaigns/{campaign_id}#template", "template-saved"))
    editing = await in_thread(load_editing, services, org, campaign_id)
    if editing is None:
        return _not_found(request, session)
    return _edit_page(request, session, editing, template=values, template_errors=errors)


async def _change_status(
    request: Request, services: Services, session: Session, campaign_id: int, status: str
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    org = session.user.organization_id
    try:
        await in_thread(set_status, services, org, campaign_id, status)
    except Missing:
        return _not_found(request, session)
    done = "campaign-paused" if status == "paused" else "campaign-resumed"
    back = "/campaigns" if form.get("return") == "list" else f"/campaigns/{campaign_id}"
    return see_other(with_done(back, done))


@router.post("/campaigns/{campaign_id}/pause")
async def pause_campaign(
    request: Request, services: ServicesDep, session: SessionDep, campaign_id: int
) -> Response:
    return await _change_status(request, services, session, campaign_id, "paused")


@router.post("/campaigns/{campaign_id}/resume")
async def resume_campaign(
    request: Request, services: ServicesDep, session: SessionDep, campaign_id: int
) -> Response:
    return await _change_status(request, services, session, campaign_id, "active")


@router.get("/campaigns/{campaign_id}/preview")
async def preview_campaign(
    request: Request, services: ServicesDep, session: SessionDep, campaign_id: int
) -> Response:
    reminder = request.query_params.get("reminder") == "1"
    org = session.user.organization_id
    preview = await in_thread(load_preview, services, org, campaign_id, reminder)
    if preview is None:
        return _not_found(request, session)
    return render(
        request,
        "campaigns_preview.html",
        session,
        section="campaigns",
        extra_css=CSS,
        preview=preview,
        campaign=preview.campaign,
        reminder=reminder,
    )


@router.get("/campaigns/{campaign_id}/preview/email")
async def preview_email(
    request: Request, services: ServicesDep, session: SessionDep, campaign_id: int
) -> Response:
    """The email's HTML alone, for the preview page's sandboxed frame."""
    reminder = request.query_params.get("reminder") == "1"
    org = session.user.organization_id
    preview = await in_thread(load_preview, services, org, campaign_id, reminder)
    if preview is None:
        return _not_found(request, session)
    return HTMLResponse(preview.html, headers=EMAIL_HEADERS)
