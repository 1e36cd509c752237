"""Hostile content sent to the Segment endpoints: each row is one input and the exact
answer docs/bad-input.md gives for it (status, body, and what is stored, read back
through the read API, which must not fail on it).

The module shares one database and app per backend; each test gets an organization of
its own, so what its organization holds is what that test stored.
"""

from __future__ import annotations

import functools
import json
import sys
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select

from promoter.app import create_app
from promoter.config import Settings
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import (
    contact_attributes,
    contacts,
    events,
    orders,
    processed_messages,
)
from tests.conftest import Org, _empty, make_org
from tests.credentials import basic, token

# --- One app per backend, one organization per test ---------------------------------------


@pytest.fixture(scope="module")
def database(database_url: str) -> Iterator[Database]:
    db = Database.from_url(database_url)
    try:
        yield db
    finally:
        _empty(db)
        db.dispose()


@pytest.fixture(scope="module")
def client(database_url: str, database: Database) -> Iterator[TestClient]:
    settings = Settings(
        database_url=database_url,
        base_url="http://testserver",
        rate_limit_api="0",
        rate_limit_ingest="0",
        rate_limit_failed_auth="0",
        rate_limit_survey_pages="0",
    )
    with TestClient(create_app(Services.build(settings, database))) as test_client:
        yield test_client


@pytest.fixture
def org(database: Database) -> Org:
    return make_org(database, "Hostile")


@pytest.fixture
def ted(client: TestClient, org: Org) -> int:
    """The id of the contact ``ted``, whose tracks the read API shows."""
    message = {"userId": "ted", "traits": {"email": "ted@example.com"}}
    assert answer(post(client, org, "/v1/identify", message)) == ACCEPTED
    (contact,) = read_contacts(client, org)
    return int(contact["id"])


# --- Sending, answers, reading back ------------------------------------------------------

#: How a message reaches Promoter: its own Tracking API call, a batch, the destination.
WAYS = ("/v1/{type}", "/v1/batch", "/segment")
ACCEPTED = (200, {"success": True, "accepted": 1, "duplicates": 0})
TABLES = {
    "contacts": contacts,
    "attributes": contact_attributes,
    "events": events,
    "orders": orders,
    "messageIds": processed_messages,
}
NOTHING = dict.fromkeys(TABLES, 0)


@dataclass(frozen=True)
class Gzip:
    """A body sent as is with ``Content-Encoding: gzip``."""

    compressed: bytes


def gzipped(body: bytes) -> Gzip:
    packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return Gzip(packer.compress(body) + packer.flush())


@functools.cache
def gzip_bomb() -> Gzip:
    """64 KB of gzip that inflates to a 64 MB batch."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    spaces = b" " * (1 << 20)
    parts = [packer.compress(b'{"batch":[')]
    parts += [packer.compress(spaces) for _ in range(64)]
    parts.append(packer.compress(b"]}") + packer.flush())
    return Gzip(b"".join(parts))


def post(client: TestClient, org: Org, path: str, body: object) -> Response:
    headers = basic(org.key)
    if isinstance(body, Gzip):
        headers["Content-Encoding"] = "gzip"
        body = body.compressed
    if not isinstance(body, bytes):  # the json module writes integers beyond 64 bits
        body = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return client.post(path, content=body, headers=headers)


def send(client: TestClient, org: Org, way: str, message: dict[str, Any]) -> Response:
    if way == "/v1/batch":
        return post(client, org, way, {"batch": [message]})
    if way == "/segment":
        return post(client, org, way, message)
    single = {name: value for name, value in message.items() if name != "type"}
    return post(client, org, f"/v1/{message['type']}", single)


def answer(response: Response) -> tuple[int, Any]:
    return response.status_code, response.json()


def refused(message: str) -> tuple[int, dict[str, str]]:
    """The whole request refused: nothing in it is applied."""
    return 400, {"code": "invalid_request", "message": message}


def invalid(message: str) -> tuple[int, dict[str, str]]:
    """The destination's one message rejected."""
    return 400, {"code": "invalid_message", "message": message}


def rejected(way: str, reason: str) -> tuple[int, dict[str, Any]]:
    """One message rejected: a 400 from the destination, a line of the Tracking API's summary."""
    if way == "/segment":
        return invalid(reason)
    entry = {"index": 0, "status": "rejected", "reason": reason}
    return 200, {"success": True, "rejected": [entry], "accepted": 0, "duplicates": 0}


def stored(database: Database, org: Org) -> dict[str, int]:
    with database.read() as conn:
        return {
            name: conn.execute(
                select(func.count()).select_from(table).where(table.c.organization_id == org.id)
            ).scalar_one()
            for name, table in TABLES.items()
        }


