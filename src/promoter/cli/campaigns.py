"""``promoter campaign``: create, list, show, update and pause campaigns; their public links."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from promoter.campaigns import links
from promoter.campaigns import service as campaigns
from promoter.campaigns.models import Campaign, EmailTemplate, TemplateSettings
from promoter.cli.common import migrated_database, settings_from_env
from promoter.domain.channels import CAMPAIGN_CHANNELS, WEB_FIRST
from promoter.domain.languages import LANGUAGES

CAMPAIGN_OPTIONS: list[tuple[Any, ...]] = [
    ("--name", {"help": "Campaign name."}),
    ("--kind", {"type": click.Choice(["segment", "manual"]), "help": "How surveys start."}),
    (
        "--channel",
        {
            "type": click.Choice(CAMPAIGN_CHANNELS),
            "help": "How surveys reach people: email, web (in the app, the web survey), or "
            f"both (in the app first, email after {WEB_FIRST.days} days). Manual: email.",
        },
    ),
    (
        "--event",
        {
            "multiple": True,
            "help": "A track event that triggers it (repeatable). Without any: every event.",
        },
    ),
    ("--any-event", {"is_flag": True, "default": None, "help": "Trigger on every event."}),
    ("--delay", {"type": int, "help": "Minutes between the trigger and the email."}),
    ("--throttle", {"type": int, "help": "Survey a contact at most once per N days."}),
    ("--weekdays-only/--any-day", {"default": None, "help": "Send on weekdays only."}),
    ("--window", {"help": "Local send window in the contact's time zone, e.g. 9-17; 'off'."}),
    ("--reminder", {"type": click.Choice(["off", "3", "5", "7"]), "help": "Days to reminder."}),
    ("--forward", {"help": "Email that receives each new feedback; 'off' to stop."}),
    ("--list", "list_id", {"type": int, "help": "Contact list id (default: Segment List)."}),
    (
        "--questions",
        {
            "help": "Follow-up questions as a JSON list, @FILE holding one, or 'off' (none); "
            "replaces the current ones. See docs/surveys.md.",
        },
    ),
    ("--thanks-url", {"help": "Where respondents go after the last page; 'off': our thanks."}),
    ("--answer-window", {"help": "Days after sending a survey can be answered; 'off': no limit."}),
    ("--subject", {"help": "Email subject."}),
    ("--from-name", {"help": "Sender name."}),
    ("--reply-to", {"help": "Reply-To address."}),
    ("--intro", {"help": "Message above the question."}),
    ("--brand", {"help": "Brand or product name used in the question."}),
    ("--language", {"type": click.Choice(LANGUAGES), "help": "Email language."}),
    ("--logo-url", {"help": "Logo image URL (http or https)."}),
    ("--brand-color", {"help": "Brand colour, #RRGGBB; 'off' for the default (#1f2933)."}),
]

CHANNEL_TEXT = {
    "email": "email",
    "web": "in the app (web survey)",
    "both": f"in the app first, email after {WEB_FIRST.days} days if not shown there",
}

TEMPLATE_FIELDS = {
    "subject": "subject",
    "from_name": "from_name",
    "reply_to": "reply_to",
    "intro": "intro_message",
    "brand": "brand_name",
    "language": "language",
    "logo_url": "logo_url",
    "brand_color": "brand_color",
}


def _campaign_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for spec in reversed(CAMPAIGN_OPTIONS):
        decls = [d for d in spec if isinstance(d, str)]
        kwargs = next(d for d in spec if isinstance(d, dict))
        fn = click.option(*decls, **kwargs)(fn)
    return fn


def _campaign_changes(options: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    simple = {"name": "name", "kind": "kind", "channel": "channel", "delay": "delay_minutes"}
    simple |= {"throttle": "throttle_days", "weekdays_only": "weekdays_only"}
    for option, field in simple.items():
        if options.get(option) is not None:
            changes[field] = options[option]
    if options.get("any_event"):
        changes["trigger_events"] = []
    elif options.get("event"):
        changes["trigger_events"] = list(options["event"])
    if options.get("window") is not None:
        changes.update(_window(options["window"]))
    if options.get("reminder") is not None:
        changes["reminder_days"] = (
            None if options["reminder"] == "off" else int(options["reminder"])
        )
    if options.get("forward") is not None:
        changes["forward_email"] = None if options["forward"] == "off" else options["forward"]
    if options.get("list_id") is not None:
        changes["contact_list_id"] = options["list_id"]
    if options.get("questions") is not None:
        changes["questions"] = _questions(options["questions"])
    if options.get("thanks_url") is not None:
        changes["thanks_url"] = None if options["thanks_url"] == "off" else options["thanks_url"]
    if options.get("answer_window") is not None:
        changes["answer_window_days"] = _answer_window(options["answer_window"])
    return changes


def _questions(text: str) -> Any:
    """The questions given on the command line: JSON, @FILE, or 'off'."""
    if text.strip().lower() == "off":
        return []
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            message = f"cannot read {text[1:]}: {exc}"
            raise click.BadParameter(message, param_hint="--questions") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--questions") from None


def _answer_window(text: str) -> int | None:
    if text.strip().lower() == "off":
        return None
    if not text.strip().isdigit():
        raise click.BadParameter("use a number of days, or 'off'", param_hint="--answer-window")
    return int(text)


def _window(text: str) -> dict[str, int | None]:
    if text.strip().lower() == "off":
        return {"send_window_start": None, "send_window_end": None}
    start, sep, end = text.partition("-")
    if not sep or not start.strip().isdigit() or not end.strip().isdigit():
        raise click.BadParameter("use START-END hours, e.g. 9-17, or 'off'", param_hint="--window")
    return {"send_window_start": int(start), "send_window_end": int(end)}


def _template_changes(options: dict[str, Any]) -> dict[str, Any]:
    changes = {
        field: options[option]
        for option, field in TEMPLATE_FIELDS.items()
        if options.get(option) is not None
    }
    if changes.get("brand_color") == "off":
        changes["brand_color"] = None
    return changes


def _invalid(exc: ValidationError) -> click.ClickException:
    lines = [
        f"  {'.'.join(map(str, e['loc'])) or 'campaign'}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    ]
    return click.ClickException("invalid campaign settings:\n" + "\n".join(lines))


def _show(campaign: Campaign, template: EmailTemplate) -> None:
    events = ", ".join(campaign.trigger_events) or "any track event"
    window = (
        f"{campaign.send_window_start}:00-{campaign.send_window_end}:00 local"
        if campaign.send_window_start is not None
        else "any time"
    )
    rows = [
        ("campaign", f"{campaign.id}: {campaign.name} ({campaign.kind}, {campaign.status})"),
        ("channel", CHANNEL_TEXT[campaign.channel]),
        ("contact list", str(campaign.contact_list_id)),
        ("triggered by", events if campaign.kind == "segment" else "manual sends only"),
        ("delay", f"{campaign.delay_minutes} minutes"),
        ("throttle", f"once per {campaign.throttle_days} days (and the organization's cooldown)"),
        ("days", "weekdays only" if campaign.weekdays_only else "any day"),
        ("send window", window),
        ("reminder", f"after {campaign.reminder_days} days" if campaign.reminder_days else "off"),
        ("forward feedback to", campaign.forward_email or "nobody"),
        ("answers accepted", _window_text(campaign.answer_window_days)),
        ("after the last page", campaign.thanks_url or "our thank-you page"),
        *_question_rows(campaign),
        ("email subject", template.subject),
        (
            "from",
            template.from_name + (f" (reply to {template.reply_to})" if template.reply_to else ""),
        ),
        ("brand", template.brand_name),
        ("language", template.language),
        ("intro", template.intro_message or "-"),
        ("logo", "uploaded" if template.logo_id else template.logo_url or "-"),
        ("brand colour", template.brand_color or "default"),
    ]
    for label, value in rows:
        click.echo(f"{label:>20}  {value}")


def _window_text(days: int | None) -> str:
    return "for ever" if days is None else f"for {days} days after sending"


def _question_rows(campaign: Campaign) -> list[tuple[str, str]]:
    rows = []
    for question in campaign.questions:
        details = [question.type, f"to {question.audience}"]
        if question.required:
            details.append("required")
        if question.choices:
            details.append("choices: " + " | ".join(question.choices))
        rows.append((f"question {question.id}", f"{question.text} ({', '.join(details)})"))
    return rows or [("questions", "none")]


@click.group()
def campaign() -> None:
    """Campaigns: which events send which survey, when, by email or in the app."""


@campaign.command("list")
@click.argument("org_id", type=int)
def campaign_list(org_id: int) -> None:
    """List an organization's campaigns."""
    with migrated_database() as database, database.read() as conn:
        found = campaigns.list_campaigns(conn, organization_id=org_id)
    if not found:
        click.echo(f"no campaigns in organization {org_id}")
    for c in found:
        events = ", ".join(c.trigger_events) or "any event"
        click.echo(f"{c.id}\t{c.name}\t{c.kind}\t{c.channel}\t{c.status}\t{events}")


