"""segment source: survey facts sent to a Segment-compatible host, per organization

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import promoter.storage.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _json() -> Any:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "segment_sources",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("write_key", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=2000), nullable=False),
        sa.Column("events", _json(), nullable=False),
        sa.Column("identify", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("trait_prefix", sa.String(length=32), server_default="nps_", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("created_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("organization_id"),
    )
    op.create_table(
        "segment_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("message", _json(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("due_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.Column("claimed_until", promoter.storage.types.UTCDateTime(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.Column("delivered_at", promoter.storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "organization_id", "message_id", name="uq_segment_messages_org_message"
        ),
    )
    op.create_index("ix_segment_messages_status_due", "segment_messages", ["status", "due_at"])
    op.create_index(
        "ix_segment_messages_org_created", "segment_messages", ["organization_id", "created_at"]
    )
    op.create_index(
        "ix_segment_messages_org_user", "segment_messages", ["organization_id", "user_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_segment_messages_org_user", table_name="segment_messages")
    op.drop_index("ix_segment_messages_org_created", table_name="segment_messages")
    op.drop_index("ix_segment_messages_status_due", table_name="segment_messages")
    op.drop_table("segment_messages")
    op.drop_table("segment_sources")
