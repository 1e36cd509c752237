"""analytics cache: what changed since, and erasures

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch_op:
        batch_op.add_column(
            sa.Column("analytics_epoch", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_index("ix_responses_org_updated", "responses", ["organization_id", "updated_at"])
    op.create_index("ix_surveys_org_sent", "surveys", ["organization_id", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_surveys_org_sent", table_name="surveys")
    op.drop_index("ix_responses_org_updated", table_name="responses")
    with op.batch_alter_table("organizations") as batch_op:
        batch_op.drop_column("analytics_epoch")