def read(client: TestClient, org: Org, path: str) -> list[dict[str, Any]]:
    auth = token(org.key)
    response = client.get(path, params={"page_size": 100}, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()["results"]  # type: ignore[no-any-return]


def read_contacts(client: TestClient, org: Org) -> list[dict[str, Any]]:
    return read(client, org, "/api/v2/contacts/")


def read_events(client: TestClient, org: Org, contact_id: int) -> list[dict[str, Any]]:
    return read(client, org, f"/api/v2/contacts/{contact_id}/events/")


def attribute_types(database: Database, org: Org) -> dict[str, tuple[str, str | None]]:
    """Each stored attribute's type and, for a date, the instant in UTC."""
    table = contact_attributes
    with database.read() as conn:
        rows = conn.execute(
            select(table.c.name, table.c.value_type, table.c.value_date).where(
                table.c.organization_id == org.id
            )
        )
        return {r.name: (r.value_type, r.value_date and r.value_date.isoformat()) for r in rows}


def cases(*rows: tuple[Any, ...]) -> list[Any]:
    """Table rows whose first column is the case's name."""
    return [pytest.param(*row[1:], id=row[0]) for row in rows]


# --- Hostile messages --------------------------------------------------------------------


def identify(user_id: object = "ted", **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": user_id, "traits": {"email": "ted@example.com", **traits}}


def track(event: object = "Signed Up", **fields: Any) -> dict[str, Any]:
    return {"type": "track", "userId": "ted", "event": event, **fields}


def with_field(message: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**message, **fields}


def nest(levels: int, leaf: object = 1, *, arrays: bool = False) -> Any:
    """``levels`` objects (``{"a": ...}``) or arrays, one inside the other."""
    value = leaf
    for _ in range(levels):
        value = [value] if arrays else {"a": value}
    return value


def deep_identify(levels: int, *, arrays: bool = False) -> bytes:
    """An identify ``levels`` deep (itself, its traits, then objects or arrays), written
    out directly: Python cannot build or encode such depths."""
    opening, closing = (b"[", b"]") if arrays else (b'{"a":', b"}")
    inner = levels - 2
    prefix = b'{"type":"identify","userId":"ted","traits":{"deep":'
    return prefix + opening * inner + b"1" + closing * inner + b"}}"


def trait_literal(token: bytes) -> bytes:
    return b'{"type":"identify","userId":"ted","traits":{"n":' + token + b"}}"


def property_literal(token: bytes) -> bytes:
    return b'{"type":"track","userId":"ted","event":"E","properties":{"n":' + token + b"}}"


def batch(*messages: object) -> dict[str, Any]:
    return {"batch": list(messages)}


def as_batch(body: bytes) -> bytes:
    return b'{"batch":[' + body + b"]}"


def size(message: object) -> int:
    return len(orjson.dumps(message))


def body_over(kb: int) -> tuple[int, dict[str, str]]:
    return refused(f"the body exceeds the {kb} KB limit")


def message_over(message: object, index: int | None = None) -> tuple[int, dict[str, str]]:
    where = "a message" if index is None else f"message {index}"
    return refused(f"{where} is {size(message)} bytes; the limit is 32 KB")


def too_deep(index: int | None = None) -> tuple[int, dict[str, str]]:
    where = "a message" if index is None else f"message {index}"
    return refused(f"{where} is nested too deeply: at most 100 levels of objects and arrays")


def not_json(reason: str, at: int) -> tuple[int, dict[str, str]]:
    """orjson's reason, and where in the body it stopped."""
    return refused(f"the body is not valid JSON: {reason}: line 1 column {at + 1} (char {at})")


def bad_token(body: bytes, token: bytes, reason: str) -> tuple[int, dict[str, str]]:
    return not_json(reason, body.index(token))


def over_1024(body: bytes) -> tuple[int, dict[str, str]]:
    """orjson reads 1,024 levels: it stops just past the bracket opening one more."""
    depth = 0
    for at, byte in enumerate(body):
        depth += (byte in b"{[") - (byte in b"}]")
        if depth > 1024:
            return not_json("depth limit exceeded", at + 1)
    raise AssertionError("not that deep")


def not_utf8(body: bytes) -> tuple[int, dict[str, str]]:
    at = body.index(b"\xff")
    return refused(f"the body is not valid UTF-8: byte {at} cannot be decoded")


def not_a_date(value: object, field: str = "timestamp") -> str:
    return f"`{field}` is not an ISO-8601 date-time: {str(value)[:40]!r}"


def bad_sent_at(value: object) -> tuple[int, dict[str, str]]:
    return refused(not_a_date(value, "sentAt"))


OVER_32_KB = identify(blob="x" * 33_000)
PROPS_10K = track(properties={f"p{i}": i for i in range(10_000)})
TRAITS_10K = identify(**{f"t{i}": i for i in range(10_000)})
OVER_500_KB = [track(properties={"blob": "x" * 30_000}) for _ in range(18)]
TOO_MANY = [track() for _ in range(2501)]
EVENT_100K = track("E" * 100_000)
USER_ID_100K = identify("U" * 100_000)
TRAIT_100K = identify(**{"T" * 100_000: 1})
#: The message, its traits and 98 objects: 100 levels, the most a message may have.
DEEPEST = identify(deep=nest(98))
TOO_DEEP = identify(deep=nest(99))
DEEPER = deep_identify(1000)
OBJECTS_100K = deep_identify(100_000)
ARRAYS_100K = deep_identify(100_000, arrays=True)
NOT_UTF8 = b'{"type":"identify","userId":"ted","traits":{"email":"ted@example.com","p":"\xff"}}'
NAN = trait_literal(b"NaN")
INFINITY = property_literal(b"Infinity")
MINUS_INFINITY = trait_literal(b"-Infinity")
HUGE = property_literal(b"1e999")
SURROGATE = b'{"userId":"t\\ud800ed","traits":{"email":"ted@example.com"}}'
RAW_NUL = b'{"userId":"t\x00ed","traits":{"email":"ted@example.com"}}'
TRUNCATED = Gzip(gzipped(b'{"batch":[]}').compressed[:-6])
ARRAYS_BATCH = as_batch(ARRAYS_100K)
UTF8_BATCH = as_batch(NOT_UTF8)
SENT_AT_NUMBER = {"batch": [track()], "sentAt": 1772368245}
SENT_AT_GARBAGE = {"batch": [track()], "sentAt": "yesterday"}

MAX_BATCH = "a batch holds at most 2500 messages"
MAX_REQUEST = "at most 2500 messages a request"
VALUE = "unexpected character, expected a JSON value"
CONTROL = "unexpected control character in string"
LOW = "no low surrogate in string"
NO_DIGIT = "no digit after sign"
INFINITE = "number is infinity when parsed as double"
NOT_AN_OBJECT = refused("the body must be a JSON object")
NOT_A_MESSAGE = invalid("each message must be a JSON object")
NO_BATCH = refused("a batch body needs a `batch` array of messages")
CONTEXT = refused("`context` must be an object")
INTEGRATIONS = refused("`integrations` must be an object")

REFUSED = cases(
    # Sizes and counts
    ("trait over 32 KB, call", "/v1/identify", OVER_32_KB, body_over(32)),
    ("trait over 32 KB, batch", "/v1/batch", batch(OVER_32_KB), message_over(OVER_32_KB, 0)),
    ("trait over 32 KB, destination", "/segment", OVER_32_KB, message_over(OVER_32_KB)),
    ("batch over 500 KB", "/v1/batch", batch(*OVER_500_KB), body_over(500)),
    ("array over 500 KB, destination", "/segment", OVER_500_KB, body_over(500)),
    ("2,501 messages, batch", "/v1/batch", batch(*TOO_MANY), refused(f"{MAX_BATCH}, not 2501")),
    ("2,501 messages, destination", "/segment", TOO_MANY, refused(MAX_REQUEST)),
    ("10,000 properties, call", "/v1/track", PROPS_10K, body_over(32)),
    ("10,000 properties, batch", "/v1/batch", batch(PROPS_10K), message_over(PROPS_10K, 0)),
    ("10,000 properties, destination", "/segment", PROPS_10K, message_over(PROPS_10K)),
    ("10,000 traits, call", "/v1/identify", TRAITS_10K, body_over(32)),
    ("10,000 traits, batch", "/v1/batch", batch(TRAITS_10K), message_over(TRAITS_10K, 0)),
    ("10,000 traits, destination", "/segment", TRAITS_10K, message_over(TRAITS_10K)),
    # Long names
    ("100,000-character event, call", "/v1/track", EVENT_100K, body_over(32)),
    ("100,000-character event, batch", "/v1/batch", batch(EVENT_100K), message_over(EVENT_100K, 0)),
    ("100,000-character event, destination", "/segment", EVENT_100K, message_over(EVENT_100K)),
    ("100,000-character userId", "/v1/identify", USER_ID_100K, body_over(32)),
    ("100,000-character trait name", "/segment", TRAIT_100K, message_over(TRAIT_100K)),
    # Nesting
    ("101 levels deep, call", "/v1/identify", TOO_DEEP, too_deep()),
    ("101 levels deep, batch", "/v1/batch", batch(TOO_DEEP), too_deep(0)),
    ("101 levels deep, destination", "/segment", TOO_DEEP, too_deep()),
    ("1,000 levels deep, call", "/v1/identify", DEEPER, too_deep()),
    ("1,000 levels deep, batch", "/v1/batch", as_batch(DEEPER), too_deep(0)),
    ("1,000 levels deep, destination", "/segment", DEEPER, too_deep()),
    ("100,000 levels of objects, call", "/v1/identify", OBJECTS_100K, body_over(32)),
    ("100,000 levels of objects, batch", "/v1/batch", as_batch(OBJECTS_100K), body_over(500)),
    ("100,000 levels of arrays, batch", "/v1/batch", ARRAYS_BATCH, over_1024(ARRAYS_BATCH)),
    ("100,000 levels of arrays, destination", "/segment", ARRAYS_100K, over_1024(ARRAYS_100K)),
    # Encoding
    ("invalid UTF-8, call", "/v1/identify", NOT_UTF8, not_utf8(NOT_UTF8)),
    ("invalid UTF-8, batch", "/v1/batch", UTF8_BATCH, not_utf8(UTF8_BATCH)),
    ("invalid UTF-8, destination", "/segment", NOT_UTF8, not_utf8(NOT_UTF8)),
    ("invalid UTF-8 in gzip, call", "/v1/identify", gzipped(NOT_UTF8), not_utf8(NOT_UTF8)),
    ("invalid UTF-8 in gzip, batch", "/v1/batch", gzipped(UTF8_BATCH), not_utf8(UTF8_BATCH)),
    ("invalid UTF-8 in gzip, destination", "/segment", gzipped(NOT_UTF8), not_utf8(NOT_UTF8)),
    ("gzip bomb, call", "/v1/identify", gzip_bomb(), body_over(32)),
    ("gzip bomb, batch", "/v1/batch", gzip_bomb(), body_over(500)),
    ("gzip bomb, destination", "/segment", gzip_bomb(), body_over(500)),
    ("not gzip", "/v1/batch", Gzip(b"not gzip"), refused("the body is not valid gzip")),
    ("truncated gzip", "/v1/batch", TRUNCATED, refused("the gzip body is truncated")),
    ("lone surrogate escape", "/v1/identify", SURROGATE, bad_token(SURROGATE, b"\\ud800", LOW)),
    ("raw NUL byte in a string", "/v1/identify", RAW_NUL, bad_token(RAW_NUL, b"\x00", CONTROL)),
    # NaN and infinities
    ("NaN, call", "/v1/identify", NAN, bad_token(NAN, b"NaN", VALUE)),
    ("NaN, batch", "/v1/batch", as_batch(NAN), bad_token(as_batch(NAN), b"NaN", VALUE)),
    ("NaN, destination", "/segment", NAN, bad_token(NAN, b"NaN", VALUE)),
    ("Infinity", "/v1/track", INFINITY, bad_token(INFINITY, b"Inf", VALUE)),
    ("-Infinity", "/segment", MINUS_INFINITY, bad_token(MINUS_INFINITY, b"Inf", NO_DIGIT)),
    ("1e999", "/v1/batch", as_batch(HUGE), bad_token(as_batch(HUGE), b"1e999", INFINITE)),
    # Wrong JSON types for the body and the batch's own fields
    ("array body, call", "/v1/identify", b"[]", NOT_AN_OBJECT),
    ("string body, batch", "/v1/batch", b'"batch"', NOT_AN_OBJECT),
    ("null body, destination", "/segment", b"null", NOT_A_MESSAGE),
    ("array of numbers, destination", "/segment", b"[1]", NOT_A_MESSAGE),
    ("batch as an object", "/v1/batch", {"batch": track()}, NO_BATCH),
    ("batch context as an array", "/v1/batch", {"batch": [], "context": []}, CONTEXT),
    ("batch integrations as a number", "/v1/batch", {"batch": [], "integrations": 1}, INTEGRATIONS),
    ("batch sentAt as a number", "/v1/batch", SENT_AT_NUMBER, bad_sent_at(1772368245)),
    ("batch sentAt as garbage", "/v1/batch", SENT_AT_GARBAGE, bad_sent_at("yesterday")),
)  # fmt: skip


@pytest.mark.parametrize(("path", "body", "expected"), REFUSED)
def test_refused_requests_store_nothing(
    client: TestClient,
    database: Database,
    org: Org,
    path: str,
    body: object,
    expected: tuple[int, dict[str, str]],
) -> None:
    assert answer(post(client, org, path, body)) == expected
    assert stored(database, org) == NOTHING
    assert read_contacts(client, org) == []


NO_KEY = "invalid or missing API key: send it as Basic auth username (or writeKey)"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/identify", not_utf8(NOT_UTF8)),
        ("/v1/batch", not_utf8(NOT_UTF8)),
        ("/segment", (401, {"code": "invalid_api_key", "message": NO_KEY})),
    ],
)
def test_the_tracking_api_reads_the_body_before_the_key(
    client: TestClient, path: str, expected: tuple[int, dict[str, str]]
) -> None:
    assert answer(client.post(path, content=NOT_UTF8)) == expected


