"""``promoter user``: the people who sign in to the dashboard."""

from __future__ import annotations

import click
from sqlalchemy import Connection

from promoter.accounts.passwords import Passwords, WeakPassword
from promoter.accounts.sessions import end_user_sessions
from promoter.accounts.team import TeamError, remove_user, set_role
from promoter.accounts.users import (
    User,
    UserError,
    create_user,
    get_user,
    list_users,
    normalise_email,
    set_password,
    user_id_by_email,
)
from promoter.cli.common import migrated_database
from promoter.domain.roles import ROLES, Role
from promoter.orgs import service as orgs

ROLE_CHOICE = click.Choice([role.value for role in ROLES])


def _organization(conn: Connection, org_id: int | None) -> int:
    known = orgs.list_organizations(conn)
    if org_id is None:
        if len(known) != 1:
            raise click.UsageError(
                "give --org ORG_ID (organizations: "
                + (", ".join(f"{o.id} {o.name}" for o in known) or "none yet")
                + ")"
            )
        return known[0].id
    if all(o.id != org_id for o in known):
        raise click.BadParameter(f"no organization {org_id}", param_hint="--org")
    return org_id


def _user(conn: Connection, email: str) -> User:
    found = get_user(conn, user_id=_user_id(conn, email))
    assert found is not None
    return found


def _user_id(conn: Connection, email: str) -> int:
    try:
        address = normalise_email(email)
    except UserError as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from None
    found = user_id_by_email(conn, email=address)
    if found is None:
        raise click.BadParameter(f"no user {address}", param_hint="EMAIL")
    return found


@click.group()
def user() -> None:
    """Dashboard users (they sign in at the service's URL)."""


@user.command("create")
@click.argument("email")
@click.option("--org", "org_id", type=int, help="Organization id (default: the only one).")
@click.option("--name", help="Display name.")
@click.option(
    "--role",
    type=ROLE_CHOICE,
    default=Role.ADMIN.value,
    show_default=True,
    help="admin: everything; member: feedback, campaigns, contacts; read-only: reads.",
)
@click.password_option(
    help="Password (asked for when not given; at least 8 characters).",
    envvar="PROMOTER_USER_PASSWORD",
)
def user_create(email: str, org_id: int | None, name: str | None, role: str, password: str) -> None:
    """Create a user who signs in with EMAIL and a password."""
    passwords = Passwords()
    with migrated_database() as database:
        try:
            with database.write() as conn:
                created = create_user(
                    conn,
                    passwords,
                    organization_id=_organization(conn, org_id),
                    email=email,
                    password=password,
                    name=name,
                    role=Role(role),
                )
        except (UserError, WeakPassword) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(
        f"user {created.id}: {created.email} ({created.role}) in {created.organization_name}"
    )


@user.command("list")
@click.option("--org", "org_id", type=int, help="Only this organization's users.")
def user_list(org_id: int | None) -> None:
    """List users."""
    with migrated_database() as database, database.read() as conn:
        for u in list_users(conn, organization_id=org_id):
            last = u.last_login_at.isoformat(timespec="seconds") if u.last_login_at else "never"
            org = f"{u.organization_id} {u.organization_name}"
            click.echo(f"{u.id}\t{u.email}\t{u.role}\t{org}\t{last}")


@user.command("password")
@click.argument("email")
@click.password_option(help="The new password.", envvar="PROMOTER_USER_PASSWORD")
def user_password(email: str, password: str) -> None:
    """Set a user's password (and sign them out everywhere)."""
    with migrated_database() as database:
        try:
            with database.write() as conn:
                user_id = _user_id(conn, email)
                set_password(conn, Passwords(), user_id=user_id, password=password)
                end_user_sessions(conn, user_id=user_id)
        except WeakPassword as exc:
            raise click.ClickException(str(exc)) from None
    click.echo("password changed; the user's sessions were ended")


@user.command("role")
@click.argument("email")
@click.argument("role", type=ROLE_CHOICE)
def user_role(email: str, role: str) -> None:
    """Give a user ROLE (from their next request on); an organization keeps an admin."""
    with migrated_database() as database:
        try:
            with database.write() as conn:
                found = _user(conn, email)
                set_role(
                    conn,
                    organization_id=found.organization_id,
                    user_id=found.id,
                    role=Role(role),
                )
        except TeamError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{found.email} is now {role}")


@user.command("delete")
@click.argument("email")
def user_delete(email: str) -> None:
    """Delete a user (their sessions end at once); an organization keeps an admin."""
    with migrated_database() as database:
        try:
            with database.write() as conn:
                found = _user(conn, email)
                remove_user(
                    conn,
                    organization_id=found.organization_id,
                    user_id=found.id,
                    acting_user_id=None,
                )
        except TeamError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo("user deleted")