@campaign.command("show")
@click.argument("org_id", type=int)
@click.argument("campaign_id", type=int)
def campaign_show(org_id: int, campaign_id: int) -> None:
    """Show every setting of a campaign and its email."""
    with migrated_database() as database, database.read() as conn:
        try:
            found = campaigns.get_campaign(conn, organization_id=org_id, campaign_id=campaign_id)
            template = campaigns.get_template(
                conn, organization_id=org_id, template_id=found.email_template_id
            )
        except campaigns.NotFound as exc:
            raise click.ClickException(str(exc)) from None
    _show(found, template)


@campaign.command("create")
@click.argument("org_id", type=int)
@_campaign_options
def campaign_create(org_id: int, **options: Any) -> None:
    """Create a campaign (with its own email template)."""
    if not options.get("name"):
        raise click.UsageError("--name is required")
    changes = _campaign_changes(options)
    list_id = changes.pop("contact_list_id", None)
    with migrated_database() as database:
        try:
            with database.write() as conn:
                brand = options.get("brand") or changes["name"]
                base = campaigns.default_template(brand).model_dump()
                template = campaigns.create_template(
                    conn,
                    organization_id=org_id,
                    name=changes["name"],
                    settings=TemplateSettings.model_validate(
                        {**base, **_template_changes(options)}
                    ),
                )
                created = campaigns.create_campaign(
                    conn,
                    organization_id=org_id,
                    settings=campaigns.CampaignSettings.model_validate(changes),
                    template_id=template.id,
                    list_id=list_id,
                )
        except ValidationError as exc:
            raise _invalid(exc) from None
        except campaigns.NotFound as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"campaign {created.id} created")
    _show(created, template)


