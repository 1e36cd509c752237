"""web channel: a campaign's channel, the organization's cooldown across campaigns and
channels, and when a web survey was shown or dismissed

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import promoter.storage.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=8), server_default="email", nullable=False)
        )
    with op.batch_alter_table("organizations") as batch_op:
        batch_op.add_column(
            sa.Column("cooldown_days", sa.Integer(), server_default="30", nullable=False)
        )
    with op.batch_alter_table("surveys") as batch_op:
        batch_op.add_column(
            sa.Column("shown_at", promoter.storage.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("dismissed_at", promoter.storage.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("page_url", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("surveys") as batch_op:
        batch_op.drop_column("page_url")
        batch_op.drop_column("dismissed_at")
        batch_op.drop_column("shown_at")
    with op.batch_alter_table("organizations") as batch_op:
        batch_op.drop_column("cooldown_days")
    with op.batch_alter_table("campaigns") as batch_op:
        batch_op.drop_column("channel")
