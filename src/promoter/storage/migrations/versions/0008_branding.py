"""branding: a brand colour and an uploaded logo per email template

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import promoter.storage.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "logos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", promoter.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_logos_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logos")),
    )
    with op.batch_alter_table("logos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_logos_organization_id"), ["organization_id"], unique=False
        )
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_templates_on_sqlite(branded=True)
        return
    op.add_column("email_templates", sa.Column("brand_color", sa.String(length=7), nullable=True))
    op.add_column("email_templates", sa.Column("logo_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_email_templates_logo_id_logos"),
        "email_templates",
        "logos",
        ["logo_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(op.f("ix_email_templates_logo_id"), "email_templates", ["logo_id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_templates_on_sqlite(branded=False)
    else:
        op.drop_index(op.f("ix_email_templates_logo_id"), table_name="email_templates")
        op.drop_constraint(
            op.f("fk_email_templates_logo_id_logos"), "email_templates", type_="foreignkey"
        )
        op.drop_column("email_templates", "logo_id")
        op.drop_column("email_templates", "brand_color")
    op.drop_index(op.f("ix_logos_organization_id"), table_name="logos")
    op.drop_table("logos")


_TEMPLATE_COLUMNS = (
    "id, organization_id, name, subject, from_name, reply_to, intro_message, brand_name, "
    "language, logo_url, created_at, updated_at"
)
_TEMPLATE_TABLE = """CREATE TABLE _new_email_templates (
    id INTEGER NOT NULL,
    organization_id INTEGER NOT NULL,
    name VARCHAR(200) NOT NULL,
    subject VARCHAR(300) NOT NULL,
    from_name VARCHAR(200) NOT NULL,
    reply_to VARCHAR(320),
    intro_message TEXT DEFAULT '' NOT NULL,
    brand_name VARCHAR(200) NOT NULL,
    language VARCHAR(8) DEFAULT 'en' NOT NULL,
    logo_url VARCHAR(2000),
    {branding}created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL,
    CONSTRAINT pk_email_templates PRIMARY KEY (id),
    CONSTRAINT fk_email_templates_organization_id_organizations FOREIGN KEY(organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE{logo_fk}
)"""
_BRANDING_COLUMNS = "brand_color VARCHAR(7),\n    logo_id INTEGER,\n    "
_LOGO_FK = (
    ",\n    CONSTRAINT fk_email_templates_logo_id_logos FOREIGN KEY(logo_id)"
    " REFERENCES logos (id) ON DELETE SET NULL"
)


def _rebuild_templates_on_sqlite(*, branded: bool) -> None:
    """SQLite adds a foreign key only to a new table: email_templates is copied to one,
    the old one dropped and the new one renamed, SQLite's own procedure for changing a
    table. Campaigns refer to email_templates, so foreign keys are off meanwhile (a
    pragma that takes effect outside a transaction only), and checked before the commit."""
    create = _TEMPLATE_TABLE.format(
        branding=_BRANDING_COLUMNS if branded else "", logo_fk=_LOGO_FK if branded else ""
    )
    indexes = [
        "CREATE INDEX ix_email_templates_organization_id ON email_templates (organization_id)"
    ]
    if branded:
        indexes.append("CREATE INDEX ix_email_templates_logo_id ON email_templates (logo_id)")
    with op.get_context().autocommit_block():
        raw = op.get_bind().connection.dbapi_connection
        assert raw is not None
        if raw.in_transaction:  # the empty one begun on entering the block
            raw.execute("COMMIT")
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            raw.execute("BEGIN IMMEDIATE")
            try:
                raw.execute(create)
                raw.execute(
                    f"INSERT INTO _new_email_templates ({_TEMPLATE_COLUMNS}) "
                    f"SELECT {_TEMPLATE_COLUMNS} FROM email_templates"
                )
                raw.execute("DROP TABLE email_templates")
                raw.execute("ALTER TABLE _new_email_templates RENAME TO email_templates")
                for statement in indexes:
                    raw.execute(statement)
                broken = raw.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"foreign keys broken by the rebuild: {broken}")
                raw.execute("COMMIT")
            except BaseException:
                raw.execute("ROLLBACK")
                raise
        finally:
            raw.execute("PRAGMA foreign_keys=ON")