@pytest.mark.parametrize("path", ["/v1/identify", "/v1/batch", "/segment"])
def test_a_gzip_bomb_is_never_inflated(client: TestClient, org: Org, path: str) -> None:
    tracemalloc.start()
    try:
        response = post(client, org, path, gzip_bomb())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 400
    assert peak < 4 * 1024 * 1024  # while the body inflates to 64 MB


REQUIRED = "`userId` is required: Promoter keys contacts by userId"
NEEDS_EMAIL = "`traits.email` is required to create a contact"
NO_EVENT = "track needs an `event` name"
LONG_EVENT = "`event` is longer than 255 characters"
LONG_USER_ID = "`userId` is longer than 255 characters"
LONG_TRAIT = f"trait name {'T' * 40!r}... exceeds 255 characters"
TEXT_LIMIT = "text values are limited to 10000 characters"
TRAITS = "`traits` must be an object"
PROPERTIES = "`properties` must be an object"
MESSAGE_ID = "`messageId` must be a string"
MESSAGE_ID_LENGTH = "`messageId` must be 1 to 100 characters"
SPACE = "The email address contains invalid characters before the @-sign: SPACE."
RTL = "The email address contains unsafe characters: RIGHT-TO-LEFT OVERRIDE."
TOO_LONG = "The email address is too long (46 characters too many)."
ORIGINAL = "originalTimestamp"
TWO_AT = "The part after the @-sign contains invalid characters: '@'."


