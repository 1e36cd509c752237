"""shown once: what a dashboard page shows once after a redirect, kept in the database so
that any server process can show it

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from promoter.storage.types import UTCDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shown_once",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_shown_once_expires_at", "shown_once", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_shown_once_expires_at", table_name="shown_once")
    op.drop_table("shown_once")
