"""``promoter db``, ``promoter org`` and ``promoter key``."""

from __future__ import annotations

import click

from promoter.cli.common import migrated_database, open_database, settings_from_env
from promoter.domain.eligibility import MAX_COOLDOWN_DAYS
from promoter.domain.roles import ROLES, Role
from promoter.orgs import service as orgs
from promoter.storage.migrate import current_revision

# --- db ---------------------------------------------------------------------------------


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations."""
    with migrated_database() as database:
        click.echo(f"database at revision {current_revision(database.engine)}")


@db.command("current")
def db_current() -> None:
    """Print the schema revision."""
    database = open_database(settings_from_env())
    try:
        revision = current_revision(database.engine)
    finally:
        database.dispose()
    click.echo(revision or "empty (run `promoter db upgrade`)")


# --- organizations ----------------------------------------------------------------------


@click.group()
def org() -> None:
    """Organizations (accounts)."""


@org.command("create")
@click.argument("name")
def org_create(name: str) -> None:
    """Create an organization and print its first API key."""
    with migrated_database() as database:
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
    with migrated_database() as database:
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
    with migrated_database() as database:
        try:
            with database.write() as conn:
                orgs.set_webhook_secret(
                    conn, organization_id=org_id, secret=None if clear else secret
                )
        except orgs.NotFound as exc:
            raise click.ClickException(str(exc)) from None
        click.echo("webhook secret cleared" if clear else "webhook secret set")


@org.command("cooldown")
@click.argument("org_id", type=int)
@click.argument("days", type=click.IntRange(0, MAX_COOLDOWN_DAYS), required=False)
def org_cooldown(org_id: int, days: int | None) -> None:
    """Print the survey cooldown, or set it to DAYS: after any survey (any campaign, email
    or in the app) a contact gets no other for this many days; 0 leaves the 24-hour floor."""
    with migrated_database() as database, database.write() as conn:
        try:
            if days is not None:
                orgs.set_cooldown(conn, organization_id=org_id, cooldown_days=days)
            days = orgs.get_organization(conn, organization_id=org_id).cooldown_days
        except orgs.NotFound as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"survey cooldown: {days} day{'s' if days != 1 else ''} across campaigns")


# --- API keys ---------------------------------------------------------------------------


@click.group()
def key() -> None:
    """API keys (Segment write keys and REST API tokens)."""


@key.command("create")
@click.argument("org_id", type=int)
@click.option("--name", default="default", show_default=True, help="A label for the key.")
@click.option(
    "--role",
    type=click.Choice([role.value for role in ROLES]),
    default=Role.ADMIN.value,
    show_default=True,
    help="What the key may do on the REST API (any key may send Segment data).",
)
def key_create(org_id: int, name: str, role: str) -> None:
    """Add an API key to an organization; the key is printed once."""
    with migrated_database() as database:
        try:
            with database.write() as conn:
                new = orgs.create_api_key(conn, organization_id=org_id, name=name, role=Role(role))
        except orgs.NotFound as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"API key {new.id} ({new.role}, shown once): {new.key}")


@key.command("list")
@click.argument("org_id", type=int)
def key_list(org_id: int) -> None:
    """List an organization's keys (prefix only)."""
    with migrated_database() as database:
        with database.read() as conn:
            keys = orgs.list_api_keys(conn, organization_id=org_id)
        if not keys:
            click.echo(f"no API keys for organization {org_id}")
        for k in keys:
            state = "active" if k.active else f"revoked {k.revoked_at:%Y-%m-%d %H:%M}"
            created = f"created {k.created_at:%Y-%m-%d}"
            click.echo(f"{k.id}\t{k.prefix}…\t{k.name}\t{k.role}\t{state}\t{created}")


@key.command("revoke")
@click.argument("org_id", type=int)
@click.argument("key_id", type=int)
def key_revoke(org_id: int, key_id: int) -> None:
    """Revoke an API key: requests with it get 401 from now on."""
    with migrated_database() as database:
        try:
            with database.write() as conn:
                orgs.revoke_api_key(conn, organization_id=org_id, key_id=key_id)
        except orgs.NotFound as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"API key {key_id} revoked")
