"""Per-installation values kept in the database (``instance_settings``)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, select, update

from promoter.storage.dialect import insert_for
from promoter.storage.tables import instance_settings

SECRET_KEY = "secret_key"


def instance_secret(conn: Connection, *, configured: str | None) -> str:
    """``PROMOTER_SECRET_KEY`` when set; else a random key made once and kept in the database."""
    if configured:
        return configured
    conn.execute(
        insert_for(conn, instance_settings)
        .values(key=SECRET_KEY, value=secrets.token_urlsafe(48))
        .on_conflict_do_nothing(index_elements=["key"])
    )
    value = conn.execute(
        select(instance_settings.c.value).where(instance_settings.c.key == SECRET_KEY)
    ).scalar_one()
    return str(value)


def _stamp(moment: datetime) -> str:
    """A time as text that sorts as the times do (UTC, fixed width)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def claim_turn(conn: Connection, *, key: str, now: datetime, every: timedelta) -> bool:
    """Take the turn named ``key`` for this transaction's process, unless some process took
    it less than ``every`` before ``now``: True when taken.

    The turn is a row of ``instance_settings`` holding when it was last taken, changed by
    one conditional update: on PostgreSQL a second process's update waits for the first's
    transaction, then finds the new time and changes nothing; on SQLite writers take turns
    anyway. A transaction that fails gives the turn back.
    """
    conn.execute(
        insert_for(conn, instance_settings)
        .values(key=key, value="")
        .on_conflict_do_nothing(index_elements=["key"])
    )
    taken = conn.execute(
        update(instance_settings)
        .where(instance_settings.c.key == key, instance_settings.c.value <= _stamp(now - every))
        .values(value=_stamp(now))
    )
    return taken.rowcount == 1
