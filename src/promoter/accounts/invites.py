"""Invitations to join an organization: a one-time link for one address and role.

The link carries a random token; the database keeps only its SHA-256. An invitation works
once, for ``LIFETIME``, and only while no user has its address. Every function takes the
caller's connection; none of them commits.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from promoter.accounts.passwords import Passwords, check_strength
from promoter.accounts.users import (
    User,
    check_new_address,
    create_user,
    get_user,
    normalise_email,
)
from promoter.domain.roles import Role
from promoter.storage.tables import organizations, user_invites, users

LIFETIME = timedelta(days=7)
#: Longer text is no token of ours.
MAX_TOKEN = 200


class InviteUnknown(LookupError):
    """No invitation has this token (or it names another organization's)."""


class InviteGone(Exception):
    """The invitation was used, withdrawn, or has expired."""


@dataclass(frozen=True, slots=True)
class Invite:
    id: int
    organization_id: int
    organization_name: str
    email: str
    role: Role
    invited_by: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewInvite:
    invite: Invite
    #: The token of the link: shown once, never stored.
    token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _select() -> Any:
    return select(
        user_invites.c.id,
        user_invites.c.organization_id,
        organizations.c.name.label("organization_name"),
        user_invites.c.email,
        user_invites.c.role,
        user_invites.c.invited_by,
        user_invites.c.created_at,
        user_invites.c.expires_at,
        user_invites.c.used_at,
    ).join(organizations, organizations.c.id == user_invites.c.organization_id)


def _invite(row: Row[Any]) -> Invite:
    values = dict(row._mapping)
    return Invite(**{**values, "role": Role(values["role"])})


def create_invite(
    conn: Connection,
    *,
    organization_id: int,
    email: str,
    role: Role,
    invited_by: str,
    now: datetime,
) -> NewInvite:
    """An invitation for ``email`` to join with ``role``. ``UserError`` when the address
    is not one, or is a user's already."""
    address = normalise_email(email)
    check_new_address(conn, address)
    token = secrets.token_urlsafe(32)
    invite_id = conn.execute(
        insert(user_invites)
        .values(
            organization_id=organization_id,
            email=address,
            role=Role(role).value,
            token_hash=_digest(token),
            invited_by=invited_by,
            created_at=now,
            expires_at=now + LIFETIME,
        )
        .returning(user_invites.c.id)
    ).scalar_one()
    row = conn.execute(_select().where(user_invites.c.id == invite_id)).one()
    return NewInvite(_invite(row), token)


def pending_invites(conn: Connection, *, organization_id: int, now: datetime) -> list[Invite]:
    """The organization's invitations still waiting: unused and unexpired, newest first."""
    rows = conn.execute(
        _select()
        .where(
            user_invites.c.organization_id == organization_id,
            user_invites.c.used_at.is_(None),
            user_invites.c.expires_at > now,
        )
        .order_by(user_invites.c.id.desc())
    )
    return [_invite(row) for row in rows]


def withdraw_invite(
    conn: Connection, *, organization_id: int, invite_id: int, now: datetime
) -> None:
    """The invitation stops working (``InviteUnknown``: no such waiting invitation)."""
    done = conn.execute(
        update(user_invites)
        .where(
            user_invites.c.id == invite_id,
            user_invites.c.organization_id == organization_id,
            user_invites.c.used_at.is_(None),
        )
        .values(used_at=now)
    )
    if done.rowcount != 1:
        raise InviteUnknown(f"no waiting invitation {invite_id}")


def find_invite(conn: Connection, *, token: str, now: datetime) -> Invite:
    """The invitation whose link has ``token``, if it can still be used: else
    ``InviteUnknown`` or ``InviteGone``."""
    if not token or len(token) > MAX_TOKEN:
        raise InviteUnknown("no such invitation")
    row = conn.execute(_select().where(user_invites.c.token_hash == _digest(token))).first()
    if row is None:
        raise InviteUnknown("no such invitation")
    invite = _invite(row)
    if invite.used_at is not None:
        raise InviteGone("this invitation has been used already")
    if invite.expires_at <= now:
        raise InviteGone("this invitation has expired")
    return invite


def accept_invite(
    conn: Connection,
    passwords: Passwords,
    *,
    token: str,
    name: str,
    password: str,
    now: datetime,
) -> User:
    """The user the invitation makes, with its address and role, signed in ``now``.
    ``WeakPassword`` and ``UserError`` leave the invitation as it was."""
    invite = find_invite(conn, token=token, now=now)
    check_strength(password)
    check_new_address(conn, invite.email)
    used = conn.execute(
        update(user_invites)
        .where(user_invites.c.id == invite.id, user_invites.c.used_at.is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1:  # another request took it first
        raise InviteGone("this invitation has been used already")
    # Other invitations for the address (another admin's, another organization's) end too.
    conn.execute(
        update(user_invites)
        .where(user_invites.c.email == invite.email, user_invites.c.used_at.is_(None))
        .values(used_at=now)
    )
    created = create_user(
        conn,
        passwords,
        organization_id=invite.organization_id,
        email=invite.email,
        password=password,
        name=name,
        role=invite.role,
        now=now,
    )
    conn.execute(update(users).where(users.c.id == created.id).values(last_login_at=now))
    signed_in = get_user(conn, user_id=created.id)
    assert signed_in is not None
    return signed_in
