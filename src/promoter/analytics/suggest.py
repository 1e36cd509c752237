"""What the filter builder offers: attribute names, their values, event names; an
attribute's values most frequent first, as the user types; and the values a condition may
have meant but for case.

Each list is read by a loose index scan (one index seek per distinct value, through a
recursive query), so it costs the number of distinct values, not the number of rows; the
most frequent values are counted through the (organization, name, value) index.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select, text

from promoter.storage.tables import (
    contact_attributes,
    events,
    response_attributes,
    response_tags,
)

MAX_NAMES = 300
MAX_VALUES = 100
MAX_VARIANTS = 3
MAX_SUGGESTIONS = 20


def _distinct(
    conn: Connection,
    table: str,
    column: str,
    where: str,
    params: dict[str, Any],
    limit: int,
) -> list[str]:
    statement = text(
        f"""
        WITH RECURSIVE seen(v, n) AS (
            SELECT (SELECT min({column}) FROM {table} WHERE {where}), 1
            UNION ALL
            SELECT (SELECT min({column}) FROM {table} WHERE {where} AND {column} > seen.v), n + 1
            FROM seen WHERE seen.v IS NOT NULL AND n < :limit
        )
        SELECT v FROM seen WHERE v IS NOT NULL
        """
    )
    return [row[0] for row in conn.execute(statement, {**params, "limit": limit})]


def attribute_names(
    conn: Connection, *, organization_id: int, current: bool = False, limit: int = MAX_NAMES
) -> list[str]:
    """Names of attributes in response snapshots (or on contacts now, with ``current``)."""
    table = contact_attributes.name if current else response_attributes.name
    return _distinct(conn, table, "name", "organization_id = :org", {"org": organization_id}, limit)


def attribute_values(
    conn: Connection,
    *,
    organization_id: int,
    name: str,
    current: bool = False,
    limit: int = MAX_VALUES,
) -> list[str]:
    """The first ``limit`` distinct values (canonical text) of one attribute."""
    table = contact_attributes.name if current else response_attributes.name
    return _distinct(
        conn,
        table,
        "value_text",
        "organization_id = :org AND name = :name",
        {"org": organization_id, "name": name},
        limit,
    )


def event_names(conn: Connection, *, organization_id: int, limit: int = MAX_NAMES) -> list[str]:
    return _distinct(
        conn, events.name, "name", "organization_id = :org", {"org": organization_id}, limit
    )


def tag_names(conn: Connection, *, organization_id: int, limit: int = MAX_NAMES) -> list[str]:
    return _distinct(
        conn, response_tags.name, "tag", "organization_id = :org", {"org": organization_id}, limit
    )


def frequent_values(
    conn: Connection,
    *,
    organization_id: int,
    name: str,
    containing: str = "",
    limit: int = MAX_SUGGESTIONS,
) -> list[str]:
    """The values of attribute ``name`` in responses (lists left out) that contain
    ``containing`` ignoring case, those of the most responses first."""
    a = response_attributes.c
    count = func.count()
    values = (
        select(a.value_text)
        .where(a.organization_id == organization_id, a.name == name, a.value_type != "list")
        .group_by(a.value_text)
        .order_by(count.desc(), a.value_text)
        .limit(limit)
    )
    if containing:
        lowered, needle = func.lower(a.value_text), func.lower(containing)
        found = (
            func.strpos(lowered, needle)
            if conn.dialect.name == "postgresql"
            else func.instr(lowered, needle)
        )
        values = values.having(found > 0)
    return list(conn.execute(values).scalars())


def case_variants(
    conn: Connection, *, organization_id: int, name: str, value: str, limit: int = MAX_VARIANTS
) -> list[str]:
    """The values of attribute ``name`` in responses that are ``value`` but for case, when
    no response has ``value`` itself (else none): what ``plan is enterprise`` meant."""
    a = response_attributes.c
    mine = (a.organization_id == organization_id, a.name == name)
    if conn.execute(select(1).where(*mine, a.value_text == value).limit(1)).first():
        return []
    variants = (
        select(a.value_text)
        .where(*mine, func.lower(a.value_text) == func.lower(value))
        .distinct()
        .order_by(a.value_text)
        .limit(limit)
    )
    return list(conn.execute(variants).scalars())
