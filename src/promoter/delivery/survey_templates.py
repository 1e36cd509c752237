"""A survey with its contact, campaign and email template: what its email is rendered from."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Join

from promoter.delivery.branding import BRANDING_COLUMNS, stored_logo, with_logo
from promoter.delivery.render import TemplateView
from promoter.storage.tables import campaigns, contacts, email_templates, surveys

#: The template columns a survey email is rendered from (its branding's among them).
TEMPLATE_COLUMNS = (
    *(
        email_templates.c[name]
        for name in ("subject", "from_name", "reply_to", "intro_message", "language")
    ),
    *BRANDING_COLUMNS,
)


def surveys_with_templates() -> Join:
    """``surveys`` joined to its contact, its campaign, the campaign's template and the
    template's uploaded logo (if any)."""
    return with_logo(
        surveys.join(contacts, contacts.c.id == surveys.c.contact_id)
        .join(campaigns, campaigns.c.id == surveys.c.campaign_id)
        .join(email_templates, email_templates.c.id == campaigns.c.email_template_id)
    )


def template_view(row: Any) -> TemplateView:
    """The TemplateView of a result row that selected TEMPLATE_COLUMNS."""
    return TemplateView(
        subject=row.subject,
        from_name=row.from_name,
        reply_to=row.reply_to,
        intro_message=row.intro_message,
        brand_name=row.brand_name,
        language=row.language,
        logo_url=row.logo_url,
        brand_color=row.brand_color,
        logo=stored_logo(row),
    )


def display_name(first_name: str | None, last_name: str | None) -> str | None:
    return " ".join(p for p in (first_name, last_name) if p) or None