def bad_email(reason: str) -> str:
    return f"`traits.email` is not a valid address: {reason}"


REJECTED = cases(
    ("trait value just under 32 KB", identify(blob="x" * 32_500), TEXT_LIMIT),
    # NUL characters are removed first: what is left is checked
    ("NUL as the whole userId", identify("\x00"), REQUIRED),
    ("NUL as the whole event name", track("\x00"), NO_EVENT),
    ("NUL as a whole trait name", identify(**{"\x00": "Pro"}), "trait names must not be empty"),
    ("NUL as the whole email", identify(email="\x00"), NEEDS_EMAIL),
    ("NUL as the whole messageId", with_field(track(), messageId="\x00"), MESSAGE_ID_LENGTH),
    # Long names
    ("event name of 256 characters", track("E" * 256), LONG_EVENT),
    ("event name of 1,000 characters", track("E" * 1000), LONG_EVENT),
    ("userId of 256 characters", identify("U" * 256), LONG_USER_ID),
    ("userId of 1,000 characters", identify("U" * 1000), LONG_USER_ID),
    ("trait name of 256 characters", identify(**{"T" * 256: 1}), LONG_TRAIT),
    ("trait name of 1,000 characters", identify(**{"T" * 1000: 1}), LONG_TRAIT),
    # Emails
    ("email, a space inside", identify(email="ted @example.com"), bad_email(SPACE)),
    ("email, RTL override first", identify(email="\u202eted@example.com"), bad_email(RTL)),
    ("email, RTL override in the domain", identify(email="ted@exa\u202emple.com"), bad_email(RTL)),
    ("email, 300 characters", identify(email="t" * 288 + "@example.com"), bad_email(TOO_LONG)),
    ("email, two @", identify(email="ted@bob@example.com"), bad_email(TWO_AT)),
    ("email, a number", identify(email=42), "`traits.email` must be a string"),
    # Wrong JSON types
    ("userId as a fraction", identify(4.5), REQUIRED),
    ("userId as true", identify(True), REQUIRED),
    ("userId as an array", identify(["ted"]), REQUIRED),
    ("userId as an object", identify({"id": "ted"}), REQUIRED),
    ("userId of spaces", identify("   "), REQUIRED),
    ("traits as an array", with_field(identify(), traits=["ted@example.com"]), TRAITS),
    ("traits as a string", with_field(identify(), traits="ted@example.com"), TRAITS),
    ("traits as null, new contact", with_field(identify(), traits=None), NEEDS_EMAIL),
    ("properties as a string", track(properties="plan=Pro"), PROPERTIES),
    ("properties as an array", track(properties=[1]), PROPERTIES),
    ("messageId as an object", with_field(track(), messageId={"id": 1}), MESSAGE_ID),
    ("messageId as an array", with_field(track(), messageId=["m"]), MESSAGE_ID),
    ("messageId as a fraction", with_field(track(), messageId=1.5), MESSAGE_ID),
    ("messageId as true", with_field(track(), messageId=True), MESSAGE_ID),
    ("timestamp as a number", track(timestamp=1772368245), not_a_date(1772368245)),
    ("timestamp as an object", track(timestamp={"at": 1}), not_a_date({"at": 1})),
    ("originalTimestamp as an array", track(originalTimestamp=[]), not_a_date([], ORIGINAL)),
    ("sentAt as a number", track(sentAt=1772368245), not_a_date(1772368245, "sentAt")),
    ("event as a number", track(1), NO_EVENT),
    ("event as an array", track(["Signed Up"]), NO_EVENT),
    ("context as an array", track(context=[]), "`context` must be an object"),
    ("integrations as a string", track(integrations="all"), "`integrations` must be an object"),
)  # fmt: skip


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(("message", "reason"), REJECTED)
def test_rejected_messages_store_nothing(
    client: TestClient,
    database: Database,
    org: Org,
    way: str,
    message: dict[str, Any],
    reason: str,
) -> None:
    assert answer(send(client, org, way, message)) == rejected(way, reason)
    assert stored(database, org) == NOTHING
    assert read_contacts(client, org) == []


