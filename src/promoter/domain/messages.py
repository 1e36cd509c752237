"""Segment messages in, typed operations out.

``parse_message`` reads one message of the Segment spec (``type`` or the legacy
``action``), applies batch-level ``context``/``integrations``, the clock-skew
rule and the ``integrations`` switch, and returns one operation. It raises
:class:`InvalidMessage` with a reason meant for the sender.
"""

from __future__ import annotations

import functools
import uuid
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

from promoter.domain.attributes import AttributeValue, flatten_traits
from promoter.domain.errors import InvalidMessage, UnsupportedType
from promoter.domain.orders import OrderFacts, is_order_event, order_facts
from promoter.domain.timestamps import corrected_timestamp, parse_timestamp

MAX_MESSAGE_ID_LENGTH = 100
MAX_USER_ID_LENGTH = 255
MAX_EVENT_NAME_LENGTH = 255

#: Names under which ``integrations`` can switch this destination on or off.
INTEGRATION_NAMES = ("Promoter", "Promoter.io", "promoter")

IGNORED_TYPES = frozenset({"page", "screen", "group", "alias"})


@dataclass(frozen=True, slots=True)
class Identify:
    message_id: str
    user_id: str
    timestamp: datetime
    email: str | None
    first_name: str | None
    last_name: str | None
    timezone: str | None
    attributes: dict[str, AttributeValue | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Track:
    message_id: str
    user_id: str
    timestamp: datetime
    event: str
    properties: dict[str, Any]
    timezone: str | None
    order: OrderFacts | None


@dataclass(frozen=True, slots=True)
class Delete:
    message_id: str
    user_id: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class Ignored:
    """A valid message Promoter has no use for (page, screen, group, alias, or switched off)."""

    message_id: str
    reason: str


Operation = Identify | Track | Delete | Ignored


@dataclass(frozen=True, slots=True)
class Envelope:
    """What a request adds to each message: batch fields and when it arrived."""

    received_at: datetime
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
    sent_at: datetime | None = None
    #: The Tracking API gets raw client timestamps and corrects them for clock skew;
    #: Segment's destination calls arrive already corrected.
    correct_clock: bool = False


def message_type(message: dict[str, Any]) -> str:
    value = message.get("type", message.get("action"))
    if not isinstance(value, str) or not value.strip():
        raise InvalidMessage("message has no `type` (or legacy `action`)")
    return value.strip().lower()


def parse_message(message: object, envelope: Envelope, *, allowed: frozenset[str]) -> Operation:
    """Parse one message; ``allowed`` lists the types handled at this endpoint."""
    if not isinstance(message, dict):
        raise InvalidMessage("each message must be a JSON object")
    kind = message_type(message)
    message_id = _message_id(message)
    if kind in IGNORED_TYPES and kind in allowed:
        return Ignored(message_id, f"{kind} calls are accepted and not used")
    if kind not in allowed:
        raise UnsupportedType(f"message type {kind!r} is not supported")
    integrations = _merged(envelope.integrations, message.get("integrations"), "integrations")
    if not _enabled(integrations):
        return Ignored(message_id, "switched off for Promoter by `integrations`")
    context = _merged(envelope.context, message.get("context"), "context")
    user_id = _user_id(message)
    timestamp = _timestamp(message, envelope)
    if kind == "identify":
        return _identify(message, message_id, user_id, timestamp, context)
    if kind == "track":
        return _track(message, message_id, user_id, timestamp, context)
    return Delete(message_id, user_id, timestamp)


def _message_id_text(value: object) -> str | None:
    """What counts as a messageId: a string, or an integer (not a boolean), as text."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)


def _message_id(message: dict[str, Any]) -> str:
    value = message.get("messageId")
    if value is None:
        return f"promoter-{uuid.uuid4()}"
    text = _message_id_text(value)
    if text is None:
        raise InvalidMessage("`messageId` must be a string")
    if not text or len(text) > MAX_MESSAGE_ID_LENGTH:
        raise InvalidMessage(f"`messageId` must be 1 to {MAX_MESSAGE_ID_LENGTH} characters")
    return text


def sent_message_id(message: object) -> str | None:
    """The messageId as the sender gave it, to report back (cut to the most characters a
    messageId has), even for a message that is rejected; None when it gave none."""
    value = message.get("messageId") if isinstance(message, dict) else None
    if type(value) is str and 0 < len(value) <= MAX_MESSAGE_ID_LENGTH:  # the usual case
        return value
    text = _message_id_text(value)
    return text[:MAX_MESSAGE_ID_LENGTH] if text else None


def _user_id(message: dict[str, Any]) -> str:
    value = message.get("userId", message.get("user_id"))
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidMessage("`userId` is required: Promoter keys contacts by userId")
    if len(value) > MAX_USER_ID_LENGTH:
        raise InvalidMessage(f"`userId` is longer than {MAX_USER_ID_LENGTH} characters")
    return value


def _merged(batch: dict[str, Any] | None, own: object, name: str) -> dict[str, Any]:
    if own is not None and not isinstance(own, dict):
        raise InvalidMessage(f"`{name}` must be an object")
    if not batch:
        return own or {}
    return {**batch, **(own or {})}


def _enabled(integrations: dict[str, Any]) -> bool:
    for name in INTEGRATION_NAMES:
        if name in integrations:
            return integrations[name] is not False
    return integrations.get("All", True) is not False


def _timestamp(message: dict[str, Any], envelope: Envelope) -> datetime:
    parsed: dict[str, datetime | None] = {}
    for name in ("timestamp", "originalTimestamp", "sentAt"):
        raw = message.get(name)
        if raw is None:
            parsed[name] = None
            continue
        value = parse_timestamp(raw)
        if value is None:
            raise InvalidMessage(f"`{name}` is not an ISO-8601 date-time: {str(raw)[:40]!r}")
        parsed[name] = value
    sent_at = parsed["sentAt"] or envelope.sent_at
    if envelope.correct_clock:
        original = parsed["originalTimestamp"] or parsed["timestamp"]
        if original is not None and sent_at is not None:
            try:
                return corrected_timestamp(
                    original=original, sent_at=sent_at, received_at=envelope.received_at
                )
            except OverflowError:
                raise InvalidMessage(
                    "`timestamp` and `sentAt` are too far apart to correct for clock skew"
                ) from None
    return parsed["timestamp"] or envelope.received_at


def _timezone(*candidates: object) -> str | None:
    for value in candidates:
        if isinstance(value, str) and 0 < len(value) <= 64:
            try:
                zoneinfo.ZoneInfo(value)
            except (ValueError, zoneinfo.ZoneInfoNotFoundError):
                continue
            return value
    return None


def _email(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidMessage("`traits.email` must be a string")
    value = value.strip()  # what a form or a CSV import often leaves around an address
    if not value:
        return None
    normalized, error = _validated_email(value)
    if error is not None:
        raise InvalidMessage(f"`traits.email` is not a valid address: {error}")
    return normalized


@functools.lru_cache(maxsize=65_536)
def _validated_email(value: str) -> tuple[str | None, str | None]:
    """(normalized address, None) or (None, reason). Cached: contacts re-identify often."""
    if len(value) > 320:
        return None, "longer than 320 characters"
    try:
        return validate_email(value, check_deliverability=False).normalized, None
    except EmailNotValidError as exc:
        return None, str(exc)


def _text(traits: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = traits.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[:255]
    return None


def identify_traits(message: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """An identify's traits: ``context.traits`` (where RudderStack's SDKs send them) under
    ``traits``, merged key by key at every depth; a key of ``traits`` wins, even as null."""
    traits = message.get("traits")
    if traits is None:
        traits = {}
    if not isinstance(traits, dict):
        raise InvalidMessage("`traits` must be an object")
    context_traits = context.get("traits")
    if context_traits is None:
        return traits
    if not isinstance(context_traits, dict):
        raise InvalidMessage("`context.traits` must be an object")
    return _deep_merged(context_traits, traits)


def _deep_merged(below: dict[str, Any], above: dict[str, Any]) -> dict[str, Any]:
    """``below`` overlaid with ``above``: objects on both sides merge, anything else in
    ``above`` replaces. It recurses no deeper than ``above``, a message's own traits, which
    the request limits hold to 100 levels."""
    if not below:
        return above
    merged = dict(below)
    for key, value in above.items():
        under = merged.get(key)
        if isinstance(value, dict) and isinstance(under, dict):
            merged[key] = _deep_merged(under, value)
        else:
            merged[key] = value
    return merged


def _identify(
    message: dict[str, Any],
    message_id: str,
    user_id: str,
    timestamp: datetime,
    context: dict[str, Any],
) -> Identify:
    traits = identify_traits(message, context)
    first = _text(traits, "firstName", "first_name")
    last = _text(traits, "lastName", "last_name")
    full = _text(traits, "name")
    if full and not (first or last):
        first, _, rest = full.partition(" ")
        last = rest.strip() or None
    return Identify(
        message_id=message_id,
        user_id=user_id,
        timestamp=timestamp,
        email=_email(traits.get("email")),
        first_name=first,
        last_name=last,
        timezone=_timezone(context.get("timezone"), traits.get("timezone")),
        attributes=flatten_traits(traits),
    )


def _track(
    message: dict[str, Any],
    message_id: str,
    user_id: str,
    timestamp: datetime,
    context: dict[str, Any],
) -> Track:
    event = message.get("event")
    if not isinstance(event, str) or not event.strip():
        raise InvalidMessage("track needs an `event` name")
    if len(event) > MAX_EVENT_NAME_LENGTH:
        raise InvalidMessage(f"`event` is longer than {MAX_EVENT_NAME_LENGTH} characters")
    properties = message.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise InvalidMessage("`properties` must be an object")
    return Track(
        message_id=message_id,
        user_id=user_id,
        timestamp=timestamp,
        event=event,
        properties=properties,
        timezone=_timezone(context.get("timezone")),
        order=order_facts(properties) if is_order_event(event) else None,
    )
