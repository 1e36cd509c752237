"""``promoter demo``: the demo organization, "Demo Inc.", with a year of data."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from promoter.accounts.passwords import Passwords
from promoter.cli.common import migrated_database, settings_from_env
from promoter.demo import (
    DEFAULT_CONTACTS,
    DEFAULT_SEED,
    DEMO_ORGANIZATION,
    DemoLogin,
    ensure_demo,
    find_demo,
)
from promoter.storage.engine import Database


def ensure(
    database: Database,
    passwords: Passwords,
    *,
    seed: int = DEFAULT_SEED,
    size: int = DEFAULT_CONTACTS,
) -> DemoLogin:
    """The demo organization, built first (saying so) when the database has none."""
    with database.read() as conn:
        found = find_demo(conn)
    if found is not None:
        return found
    click.echo(f"Creating the demo organization {DEMO_ORGANIZATION} (a year of data)...", err=True)
    return ensure_demo(database, passwords, now=datetime.now(UTC), seed=seed, size=size)


def login_lines(login: DemoLogin, url: str) -> list[str]:
    """How to sign in to the demo, for the startup banner and ``promoter demo``."""
    return [
        f"  demo dashboard:       {url}/login",
        f"  demo login:           {login.email}  password: {login.password}",
    ]


@click.command()
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Random seed.")
@click.option(
    "--size",
    type=click.IntRange(10, 5000),
    default=DEFAULT_CONTACTS,
    show_default=True,
    help="Number of contacts.",
)
def demo(seed: int, size: int) -> None:
    """Create the demo organization "Demo Inc." (once) and print its login.

    A year of contacts, events, orders, campaigns, surveys and answers, made through
    the same paths as real data, and a dashboard user to sign in with. When the demo
    exists already, only its login is printed.
    """
    settings = settings_from_env()
    with migrated_database() as database:
        login = ensure(database, Passwords(), seed=seed, size=size)
    if login.created:
        click.echo(
            f"organization {login.organization_id}: {login.organization_name}, with "
            f"{login.contacts:,} contacts, {login.events:,} events and "
            f"{login.responses:,} responses"
        )
    else:
        click.echo(
            f"organization {login.organization_id}: {login.organization_name} (exists already)"
        )
    if login.api_key is not None:
        click.echo(f"  API key:              {login.api_key}   (shown once)")
    for line in login_lines(login, settings.public_url):
        click.echo(line)
    click.echo("Start the service with `promoter serve`, then sign in.")
