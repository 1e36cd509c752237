"""Weekly digest: users' choice of digest emails, and the weeks queued per organization

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from promoter.storage.types import UTCDateTime

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("digest_emails", sa.Boolean(), nullable=True))
    op.create_table(
        "digest_weeks",
        sa.Column(
            "organization_id",
            sa.Integer(),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("week", sa.String(length=10), primary_key=True),
        sa.Column("queued_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("digest_weeks")
    op.drop_column("users", "digest_emails")
