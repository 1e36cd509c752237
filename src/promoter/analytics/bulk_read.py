"""An organization's responses read in bulk into numpy arrays, the fastest way each
database offers: on PostgreSQL, each response packed by the server into a fixed-width binary
record and the records concatenated (a few values in all, decoded by numpy at once),
plain cursor rows on SQLite (no per-row objects beyond the driver's tuples).

``+organization_id`` (``organization_id + 0``) keeps the planner off the indexes: reading a
whole organization is a sequential scan, where an index would cost a random table read
per row. The order is made in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection

from promoter.analytics.numpy_arrays import micros_of
from promoter.domain.channels import CHANNELS

#: Type codes of attribute values (0: the response has no such attribute).
KINDS = {"string": 1, "number": 2, "boolean": 3, "date": 4, "list": 5}

#: The arrays read: each response's id, time (microseconds), campaign, contact, score,
#: whether it has a comment, whether it is closed, and its channel's index in CHANNELS.
FIELDS = ("id", "created", "campaign", "contact", "score", "commented", "closed", "channel")

_SQLITE = (
    "SELECT id, created_at, campaign_id, contact_id, score,"
    " CASE WHEN comment IS NOT NULL AND comment <> '' THEN 1 ELSE 0 END,"
    " CASE WHEN status = 'CLOSED' THEN 1 ELSE 0 END, channel"
    " FROM responses WHERE +organization_id = ?"
)
_CHANNEL_LIST = ", ".join(f"'{channel}'" for channel in CHANNELS)
#: Every column NOT NULL and of a fixed width: each response one fixed-width record of
#: its fields' binary forms, the records of each million ids concatenated by the server.
_POSTGRES = (
    "SELECT string_agg(int8send(id)"
    " || int8send((extract(epoch FROM created_at) * 1000000)::int8)"
    " || int4send(campaign_id) || int8send(contact_id) || int2send(score::int2)"
    " || boolsend(comment IS NOT NULL AND comment <> '') || boolsend(status = 'CLOSED')"
    f" || int2send(coalesce(array_position(ARRAY[{_CHANNEL_LIST}]::text[], channel::text) - 1,"
    " -1)::int2), ''::bytea)"
    " FROM responses WHERE organization_id + 0 = %s GROUP BY id / 1048576"
)
_RECORD = np.dtype(
    list(zip(FIELDS, (">i8", ">i8", ">i4", ">i8", ">i2", "?", "?", ">i2"), strict=True))
)


def responses_of(conn: Connection, organization_id: int) -> dict[str, Any]:
    """The organization's responses as arrays named by FIELDS (in no particular order)."""
    if conn.dialect.name == "postgresql":
        return _postgres(conn, int(organization_id))
    return _sqlite(conn, organization_id)


def _sqlite(conn: Connection, organization_id: int) -> dict[str, Any]:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_SQLITE, (organization_id,))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return _empty()
    ids, created, campaign, contact, score, commented, closed, channel = zip(*rows, strict=True)
    codes = {name: code for code, name in enumerate(CHANNELS)}
    return {
        "id": np.asarray(ids, np.int64),
        "created": micros_of(created),
        "campaign": np.asarray(campaign, np.int32),
        "contact": np.asarray(contact, np.int64),
        "score": np.asarray(score, np.int8),
        "commented": np.asarray(commented, np.bool_),
        "closed": np.asarray(closed, np.bool_),
        "channel": np.fromiter(map(codes.__getitem__, channel), np.int8, len(channel)),
    }


def _postgres(conn: Connection, organization_id: int) -> dict[str, Any]:
    driver: Any = conn.connection.dbapi_connection
    with driver.cursor() as cursor:
        cursor.execute(_POSTGRES, (organization_id,), binary=True)
        chunks = [bytes(row[0]) for row in cursor.fetchall()]
    data = b"".join(chunks)
    if len(data) % _RECORD.itemsize:
        raise ValueError("response records of an unexpected width")
    rows = np.frombuffer(data, _RECORD)
    channel = rows["channel"].astype(np.int8)
    if (channel < 0).any():
        raise ValueError("a response of an unknown channel")
    return {
        "id": rows["id"].astype(np.int64),
        "created": rows["created"].astype(np.int64),
        "campaign": rows["campaign"].astype(np.int32),
        "contact": rows["contact"].astype(np.int64),
        "score": rows["score"].astype(np.int8),
        "commented": rows["commented"].astype(np.bool_),
        "closed": rows["closed"].astype(np.bool_),
        "channel": channel,
    }


def _empty() -> dict[str, Any]:
    kinds = (np.int64, np.int64, np.int32, np.int64, np.int8, np.bool_, np.bool_, np.int8)
    return {name: np.zeros(0, kind) for name, kind in zip(FIELDS, kinds, strict=True)}


