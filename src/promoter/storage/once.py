"""Claiming a piece of work once across server processes: insert its row keyed by what it
is (an organization and a day, say), or find it already there."""

from __future__ import annotations

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def claim_once(conn: Connection, table: Table, **row: object) -> bool:
    """Insert ``row`` into ``table`` unless its primary key is there; False when another
    has it. On PostgreSQL a second claimer waits for the first's transaction, then finds
    the row: the claim and the work recorded with it commit together or not at all."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    key = next(iter(table.primary_key.columns))
    inserted = conn.execute(
        dialect.insert(table).values(**row).on_conflict_do_nothing().returning(key)
    ).first()
    return inserted is not None
