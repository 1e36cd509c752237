"""web surveys settings: an organization's site key, identity secret and allowed origins

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import promoter.storage.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _json() -> Any:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "web_surveys_settings",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("site_key", sa.String(length=64), nullable=False),
        sa.Column("identity_secret", sa.String(length=128), nullable=False),
        sa.Column("previous_secret", sa.String(length=128), nullable=True),
        sa.Column("previous_secret_until", promoter.storage.types.UTCDateTime(), nullable=True),
        sa.Column("allowed_origins", _json(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("organization_id"),
        sa.UniqueConstraint("site_key", name="uq_web_surveys_settings_site_key"),
    )


def downgrade() -> None:
    op.drop_table("web_surveys_settings")
