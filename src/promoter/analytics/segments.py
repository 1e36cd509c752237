"""Saved segments: a named filter, reused by the API, the CLI and the dashboard.

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from promoter.analytics.filters import Expr, FilterError, parse_filter
from promoter.analytics.questions import check_answers
from promoter.domain.ids import MAX_INT_ID
from promoter.storage.tables import segments

MAX_NAME = 200
MAX_DESCRIPTION = 2000


class SegmentNotFound(LookupError):
    pass


class SegmentConflict(ValueError):
    """Another segment of the organization has that name."""


@dataclass(frozen=True, slots=True)
class Segment:
    id: int
    organization_id: int
    name: str
    description: str
    filter: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @property
    def expression(self) -> Expr:
        return parse_filter(self.filter)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "filter": self.filter,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _segment(row: Row[Any]) -> Segment:
    return Segment(
        row.id,
        row.organization_id,
        row.name,
        row.description,
        row.filter,
        row.created_at,
        row.updated_at,
    )


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or "\x00" in name:
        raise FilterError(f"a segment name is 1 to {MAX_NAME} characters")
    return name


def _clean_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION or "\x00" in description:
        raise FilterError(f"a description has at most {MAX_DESCRIPTION} characters")
    return description


def _check_filter(conn: Connection, organization_id: int, data: object) -> dict[str, Any]:
    expr = parse_filter(data)
    if not isinstance(data, dict):  # parse_filter accepts JSON text too; we store objects
        raise FilterError("filter: expected an object")
    check_answers(conn, organization_id=organization_id, expr=expr)
    return data


def create_segment(
    conn: Connection,
    *,
    organization_id: int,
    name: str,
    filter: object,
    description: str = "",
) -> Segment:
    now = datetime.now(UTC)
    name = _clean_name(name)
    values = {
        "organization_id": organization_id,
        "name": name,
        "description": _clean_description(description),
        "filter": _check_filter(conn, organization_id, filter),
        "created_at": now,
        "updated_at": now,
    }
    if _by_name(conn, organization_id, name) is not None:
        raise SegmentConflict(f"a segment named {name!r} exists")
    try:
        with conn.begin_nested():
            row = conn.execute(insert(segments).values(**values).returning(*segments.c)).one()
    except IntegrityError:
        raise SegmentConflict(f"a segment named {name!r} exists") from None
    return _segment(row)


def list_segments(conn: Connection, *, organization_id: int) -> list[Segment]:
    rows = conn.execute(
        select(segments)
        .where(segments.c.organization_id == organization_id)
        .order_by(segments.c.name, segments.c.id)
    ).all()
    return [_segment(row) for row in rows]


def _by_name(conn: Connection, organization_id: int, name: str) -> Segment | None:
    row = conn.execute(
        select(segments).where(
            segments.c.organization_id == organization_id, segments.c.name == name
        )
    ).one_or_none()
    return None if row is None else _segment(row)


#: Segment ids are 32-bit; a larger number can only be a name.
MAX_SEGMENT_ID = MAX_INT_ID


def get_segment(conn: Connection, *, organization_id: int, segment: int | str) -> Segment:
    """A segment by id, or by name (a name that is all digits is tried as an id first)."""
    found: Segment | None = None
    as_id = segment if isinstance(segment, int) else int(segment) if segment.isdigit() else 0
    if 1 <= as_id <= MAX_SEGMENT_ID:
        row = conn.execute(
            select(segments).where(
                segments.c.organization_id == organization_id, segments.c.id == as_id
            )
        ).one_or_none()
        found = None if row is None else _segment(row)
    if found is None and isinstance(segment, str):
        found = _by_name(conn, organization_id, segment)
    if found is None:
        raise SegmentNotFound(f"no segment {segment!r}")
    return found


def update_segment(
    conn: Connection,
    *,
    organization_id: int,
    segment_id: int,
    name: str | None = None,
    filter: object | None = None,
    description: str | None = None,
) -> Segment:
    current = get_segment(conn, organization_id=organization_id, segment=segment_id)
    values: dict[str, Any] = {"updated_at": datetime.now(UTC)}
    if name is not None:
        values["name"] = _clean_name(name)
        other = _by_name(conn, organization_id, values["name"])
        if other is not None and other.id != current.id:
            raise SegmentConflict(f"a segment named {values['name']!r} exists")
    if filter is not None:
        values["filter"] = _check_filter(conn, organization_id, filter)
    if description is not None:
        values["description"] = _clean_description(description)
    conn.execute(update(segments).where(segments.c.id == current.id).values(**values))
    return get_segment(conn, organization_id=organization_id, segment=current.id)


def delete_segment(conn: Connection, *, organization_id: int, segment_id: int) -> None:
    result = conn.execute(
        delete(segments).where(
            segments.c.organization_id == organization_id, segments.c.id == segment_id
        )
    )
    if result.rowcount == 0:
        raise SegmentNotFound(f"no segment {segment_id}")
