"""The distinct attribute names of an organization, and the lock that serialises new ones.

Both the Segment ingestion and the REST API cap the names an organization uses (see
``AttributeLimits``); they read the names with one query and, on PostgreSQL, decide on new
ones under the same advisory lock.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from promoter.storage.bulk import InSelect

#: The advisory lock (organization, NAMES_LOCK) serialises new names on PostgreSQL; the
#: userId locks of ingestion use (organization, 0..255).
NAMES_LOCK = 256

#: Each distinct name of an organization, one index lookup per name (a "loose index
#: scan": the (organization_id, name) index holds a row per contact and name).
ORGANIZATION_NAMES = InSelect(
    "WITH RECURSIVE found(name) AS ("
    " SELECT MIN(name) FROM contact_attributes WHERE organization_id = {p}"
    " UNION ALL"
    " SELECT (SELECT MIN(a.name) FROM contact_attributes a"
    " WHERE a.organization_id = {p} AND a.name > found.name)"
    " FROM found WHERE found.name IS NOT NULL)"
    " SELECT name FROM found WHERE name IS NOT NULL"
)


def lock_names(conn: Connection, organization_id: int) -> None:
    """On PostgreSQL, wait for other transactions adding names to this organization."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:org, :key)"),
            {"org": organization_id, "key": NAMES_LOCK},
        )


def organization_names(conn: Connection, organization_id: int) -> set[str]:
    return {row[0] for row in ORGANIZATION_NAMES.rows(conn, organization_id, organization_id)}
