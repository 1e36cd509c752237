"""Webhook subscriptions and their delivery log, scoped to one organization.

Every function takes the caller's connection; none of them commits. Invalid input raises
:class:`InvalidWebhook` with field errors in Django REST Framework's shape.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy import Connection, delete, func, insert, select, update

from promoter.storage.tables import (
    campaigns,
    webhook_attempts,
    webhook_deliveries,
    webhook_subscriptions,
)
from promoter.webhooks.event_sets import check_events, events_of, set_events
from promoter.webhooks.targets import TargetPolicy, check_url

MAX_TARGET_URL: Final = 2000
#: Subscriptions one organization may have (each event is copied to each of them).
MAX_SUBSCRIPTIONS: Final = 100
FORMATS: Final = ("json", "slack")
STATUSES: Final = ("active", "disabled")
#: Why pending deliveries failed when their subscription was disabled.
DISABLED_ERROR: Final = "the subscription was disabled"
_HOST_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")
#: Errors written by earlier versions quoted the start of the answer's body
#: ("HTTP 500: <body>"), which may hold the receiver's secrets: it is not shown.
_QUOTED_BODY = re.compile(r"^(HTTP \d{3}): .*", re.DOTALL)
_REASON_QUOTING_BODY = re.compile(r"(\(last: HTTP \d{3}): .*", re.DOTALL)


def _unquoted(error: str | None) -> str | None:
    return _QUOTED_BODY.sub(r"\1", error) if error else error


class WebhookNotFound(LookupError):
    """No such subscription (or delivery) in this organization."""


class InvalidWebhook(ValueError):
    """Field errors, as ``{"field": ["message", ...]}``."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    organization_id: int
    #: The events it receives, in the order ``events.EVENTS`` lists them (at least one).
    events: tuple[str, ...]
    target_url: str
    campaign_id: int | None
    format: str
    secret: str
    status: str
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime
    #: The secret before the last rotation, which also signs requests until then.
    previous_secret: str | None = None
    previous_secret_until: datetime | None = None

    @property
    def disabled_automatically(self) -> bool:
        """Disabled after failing (a person's disabling has no reason)."""
        return self.status == "disabled" and self.disabled_reason is not None

    def to_json(self, *, secret: bool) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "id": self.id,
            "events": list(self.events),
            # What clients written when a webhook had one event read.
            "event": self.events[0] if self.events else None,
            "target_url": self.target_url,
            "campaign_id": self.campaign_id,
            "format": self.format,
            "status": self.status,
            "consecutive_failures": self.consecutive_failures,
            "disabled_at": self.disabled_at,
            "disabled_reason": self.disabled_reason,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "previous_secret_until": self.previous_secret_until,
        }
        if secret:
            shown["secret"] = self.secret
        return shown


@dataclass(frozen=True, slots=True)
class Attempt:
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    manual: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "attempted_at": self.attempted_at,
            "status_code": self.status_code,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "manual": self.manual,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    subscription_id: int
    event: str
    event_id: str
    status: str
    attempts: int
    due_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any] | None = None
    log: tuple[Attempt, ...] | None = None

    @property
    def next_attempt_at(self) -> datetime | None:
        return self.due_at if self.status == "pending" else None

    def to_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "id": self.id,
            "webhook_id": self.subscription_id,
            "event": self.event,
            "event_id": self.event_id,
            "status": self.status,
            "attempts": self.attempts,
            "last_status_code": self.last_status_code,
            "last_error": self.last_error,
            "next_attempt_at": self.next_attempt_at,
            "created_at": self.created_at,
            "delivered_at": self.delivered_at,
        }
        if self.payload is not None:
            shown["payload"] = self.payload
        if self.log is not None:
            shown["attempt_log"] = [attempt.to_json() for attempt in self.log]
        return shown


# --- validation ------------------------------------------------------------------------------


