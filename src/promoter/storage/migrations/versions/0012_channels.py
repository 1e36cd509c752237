"""channels: the channel of every survey and response, and the page a web survey was answered on

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("surveys") as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=8), server_default="email", nullable=False)
        )
    with op.batch_alter_table("responses") as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=8), server_default="email", nullable=False)
        )
        batch_op.add_column(sa.Column("page_url", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    # In place (SQLite 3.35+): recreating surveys would cascade to their responses.
    op.drop_column("responses", "page_url")
    op.drop_column("responses", "channel")
    op.drop_column("surveys", "channel")
