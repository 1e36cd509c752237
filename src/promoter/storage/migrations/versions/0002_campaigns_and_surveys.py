"""campaigns and surveys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import promoter.storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "email_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("from_name", sa.String(length=200), nullable=False),
        sa.Column("reply_to", sa.String(length=320), nullable=True),
        sa.Column("intro_message", sa.Text(), server_default="", nullable=False),
        sa.Column("brand_name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), server_default="en", nullable=False),
        sa.Column("logo_url", sa.String(length=2000), nullable=True),
        sa.Column("created_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_email_templates_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_templates")),
    )
    with op.batch_alter_table("email_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_email_templates_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("contact_list_id", sa.Integer(), nullable=False),
        sa.Column("email_template_id", sa.Integer(), nullable=False),
        sa.Column(
            "trigger_events",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("delay_minutes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("throttle_days", sa.Integer(), server_default="90", nullable=False),
        sa.Column("weekdays_only", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("send_window_start", sa.Integer(), nullable=True),
        sa.Column("send_window_end", sa.Integer(), nullable=True),
        sa.Column("reminder_days", sa.Integer(), nullable=True),
        sa.Column("forward_email", sa.String(length=320), nullable=True),
        sa.Column("created_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_list_id"],
            ["contact_lists.id"],
            name=op.f("fk_campaigns_contact_list_id_contact_lists"),
        ),
        sa.ForeignKeyConstraint(
            ["email_template_id"],
            ["email_templates.id"],
            name=op.f("fk_campaigns_email_template_id_email_templates"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_campaigns_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaigns_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "surveys",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column(
            "trigger_event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("scheduled_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.Column("sent_at", promoter.storage.types.UTCDateTime(), nullable=True),
        sa.Column("reminder_due_at", promoter.storage.types.UTCDateTime(), nullable=True),
        sa.Column("reminder_sent_at", promoter.storage.types.UTCDateTime(), nullable=True),
        sa.Column("answered_at", promoter.storage.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_surveys_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_surveys_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("token", name=op.f("uq_surveys_token")),
    )
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.create_index("ix_surveys_campaign_status", ["campaign_id", "status"], unique=False)
        batch_op.create_index(
            "ix_surveys_org_contact_created",
            ["organization_id", "contact_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column(
            "survey_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed_until", promoter.storage.types.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("sent_at", promoter.storage.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["surveys.id"],
            name=op.f("fk_deliveries_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_status_due", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_deliveries_survey", ["survey_id"], unique=False)

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trigger_note", sa.String(length=200), nullable=True))
    op.create_table(
        "responses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column(
            "survey_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("contact_snapshot", promoter.storage.types.Json, nullable=False),
        sa.Column("survey_attributes", promoter.storage.types.Json, nullable=False),
        sa.Column("status", sa.String(length=8), server_default="OPEN", nullable=False),
        sa.Column("created_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.Column("comment_updated_at", promoter.storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_responses_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["surveys.id"],
            name=op.f("fk_responses_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
        sa.UniqueConstraint("survey_id", name=op.f("uq_responses_survey_id")),
    )
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.create_index("ix_responses_contact", ["contact_id"], unique=False)
        batch_op.create_index(
            "ix_responses_org_created", ["organization_id", "created_at"], unique=False
        )
    _email_keys()
    _default_campaigns()


def _email_keys() -> None:
    """Contacts get ``email_key``, their address casefolded, indexed for lookups."""
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_key", sa.String(length=320), nullable=True))
    conn = op.get_bind()
    contacts = sa.table("contacts", sa.column("id"), sa.column("email"), sa.column("email_key"))
    rows = conn.execute(sa.select(contacts.c.id, contacts.c.email)).all()
    if rows:
        conn.execute(
            contacts.update()
            .where(contacts.c.id == sa.bindparam("cid"))
            .values(email_key=sa.bindparam("key")),
            [{"cid": r.id, "key": r.email.casefold()} for r in rows],
        )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.alter_column("email_key", existing_type=sa.String(length=320), nullable=False)
        batch_op.drop_index("ix_contacts_org_email")
        batch_op.create_index(
            "ix_contacts_org_email_key", ["organization_id", "email_key"], unique=False
        )


def _default_campaigns() -> None:
    """Give every existing organization the default Segment campaign new ones get."""
    conn = op.get_bind()
    now = datetime.now(UTC)
    when = promoter.storage.types.UTCDateTime
    orgs = sa.table("organizations", sa.column("id"), sa.column("name"))
    lists = sa.table(
        "contact_lists",
        sa.column("id"),
        sa.column("organization_id"),
        sa.column("name"),
        sa.column("is_segment"),
        sa.column("created_at", when),
    )
    templates = sa.table(
        "email_templates",
        *(sa.column(c) for c in ("id", "organization_id", "name", "subject", "from_name")),
        *(sa.column(c) for c in ("intro_message", "brand_name", "language")),
        sa.column("created_at", when),
        sa.column("updated_at", when),
    )
    campaigns = sa.table(
        "campaigns",
        *(sa.column(c) for c in ("organization_id", "name", "kind", "status")),
        sa.column("contact_list_id"),
        sa.column("email_template_id"),
        sa.column("trigger_events", promoter.storage.types.Json),
        sa.column("created_at", when),
        sa.column("updated_at", when),
    )
    for org_id, org_name in conn.execute(sa.select(orgs.c.id, orgs.c.name)).all():
        list_id = conn.execute(
            sa.select(lists.c.id).where(lists.c.organization_id == org_id, lists.c.is_segment)
        ).scalar()
        if list_id is None:
            list_id = conn.execute(
                lists.insert()
                .values(
                    organization_id=org_id, name="Segment List", is_segment=True, created_at=now
                )
                .returning(lists.c.id)
            ).scalar_one()
        template_id = conn.execute(
            templates.insert()
            .values(
                organization_id=org_id,
                name="Default",
                subject=f"How likely are you to recommend {org_name}?",
                from_name=org_name,
                intro_message="",
                brand_name=org_name,
                language="en",
                created_at=now,
                updated_at=now,
            )
            .returning(templates.c.id)
        ).scalar_one()
        conn.execute(
            campaigns.insert().values(
                organization_id=org_id,
                name="Segment campaign",
                kind="segment",
                status="active",
                contact_list_id=list_id,
                email_template_id=template_id,
                trigger_events=[],
                created_at=now,
                updated_at=now,
            )
        )


def downgrade() -> None:
    op.drop_table("responses")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_org_email_key")
        batch_op.create_index("ix_contacts_org_email", ["organization_id", "email"], unique=False)
        batch_op.drop_column("email_key")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("trigger_note")

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_survey")
        batch_op.drop_index("ix_deliveries_status_due")

    op.drop_table("deliveries")
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.drop_index("ix_surveys_org_contact_created")
        batch_op.drop_index("ix_surveys_campaign_status")

    op.drop_table("surveys")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_organization_id"))

    op.drop_table("campaigns")
    with op.batch_alter_table("email_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_templates_organization_id"))

    op.drop_table("email_templates")
