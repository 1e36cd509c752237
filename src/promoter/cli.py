"""The ``promoter`` command: serve, migrate, manage organizations and API keys."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from pydantic import ValidationError

from promoter import __version__
from promoter.config import Settings
from promoter.orgs import service as orgs
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.instance import instance_secret
from promoter.storage.migrate import current_revision, upgrade


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise click.ClickException(f"invalid configuration:\n{exc}") from None


def _database(settings: Settings) -> Database:
    try:
        return Database.from_url(settings.database_url)
    except Exception as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def _migrated_database() -> Iterator[Database]:
    """The configured database, migrated, disposed of when the command ends."""
    database = _database(_settings())
    try:
        upgrade(database.engine)
        yield database
    finally:
        database.dispose()


@click.group()
@click.version_option(__version__, prog_name="promoter")
def main() -> None:
    """Promoter: self-hosted NPS surveys driven by your Segment event stream."""


# --- serve ------------------------------------------------------------------------------


@main.command()
@click.option("--host", help="Address to bind (PROMOTER_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port to bind (PROMOTER_PORT, default 8000).")
@click.option("--no-migrate", is_flag=True, help="Do not upgrade the database schema first.")
def serve(host: str | None, port: int | None, no_migrate: bool) -> None:
    """Run the HTTP service (migrating the database first)."""
    import uvicorn

    from promoter.app import create_app

    settings = _settings(host=host, port=port)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    services = Services.build(settings, _database(settings))
    if not no_migrate:
        upgrade(services.database.engine)
    with services.database.write() as conn:
        instance_secret(conn, configured=settings.secret_key)
        existing = orgs.list_organizations(conn)
        first = None if existing else orgs.create_organization(conn, name="Default")
    url = settings.public_url
    click.echo(f"Promoter {__version__} listening on http://{settings.host}:{settings.port}")
    click.echo(f"  database:             {_redacted(settings.database_url)}")
    click.echo(f"  Segment destination:  {url}/segment")
    click.echo(f"  Tracking API host:    {url}   (POST {url}/v1/batch)")
    click.echo(f"  REST API:             {url}/api/v2/   docs: {url}/docs")
    if first is not None:
        org, key = first
        click.echo(f"  API key ({org.name}):   {key.key}")
        click.echo("  (shown once: keep it; `promoter key create 1` makes another)")
    else:
        click.echo("  API keys: `promoter key list ORG_ID`, new one: `promoter key create ORG_ID`")
    sys.stdout.flush()
    uvicorn.run(
        create_app(services),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
        timeout_graceful_shutdown=10,
    )


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --- db ---------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations."""
    with _migrated_database() as database:
        click.echo(f"database at revision {current_revision(database.engine)}")


@db.command("current")
def db_current() -> None:
    """Print the schema revision."""
    database = _database(_settings())
    try:
        revision = current_revision(database.engine)
    finally:
        database.dispose()
    click.echo(revision or "empty (run `promoter db upgrade`)")


# --- organizations ----------------------------------------------------------------------


@main.group()
def org() -> None:
    """Organizations (accounts)."""


@org.command("create")
@click.argument("name")
def org_create(name: str) -> None:
    """Create an organization and print its first API key."""
    with _migrated_database() as database:
        try:
            with database.write() as conn:
                created, key = orgs.create_organization(conn, name=name)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="NAME") from None
        click.echo(f"organization {created.id}: {created.name}")
        click.echo(f"API key (shown once): {key.key}")


@org.command("list")
def org_list() -> None:
    """List organizations."""
    with _migrated_database() as database:
        with database.read() as conn:
            rows = orgs.list_organizations(conn)
        for o in rows:
            secret = "webhook secret set" if o.webhook_secret else "no webhook secret"
            click.echo(f"{o.id}\t{o.name}\t{secret}")


@org.command("secret")
@click.argument("org_id", type=int)
@click.argument("secret", required=False)
@click.option("--clear", is_flag=True, help="Remove the secret: X-Signature is not required.")
def org_secret(org_id: int, secret: str | None, clear: bool) -> None:
    """Set the Segment Webhooks shared secret (X-Signature is then required)."""
    if clear == (secret is not None):
        raise click.UsageError("give a SECRET, or --clear")
    with _migrated_database() as database:
        try:
            with database.write() as conn:
                orgs.set_webhook_secret(
                    conn, organization_id=org_id, secret=None if clear else secret
                )
        except orgs.NotFound as exc:
            raise click.ClickException(str(exc)) from None
        click.echo("webhook secret cleared" if clear else "webhook secret set")


# --- API keys ---------------------------------------------------------------------------


@main.group()
def key() -> None:
    """API keys (Segment write keys and REST API tokens)."""


@key.command("create")
@click.argument("org_id", type=int)
@click.option("--name", default="default", show_default=True, help="A label for the key.")
def key_create(org_id: int, name: str) -> None:
    """Add an API key to an organization; the key is printed once."""
    with _migrated_database() as database:
        try:
            with database.write() as conn:
                new = orgs.create_api_key(conn, organization_id=org_id, name=name)
        except orgs.NotFound as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"API key {new.id} (shown once): {new.key}")


@key.command("list")
@click.argument("org_id", type=int)
def key_list(org_id: int) -> None:
    """List an organization's keys (prefix only)."""
    with _migrated_database() as database:
        with database.read() as conn:
            keys = orgs.list_api_keys(conn, organization_id=org_id)
        if not keys:
            click.echo(f"no API keys for organization {org_id}")
        for k in keys:
            state = "active" if k.active else f"revoked {k.revoked_at:%Y-%m-%d %H:%M}"
            click.echo(f"{k.id}\t{k.prefix}…\t{k.name}\t{state}\tcreated {k.created_at:%Y-%m-%d}")


@key.command("revoke")
@click.argument("org_id", type=int)
@click.argument("key_id", type=int)
def key_revoke(org_id: int, key_id: int) -> None:
    """Revoke an API key: requests with it get 401 from now on."""
    with _migrated_database() as database:
        try:
            with database.write() as conn:
                orgs.revoke_api_key(conn, organization_id=org_id, key_id=key_id)
        except orgs.NotFound as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"API key {key_id} revoked")
