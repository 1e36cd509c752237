"""campaign counts: each campaign's surveys and responses per channel and day, kept by
triggers on surveys and responses, with the rows already there counted

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from promoter.storage.campaign_counts import (
    COUNTS,
    backfill_statements,
    postgresql_drops,
    postgresql_statements,
    sqlite_triggers,
)

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_day_counts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), server_default="0", nullable=False) for name in COUNTS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_day_counts")),
    )
    op.create_index(
        "ix_campaign_day_counts_org_day",
        "campaign_day_counts",
        ["organization_id", "day", "campaign_id", "channel"],
    )
    dialect = op.get_bind().dialect.name
    # Writes wait for this migration (on PostgreSQL, the SHARE lock until it commits; on
    # SQLite, the one writer is here): each row is counted once, by the backfill.
    if dialect == "sqlite":
        for statement in sqlite_triggers().values():
            op.execute(statement)
    else:
        op.execute("LOCK TABLE surveys, responses IN SHARE MODE")
        for statement in postgresql_statements():
            op.execute(statement)
    for statement in backfill_statements(dialect):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in sqlite_triggers():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for statement in postgresql_drops():
            op.execute(statement)
    op.drop_index("ix_campaign_day_counts_org_day", table_name="campaign_day_counts")
    op.drop_table("campaign_day_counts")
