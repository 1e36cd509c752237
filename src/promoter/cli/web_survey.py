"""``promoter web-survey``: an organization's in-app web survey (see docs/web-survey.md)."""

from __future__ import annotations

import click

from promoter.cli.common import migrated_database
from promoter.websurveys.identity import sign_user
from promoter.websurveys.settings import get_settings


@click.group(name="web-survey")
def web_survey() -> None:
    """The in-app web survey: test an identity verification setup."""


@web_survey.command()
@click.argument("org_id", type=click.IntRange(min=1))
@click.argument("user_id")
def sign(org_id: int, user_id: str) -> None:
    """Print USER_ID's signature under the organization's current identity secret, the
    value your server should compute."""
    with migrated_database() as database, database.read() as conn:
        found = get_settings(conn, organization_id=org_id)
    if found is None:
        raise click.ClickException(f"organization {org_id} has no web survey settings")
    click.echo(sign_user(found.identity_secret, user_id))
