"""Creating organizations, managing API keys, and resolving a key to its organization.

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import Connection, Row, insert, select, update

from promoter.campaigns.service import create_default_campaign
from promoter.contacts.lists import SEGMENT_LIST_NAME
from promoter.domain.eligibility import DEFAULT_COOLDOWN_DAYS, MAX_COOLDOWN_DAYS
from promoter.domain.roles import Role
from promoter.orgs.keys import generate_key, hash_key, looks_like_key, visible_prefix
from promoter.storage.tables import api_keys, contact_lists, organizations


class NotFound(LookupError):
    """The object does not exist in this organization."""


@dataclass(frozen=True, slots=True)
class Organization:
    id: int
    name: str
    webhook_secret: str | None
    timezone: str
    created_at: datetime
    #: Days after any survey (any campaign, any channel) before the contact's next one.
    cooldown_days: int = DEFAULT_COOLDOWN_DAYS


@dataclass(frozen=True, slots=True)
class NewKey:
    id: int
    organization_id: int
    prefix: str
    #: The full key: shown once, never stored.
    key: str
    role: Role = Role.ADMIN


@dataclass(frozen=True, slots=True)
class KeyHolder:
    """Who a request's API key speaks for: its organization, with the key's role."""

    organization: Organization
    role: Role


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    role: Role = Role.ADMIN

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _now() -> datetime:
    return datetime.now(UTC)


def create_organization(conn: Connection, *, name: str) -> tuple[Organization, NewKey]:
    """A new organization with its Segment list, its default Segment campaign and a
    first API key."""
    name = name.strip()
    if not name:
        raise ValueError("organization name must not be empty")
    now = _now()
    org_id = conn.execute(
        insert(organizations).values(name=name, created_at=now).returning(organizations.c.id)
    ).scalar_one()
    conn.execute(
        insert(contact_lists).values(
            organization_id=org_id, name=SEGMENT_LIST_NAME, is_segment=True, created_at=now
        )
    )
    create_default_campaign(conn, organization_id=org_id, brand=name)
    key = create_api_key(conn, organization_id=org_id, name="default")
    return get_organization(conn, organization_id=org_id), key


#: The columns an ``Organization`` is made of (not bookkeeping such as analytics_epoch).
_COLUMNS = (
    organizations.c.id,
    organizations.c.name,
    organizations.c.webhook_secret,
    organizations.c.timezone,
    organizations.c.created_at,
    organizations.c.cooldown_days,
)


def get_organization(conn: Connection, *, organization_id: int) -> Organization:
    row = conn.execute(select(*_COLUMNS).where(organizations.c.id == organization_id)).one_or_none()
    if row is None:
        raise NotFound(f"no organization with id {organization_id}")
    return _organization(row)


def _organization(row: Row[Any, Any, Any, Any, Any, Any]) -> Organization:
    return Organization(
        id=row.id,
        name=row.name,
        webhook_secret=row.webhook_secret,
        timezone=row.timezone,
        created_at=row.created_at,
        cooldown_days=row.cooldown_days,
    )


def list_organizations(conn: Connection) -> list[Organization]:
    rows = conn.execute(select(*_COLUMNS).order_by(organizations.c.id))
    return [_organization(row) for row in rows]


def create_api_key(
    conn: Connection, *, organization_id: int, name: str = "default", role: Role = Role.ADMIN
) -> NewKey:
    """A new key of the organization; on the REST API it may do what ``role`` may (the
    Segment endpoints take a key of any role)."""
    get_organization(conn, organization_id=organization_id)
    key = generate_key()
    key_id = conn.execute(
        insert(api_keys)
        .values(
            organization_id=organization_id,
            name=name[:100] or "default",
            prefix=visible_prefix(key),
            key_hash=hash_key(key),
            created_at=_now(),
            role=Role(role).value,
        )
        .returning(api_keys.c.id)
    ).scalar_one()
    prefix = visible_prefix(key)
    return NewKey(id=key_id, organization_id=organization_id, prefix=prefix, key=key, role=role)


def list_api_keys(conn: Connection, *, organization_id: int) -> list[ApiKeyInfo]:
    rows = conn.execute(
        select(api_keys)
        .where(api_keys.c.organization_id == organization_id)
        .order_by(api_keys.c.id)
    )
    return [
        ApiKeyInfo(
            id=r.id,
            name=r.name,
            prefix=r.prefix,
            created_at=r.created_at,
            revoked_at=r.revoked_at,
            role=Role(r.role),
        )
        for r in rows
    ]


def revoke_api_key(conn: Connection, *, organization_id: int, key_id: int) -> None:
    result = conn.execute(
        update(api_keys)
        .where(
            api_keys.c.id == key_id,
            api_keys.c.organization_id == organization_id,
            api_keys.c.revoked_at.is_(None),
        )
        .values(revoked_at=_now())
    )
    if result.rowcount != 1:
        raise NotFound(f"no active API key {key_id} in organization {organization_id}")


def authenticate(conn: Connection, *, key: str) -> Organization | None:
    """The organization of an active key, or ``None``."""
    holder = key_holder(conn, key=key)
    return None if holder is None else holder.organization


def key_holder(conn: Connection, *, key: str) -> KeyHolder | None:
    """The organization of an active key and the key's role, or ``None``."""
    if not looks_like_key(key):
        return None
    digest = hash_key(key)
    row = conn.execute(
        select(api_keys.c.key_hash, api_keys.c.role.label("key_role"), organizations)
        .join(organizations, organizations.c.id == api_keys.c.organization_id)
        .where(api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None))
    ).one_or_none()
    # The lookup is by hash; compare once more in constant time all the same.
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None
    return KeyHolder(_organization(row), Role(row.key_role))


