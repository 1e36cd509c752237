"""An organization's Segment source settings: the write key, the host, which events are
sent, the identify call and its trait prefix.

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy import Connection, delete, insert, select, update

from promoter.storage.tables import segment_sources
from promoter.webhooks.targets import TargetPolicy, check_url

SURVEY_SENT: Final = "Survey Sent"
SURVEY_RESPONDED: Final = "Survey Responded"
SURVEY_COMMENT_ADDED: Final = "Survey Comment Added"
SURVEY_DISMISSED: Final = "Survey Dismissed"
IDENTIFY: Final = "identify"

#: The track events an organization may send, in the order the docs and forms list them.
EVENTS: Final = (SURVEY_SENT, SURVEY_RESPONDED, SURVEY_COMMENT_ADDED, SURVEY_DISMISSED)
DEFAULT_HOST: Final = "https://api.segment.io"
DEFAULT_PREFIX: Final = "nps_"
MAX_WRITE_KEY: Final = 200
MAX_HOST: Final = 2000
#: A trait name prefix: letters, digits, ``_``, ``-`` and ``.``, at most 32 characters.
PREFIX: Final = re.compile(r"[A-Za-z0-9_.\-]{0,32}")


class InvalidSource(ValueError):
    """Settings that cannot be saved: ``errors`` maps each field to its problems."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class SourceSettings:
    organization_id: int
    write_key: str
    host: str
    events: tuple[str, ...]
    identify: bool
    trait_prefix: str
    enabled: bool
    created_at: datetime
    updated_at: datetime

    @property
    def masked_key(self) -> str:
        """The write key as shown once saved: its last four characters."""
        tail = self.write_key[-4:] if len(self.write_key) > 8 else ""
        return f"…{tail}" if tail else "…"

    @property
    def batch_url(self) -> str:
        return f"{self.host}/v1/batch"

    def wants(self, kind: str) -> bool:
        """Whether messages of ``kind`` (an event name, or ``identify``) are sent."""
        if not self.enabled:
            return False
        return self.identify if kind == IDENTIFY else kind in self.events

    def to_json(self) -> dict[str, Any]:
        return {
            "write_key": self.masked_key,
            "host": self.host,
            "events": list(self.events),
            "identify": self.identify,
            "trait_prefix": self.trait_prefix,
            "enabled": self.enabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _settings(row: Any) -> SourceSettings:
    return SourceSettings(
        organization_id=row.organization_id,
        write_key=row.write_key,
        host=row.host,
        events=tuple(e for e in EVENTS if e in (row.events or ())),
        identify=bool(row.identify),
        trait_prefix=row.trait_prefix,
        enabled=bool(row.enabled),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def get_source(conn: Connection, *, organization_id: int) -> SourceSettings | None:
    """The organization's settings (one lookup by primary key), or ``None``."""
    row = conn.execute(
        select(segment_sources).where(segment_sources.c.organization_id == organization_id)
    ).one_or_none()
    return None if row is None else _settings(row)


def _host(value: str, policy: TargetPolicy, errors: dict[str, list[str]]) -> str:
    host = value.strip().rstrip("/")
    if host.endswith("/v1/batch"):
        host = host[: -len("/v1/batch")]
    try:
        parts = urlsplit(host)
        port_ok = parts.port is None or parts.port > 0  # reading the port checks its range
    except ValueError:
        errors["host"] = ["Enter an http(s) URL, such as https://api.segment.io."]
        return host
    if len(host) > MAX_HOST:
        errors["host"] = [f"At most {MAX_HOST} characters."]
    elif (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or any(ch.isspace() for ch in host)
    ):
        errors["host"] = ["Enter an http(s) URL, such as https://api.segment.io."]
    elif parts.query or parts.fragment or parts.username or parts.password:
        errors["host"] = ["Enter the host's URL without a query, fragment or user name."]
    elif (refused := check_url(host, policy)) is not None:
        errors["host"] = [refused.replace("Webhooks cannot be sent", "Messages cannot be sent")]
    return host


def validate(
    *,
    write_key: str,
    host: str,
    events: list[str],
    identify: bool,
    trait_prefix: str,
    policy: TargetPolicy,
) -> dict[str, Any]:
    """The values to store; ``InvalidSource`` says what is wrong with them."""
    errors: dict[str, list[str]] = {}
    key = write_key.strip()
    if not key:
        errors["write_key"] = ["Enter the write key of your Segment (or RudderStack) source."]
    elif len(key) > MAX_WRITE_KEY or not key.isprintable() or " " in key:
        errors["write_key"] = [f"One word of at most {MAX_WRITE_KEY} printable characters."]
    cleaned_host = _host(host, policy, errors)
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        errors["events"] = [f"Unknown event {unknown[0]!r}: choose among {', '.join(EVENTS)}."]
    if not PREFIX.fullmatch(trait_prefix):
        errors["trait_prefix"] = ["At most 32 letters, digits, '_', '-' or '.'."]
    if errors:
        raise InvalidSource(errors)
    return {
        "write_key": key,
        "host": cleaned_host,
        "events": [e for e in EVENTS if e in events],
        "identify": identify,
        "trait_prefix": trait_prefix,
    }


def save_source(
    conn: Connection,
    *,
    organization_id: int,
    write_key: str | None,
    host: str,
    events: list[str],
    identify: bool,
    trait_prefix: str,
    enabled: bool,
    policy: TargetPolicy,
    now: datetime,
) -> SourceSettings:
    """Create or replace the organization's settings. ``write_key=None`` keeps the stored
    one (a form shows it masked); without one stored, it is required."""
    existing = get_source(conn, organization_id=organization_id)
    if write_key is None or (not write_key.strip() and existing is not None):
        if existing is not None and _host_changed(existing.host, host):
            # The stored key goes only where it was given for: a new host needs it again.
            raise InvalidSource({"write_key": ["Enter the write key again: the host changed."]})
        write_key = existing.write_key if existing is not None else ""
    values = validate(
        write_key=write_key,
        host=host,
        events=events,
        identify=identify,
        trait_prefix=trait_prefix,
        policy=policy,
    )
    values.update(enabled=enabled, updated_at=now)
    c = segment_sources.c
    if existing is None:
        conn.execute(
            insert(segment_sources).values(
                organization_id=organization_id, created_at=now, **values
            )
        )
    else:
        conn.execute(
            update(segment_sources).where(c.organization_id == organization_id).values(**values)
        )
    found = get_source(conn, organization_id=organization_id)
    assert found is not None
    return found


def _host_changed(stored: str, given: str) -> bool:
    given = given.strip().rstrip("/")
    return given.removesuffix("/v1/batch") != stored


def delete_source(conn: Connection, *, organization_id: int) -> bool:
    """Remove the settings (messages still queued then fail); whether there were any."""
    removed = conn.execute(
        delete(segment_sources).where(segment_sources.c.organization_id == organization_id)
    ).rowcount
    return bool(removed)