def check_target_url(value: str, policy: TargetPolicy) -> str:
    """The URL, stripped; ``ValueError`` with a message a person can act on (also for an
    address the policy refuses; a name is checked when a delivery connects)."""
    url = value.strip()
    if not url:
        raise ValueError("This field may not be blank.")
    if len(url) > MAX_TARGET_URL:
        raise ValueError(f"Ensure this field has no more than {MAX_TARGET_URL} characters.")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise ValueError("Enter a valid URL.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ValueError("Enter a valid URL.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("Enter an http:// or https:// URL.")
    if "@" in parts.netloc:
        raise ValueError(
            "Remove the user name and password from the URL: requests are authenticated by "
            "their signature."
        )
    host = parts.hostname or ""
    if not _valid_host(host):
        raise ValueError("Enter a valid URL.")
    if refused := check_url(url, policy):
        raise ValueError(refused)
    return url


def _valid_host(host: str) -> bool:
    if not host:
        return False
    if ":" in host:  # an IPv6 literal, given in brackets
        import ipaddress

        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return (
        all(
            0 < len(label) <= 63
            and set(label) <= _HOST_CHARACTERS
            and not label.startswith("-")
            and not label.endswith("-")
            for label in labels
        )
        and len(ascii_host) <= 253
    )


def _choice(value: str, choices: tuple[str, ...]) -> str | None:
    return None if value in choices else f'"{value}" is not a valid choice.'


def _check_campaign(conn: Connection, organization_id: int, campaign_id: int) -> str | None:
    found = conn.execute(
        select(campaigns.c.id).where(
            campaigns.c.id == campaign_id, campaigns.c.organization_id == organization_id
        )
    ).scalar()
    return None if found is not None else f'Invalid pk "{campaign_id}" - object does not exist.'


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


# --- subscriptions ---------------------------------------------------------------------------


def _subscription(row: Any, events: tuple[str, ...]) -> Subscription:
    return Subscription(
        id=row.id,
        organization_id=row.organization_id,
        events=events,
        target_url=row.target_url,
        campaign_id=row.campaign_id,
        format=row.format,
        secret=row.secret,
        status=row.status,
        consecutive_failures=row.consecutive_failures,
        disabled_at=row.disabled_at,
        disabled_reason=(
            _REASON_QUOTING_BODY.sub(r"\1)", row.disabled_reason) if row.disabled_reason else None
        ),
        created_at=row.created_at,
        updated_at=row.updated_at,
        previous_secret=row.previous_secret,
        previous_secret_until=row.previous_secret_until,
    )


def _subscriptions(conn: Connection, rows: Iterable[Any]) -> list[Subscription]:
    rows = list(rows)
    events = events_of(conn, [row.id for row in rows])
    return [_subscription(row, events[row.id]) for row in rows]


def create_subscription(
    conn: Connection,
    *,
    organization_id: int,
    events: Iterable[str],
    target_url: str,
    now: datetime,
    policy: TargetPolicy,
    campaign_id: int | None = None,
    format: str = "json",
) -> Subscription:
    """A webhook sending ``events`` to ``target_url``, with a new signing secret."""
    errors: dict[str, list[str]] = {}
    chosen, problems = check_events(events)
    if problems:
        errors["events"] = problems
    try:
        target_url = check_target_url(target_url, policy)
    except ValueError as exc:
        errors["target_url"] = [str(exc)]
    if problem := _choice(format, FORMATS):
        errors["format"] = [problem]
    if campaign_id is not None and (problem := _check_campaign(conn, organization_id, campaign_id)):
        errors["campaign_id"] = [problem]
    if errors:
        raise InvalidWebhook(errors)
    count = conn.execute(
        select(func.count()).where(webhook_subscriptions.c.organization_id == organization_id)
    ).scalar_one()
    if count >= MAX_SUBSCRIPTIONS:
        raise InvalidWebhook(
            {
                "non_field_errors": [
                    f"An organization has at most {MAX_SUBSCRIPTIONS} webhooks: delete one first."
                ]
            }
        )
    inserted = conn.execute(
        insert(webhook_subscriptions)
        .values(
            organization_id=organization_id,
            target_url=target_url,
            campaign_id=campaign_id,
            format=format,
            secret=new_secret(),
            status="active",
            consecutive_failures=0,
            created_at=now,
            updated_at=now,
        )
        .returning(webhook_subscriptions.c.id)
    ).scalar_one()
    set_events(conn, organization_id=organization_id, subscription_id=inserted, events=chosen)
    return get_subscription(conn, organization_id=organization_id, subscription_id=inserted)


def get_subscription(
    conn: Connection, *, organization_id: int, subscription_id: int
) -> Subscription:
    row = conn.execute(
        select(webhook_subscriptions).where(
            webhook_subscriptions.c.id == subscription_id,
            webhook_subscriptions.c.organization_id == organization_id,
        )
    ).one_or_none()
    if row is None:
        raise WebhookNotFound(f"no webhook {subscription_id}")
    return _subscriptions(conn, [row])[0]


def list_subscriptions(conn: Connection, *, organization_id: int) -> list[Subscription]:
    rows = conn.execute(
        select(webhook_subscriptions)
        .where(webhook_subscriptions.c.organization_id == organization_id)
        .order_by(webhook_subscriptions.c.id)
    )
    return _subscriptions(conn, rows)


def disabled_after_failing(conn: Connection, *, organization_id: int) -> list[Subscription]:
    """The organization's subscriptions that were disabled because they kept failing."""
    rows = conn.execute(
        select(webhook_subscriptions)
        .where(
            webhook_subscriptions.c.organization_id == organization_id,
            webhook_subscriptions.c.status == "disabled",
            webhook_subscriptions.c.disabled_reason.is_not(None),
        )
        .order_by(webhook_subscriptions.c.id)
    )
    return _subscriptions(conn, rows)


class Unchanged:
    """The type of :data:`UNCHANGED`."""


#: "Not given" for :func:`update_subscription` (``None`` clears the campaign).
UNCHANGED: Final = Unchanged()


def update_subscription(
    conn: Connection,
    *,
    organization_id: int,
    subscription_id: int,
    now: datetime,
    policy: TargetPolicy,
    events: Iterable[str] | Unchanged = UNCHANGED,
    target_url: str | Unchanged = UNCHANGED,
    campaign_id: int | Unchanged | None = UNCHANGED,
    format: str | Unchanged = UNCHANGED,
    status: str | Unchanged = UNCHANGED,
) -> Subscription:
    """Change what is given. Enabling resets the failure count; disabling (by a person)
    fails the pending deliveries. Deliveries already queued for an event taken away are
    still sent."""
    current = get_subscription(
        conn, organization_id=organization_id, subscription_id=subscription_id
    )
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    chosen: tuple[str, ...] = current.events
    if not isinstance(events, Unchanged):
        chosen, problems = check_events(events)
        if problems:
            errors["events"] = problems
    if not isinstance(target_url, Unchanged):
        try:
            values["target_url"] = check_target_url(target_url, policy)
        except ValueError as exc:
            errors["target_url"] = [str(exc)]
    if not isinstance(campaign_id, Unchanged):
        if campaign_id is not None and (
            problem := _check_campaign(conn, organization_id, campaign_id)
        ):
            errors["campaign_id"] = [problem]
        values["campaign_id"] = campaign_id
    if not isinstance(format, Unchanged):
        if problem := _choice(format, FORMATS):
            errors["format"] = [problem]
        values["format"] = format
    if not isinstance(status, Unchanged):
        if problem := _choice(status, STATUSES):
            errors["status"] = [problem]
        values["status"] = status
    if errors:
        raise InvalidWebhook(errors)
    if values.get("status") == "active" and current.status != "active":
        values.update(consecutive_failures=0, disabled_at=None, disabled_reason=None)
    if values.get("status") == "disabled" and current.status != "disabled":
        values.update(disabled_at=now, disabled_reason=None)
        fail_pending(conn, subscription_id=subscription_id, error=DISABLED_ERROR)
    if chosen != current.events:
        set_events(
            conn, organization_id=organization_id, subscription_id=subscription_id, events=chosen
        )
        values["updated_at"] = now
    if values:
        conn.execute(
            update(webhook_subscriptions)
            .where(webhook_subscriptions.c.id == subscription_id)
            .values(**{"updated_at": now, **values})
        )
    return get_subscription(conn, organization_id=organization_id, subscription_id=subscription_id)


def delete_subscription(conn: Connection, *, organization_id: int, subscription_id: int) -> None:
    """Delete the subscription with its deliveries and their log."""
    result = conn.execute(
        delete(webhook_subscriptions).where(
            webhook_subscriptions.c.id == subscription_id,
            webhook_subscriptions.c.organization_id == organization_id,
        )
    )
    if not result.rowcount:
        raise WebhookNotFound(f"no webhook {subscription_id}")


def fail_pending(conn: Connection, *, subscription_id: int, error: str) -> int:
    """Give up on the subscription's pending deliveries."""
    return conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.subscription_id == subscription_id,
            webhook_deliveries.c.status == "pending",
        )
        .values(status="failed", claimed_until=None, last_error=error)
    ).rowcount