def set_webhook_secret(conn: Connection, *, organization_id: int, secret: str | None) -> None:
    get_organization(conn, organization_id=organization_id)
    conn.execute(
        update(organizations)
        .where(organizations.c.id == organization_id)
        .values(webhook_secret=secret or None)
    )


def set_timezone(conn: Connection, *, organization_id: int, timezone: str) -> str:
    """Set the organization's time zone (an IANA name such as ``Europe/Paris``); returns the
    name stored. ``ValueError`` says why a name is refused."""
    name = timezone.strip()
    if not name:
        raise ValueError("enter a time zone, such as Europe/Paris or UTC")
    try:
        ZoneInfo(name)
        known = available_timezones()
        # "localtime" and "posixrules" name whatever the server is set to, not a place.
        valid = (
            len(name) <= 64
            and name not in {"localtime", "posixrules"}
            and (not known or name in known)
        )
    except (ZoneInfoNotFoundError, ValueError):
        valid = False
    if not valid:
        raise ValueError(f"unknown time zone {name[:80]!r}: use an IANA name such as Europe/Paris")
    get_organization(conn, organization_id=organization_id)
    conn.execute(
        update(organizations).where(organizations.c.id == organization_id).values(timezone=name)
    )
    return name


def set_cooldown(conn: Connection, *, organization_id: int, cooldown_days: int) -> int:
    """Set the organization's cooldown: the days after any survey, of any campaign on any
    channel, before a contact gets another (0: only the 24-hour floor). Returns the days
    stored; ``ValueError`` says why a number is refused."""
    if isinstance(cooldown_days, bool) or not 0 <= cooldown_days <= MAX_COOLDOWN_DAYS:
        raise ValueError(f"the cooldown is a whole number of days from 0 to {MAX_COOLDOWN_DAYS}")
    get_organization(conn, organization_id=organization_id)
    conn.execute(
        update(organizations)
        .where(organizations.c.id == organization_id)
        .values(cooldown_days=cooldown_days)
    )
    return cooldown_days
