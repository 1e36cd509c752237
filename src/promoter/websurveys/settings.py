"""An organization's web survey settings: the public site key, the identity secret (and
the previous one during its grace period), the allowed origins, enabled.

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, insert, select, update

from promoter.storage.tables import web_surveys_settings
from promoter.websurveys.origins import InvalidOrigin, matches, normalise_origins

SITE_KEY_PREFIX: Final = "ps_"
SECRET_PREFIX: Final = "psi_"
#: How long the previous identity secret still verifies after a rotation.
GRACE: Final = timedelta(hours=24)
#: Characters of the secret shown once it is saved: its last four.
SHOWN_CHARS: Final = 4


class InvalidSettings(ValueError):
    """Settings that cannot be saved: ``errors`` maps each field to its problems."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def generate_site_key() -> str:
    return SITE_KEY_PREFIX + secrets.token_urlsafe(18)


def generate_secret() -> str:
    return SECRET_PREFIX + secrets.token_hex(32)


def looks_like_site_key(value: str) -> bool:
    return value.startswith(SITE_KEY_PREFIX) and 10 <= len(value) <= 64


def mask(secret: str) -> str:
    return f"…{secret[-SHOWN_CHARS:]}"


@dataclass(frozen=True, slots=True)
class WebSurveySettings:
    organization_id: int
    site_key: str
    identity_secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None
    allowed_origins: tuple[str, ...]
    enabled: bool
    created_at: datetime
    updated_at: datetime

    @property
    def masked_secret(self) -> str:
        return mask(self.identity_secret)

    def secrets_at(self, now: datetime) -> tuple[str, ...]:
        """The secrets that verify a signature at ``now``: the current one, and the
        previous one until its grace period ends."""
        until = self.previous_secret_until
        if self.previous_secret and until is not None and now < until:
            return (self.identity_secret, self.previous_secret)
        return (self.identity_secret,)

    def to_json(self, *, reveal_secret: bool = False) -> dict[str, Any]:
        """The API's shape; the secret in full only in the answer that made it."""
        return {
            "site_key": self.site_key,
            "identity_secret": self.identity_secret if reveal_secret else self.masked_secret,
            "previous_secret_valid_until": self.previous_secret_until,
            "allowed_origins": list(self.allowed_origins),
            "enabled": self.enabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def origin_allowed(settings: WebSurveySettings | None, origin: str) -> bool:
    """Whether a browser page at ``origin`` may use the web survey: settings saved and
    enabled, and the origin among the allowed ones."""
    if settings is None or not settings.enabled:
        return False
    return matches(settings.allowed_origins, origin)


def _settings(row: Any) -> WebSurveySettings:
    return WebSurveySettings(
        organization_id=row.organization_id,
        site_key=row.site_key,
        identity_secret=row.identity_secret,
        previous_secret=row.previous_secret,
        previous_secret_until=row.previous_secret_until,
        allowed_origins=tuple(row.allowed_origins or ()),
        enabled=bool(row.enabled),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def get_settings(conn: Connection, *, organization_id: int) -> WebSurveySettings | None:
    """The organization's settings, or ``None`` until they are first saved."""
    t = web_surveys_settings
    row = conn.execute(select(t).where(t.c.organization_id == organization_id)).one_or_none()
    return None if row is None else _settings(row)


def site_by_key(conn: Connection, site_key: str) -> WebSurveySettings | None:
    """The settings a site key names, or ``None`` (an API key never names any)."""
    if not isinstance(site_key, str) or not looks_like_site_key(site_key):
        return None
    t = web_surveys_settings
    row = conn.execute(select(t).where(t.c.site_key == site_key)).one_or_none()
    return None if row is None else _settings(row)


def _origins(values: Iterable[str]) -> list[str]:
    try:
        return normalise_origins(values)
    except InvalidOrigin as exc:
        raise InvalidSettings({"allowed_origins": [str(exc)]}) from None


def save_settings(
    conn: Connection,
    *,
    organization_id: int,
    allowed_origins: Iterable[str],
    enabled: bool,
    now: datetime,
) -> tuple[WebSurveySettings, bool]:
    """Create or change the allowed origins and enabled; the settings and whether they
    were created now (their site key and identity secret with them)."""
    origins = _origins(allowed_origins)
    t = web_surveys_settings
    values = {"allowed_origins": origins, "enabled": enabled, "updated_at": now}
    created = get_settings(conn, organization_id=organization_id) is None
    if created:
        conn.execute(
            insert(t).values(
                organization_id=organization_id,
                site_key=generate_site_key(),
                identity_secret=generate_secret(),
                created_at=now,
                **values,
            )
        )
    else:
        conn.execute(update(t).where(t.c.organization_id == organization_id).values(**values))
    found = get_settings(conn, organization_id=organization_id)
    assert found is not None
    return found, created


def rotate_secret(
    conn: Connection, *, organization_id: int, now: datetime
) -> WebSurveySettings | None:
    """A new identity secret; the one it replaces still verifies for ``GRACE`` (an older
    one stops at once). ``None`` without saved settings."""
    existing = get_settings(conn, organization_id=organization_id)
    if existing is None:
        return None
    t = web_surveys_settings
    conn.execute(
        update(t)
        .where(t.c.organization_id == organization_id)
        .values(
            identity_secret=generate_secret(),
            previous_secret=existing.identity_secret,
            previous_secret_until=now + GRACE,
            updated_at=now,
        )
    )
    return get_settings(conn, organization_id=organization_id)


def rotate_site_key(
    conn: Connection, *, organization_id: int, now: datetime
) -> WebSurveySettings | None:
    """A new site key; the old one stops naming the organization at once. ``None``
    without saved settings."""
    if get_settings(conn, organization_id=organization_id) is None:
        return None
    t = web_surveys_settings
    conn.execute(
        update(t)
        .where(t.c.organization_id == organization_id)
        .values(site_key=generate_site_key(), updated_at=now)
    )
    return get_settings(conn, organization_id=organization_id)