@pytest.mark.parametrize("way", WAYS[1:])
@pytest.mark.parametrize("kind", [1, None, ["track"], {"type": "track"}, True, ""])
def test_a_type_that_is_no_name_is_rejected(
    client: TestClient, database: Database, org: Org, way: str, kind: object
) -> None:
    message = with_field(track(), type=kind)
    reason = "message has no `type` (or legacy `action`)"
    assert answer(send(client, org, way, message)) == rejected(way, reason)
    assert stored(database, org) == NOTHING


@pytest.mark.parametrize("kind", [1, None, ["track"], {"type": "track"}, True, "", "delete"])
def test_a_call_takes_its_type_from_its_path(client: TestClient, org: Org, kind: object) -> None:
    message = with_field(identify(), type=kind)
    assert answer(post(client, org, "/v1/identify", message)) == ACCEPTED
    assert [c["user_id"] for c in read_contacts(client, org)] == ["ted"]


EMOJI = "\U0001f600"
TRAITS_2500 = {f"t{i}": i for i in range(2500)}
PROPERTIES_2500 = {f"p{i}": i for i in range(2500)}
ARRAYS_98 = nest(98, arrays=True)
BEYOND_64_BITS = {"big": 2**64 - 1, "small": -(2**63) - 1}
#: Integers that do not fit in 64 bits arrive as doubles; an attribute number is a double.
AS_DOUBLES = {"big": 2.0**64, "small": -(2.0**63)}
KEPT_64_BITS = {"big": 2**64 - 1, "small": -(2.0**63)}
MAX_DOUBLE = sys.float_info.max
BLOB = "x" * 32_500
PLAN = {"plan": "Pro"}
LONG_NAME = {"P" * 1000: 1}
#: The message, its properties, and 48 or 98 objects: 50 and 100 levels deep.
NESTED_50 = {"a": nest(48)}
NESTED_100 = {"a": nest(98)}

