"""score clicks: one-click answers from the survey page, settled after a quiet period

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import promoter.storage.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "score_clicks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column(
            "survey_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.Column("decided_at", promoter.storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_score_clicks_survey", "score_clicks", ["survey_id", "created_at"])
    op.create_index("ix_score_clicks_status_created", "score_clicks", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_score_clicks_status_created", table_name="score_clicks")
    op.drop_index("ix_score_clicks_survey", table_name="score_clicks")
    op.drop_table("score_clicks")
