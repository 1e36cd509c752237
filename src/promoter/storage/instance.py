"""Per-installation values kept in the database (``instance_settings``)."""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, select

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
