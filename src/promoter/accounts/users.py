"""Users of the dashboard. Each belongs to one organization and signs in by email.

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, Row, insert, select, update

from promoter.accounts.passwords import Passwords
from promoter.domain.roles import Role
from promoter.storage.tables import organizations, users


class UserError(ValueError):
    """The user cannot be created as asked (its message says why)."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    organization_id: int
    organization_name: str
    email: str
    name: str | None
    created_at: datetime
    last_login_at: datetime | None
    #: Read from the database on every request: a change applies at the next one.
    role: Role = Role.ADMIN


def normalise_email(email: str) -> str:
    try:
        checked = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise UserError(f"not a valid email address: {exc}") from None
    return checked.normalized.lower()


def throttle_key(email: str) -> str:
    """The address failed sign-ins are counted under: the normalised address sign-in looks
    up, or for text that is no address, its NFKC case-folded form."""
    try:
        return normalise_email(email)
    except UserError:
        return unicodedata.normalize("NFKC", email.strip()).casefold()


def _select() -> Any:
    return select(
        users.c.id,
        users.c.organization_id,
        organizations.c.name.label("organization_name"),
        users.c.email,
        users.c.name,
        users.c.created_at,
        users.c.last_login_at,
        users.c.role,
    ).join(organizations, organizations.c.id == users.c.organization_id)


def _user(row: Row[Any]) -> User:
    values = dict(row._mapping)
    return User(**{**values, "role": Role(values["role"])})


def create_user(
    conn: Connection,
    passwords: Passwords,
    *,
    organization_id: int,
    email: str,
    password: str,
    name: str | None = None,
    role: Role = Role.ADMIN,
    now: datetime | None = None,
) -> User:
    address = normalise_email(email)
    if conn.scalar(select(organizations.c.id).where(organizations.c.id == organization_id)) is None:
        raise UserError(f"no organization {organization_id}")
    check_new_address(conn, address)
    hashed = passwords.hash(password)
    user_id = conn.execute(
        insert(users)
        .values(
            organization_id=organization_id,
            email=address,
            name=display_name(name),
            password_hash=hashed,
            role=Role(role).value,
            created_at=now or datetime.now(UTC),
        )
        .returning(users.c.id)
    ).scalar_one()
    found = get_user(conn, user_id=user_id)
    assert found is not None
    return found


def display_name(name: str | None) -> str | None:
    """The name as kept: one line of printable characters (no NUL, which PostgreSQL
    refuses), at most 200 of them; ``None`` when nothing is left."""
    printable = "".join(ch for ch in name or "" if ch.isprintable())
    return " ".join(printable.split())[:200] or None


def check_new_address(conn: Connection, address: str) -> None:
    """``UserError`` when a user (of any organization) has the normalised ``address``."""
    if conn.scalar(select(users.c.id).where(users.c.email == address)) is not None:
        raise UserError(f"a user with the email {address} exists already")


def user_id_by_email(conn: Connection, *, email: str) -> int | None:
    """The id of the user with this (normalised) address, if there is one."""
    found = conn.scalar(select(users.c.id).where(users.c.email == email))
    return None if found is None else int(found)


def get_user(conn: Connection, *, user_id: int) -> User | None:
    row = conn.execute(_select().where(users.c.id == user_id)).first()
    return None if row is None else _user(row)


def list_users(conn: Connection, *, organization_id: int | None = None) -> list[User]:
    query = _select().order_by(users.c.id)
    if organization_id is not None:
        query = query.where(users.c.organization_id == organization_id)
    return [_user(row) for row in conn.execute(query)]


def set_password(conn: Connection, passwords: Passwords, *, user_id: int, password: str) -> None:
    hashed = passwords.hash(password)
    conn.execute(update(users).where(users.c.id == user_id).values(password_hash=hashed))


def check_credentials(
    conn: Connection, passwords: Passwords, *, email: str, password: str, now: datetime
) -> User | None:
    """The user whose email and password these are, or ``None``.

    An unknown email costs the same hashing time as a wrong password.
    """
    try:
        address = normalise_email(email)
    except UserError:
        passwords.dummy_verify()
        return None
    row = conn.execute(
        select(users.c.id, users.c.password_hash).where(users.c.email == address)
    ).first()
    if row is None:
        passwords.dummy_verify()
        return None
    if not passwords.verify(row.password_hash, password):
        return None
    values: dict[str, Any] = {"last_login_at": now}
    if passwords.needs_rehash(row.password_hash):
        values["password_hash"] = passwords.hash(password)
    conn.execute(update(users).where(users.c.id == row.id).values(**values))
    return get_user(conn, user_id=row.id)
