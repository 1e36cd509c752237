"""webhook event sets: a webhook receives several events (webhook_subscription_events);
its previous signing secret, which signs too for a while after a rotation

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import promoter.storage.types

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_subscription_events",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["webhook_subscriptions.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("subscription_id", "event"),
    )
    op.create_index(
        "ix_webhook_subscription_events_org_event",
        "webhook_subscription_events",
        ["organization_id", "event"],
    )
    # Each webhook keeps the one event it had.
    op.execute(
        "INSERT INTO webhook_subscription_events (subscription_id, event, organization_id) "
        "SELECT id, event, organization_id FROM webhook_subscriptions"
    )
    op.create_index("ix_webhook_subscriptions_org", "webhook_subscriptions", ["organization_id"])
    op.drop_index("ix_webhook_subscriptions_org_event", table_name="webhook_subscriptions")
    # Dropped in place (SQLite 3.35+): rebuilding the table would cascade to its deliveries.
    op.drop_column("webhook_subscriptions", "event")
    op.add_column(
        "webhook_subscriptions",
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
    )
    op.add_column(
        "webhook_subscriptions",
        sa.Column("previous_secret_until", promoter.storage.types.UTCDateTime(), nullable=True),
    )


_COPIED = (
    "organization_id, target_url, campaign_id, format, secret, status, consecutive_failures, "
    "disabled_at, disabled_reason, created_at, updated_at"
)


def downgrade() -> None:
    """A webhook with several events becomes one webhook per event (the same URL, secret
    and state); its first event (by name) keeps its id and deliveries."""
    op.drop_column("webhook_subscriptions", "previous_secret_until")
    op.drop_column("webhook_subscriptions", "previous_secret")
    op.add_column(
        "webhook_subscriptions",
        sa.Column("event", sa.String(length=64), nullable=False, server_default=""),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT subscription_id, event FROM webhook_subscription_events "
            "ORDER BY subscription_id, event"
        )
    ).all()
    first: set[int] = set()
    for subscription_id, event in rows:
        if subscription_id not in first:
            first.add(subscription_id)
            conn.execute(
                sa.text("UPDATE webhook_subscriptions SET event = :event WHERE id = :id"),
                {"event": event, "id": subscription_id},
            )
            continue
        conn.execute(
            sa.text(
                f"INSERT INTO webhook_subscriptions (event, {_COPIED}) "
                f"SELECT :event, {_COPIED} FROM webhook_subscriptions WHERE id = :id"
            ),
            {"event": event, "id": subscription_id},
        )
    if conn.dialect.name == "postgresql":
        op.alter_column("webhook_subscriptions", "event", server_default=None)
    op.create_index(
        "ix_webhook_subscriptions_org_event", "webhook_subscriptions", ["organization_id", "event"]
    )
    op.drop_index("ix_webhook_subscriptions_org", table_name="webhook_subscriptions")
    op.drop_index(
        "ix_webhook_subscription_events_org_event", table_name="webhook_subscription_events"
    )
    op.drop_table("webhook_subscription_events")
