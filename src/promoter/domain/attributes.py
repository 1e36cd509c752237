"""Turning Segment traits into typed contact attributes."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import orjson

from promoter.domain.errors import InvalidMessage
from promoter.domain.timestamps import parse_timestamp

AttributeType = Literal["string", "number", "boolean", "date", "list"]

#: Traits that fill contact fields rather than attributes.
NAME_TRAITS = frozenset({"email", "firstName", "lastName", "first_name", "last_name", "name"})

MAX_NAME_LENGTH = 255
MAX_TEXT_LENGTH = 10_000
#: The highest PROMOTER_MAX_ATTRIBUTES_PER_CONTACT, and the most attributes a survey
#: answer's snapshot keeps.
MOST_ATTRIBUTES_PER_CONTACT = 1_000


@dataclass(frozen=True, slots=True)
class AttributeLimits:
    """The most attributes one contact holds, and distinct names one organization uses."""

    per_contact: int = 200
    per_organization: int = 2_000


_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}"
    r"([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$"
)


@dataclass(frozen=True, slots=True)
class AttributeValue:
    """One typed attribute value; exactly the columns relevant to its type are set."""

    type: AttributeType
    text: str | None = None
    number: float | None = None
    date: datetime | None = None

    def to_json(self) -> object:
        """The value as the API shows it, in its JSON type."""
        if self.type == "number":
            assert self.number is not None
            return int(self.number) if _is_exact_integer(self.number) else self.number
        if self.type == "boolean":
            return self.number == 1
        if self.type == "list":
            assert self.text is not None
            return orjson.loads(self.text)
        return self.text


def _is_exact_integer(number: float) -> bool:
    """Integral and small enough (< 2**53) to be shown as an integer without loss."""
    return number.is_integer() and abs(number) < 2**53


def typed_value(value: object) -> AttributeValue | None:
    """The typed form of one scalar or list; ``None`` means "remove the attribute"."""
    if value is None:
        return None
    if isinstance(value, bool):
        return AttributeValue("boolean", text="true" if value else "false", number=float(value))
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            raise InvalidMessage("numbers must be finite")
        # 12 and 12.0 are the same number: one text form, so filters match either.
        text = str(int(number)) if _is_exact_integer(number) else repr(number)
        return AttributeValue("number", text=text, number=number)
    if isinstance(value, str):
        if len(value) > MAX_TEXT_LENGTH:
            raise InvalidMessage(f"text values are limited to {MAX_TEXT_LENGTH} characters")
        if _ISO_DATE.match(value):
            parsed = parse_timestamp(value)
            if parsed is not None:
                return AttributeValue("date", text=value, date=parsed)
        return AttributeValue("string", text=value)
    if isinstance(value, list):
        text = orjson.dumps(value).decode()
        if len(text) > MAX_TEXT_LENGTH:
            raise InvalidMessage(f"list values are limited to {MAX_TEXT_LENGTH} characters")
        return AttributeValue("list", text=text)
    raise InvalidMessage(f"unsupported value of type {type(value).__name__}")


def flatten_traits(traits: dict[str, object]) -> dict[str, AttributeValue | None]:
    """Attributes from traits: nested objects become dotted names (``company.plan``).

    Name traits are left out; empty objects and lists are not stored; an explicit
    ``null`` maps to ``None`` so the caller removes that attribute.
    """
    result: dict[str, AttributeValue | None] = {}
    _flatten_into(result, traits, prefix="", top=True)
    return result


def _flatten_into(
    result: dict[str, AttributeValue | None], obj: dict[str, object], *, prefix: str, top: bool
) -> None:
    for key, value in obj.items():
        if top and key in NAME_TRAITS:
            continue
        name = f"{prefix}{key}"
        if not key.strip():
            raise InvalidMessage("trait names must not be empty")
        if len(name) > MAX_NAME_LENGTH:
            raise InvalidMessage(
                f"trait name {name[:40]!r}... exceeds {MAX_NAME_LENGTH} characters"
            )
        if isinstance(value, dict):
            _flatten_into(result, value, prefix=f"{name}.", top=False)
            continue
        if isinstance(value, list) and not value:
            continue
        result[name] = typed_value(value)
