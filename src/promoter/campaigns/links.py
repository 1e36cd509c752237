"""A campaign's public link: its key (made, rotated, taken away) and the campaign a key
names. Anyone with the link answers the campaign (see surveys/links.py).

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Connection, select, update

from promoter.campaigns.models import Campaign
from promoter.campaigns.service import get_campaign
from promoter.storage.tables import campaigns

#: Characters of a link key: 144 random bits, URL-safe.
KEY_CHARS: Final = 24
#: Where a link's page and QR code are served, under the instance's public URL.
LINK_PATH: Final = "/l/"


def generate_link_key() -> str:
    return secrets.token_urlsafe(18)


_KEY = re.compile(f"[A-Za-z0-9_-]{{{KEY_CHARS}}}")


def looks_like_link_key(value: str) -> bool:
    return _KEY.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class PublicLink:
    """Where a campaign's public link and its QR code are."""

    url: str
    qr_url: str

    @classmethod
    def of(cls, base_url: str, key: str) -> PublicLink:
        url = f"{base_url}{LINK_PATH}{key}"
        return cls(url=url, qr_url=f"{url}/qr.svg")

    def to_json(self) -> dict[str, str]:
        return {"url": self.url, "qr_url": self.qr_url}


def public_link(base_url: str, campaign: Campaign) -> PublicLink | None:
    """The campaign's public link, or ``None`` when it has none."""
    return PublicLink.of(base_url, campaign.link_key) if campaign.link_key else None


def set_link(
    conn: Connection, *, organization_id: int, campaign_id: int, now: datetime
) -> Campaign:
    """Give the campaign a public link, or a new one (the old one stops working at once).
    Raises :class:`~promoter.campaigns.service.NotFound`."""
    get_campaign(conn, organization_id=organization_id, campaign_id=campaign_id)
    _set_key(conn, campaign_id, generate_link_key(), now)
    return get_campaign(conn, organization_id=organization_id, campaign_id=campaign_id)


def remove_link(
    conn: Connection, *, organization_id: int, campaign_id: int, now: datetime
) -> Campaign:
    """Take the campaign's public link away (nothing if it had none). Raises
    :class:`~promoter.campaigns.service.NotFound`."""
    current = get_campaign(conn, organization_id=organization_id, campaign_id=campaign_id)
    if current.link_key is None:
        return current
    _set_key(conn, campaign_id, None, now)
    return get_campaign(conn, organization_id=organization_id, campaign_id=campaign_id)


def _set_key(conn: Connection, campaign_id: int, key: str | None, now: datetime) -> None:
    conn.execute(
        update(campaigns).where(campaigns.c.id == campaign_id).values(link_key=key, updated_at=now)
    )


def campaign_by_link_key(conn: Connection, key: str) -> Campaign | None:
    """The campaign whose public link has this key, unless it is complete; else ``None``."""
    if not isinstance(key, str) or not looks_like_link_key(key):
        return None
    row = conn.execute(select(campaigns).where(campaigns.c.link_key == key)).one_or_none()
    if row is None or row.status == "complete":
        return None
    return Campaign.model_validate(row._asdict())
