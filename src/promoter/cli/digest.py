"""``promoter digest``: print an organization's weekly digest, or queue it now."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from promoter.analytics.engine import Analytics
from promoter.cli.common import migrated_database, settings_from_env
from promoter.digest.send import Digesting, read_digest, send_now
from promoter.digest.week import last_complete_week
from promoter.orgs.service import NotFound, get_organization
from promoter.storage.engine import Database


@click.group()
def digest() -> None:
    """The weekly digest: the last complete week (Monday to Sunday, UTC) against the one
    before."""


def _digesting(database: Database, org_id: int) -> Digesting:
    with database.read() as conn:
        try:
            get_organization(conn, organization_id=org_id)
        except NotFound as exc:
            raise click.ClickException(str(exc)) from None
    return Digesting(database, Analytics(), settings_from_env().public_url)


@digest.command("preview")
@click.argument("org_id", type=int)
def digest_preview(org_id: int) -> None:
    """Print ORG_ID's digest of the last complete week, as its text part."""
    with migrated_database() as database:
        digesting = _digesting(database, org_id)
        week = last_complete_week(datetime.now(UTC))
        found = read_digest(digesting, organization_id=org_id, week=week)
    click.echo(digesting.emails.text(found))


@digest.command("send")
@click.argument("org_id", type=int)
def digest_send(org_id: int) -> None:
    """Queue ORG_ID's digest of the last complete week now, to each user who takes it
    (whether or not this week's was sent); the delivery worker sends it."""
    with migrated_database() as database:
        digesting = _digesting(database, org_id)
        queued = send_now(digesting, organization_id=org_id, now=datetime.now(UTC))
    click.echo(f"queued {queued} digest emails")
