"""web channel: a campaign's channel, the organization's cooldown across campaigns and
channels, and when a web survey was shown or dismissed

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-09
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

import promoter.storage.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


#: The columns added, by table. Added and dropped in place (SQLite's ADD and DROP COLUMN):
#: recreating campaigns or organizations would cascade their deletion to what they own.
COLUMNS: dict[str, list[sa.Column[Any]]] = {
    "campaigns": [
        sa.Column("channel", sa.String(length=8), server_default="email", nullable=False)
    ],
    "organizations": [
        sa.Column("cooldown_days", sa.Integer(), server_default="30", nullable=False)
    ],
    "surveys": [
        sa.Column("shown_at", promoter.storage.types.UTCDateTime(), nullable=True),
        sa.Column("dismissed_at", promoter.storage.types.UTCDateTime(), nullable=True),
        sa.Column("page_url", sa.String(length=2000), nullable=True),
    ],
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        for column in columns:
            op.add_column(table, column)


def downgrade() -> None:
    for table, columns in reversed(COLUMNS.items()):
        for column in reversed(columns):
            op.drop_column(table, column.name)
