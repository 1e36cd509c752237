"""Listing and renaming email templates (creating and changing their settings is in
:mod:`promoter.campaigns.service`). Every function takes the caller's connection."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, func, select, update

from promoter.campaigns.models import EmailTemplate
from promoter.campaigns.service import NotFound
from promoter.domain.paging import Page
from promoter.storage.tables import email_templates

#: As long as the column allows.
NAME_LENGTH = 200


def list_templates(
    conn: Connection, *, organization_id: int, page: Page
) -> tuple[int, list[EmailTemplate]]:
    """How many templates the organization has, and one page of them, oldest first."""
    mine = email_templates.c.organization_id == organization_id
    total = conn.execute(select(func.count()).select_from(email_templates).where(mine)).scalar()
    rows = conn.execute(
        select(email_templates)
        .where(mine)
        .order_by(email_templates.c.id)
        .limit(page.size)
        .offset(page.offset)
    )
    return int(total or 0), [EmailTemplate.model_validate(row._asdict()) for row in rows]


def rename_template(conn: Connection, *, organization_id: int, template_id: int, name: str) -> None:
    """Give a template a new name (1 to 200 characters, surrounding spaces dropped)."""
    name = name.strip()
    if not 1 <= len(name) <= NAME_LENGTH:
        raise ValueError(f"a template's name is 1 to {NAME_LENGTH} characters")
    changed = conn.execute(
        update(email_templates)
        .where(
            email_templates.c.id == template_id,
            email_templates.c.organization_id == organization_id,
        )
        .values(name=name, updated_at=datetime.now(UTC))
    ).rowcount
    if not changed:
        raise NotFound(f"no email template {template_id}")
