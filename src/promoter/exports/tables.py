"""The tables a warehouse export writes: their columns and types, which rows changed since a
time, and a page of rows read by id (keyset paging, so any size reads in bounded memory)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import ColumnElement, Connection, Table, and_, exists, func, or_, select

from promoter.contacts.service import attributes_of, listed
from promoter.domain.nps import score_type
from promoter.feedback.reading import Feedback, load_feedback
from promoter.storage.tables import contact_attributes, contacts, events, responses, surveys

#: int: 64-bit integer; text: string; time: UTC timestamp; json: JSON text; tags: a list of
#: strings (JSON text in CSV); map: name -> value as text (Parquet only).
Kind = Literal["int", "text", "time", "json", "tags", "map"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = True
    #: Written to Parquet files only (CSV has the same data in a JSON column).
    parquet_only: bool = False


Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExportTable:
    name: str
    table: Table
    columns: tuple[Column, ...]
    #: The rows changed at or after a time (the incremental export's condition).
    changed: Callable[[datetime], ColumnElement[bool]]
    #: The organization's rows with these ids, in this order.
    load: Callable[[Connection, int, list[int]], list[Row]]
    #: Rows in this status may still change without stamping a time: an incremental
    #: export remembers their ids and reads them again the next time.
    open_status: str | None = None
    #: The rows exported at all (None: every row of the organization).
    only: ColumnElement[bool] | None = None

    def scope(self, organization_id: int) -> list[ColumnElement[bool]]:
        """The conditions every read of the table starts from."""
        where = [self.table.c.organization_id == organization_id]
        return where if self.only is None else [*where, self.only]

    def columns_for(self, fmt: str) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if fmt == "parquet" or not c.parquet_only)


def _id(name: str = "id", nullable: bool = False) -> Column:
    return Column(name, "int", nullable)


def _stamped(column: Any, since: datetime) -> ColumnElement[bool]:
    """True or false, never NULL, so the condition can be negated."""
    return and_(column.is_not(None), column >= since)


def _values_as_text(attributes: dict[str, Any]) -> dict[str, str]:
    """Attribute values for a map column: text as is, the rest as JSON."""
    return {
        name: value if isinstance(value, str) else orjson.dumps(value).decode()
        for name, value in attributes.items()
    }


# -- contacts --------------------------------------------------------------------------------


def _contacts_changed(since: datetime) -> ColumnElement[bool]:
    a = contact_attributes.c
    touched = exists().where(a.contact_id == contacts.c.id, a.updated_at >= since)
    return or_(contacts.c.updated_at >= since, touched)


_CONTACT_FIELDS = (
    "id",
    "user_id",
    "email",
    "first_name",
    "last_name",
    "timezone",
    "status",
    "created_at",
    "updated_at",
)


def _load_contacts(conn: Connection, organization_id: int, ids: list[int]) -> list[Row]:
    c = contacts.c
    rows = conn.execute(
        select(*(c[name] for name in _CONTACT_FIELDS))
        .where(c.organization_id == organization_id, c.id.in_(ids))
        .order_by(c.id)
    ).all()
    attributes = attributes_of(conn, [row.id for row in rows])
    return [
        {
            **row._asdict(),
            "attributes": attributes[row.id],
            "attributes_map": _values_as_text(attributes[row.id]),
        }
        for row in rows
    ]


CONTACTS = ExportTable(
    name="contacts",
    table=contacts,
    columns=(
        _id(),
        Column("user_id", "text"),
        Column("email", "text", nullable=False),
        Column("first_name", "text"),
        Column("last_name", "text"),
        Column("timezone", "text"),
        Column("status", "text", nullable=False),
        Column("created_at", "time", nullable=False),
        Column("updated_at", "time", nullable=False),
        Column("attributes", "json", nullable=False),
        Column("attributes_map", "map", nullable=False, parquet_only=True),
    ),
    changed=_contacts_changed,
    load=_load_contacts,
    only=listed(),  # not the anonymous contacts of link answers
)

# -- responses -------------------------------------------------------------------------------


def _response_row(item: Feedback) -> Row:
    return {
        "id": item.id,
        "survey_id": item.survey_id,
        "campaign_id": item.campaign_id,
        "contact_id": item.contact.id,
        "user_id": item.contact.user_id,
        "score": item.score,
        "category": score_type(item.score),
        "comment": item.comment,
        "status": item.status,
        "tags": item.tags,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "comment_updated_at": item.comment_updated_at,
        "channel": item.channel,
        "page_url": item.page_url,
        "attributes": item.snapshot,
        "attributes_map": _values_as_text(item.snapshot),
        "answers": [answer.to_json() for answer in item.answers],
    }


def _load_responses(conn: Connection, organization_id: int, ids: list[int]) -> list[Row]:
    found = load_feedback(conn, organization_id, ids, current_attributes=False)
    return [_response_row(item) for item in found]


RESPONSES = ExportTable(
    name="responses",
    table=responses,
    columns=(
        _id(),
        _id("survey_id"),
        _id("campaign_id"),
        _id("contact_id"),
        Column("user_id", "text"),
        Column("score", "int", nullable=False),
        Column("category", "text", nullable=False),
        Column("comment", "text"),
        Column("status", "text", nullable=False),
        Column("tags", "tags", nullable=False),
        Column("created_at", "time", nullable=False),
        Column("updated_at", "time", nullable=False),
        Column("comment_updated_at", "time"),
        Column("channel", "text", nullable=False),
        Column("page_url", "text"),
        Column("attributes", "json", nullable=False),
        Column("attributes_map", "map", nullable=False, parquet_only=True),
        Column("answers", "json", nullable=False),
    ),
    changed=lambda since: responses.c.updated_at >= since,
    load=_load_responses,
)

# -- surveys ---------------------------------------------------------------------------------

#: Surveys have no updated_at: these are the times their changes stamp. Cancelling or
#: failing a scheduled survey stamps none (hence ``open_status``).
_SURVEY_TIMES = ("created_at", "sent_at", "reminder_sent_at", "answered_at")


def _load_surveys(conn: Connection, organization_id: int, ids: list[int]) -> list[Row]:
    s = surveys.c
    names = (
        "id",
        "campaign_id",
        "contact_id",
        "channel",
        "status",
        "scheduled_at",
        *_SURVEY_TIMES[1:],
    )
    rows = conn.execute(
        select(*(s[name] for name in (*names, "created_at")))
        .where(s.organization_id == organization_id, s.id.in_(ids))
        .order_by(s.id)
    ).all()
    return [row._asdict() for row in rows]


SURVEYS = ExportTable(
    name="surveys",
    table=surveys,
    columns=(
        _id(),
        _id("campaign_id"),
        _id("contact_id"),
        Column("channel", "text", nullable=False),
        Column("status", "text", nullable=False),
        Column("scheduled_at", "time", nullable=False),
        Column("sent_at", "time"),
        Column("reminder_sent_at", "time"),
        Column("answered_at", "time"),
        Column("created_at", "time", nullable=False),
    ),
    changed=lambda since: or_(*(_stamped(surveys.c[name], since) for name in _SURVEY_TIMES)),
    load=_load_surveys,
    open_status="scheduled",
)

# -- events ----------------------------------------------------------------------------------


def _load_events(conn: Connection, organization_id: int, ids: list[int]) -> list[Row]:
    e = events.c
    rows = conn.execute(
        select(e.id, e.contact_id, e.user_id, e.name, e.properties, e.timestamp, e.received_at)
        .where(e.organization_id == organization_id, e.id.in_(ids))
        .order_by(e.id)
    ).all()
    return [row._asdict() for row in rows]


EVENTS = ExportTable(
    name="events",
    table=events,
    columns=(
        _id(),
        _id("contact_id", nullable=True),
        Column("user_id", "text", nullable=False),
        Column("name", "text", nullable=False),
        Column("properties", "json", nullable=False),
        Column("timestamp", "time", nullable=False),
        Column("received_at", "time", nullable=False),
    ),
    # Events never change: the time they were received says what is new.
    changed=lambda since: events.c.received_at >= since,
    load=_load_events,
)

TABLES: dict[str, ExportTable] = {t.name: t for t in (CONTACTS, RESPONSES, SURVEYS, EVENTS)}


# -- reading ---------------------------------------------------------------------------------


def page_ids(
    conn: Connection,
    table: ExportTable,
    *,
    organization_id: int,
    since: datetime | None,
    after_id: int,
    limit: int,
) -> list[int]:
    """The next ids (ascending, past ``after_id``) of the rows changed since ``since``
    (``None``: every row)."""
    t = table.table.c
    where = [*table.scope(organization_id), t.id > after_id]
    if since is not None:
        where.append(table.changed(since))
    stmt = select(t.id).where(*where).order_by(t.id).limit(limit)
    return [int(i) for i in conn.execute(stmt).scalars()]


def unchanged_ids(
    conn: Connection,
    table: ExportTable,
    *,
    organization_id: int,
    since: datetime,
    ids: Sequence[int],
) -> list[int]:
    """Those of ``ids`` that still exist and did not change since ``since`` (read apart
    from the changed rows, so nothing is written twice)."""
    t = table.table.c
    stmt = (
        select(t.id)
        .where(*table.scope(organization_id), t.id.in_(list(ids)), ~table.changed(since))
        .order_by(t.id)
    )
    return [int(i) for i in conn.execute(stmt).scalars()]


def count_rows(
    conn: Connection, table: ExportTable, *, organization_id: int, since: datetime | None
) -> int:
    """How many rows an export of the table reads (for a progress bar)."""
    where = table.scope(organization_id)
    if since is not None:
        where.append(table.changed(since))
    stmt = select(func.count()).select_from(table.table).where(*where)
    return int(conn.execute(stmt).scalar_one())