@dataclass(frozen=True, slots=True)
class AttributeRows:
    """One attribute's values over an organization's responses: each row's response id,
    type code (``KINDS``), number (NaN: none; dates as microseconds) and text code (an
    index into ``texts``, the distinct canonical texts)."""

    ids: Any
    kinds: Any
    numbers: Any
    codes: Any
    texts: list[str]


_KIND_CASE = " ".join(f"WHEN '{name}' THEN {code}" for name, code in KINDS.items())
#: The texts numbered by the server, and each row packed into a fixed-width record.
_POSTGRES_ATTRIBUTE = (
    "WITH a AS MATERIALIZED (SELECT response_id, value_type, coalesce(value_text, '') AS t,"
    " CASE WHEN value_type = 'date'"
    " THEN coalesce((extract(epoch FROM value_date) * 1000000)::float8, 'NaN'::float8)"
    " ELSE coalesce(value_number, 'NaN'::float8) END AS number"
    " FROM response_attributes WHERE organization_id = %(org)s AND name = %(name)s),"
    ' d AS (SELECT t, (row_number() OVER (ORDER BY t COLLATE "C") - 1)::int4 AS code'
    " FROM (SELECT DISTINCT t FROM a) AS distinct_texts)"
    " SELECT (SELECT array_agg(t ORDER BY code) FROM d),"
    " string_agg(int8send(a.response_id)"
    f" || int2send(coalesce(CASE a.value_type {_KIND_CASE} END, -1)::int2)"
    " || float8send(a.number) || int4send(d.code), ''::bytea)"
    " FROM a JOIN d ON d.t = a.t"
)
_ATTRIBUTE_RECORD = np.dtype([("id", ">i8"), ("kind", ">i2"), ("number", ">f8"), ("code", ">i4")])


def attribute_rows(conn: Connection, organization_id: int, name: str) -> AttributeRows | None:
    """The attribute's rows read in one packed value on PostgreSQL; None elsewhere (the
    caller reads them row by row)."""
    if conn.dialect.name != "postgresql":
        return None
    driver: Any = conn.connection.dbapi_connection
    with driver.cursor() as cursor:
        cursor.execute(_POSTGRES_ATTRIBUTE, {"org": organization_id, "name": name}, binary=True)
        texts, packed = cursor.fetchone()
    data = bytes(packed or b"")
    if len(data) % _ATTRIBUTE_RECORD.itemsize:
        raise ValueError("attribute records of an unexpected width")
    rows = np.frombuffer(data, _ATTRIBUTE_RECORD)
    kinds = rows["kind"].astype(np.int8)
    if (kinds < 0).any():
        raise ValueError(f"attribute {name!r}: a value of an unknown type")
    return AttributeRows(
        rows["id"].astype(np.int64),
        kinds,
        rows["number"].astype(np.float64),
        rows["code"].astype(np.int32),
        list(texts or []),
    )


_SQLITE_ATTRIBUTE = (
    "SELECT response_id, name, value_type, value_text, value_number, value_date"
    " FROM response_attributes WHERE organization_id = ? AND name = ?"
)


def attribute_batches(
    conn: Connection, organization_id: int, name: str, size: int
) -> Iterator[Sequence[Any]]:
    """The attribute's rows on SQLite, ``size`` at a time, as the driver's tuples: (response
    id, name, type, text, number, date as stored)."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_SQLITE_ATTRIBUTE, (organization_id, name))
        while batch := cursor.fetchmany(size):
            yield batch
    finally:
        cursor.close()


#: When a response's survey was sent, in microseconds, or NEVER: not sent, or not answered
#: (a survey's status can move on from "answered": sent by email after an in-app answer).
NEVER = np.iinfo(np.int64).min
_SURVEYS_SENT = (
    "SELECT r.id, CASE WHEN s.status = 'answered' THEN {sent} END"
    " FROM responses r JOIN surveys s ON s.id = r.survey_id WHERE {organization}"
)
_SQLITE_SURVEYS_SENT = _SURVEYS_SENT.format(sent="s.sent_at", organization="+r.organization_id = ?")
_POSTGRES_SURVEYS_SENT = _SURVEYS_SENT.format(
    sent="(extract(epoch FROM s.sent_at) * 1000000)::int8",
    organization="r.organization_id + 0 = %s",
)


def surveys_sent_of(conn: Connection, organization_id: int) -> tuple[Any, Any]:
    """Each response's id and when its survey was sent, as answered (NEVER: not)."""
    postgres = conn.dialect.name == "postgresql"
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(
            _POSTGRES_SURVEYS_SENT if postgres else _SQLITE_SURVEYS_SENT, (organization_id,)
        )
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ids, sent = zip(*rows, strict=True)
    if postgres:
        times = np.fromiter((NEVER if t is None else t for t in sent), np.int64, len(sent))
    else:
        times = micros_of(sent)  # None reads as NaT, which is NEVER
    return np.asarray(ids, np.int64), times
