"""``promoter serve``: the HTTP service."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

import click

from promoter import __version__
from promoter.app import themes_until
from promoter.cli.common import open_database, settings_from_env
from promoter.cli.processes import (
    MAX_PROCESSES,
    SQLITE_ONE_PROCESS,
    background_tasks,
    configure_logging,
    delivery_worker,
    run_many,
    run_one,
)
from promoter.config import Settings
from promoter.orgs import service as orgs
from promoter.services import Services
from promoter.storage.migrate import upgrade


@click.command()
@click.option("--host", help="Address to bind (PROMOTER_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port to bind (PROMOTER_PORT, default 8000).")
@click.option("--no-migrate", is_flag=True, help="Do not upgrade the database schema first.")
@click.option(
    "--no-worker",
    is_flag=True,
    help="Do not send emails, webhooks or Segment messages from this process (see `worker`).",
)
@click.option(
    "--demo",
    is_flag=True,
    help='Create the demo organization "Demo Inc." first if it does not exist (see `demo`).',
)
@click.option(
    "--processes",
    type=click.IntRange(1, MAX_PROCESSES),
    default=1,
    show_default=True,
    help="API processes serving the one port, each restarted if it dies (PostgreSQL only).",
)
def serve(
    host: str | None,
    port: int | None,
    no_migrate: bool,
    no_worker: bool,
    demo: bool,
    processes: int,
) -> None:
    """Run the HTTP service, a delivery worker, a webhook sender and a Segment source
    sender (migrating the database first)."""
    from promoter.cli.demo import ensure, login_lines

    settings = settings_from_env(host=host, port=port)
    configure_logging(settings)
    services = Services.build(settings, open_database(settings))
    if processes > 1 and services.database.is_sqlite:
        services.database.dispose()
        raise click.ClickException(SQLITE_ONE_PROCESS)
    if not no_migrate:
        upgrade(services.database.engine)
    # The demo is the first organization when there is none: no empty "Default" one then.
    demo_login = ensure(services.database, services.passwords) if demo else None
    services.database.refresh_statistics()
    # Checked here, once, so that a wrong PROMOTER_EMAIL_URL stops the start at once.
    background = [] if no_worker else background_tasks(services)
    with services.database.write() as conn:
        existing = orgs.list_organizations(conn)
        first = None if existing else orgs.create_organization(conn, name="Default")
    url = settings.public_url
    click.echo(f"Promoter {__version__} listening on http://{settings.host}:{settings.port}")
    click.echo(f"  database:             {_redacted(settings.database_url)}")
    click.echo(f"  Segment destination:  {url}/segment")
    click.echo(f"  Tracking API host:    {url}   (POST {url}/v1/batch)")
    click.echo(f"  REST API:             {url}/api/v2/   docs: {url}/docs")
    click.echo(f"  survey emails:        {_mail(settings, no_worker)}")
    if processes > 1:
        click.echo(f"  API processes:        {processes} (rate limits count in each process)")
    if first is not None:
        org, key = first
        click.echo(f"  API key ({org.name}):   {key.key}")
        click.echo("  (shown once: keep it; `promoter key create 1` makes another)")
    elif demo_login is not None and demo_login.api_key is not None:
        click.echo(f"  API key ({demo_login.organization_name}):   {demo_login.api_key}")
        click.echo(
            "  (shown once: keep it; "
            f"`promoter key create {demo_login.organization_id}` makes another)"
        )
    else:
        click.echo("  API keys: `promoter key list ORG_ID`, new one: `promoter key create ORG_ID`")
    if demo_login is not None:
        for line in login_lines(demo_login, url):
            click.echo(line)
    sys.stdout.flush()
    if processes == 1:
        run_one(services, background)
    else:
        # Each process opens its own pool and, unless --no-worker, sends too.
        services.database.dispose()
        run_many(processes, settings, no_worker=no_worker)


def _mail(settings: Settings, no_worker: bool) -> str:
    if no_worker:
        return "sent by `promoter worker` processes"
    if settings.email_url.startswith("file:"):
        return f"written as .eml files to {settings.email_url[len('file:') :]}/"
    return f"sent through {_redacted_email(settings.email_url)}"


def _redacted_email(url: str) -> str:
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    return f"{parts.scheme}://{host}"


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.command()
@click.option("--batch-size", type=click.IntRange(1, 1000), default=50, show_default=True)
def worker(batch_size: int) -> None:
    """Send due survey emails, webhooks and Segment source messages, settle one-click
    scores and run the comment themes' rounds, until stopped (SIGTERM or Ctrl-C finish
    the batch in hand)."""
    import asyncio
    import signal

    settings = settings_from_env()
    configure_logging(settings)
    services = Services.build(settings, open_database(settings))
    runner = delivery_worker(services, batch_size)
    sender = services.webhook_sender()
    settler = services.click_settler()
    segment_sender = services.segment_sender()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"worker sending survey emails: {_mail(settings, False)}")
        await asyncio.gather(
            runner.run(stop),
            sender.run(stop),
            segment_sender.run(stop),
            settler.run(stop),
            themes_until(stop, services),
        )

    try:
        asyncio.run(main())
    finally:
        services.database.dispose()
