"""``promoter webhook``: outbound webhooks of an organization."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from sqlalchemy import Connection

from promoter.cli.common import migrated_database, settings_from_env
from promoter.orgs import service as orgs
from promoter.services import webhook_policy
from promoter.storage.engine import Database
from promoter.webhooks.events import EVENTS
from promoter.webhooks.outbox import DeliveryBusy
from promoter.webhooks.rotation import rotate_secret
from promoter.webhooks.sender import WebhookSender
from promoter.webhooks.subscriptions import (
    FORMATS,
    Delivery,
    InvalidWebhook,
    Subscription,
    WebhookNotFound,
    create_subscription,
    delete_subscription,
    find_delivery,
    get_subscription,
    list_deliveries,
    list_subscriptions,
    update_subscription,
)

T = TypeVar("T")


@click.group()
def webhook() -> None:
    """Outbound webhooks: events sent to your URLs (see docs/webhooks.md)."""


@contextmanager
def _database() -> Iterator[Database]:
    try:
        with migrated_database() as database:
            yield database
    except (WebhookNotFound, orgs.NotFound) as exc:
        raise click.ClickException(str(exc)) from None
    except InvalidWebhook as exc:
        lines = [f"{field}: {' '.join(messages)}" for field, messages in exc.errors.items()]
        raise click.ClickException("\n".join(lines)) from None


def _write(database: Database, org_id: int, fn: Callable[[Connection], T]) -> T:
    with database.write() as conn:
        orgs.get_organization(conn, organization_id=org_id)
        return fn(conn)


def _read(database: Database, org_id: int, fn: Callable[[Connection], T]) -> T:
    with database.read() as conn:
        orgs.get_organization(conn, organization_id=org_id)
        return fn(conn)


def _line(s: Subscription) -> str:
    campaign = f"campaign {s.campaign_id}" if s.campaign_id is not None else "all campaigns"
    state = s.status
    if s.disabled_reason:
        state += f" ({s.disabled_reason})"
    elif s.consecutive_failures:
        state += f", {s.consecutive_failures} failed attempts in a row"
    return f"{s.id}\t{','.join(s.events)}\t{s.target_url}\t{s.format}\t{campaign}\t{state}"


def _delivery_line(d: Delivery) -> str:
    code = str(d.last_status_code) if d.last_status_code is not None else "-"
    error = f"\t{d.last_error}" if d.last_error and d.status != "delivered" else ""
    return (
        f"{d.id}\t{d.created_at:%Y-%m-%d %H:%M:%S}\t{d.event}\t{d.event_id}\t{d.status}"
        f"\t{d.attempts} attempt{'s' if d.attempts != 1 else ''}\t{code}{error}"
    )


def _sender(database: Database) -> WebhookSender:
    settings = settings_from_env()
    return WebhookSender(
        database=database, base_url=settings.public_url, policy=webhook_policy(settings)
    )


@webhook.command("list")
@click.argument("org_id", type=int)
def webhook_list(org_id: int) -> None:
    """List an organization's webhooks."""
    with _database() as database:
        found = _read(database, org_id, lambda c: list_subscriptions(c, organization_id=org_id))
    if not found:
        click.echo(f"no webhooks for organization {org_id}")
    for subscription in found:
        click.echo(_line(subscription))


def _events(text: str) -> list[str]:
    """Event names separated by commas."""
    return [name.strip() for name in text.split(",") if name.strip()]


#: The events, for the commands' help.
_EVENTS_HELP = "EVENTS is one event or several separated by commas: " + ", ".join(EVENTS) + "."


@webhook.command(
    "create",
    help="Send EVENTS to URL; prints the webhook's signing secret.\n\n" + _EVENTS_HELP,
)
@click.argument("org_id", type=int)
@click.argument("events")
@click.argument("url")
@click.option("--campaign", type=int, help="Only events about this campaign (its id).")
@click.option(
    "--format",
    "format_",
    type=click.Choice(FORMATS),
    default="json",
    show_default=True,
    help="json: the signed event; slack: a Slack incoming-webhook message.",
)
def webhook_create(org_id: int, events: str, url: str, campaign: int | None, format_: str) -> None:
    with _database() as database:
        created = _write(
            database,
            org_id,
            lambda c: create_subscription(
                c,
                organization_id=org_id,
                events=_events(events),
                target_url=url,
                campaign_id=campaign,
                format=format_,
                now=datetime.now(UTC),
                policy=webhook_policy(settings_from_env()),
            ),
        )
    click.echo(f"webhook {created.id}: {', '.join(created.events)} -> {created.target_url}")
    click.echo(f"signing secret: {created.secret}")


@webhook.command(
    "update",
    help="Change a webhook's events, URL, campaign or format (what is not given stays).\n\n"
    + _EVENTS_HELP,
)
@click.argument("org_id", type=int)
@click.argument("webhook_id", type=int)
@click.option("--events", "events", help="The events it receives from now on.")
@click.option("--url", help="The new target URL.")
@click.option("--campaign", type=int, help="Only events about this campaign (its id).")
@click.option("--all-campaigns", is_flag=True, help="Events about every campaign.")
@click.option("--format", "format_", type=click.Choice(FORMATS))
def webhook_update(
    org_id: int,
    webhook_id: int,
    events: str | None,
    url: str | None,
    campaign: int | None,
    all_campaigns: bool,
    format_: str | None,
) -> None:
    if campaign is not None and all_campaigns:
        raise click.UsageError("give --campaign or --all-campaigns, not both")
    changes: dict[str, Any] = {}
    if events is not None:
        changes["events"] = _events(events)
    if url is not None:
        changes["target_url"] = url
    if campaign is not None or all_campaigns:
        changes["campaign_id"] = campaign
    if format_ is not None:
        changes["format"] = format_
    if not changes:
        raise click.UsageError(
            "nothing to change: give --events, --url, --campaign, --all-campaigns or --format"
        )
    _update(org_id, webhook_id, changes)


