"""follow-up questions: campaign questions, thanks URL and answer window; their answers

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import promoter.storage.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch_op:
        batch_op.add_column(
            sa.Column("questions", promoter.storage.types.Json, server_default="[]", nullable=False)
        )
        batch_op.add_column(sa.Column("thanks_url", sa.String(length=2000), nullable=True))
        batch_op.add_column(
            sa.Column("answer_window_days", sa.Integer(), server_default="30", nullable=True)
        )
    op.create_table(
        "response_answers",
        sa.Column(
            "response_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("question_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_response_answers_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "response_id", "question_id", "position", name=op.f("pk_response_answers")
        ),
    )
    op.create_index(
        "ix_response_answers_org_question",
        "response_answers",
        ["organization_id", "campaign_id", "question_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_response_answers_org_question", table_name="response_answers")
    op.drop_table("response_answers")
    with op.batch_alter_table("campaigns") as batch_op:
        batch_op.drop_column("answer_window_days")
        batch_op.drop_column("thanks_url")
        batch_op.drop_column("questions")