def disable_after_failing(
    conn: Connection, *, subscription_id: int, reason: str, now: datetime
) -> bool:
    """Disable an active subscription that kept failing, and fail its pending deliveries."""
    changed = conn.execute(
        update(webhook_subscriptions)
        .where(
            webhook_subscriptions.c.id == subscription_id,
            webhook_subscriptions.c.status == "active",
        )
        .values(status="disabled", disabled_at=now, disabled_reason=reason[:500], updated_at=now)
    ).rowcount
    if changed:
        fail_pending(conn, subscription_id=subscription_id, error=DISABLED_ERROR)
    return bool(changed)


# --- the delivery log ------------------------------------------------------------------------


_DELIVERY_COLUMNS = (
    webhook_deliveries.c.id,
    webhook_deliveries.c.subscription_id,
    webhook_deliveries.c.event,
    webhook_deliveries.c.event_id,
    webhook_deliveries.c.status,
    webhook_deliveries.c.attempts,
    webhook_deliveries.c.due_at,
    webhook_deliveries.c.last_status_code,
    webhook_deliveries.c.last_error,
    webhook_deliveries.c.created_at,
    webhook_deliveries.c.delivered_at,
)


def _delivery(row: Any, **extra: Any) -> Delivery:
    return Delivery(
        id=row.id,
        subscription_id=row.subscription_id,
        event=row.event,
        event_id=row.event_id,
        status=row.status,
        attempts=row.attempts,
        due_at=row.due_at,
        last_status_code=row.last_status_code,
        last_error=_unquoted(row.last_error),
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        **extra,
    )


