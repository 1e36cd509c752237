"""analytics: typed response snapshots, feedback tags, saved segments

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import promoter.storage.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "response_attributes",
        sa.Column(
            "response_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("value_type", sa.String(length=8), nullable=False),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("value_number", sa.Float(), nullable=True),
        sa.Column("value_date", promoter.storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_response_attributes_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("response_id", "name", name=op.f("pk_response_attributes")),
    )
    op.create_index(
        "ix_response_attributes_org_name_text",
        "response_attributes",
        ["organization_id", "name", "value_text"],
    )
    op.create_table(
        "response_tags",
        sa.Column(
            "response_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("created_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_response_tags_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("response_id", "tag", name=op.f("pk_response_tags")),
    )
    op.create_index("ix_response_tags_org_tag", "response_tags", ["organization_id", "tag"])
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("filter", _json, nullable=False),
        sa.Column("created_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_segments_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("organization_id", "name", name="uq_segments_org_name"),
    )
    op.drop_index("ix_responses_org_created", table_name="responses")
    op.create_index(
        "ix_responses_org_created_covering",
        "responses",
        ["organization_id", "created_at", "campaign_id", "score", "contact_id"],
    )
    _backfill_response_attributes()


def _backfill_response_attributes() -> None:
    """Type the snapshots of responses recorded before this revision."""
    from promoter.domain.attributes import typed_value
    from promoter.domain.errors import InvalidMessage

    conn = op.get_bind()
    responses = sa.table(
        "responses",
        sa.column("id", sa.Integer()),
        sa.column("organization_id", sa.Integer()),
        sa.column("contact_snapshot", _json),
    )
    target = sa.table(
        "response_attributes",
        sa.column("response_id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("organization_id", sa.Integer()),
        sa.column("value_type", sa.String()),
        sa.column("value_text", sa.Text()),
        sa.column("value_number", sa.Float()),
        sa.column("value_date", promoter.storage.types.UTCDateTime()),
    )
    last_id = 0
    while True:
        batch = conn.execute(
            sa.select(responses)
            .where(responses.c.id > last_id)
            .order_by(responses.c.id)
            .limit(1000)
        ).all()
        if not batch:
            return
        rows: list[dict[str, Any]] = []
        for row in batch:
            for name, value in (row.contact_snapshot or {}).items():
                try:
                    typed = typed_value(value)
                except InvalidMessage:
                    continue
                if typed is None:
                    continue
                rows.append(
                    {
                        "response_id": row.id,
                        "name": name,
                        "organization_id": row.organization_id,
                        "value_type": typed.type,
                        "value_text": typed.text,
                        "value_number": typed.number,
                        "value_date": typed.date,
                    }
                )
        if rows:
            conn.execute(sa.insert(target), rows)
        last_id = batch[-1].id


def downgrade() -> None:
    op.drop_index("ix_responses_org_created_covering", table_name="responses")
    op.create_index("ix_responses_org_created", "responses", ["organization_id", "created_at"])
    op.drop_table("segments")
    op.drop_index("ix_response_tags_org_tag", table_name="response_tags")
    op.drop_table("response_tags")
    op.drop_index("ix_response_attributes_org_name_text", table_name="response_attributes")
    op.drop_table("response_attributes")
