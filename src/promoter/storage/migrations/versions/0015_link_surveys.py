"""link surveys: a campaign's public link key (NULL: no public link)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN and an index: SQLite alters the table in place (recreating it would
    # cascade the campaigns' deletion to their surveys).
    op.add_column("campaigns", sa.Column("link_key", sa.String(length=32), nullable=True))
    op.create_index("uq_campaigns_link_key", "campaigns", ["link_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_campaigns_link_key", table_name="campaigns")
    op.drop_column("campaigns", "link_key")  # SQLite 3.35+ drops it in place