def list_deliveries(
    conn: Connection,
    *,
    organization_id: int,
    subscription_id: int,
    limit: int,
    offset: int = 0,
) -> tuple[int, list[Delivery]]:
    """A page of the subscription's deliveries, newest first, and how many it has."""
    get_subscription(conn, organization_id=organization_id, subscription_id=subscription_id)
    mine = webhook_deliveries.c.subscription_id == subscription_id
    total = conn.execute(select(func.count()).where(mine)).scalar_one()
    rows = conn.execute(
        select(*_DELIVERY_COLUMNS)
        .where(mine)
        .order_by(webhook_deliveries.c.created_at.desc(), webhook_deliveries.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return int(total), [_delivery(row) for row in rows]


def get_delivery(
    conn: Connection, *, organization_id: int, subscription_id: int, delivery_id: int
) -> Delivery:
    """One delivery with its payload and every attempt, oldest first."""
    row = conn.execute(
        select(*_DELIVERY_COLUMNS, webhook_deliveries.c.payload).where(
            webhook_deliveries.c.id == delivery_id,
            webhook_deliveries.c.subscription_id == subscription_id,
            webhook_deliveries.c.organization_id == organization_id,
        )
    ).one_or_none()
    if row is None:
        raise WebhookNotFound(f"no delivery {delivery_id}")
    log = tuple(
        Attempt(r.attempted_at, r.status_code, _unquoted(r.error), r.duration_ms, r.manual)
        for r in conn.execute(
            select(webhook_attempts)
            .where(webhook_attempts.c.delivery_id == delivery_id)
            .order_by(webhook_attempts.c.id)
        )
    )
    return _delivery(row, payload=dict(row.payload), log=log)


def find_delivery(conn: Connection, *, organization_id: int, delivery_id: int) -> Delivery:
    """A delivery by its id alone (the CLI's ``redeliver``)."""
    row = conn.execute(
        select(*_DELIVERY_COLUMNS).where(
            webhook_deliveries.c.id == delivery_id,
            webhook_deliveries.c.organization_id == organization_id,
        )
    ).one_or_none()
    if row is None:
        raise WebhookNotFound(f"no delivery {delivery_id}")
    return _delivery(row)
