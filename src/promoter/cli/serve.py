"""``promoter serve``: the HTTP service."""

from __future__ import annotations

import logging
import sys

import click

from promoter import __version__
from promoter.cli.common import open_database, settings_from_env
from promoter.orgs import service as orgs
from promoter.services import Services
from promoter.storage.instance import instance_secret
from promoter.storage.migrate import upgrade


@click.command()
@click.option("--host", help="Address to bind (PROMOTER_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port to bind (PROMOTER_PORT, default 8000).")
@click.option("--no-migrate", is_flag=True, help="Do not upgrade the database schema first.")
def serve(host: str | None, port: int | None, no_migrate: bool) -> None:
    """Run the HTTP service (migrating the database first)."""
    import uvicorn

    from promoter.app import create_app

    settings = settings_from_env(host=host, port=port)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    services = Services.build(settings, open_database(settings))
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
