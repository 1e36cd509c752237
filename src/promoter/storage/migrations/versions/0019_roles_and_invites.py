"""roles and invites: users' and API keys' roles (existing ones become admins), and
one-time invitations to join an organization

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from promoter.storage.types import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN with a default: SQLite alters the tables in place, and every user and key
    # there already is an admin, as they could do everything before roles.
    op.add_column(
        "users", sa.Column("role", sa.String(length=16), nullable=False, server_default="admin")
    )
    op.add_column(
        "api_keys",
        sa.Column("role", sa.String(length=16), nullable=False, server_default="admin"),
    )
    op.create_table(
        "user_invites",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "organization_id",
            sa.Integer(),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("invited_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_user_invites_organization_id", "user_invites", ["organization_id"])


def downgrade() -> None:
    op.drop_index("ix_user_invites_organization_id", table_name="user_invites")
    op.drop_table("user_invites")
    op.drop_column("api_keys", "role")
    op.drop_column("users", "role")
