"""An organization's users as its admins manage them: roles and removal, never leaving the
organization without an admin.

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, select, update

from promoter.accounts.users import User, get_user
from promoter.domain.roles import Role
from promoter.storage.tables import organizations, users


class TeamError(ValueError):
    """The change is refused (its message says why)."""


class UserNotFound(LookupError):
    """No such user in this organization."""


def _lock_organization(conn: Connection, organization_id: int) -> None:
    """Serialise changes to the organization's admins (PostgreSQL: the organization's row
    is locked until the commit; SQLite has one writer already)."""
    conn.execute(
        select(organizations.c.id).where(organizations.c.id == organization_id).with_for_update()
    )


def _role_of(conn: Connection, organization_id: int, user_id: int) -> Role:
    found = conn.scalar(
        select(users.c.role).where(
            users.c.id == user_id, users.c.organization_id == organization_id
        )
    )
    if found is None:
        raise UserNotFound(f"no user {user_id} in organization {organization_id}")
    return Role(found)


def _admins(conn: Connection, organization_id: int) -> int:
    return int(
        conn.scalar(
            select(func.count())
            .select_from(users)
            .where(users.c.organization_id == organization_id, users.c.role == Role.ADMIN.value)
        )
        or 0
    )


def _keep_an_admin(conn: Connection, organization_id: int, current: Role) -> None:
    if current is Role.ADMIN and _admins(conn, organization_id) <= 1:
        raise TeamError("this is the organization's only admin: make someone else an admin first")


def set_role(conn: Connection, *, organization_id: int, user_id: int, role: Role) -> User:
    """Give the organization's user ``role``; it applies from their next request."""
    _lock_organization(conn, organization_id)
    current = _role_of(conn, organization_id, user_id)
    if role is not Role.ADMIN:
        _keep_an_admin(conn, organization_id, current)
    conn.execute(update(users).where(users.c.id == user_id).values(role=role.value))
    changed = get_user(conn, user_id=user_id)
    assert changed is not None
    return changed


def remove_user(
    conn: Connection, *, organization_id: int, user_id: int, acting_user_id: int | None
) -> None:
    """Remove the organization's user (their sessions end with them). Nobody removes
    themselves here, and the last admin stays."""
    if user_id == acting_user_id:
        raise TeamError("you cannot remove yourself")
    _lock_organization(conn, organization_id)
    _keep_an_admin(conn, organization_id, _role_of(conn, organization_id, user_id))
    conn.execute(delete(users).where(users.c.id == user_id))