KEPT_CONTACTS = cases(
    ("NUL in a trait value", identify(plan="P\x00ro"), {"attributes": PLAN}),
    ("NUL in a trait name", identify(**{"pl\x00an": "Pro"}), {"attributes": PLAN}),
    ("NUL in the userId", identify("t\x00ed"), {"user_id": "ted"}),
    ("NUL in the email", identify(email="ted\x00@example.com"), {"email": "ted@example.com"}),
    ("email, spaces around", identify(email="  ted@example.com "), {"email": "ted@example.com"}),
    ("userId of 255 characters", identify("U" * 255), {"user_id": "U" * 255}),
    ("userId of 255 emoji", identify(EMOJI * 255), {"user_id": EMOJI * 255}),
    ("userId as a number", identify(42), {"user_id": "42"}),
    ("userId beyond 64 bits", identify(2**64 - 1), {"user_id": "18446744073709551615"}),
    ("userId with spaces around", identify(" ted "), {"user_id": " ted "}),
    ("trait name of 255 characters", identify(**{"T" * 255: 1}), {"attributes": {"T" * 255: 1}}),
    ("trait name of 255 emoji", identify(**{EMOJI * 255: 1}), {"attributes": {EMOJI * 255: 1}}),
    ("50 levels deep", identify(deep=nest(48)), {"attributes": {"deep" + ".a" * 48: 1}}),
    ("100 levels deep", DEEPEST, {"attributes": {"deep" + ".a" * 98: 1}}),
    ("100 levels deep in arrays", identify(deep=ARRAYS_98), {"attributes": {"deep": ARRAYS_98}}),
    ("numbers beyond 64 bits", identify(**BEYOND_64_BITS), {"attributes": AS_DOUBLES}),
    ("largest double", identify(n=MAX_DOUBLE), {"attributes": {"n": MAX_DOUBLE}}),
    ("email, IDN domain", identify(email="ted@bücher.de"), {"email": "ted@bücher.de"}),
    ("email, punycode domain", identify(email="ted@xn--bcher-kva.de"), {"email": "ted@bücher.de"}),
    ("email, Unicode local part", identify(email="tëd@example.com"), {"email": "tëd@example.com"}),
    ("email, all Chinese", identify(email="用户@例子.广告"), {"email": "用户@例子.广告"}),
    ("email, capitals", identify(email="TED@EXAMPLE.COM"), {"email": "TED@example.com"}),
)  # fmt: skip