@campaign.command("update")
@click.argument("org_id", type=int)
@click.argument("campaign_id", type=int)
@click.option(
    "--status", type=click.Choice(["active", "paused", "complete"]), help="Campaign status."
)
@_campaign_options
def campaign_update(org_id: int, campaign_id: int, status: str | None, **options: Any) -> None:
    """Change some settings of a campaign; the others stay."""
    changes = _campaign_changes(options)
    if status is not None:
        changes["status"] = status
    _update(org_id, campaign_id, changes, _template_changes(options))


@campaign.command("pause")
@click.argument("org_id", type=int)
@click.argument("campaign_id", type=int)
def campaign_pause(org_id: int, campaign_id: int) -> None:
    """Stop triggering new surveys (resume with `update --status active`)."""
    _update(org_id, campaign_id, {"status": "paused"}, {})


def _update(
    org_id: int, campaign_id: int, changes: dict[str, Any], template_changes: dict[str, Any]
) -> None:
    with migrated_database() as database:
        try:
            with database.write() as conn:
                updated = campaigns.update_campaign(
                    conn, organization_id=org_id, campaign_id=campaign_id, changes=changes
                )
                template = campaigns.update_template(
                    conn,
                    organization_id=org_id,
                    template_id=updated.email_template_id,
                    changes=template_changes,
                )
        except ValidationError as exc:
            raise _invalid(exc) from None
        except campaigns.NotFound as exc:
            raise click.ClickException(str(exc)) from None
    _show(updated, template)


@campaign.command("link")
@click.argument("org_id", type=int)
@click.argument("campaign_id", type=int)
@click.option("--rotate", is_flag=True, help="A new link; the old one stops working.")
@click.option("--off", is_flag=True, help="Take the link away; it stops working.")
def campaign_link(org_id: int, campaign_id: int, rotate: bool, off: bool) -> None:
    """Print the campaign's public link and its QR code's address (made if it has none).
    Anyone with the link can answer; see docs/link-surveys.md."""
    if rotate and off:
        raise click.UsageError("--rotate and --off cannot go together")
    base_url = settings_from_env().public_url
    now = datetime.now(UTC)
    with migrated_database() as database:
        try:
            with database.write() as conn:
                found = campaigns.get_campaign(
                    conn, organization_id=org_id, campaign_id=campaign_id
                )
                if off:
                    found = links.remove_link(
                        conn, organization_id=org_id, campaign_id=campaign_id, now=now
                    )
                elif rotate or found.link_key is None:
                    found = links.set_link(
                        conn, organization_id=org_id, campaign_id=campaign_id, now=now
                    )
        except campaigns.NotFound as exc:
            raise click.ClickException(str(exc)) from None
    link = links.public_link(base_url, found)
    if link is None:
        click.echo(f"campaign {campaign_id} has no public link")
        return
    click.echo(link.url)
    click.echo(f"QR code: {link.qr_url}")