def _update(org_id: int, webhook_id: int, changes: dict[str, Any]) -> None:
    """Change what ``changes`` names, and print the webhook as it is then."""
    with _database() as database:
        changed = _write(
            database,
            org_id,
            lambda c: update_subscription(
                c,
                organization_id=org_id,
                subscription_id=webhook_id,
                now=datetime.now(UTC),
                policy=webhook_policy(settings_from_env()),
                **changes,
            ),
        )
    click.echo(_line(changed))


@webhook.command("show")
@click.argument("org_id", type=int)
@click.argument("webhook_id", type=int)
def webhook_show(org_id: int, webhook_id: int) -> None:
    """Show a webhook with its signing secret."""
    with _database() as database:
        found = _read(
            database,
            org_id,
            lambda c: get_subscription(c, organization_id=org_id, subscription_id=webhook_id),
        )
    click.echo(_line(found))
    click.echo(f"signing secret: {found.secret}")


@webhook.command("rotate-secret")
@click.argument("org_id", type=int)
@click.argument("webhook_id", type=int)
def webhook_rotate_secret(org_id: int, webhook_id: int) -> None:
    """Give a webhook a new signing secret, and print it; for 24 hours requests carry a
    signature with the previous one too."""
    with _database() as database:
        rotated = _write(
            database,
            org_id,
            lambda c: rotate_secret(
                c, organization_id=org_id, subscription_id=webhook_id, now=datetime.now(UTC)
            ),
        )
    until = rotated.previous_secret_until
    click.echo(f"signing secret: {rotated.secret}")
    if until is not None:
        click.echo(f"the previous secret also signs until {until:%Y-%m-%d %H:%M:%S} UTC")


def _set_status(org_id: int, webhook_id: int, status: str) -> None:
    _update(org_id, webhook_id, {"status": status})


@webhook.command("enable")
@click.argument("org_id", type=int)
@click.argument("webhook_id", type=int)
def webhook_enable(org_id: int, webhook_id: int) -> None:
    """Enable a webhook again (its failure count starts over)."""
    _set_status(org_id, webhook_id, "active")


@webhook.command("disable")
@click.argument("org_id", type=int)
@click.argument("webhook_id", type=int)
def webhook_disable(org_id: int, webhook_id: int) -> None:
    """Disable a webhook: nothing is sent to it, its pending deliveries fail."""
    _set_status(org_id, webhook_id, "disabled")


@webhook.command("delete")
@click.argument("org_id", type=int)
@click.argument("webhook_id", type=int)
def webhook_delete(org_id: int, webhook_id: int) -> None:
    """Delete a webhook with its delivery log."""
    with _database() as database:
        _write(
            database,
            org_id,
            lambda c: delete_subscription(c, organization_id=org_id, subscription_id=webhook_id),
        )
    click.echo(f"webhook {webhook_id} deleted")


@webhook.command("deliveries")
@click.argument("org_id", type=int)
@click.argument("webhook_id", type=int)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
def webhook_deliveries(org_id: int, webhook_id: int, limit: int) -> None:
    """A webhook's newest deliveries: id, time, event, event id, status, attempts, last
    status code and error."""
    with _database() as database:
        total, found = _read(
            database,
            org_id,
            lambda c: list_deliveries(
                c, organization_id=org_id, subscription_id=webhook_id, limit=limit
            ),
        )
    if not found:
        click.echo(f"no deliveries for webhook {webhook_id}")
    for delivery in found:
        click.echo(_delivery_line(delivery))
    if total > len(found):
        click.echo(f"({len(found)} newest of {total})")


def _by_hand(database: Database, send: Callable[[WebhookSender], Awaitable[Delivery]]) -> Delivery:
    async def main() -> Delivery:
        return await send(_sender(database))

    try:
        return asyncio.run(main())
    except DeliveryBusy as exc:
        raise click.ClickException(str(exc)) from None


@webhook.command("redeliver")
@click.argument("org_id", type=int)
@click.argument("delivery_id", type=int)
def webhook_redeliver(org_id: int, delivery_id: int) -> None:
    """Send a delivery again now, and print how it went."""
    with _database() as database:
        found = _read(
            database,
            org_id,
            lambda c: find_delivery(c, organization_id=org_id, delivery_id=delivery_id),
        )
        delivery = _by_hand(
            database,
            lambda sender: sender.redeliver(
                organization_id=org_id,
                subscription_id=found.subscription_id,
                delivery_id=delivery_id,
            ),
        )
    click.echo(_delivery_line(delivery))


@webhook.command("ping")
@click.argument("org_id", type=int)
@click.argument("webhook_id", type=int)
def webhook_ping(org_id: int, webhook_id: int) -> None:
    """Send a ping event to a webhook now, and print how it went."""
    with _database() as database:
        _read(
            database,
            org_id,
            lambda c: get_subscription(c, organization_id=org_id, subscription_id=webhook_id),
        )
        delivery = _by_hand(
            database,
            lambda sender: sender.ping(organization_id=org_id, subscription_id=webhook_id),
        )
    click.echo(_delivery_line(delivery))
