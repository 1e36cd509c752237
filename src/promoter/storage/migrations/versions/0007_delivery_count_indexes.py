"""delivery counts from indexes: sent surveys covered, contacts by status

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_surveys_org_sent", table_name="surveys")
    op.create_index(
        "ix_surveys_org_sent_covering",
        "surveys",
        ["organization_id", "sent_at", "status", "campaign_id", "contact_id"],
    )
    op.create_index("ix_contacts_org_status", "contacts", ["organization_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_contacts_org_status", table_name="contacts")
    op.drop_index("ix_surveys_org_sent_covering", table_name="surveys")
    op.create_index("ix_surveys_org_sent", "surveys", ["organization_id", "sent_at"])
