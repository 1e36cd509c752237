"""JSON request bodies under /api/: read, checked against pydantic models, and refused in
Django REST Framework's shapes (``{"field": ["message"]}``, ``{"detail"}`` for bad JSON)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any, TypeVar

import orjson
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

#: Larger bodies are refused (413) before they are parsed.
MAX_BODY_BYTES = 64 * 1024
NON_FIELD = "non_field_errors"

M = TypeVar("M", bound=BaseModel)
Errors = dict[str, list[str]]


class ApiBody(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


def invalid(errors: Mapping[str, Iterable[str]]) -> RequestValidationError:
    """A 400 answer with these field errors (``non_field_errors`` for the body as a whole)."""
    return RequestValidationError(
        [
            {"loc": ("body",) if field == NON_FIELD else ("body", field), "msg": message}
            for field, messages in errors.items()
            for message in messages
        ]
    )


def not_found() -> HTTPException:
    return HTTPException(404, "Not found.")


#: The schema of an id written in a path, for the document only: what is not one is
#: answered 404 by ``object_id``, as a missing object is, not refused as invalid.
ID_IN_PATH: dict[str, Any] = {"pattern": "^[0-9]+$"}


def object_id(text: str, highest: int) -> int:
    """The id written in a path, or 404: anything but plain digits from 1 to ``highest``
    names no object."""
    if not (text.isascii() and text.isdigit() and len(text) <= 19):
        raise not_found()
    value = int(text)
    if not 1 <= value <= highest:
        raise not_found()
    return value


async def raw_body(request: Request) -> bytes:
    """The request's body; a larger one than ``MAX_BODY_BYTES`` is refused (413)."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise HTTPException(413, "Request body too large.")
    return raw


def json_object(raw: bytes) -> dict[str, Any]:
    """The body's JSON object; an empty body is an empty object."""
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, f"JSON parse error - {exc}") from None
    if not isinstance(data, dict):
        kind = {list: "list", str: "str", int: "int", float: "float", bool: "bool"}.get(
            type(data), "null"
        )
        raise invalid({NON_FIELD: [f"Invalid data. Expected a dictionary, but got {kind}."]})
    nul = [str(key) for key, value in data.items() if _has_nul(key) or _has_nul(value)]
    if nul:
        raise invalid({key: ["Null characters are not allowed."] for key in nul})
    return data


def _has_nul(value: Any) -> bool:
    """Whether a NUL character is in any string of a JSON value (walked without recursion:
    a body may nest a thousand levels deep)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
    return False


def parse(model: type[M], raw: bytes, *, ignored: Iterable[str] = ()) -> M:
    """The body as ``model``, leaving out the read-only fields a client may send back."""
    skip = set(ignored)
    data = json_object(raw)
    try:
        return model.model_validate({k: v for k, v in data.items() if k not in skip})
    except ValidationError as exc:
        raise invalid(field_errors(exc)) from None


def field_errors(exc: ValidationError, names: Mapping[str, str] | None = None) -> Errors:
    """The validation errors by field, fields renamed by ``names`` (our name -> the name
    the client used)."""
    names = names or {}
    errors: Errors = {}
    for error in exc.errors():
        loc = error["loc"]
        field = names.get(str(loc[0]), str(loc[0])) if loc else NON_FIELD
        message = drf_message(error)
        if _in_object_item(error):  # an object in a list (a campaign's question): say which
            inside = ".".join(str(part) for part in loc[2:])
            message = f"Item {int(loc[1]) + 1}{f' ({inside})' if inside else ''}: {message}"
        if message not in errors.setdefault(field, []):
            errors[field].append(message)
    return errors


def _in_object_item(error: ErrorDetails) -> bool:
    """Whether the error is about an object in a list, or one of its fields (errors about
    the scalar items of a list keep DRF's plain messages)."""
    loc = error["loc"]
    if len(loc) < 2 or not isinstance(loc[1], int):
        return False
    return len(loc) > 2 or isinstance(error.get("input"), dict)


def drf_message(error: ErrorDetails) -> str:
    """What Django REST Framework says for the same mistake."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    if kind == "missing":
        return "This field is required."
    if given is None and (kind.endswith("_type") or kind == "literal_error"):
        return "This field may not be null."
    simple = _SIMPLE.get(kind)
    if simple is not None:
        return simple.format(**ctx)
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return "This field may not be blank."
        return f"Ensure this field has at least {ctx.get('min_length')} characters."
    if kind == "literal_error":
        return f'"{given}" is not a valid choice.'
    if kind == "list_type":
        return f'Expected a list of items but got type "{type(given).__name__}".'
    if kind == "string_pattern_mismatch":
        return "Enter a valid URL." if "http" in str(ctx.get("pattern")) else "Invalid value."
    if kind == "value_error" and "email address" in error["msg"]:
        return "Enter a valid email address."
    message = error["msg"].removeprefix("Value error, ")
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


_SIMPLE = {
    "extra_forbidden": "Unknown field.",
    "string_type": "Not a valid string.",
    "string_too_long": "Ensure this field has no more than {max_length} characters.",
    "too_long": "Ensure this field has no more than {max_length} elements.",
    "int_parsing": "A valid integer is required.",
    "int_parsing_size": "A valid integer is required.",
    "int_type": "A valid integer is required.",
    "int_from_float": "A valid integer is required.",
    "greater_than_equal": "Ensure this value is greater than or equal to {ge}.",
    "less_than_equal": "Ensure this value is less than or equal to {le}.",
    "bool_type": "Must be a valid boolean.",
    "bool_parsing": "Must be a valid boolean.",
}


def require(given: Collection[str], *choices: tuple[str, ...]) -> None:
    """One name of each group must be given (PUT's required fields); errors are reported
    under each group's first name."""
    missing = {
        group[0]: ["This field is required."]
        for group in choices
        if not any(name in given for name in group)
    }
    if missing:
        raise invalid(missing)


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a body that the handler reads itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def one_of(data: Mapping[str, Any], promoter: str, ours: str) -> str | None:
    """Which of two names of the same field the client used (None: neither); both is a
    mistake."""
    if promoter in data and ours in data:
        raise invalid({promoter: [f"Give {promoter} or {ours}, not both."]})
    if promoter in data:
        return promoter
    return ours if ours in data else None


def renamed(
    given: Mapping[str, Any], aliases: Mapping[str, str], references: Collection[str] = ()
) -> tuple[dict[str, Any], dict[str, str]]:
    """The fields under our names (``aliases``: Promoter's name -> ours), and for each of
    our names the name to report its errors under: the one the client used, else
    Promoter's. The fields in ``references`` (ids) may not be null."""
    changes = dict(given)
    names = {ours: promoter for promoter, ours in aliases.items()}
    for promoter, ours in aliases.items():
        used = one_of(changes, promoter, ours)
        if used is None:
            continue
        names[ours] = used
        changes[ours] = changes.pop(used)
        if ours in references and changes[ours] is None:
            raise invalid({used: ["This field may not be null."]})
    return changes, names
