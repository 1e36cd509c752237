"""comment search: the full-text index of the responses' comments (FTS5 on SQLite, a GIN
index on PostgreSQL), with the comments already there indexed

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from promoter.storage.comment_search import (
    CREATE_FTS_TABLE,
    FTS_TABLE,
    PG_INDEX,
    TRIGGERS,
    pg_index_expression,
)

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(CREATE_FTS_TABLE)
        for statement in TRIGGERS.values():
            op.execute(statement)
        op.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
        return
    op.create_index(PG_INDEX, "responses", [sa.text(pg_index_expression())], postgresql_using="gin")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
        return
    op.drop_index(PG_INDEX, table_name="responses")
