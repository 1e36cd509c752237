"""A survey with its contact, campaign and email template: what its email is rendered from."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Join

from promoter.delivery.render import TemplateView
from promoter.storage.tables import campaigns, contacts, email_templates, surveys

#: The template columns a survey email is rendered from, in TemplateView's order.
TEMPLATE_COLUMNS = tuple(
    email_templates.c[name]
    for name in (
        "subject",
        "from_name",
        "reply_to",
        "intro_message",
        "brand_name",
        "language",
        "logo_url",
    )
)


def surveys_with_templates() -> Join:
    """``surveys`` joined to its contact, its campaign and the campaign's template."""
    return (
        surveys.join(contacts, contacts.c.id == surveys.c.contact_id)
        .join(campaigns, campaigns.c.id == surveys.c.campaign_id)
        .join(email_templates, email_templates.c.id == campaigns.c.email_template_id)
    )


def template_view(row: Any) -> TemplateView:
    """The TemplateView of a result row that selected TEMPLATE_COLUMNS."""
    return TemplateView(*(getattr(row, column.name) for column in TEMPLATE_COLUMNS))


def display_name(first_name: str | None, last_name: str | None) -> str | None:
    return " ".join(p for p in (first_name, last_name) if p) or None