@pytest.mark.parametrize("way", WAYS)
def test_2500_traits_keep_the_first_200(client: TestClient, org: Org, way: str) -> None:
    reason = "2300 traits dropped: a contact holds at most 200 attributes (first dropped: 't200')"
    note = {"index": 0, "status": "accepted", "reason": reason}
    expected = {"success": True, "notes": [note], "accepted": 1, "duplicates": 0}
    assert answer(send(client, org, way, identify(**TRAITS_2500))) == (200, expected)
    (contact,) = read_contacts(client, org)
    assert contact["attributes"] == {f"t{i}": i for i in range(200)}


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(("message", "expected"), KEPT_CONTACTS)
def test_contacts_keep_what_can_be_kept(
    client: TestClient, org: Org, way: str, message: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert answer(send(client, org, way, message)) == ACCEPTED
    (contact,) = read_contacts(client, org)
    assert {name: contact[name] for name in expected} == expected


NOON = "2026-03-01T12:30:45+00:00"
MIDNIGHT = "2026-03-01T00:00:00+00:00"
HALF_PAST = "2026-03-01T12:30:45.500000+00:00"

DATE_TRAITS = cases(
    ("ISO 8601 with zone", "2026-03-01T12:30:45Z", "date", NOON),
    ("ISO 8601 with fraction", "2026-03-01T12:30:45.5Z", "date", HALF_PAST),
    ("ISO 8601 with nanoseconds", "2026-03-01T12:30:45.000000001Z", "date", NOON),
    ("ISO 8601 with offset", "2026-03-01T14:30:45+02:00", "date", NOON),
    ("ISO 8601 without zone", "2026-03-01T12:30:45", "date", NOON),
    ("date only", "2026-03-01", "date", MIDNIGHT),
    ("year 0001", "0001-01-01T00:00:00Z", "date", "0001-01-01T00:00:00+00:00"),
    ("year 9999", "9999-12-31T23:59:59Z", "date", "9999-12-31T23:59:59+00:00"),
    ("ISO 8601 basic format", "20260301T123045Z", "string", None),
    ("RFC 2822", "Sun, 01 Mar 2026 12:30:45 +0000", "string", None),
    ("epoch seconds", 1772368245, "number", None),
    ("epoch milliseconds", 1772368245123, "number", None),
    ("epoch seconds as a string", "1772368245", "string", None),
    ("epoch milliseconds as a string", "1772368245123", "string", None),
    ("month 13, day 45", "2026-13-45", "string", None),
    ("year 1 east of UTC", "0001-01-01T00:00:00+01:00", "string", None),
    ("empty string", "", "string", None),
    ("garbage", "garbage", "string", None),
)  # fmt: skip


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(("value", "kind", "instant"), DATE_TRAITS)
def test_dates_as_traits(
    client: TestClient,
    database: Database,
    org: Org,
    way: str,
    value: object,
    kind: str,
    instant: str | None,
) -> None:
    """A trait is a date when it reads as ISO 8601 with dashes; the API shows it as sent."""
    assert answer(send(client, org, way, identify(when=value))) == ACCEPTED
    (contact,) = read_contacts(client, org)
    assert contact["attributes"] == {"when": value}
    assert attribute_types(database, org) == {"when": (kind, instant)}


TIMESTAMPS = cases(
    ("ISO 8601 with zone", "2026-03-01T12:30:45Z", NOON),
    ("ISO 8601 with fraction", "2026-03-01T12:30:45.5Z", HALF_PAST),
    ("ISO 8601 with nanoseconds", "2026-03-01T12:30:45.000000001Z", NOON),
    ("ISO 8601 with offset", "2026-03-01T14:30:45+02:00", NOON),
    ("ISO 8601 without zone", "2026-03-01T12:30:45", NOON),
    ("ISO 8601 basic format", "20260301T123045Z", NOON),
    ("ISO 8601 week date", "2026-W09-7", MIDNIGHT),
    ("date only", "2026-03-01", MIDNIGHT),
    ("year 0001", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+00:00"),
    ("year 9999", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59+00:00"),
)  # fmt: skip


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(("value", "expected"), TIMESTAMPS)
def test_timestamps_in_iso_8601_are_kept_in_utc(
    client: TestClient, org: Org, ted: int, way: str, value: str, expected: str
) -> None:
    assert answer(send(client, org, way, track(timestamp=value))) == ACCEPTED
    (event,) = read_events(client, org, ted)
    assert event["timestamp"] == expected


NOT_TIMESTAMPS = cases(
    ("RFC 2822", "Sun, 01 Mar 2026 12:30:45 +0000"),
    ("epoch seconds", 1772368245),
    ("epoch milliseconds", 1772368245123),
    ("epoch seconds as a string", "1772368245"),
    ("epoch milliseconds as a string", "1772368245123"),
    ("month 13, day 45", "2026-13-45"),
    ("February 30", "2026-02-30T00:00:00Z"),
    ("year 1 east of UTC", "0001-01-01T00:00:00+01:00"),
    ("year 9999 west of UTC", "9999-12-31T23:59:59-01:00"),
    ("empty string", ""),
    ("garbage", "garbage"),
)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("value", NOT_TIMESTAMPS)
def test_other_timestamps_are_rejected(
    client: TestClient, database: Database, org: Org, way: str, value: object
) -> None:
    assert answer(send(client, org, way, track(timestamp=value))) == rejected(
        way, not_a_date(value)
    )
    assert stored(database, org) == NOTHING


KEPT_EVENTS = cases(
    ("NUL in the event name", track("Sign\x00ed Up"), {"event": "Signed Up"}),
    ("NUL in a property", track(properties={"pl\x00an": "P\x00ro"}), {"properties": PLAN}),
    ("event name of 255 characters", track("E" * 255), {"event": "E" * 255}),
    ("event name of 255 emoji", track(EMOJI * 255), {"event": EMOJI * 255}),
    ("property name of 1,000 characters", track(properties=LONG_NAME), {"properties": LONG_NAME}),
    ("property value just under 32 KB", track(properties={"x": BLOB}), {"properties": {"x": BLOB}}),
    ("2,500 properties", track(properties=PROPERTIES_2500), {"properties": PROPERTIES_2500}),
    ("50 levels deep", track(properties=NESTED_50), {"properties": NESTED_50}),
    ("100 levels deep", track(properties=NESTED_100), {"properties": NESTED_100}),
    ("numbers beyond 64 bits", track(properties=BEYOND_64_BITS), {"properties": KEPT_64_BITS}),
    ("properties as null", track(properties=None), {"properties": {}}),
)  # fmt: skip


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(("message", "expected"), KEPT_EVENTS)
def test_events_keep_what_can_be_kept(
    client: TestClient,
    org: Org,
    ted: int,
    way: str,
    message: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    assert answer(send(client, org, way, message)) == ACCEPTED
    (event,) = read_events(client, org, ted)
    assert {name: event[name] for name in expected} == expected


@pytest.mark.parametrize("path", ["/v1/batch", "/segment"])
def test_2500_messages_are_the_most_a_request_takes(
    client: TestClient, database: Database, org: Org, ted: int, path: str
) -> None:
    messages = [track(f"E{i}") for i in range(2500)]
    body = batch(*messages) if path == "/v1/batch" else messages
    response = post(client, org, path, body)
    assert answer(response) == (200, {"success": True, "accepted": 2500, "duplicates": 0})
    assert stored(database, org)["events"] == 2500
    assert len(read_events(client, org, ted)) == 100
