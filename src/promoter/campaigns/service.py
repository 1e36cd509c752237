"""Creating, reading and changing campaigns. Every function takes the caller's connection."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from promoter.campaigns.models import (
    Campaign,
    CampaignSettings,
    EmailTemplate,
    TemplateSettings,
)
from promoter.campaigns.questions import Question

__all__ = ["CampaignSettings", "NotFound"]
from promoter.contacts.lists import segment_list_id
from promoter.storage.tables import campaigns, contact_lists, email_templates, response_answers


class NotFound(LookupError):
    """No such campaign (or template, or list) in this organization."""


def _now() -> datetime:
    return datetime.now(UTC)


def default_template(brand: str) -> TemplateSettings:
    return TemplateSettings(
        subject=f"How likely are you to recommend {brand}?",
        from_name=brand,
        brand_name=brand,
    )


def create_template(
    conn: Connection, *, organization_id: int, name: str, settings: TemplateSettings
) -> EmailTemplate:
    now = _now()
    template_id = conn.execute(
        insert(email_templates)
        .values(
            organization_id=organization_id,
            name=name,
            created_at=now,
            updated_at=now,
            **settings.model_dump(mode="json"),
        )
        .returning(email_templates.c.id)
    ).scalar_one()
    return get_template(conn, organization_id=organization_id, template_id=template_id)


def get_template(conn: Connection, *, organization_id: int, template_id: int) -> EmailTemplate:
    row = conn.execute(
        select(email_templates).where(
            email_templates.c.id == template_id,
            email_templates.c.organization_id == organization_id,
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no email template {template_id}")
    return EmailTemplate.model_validate(row._asdict())


def update_template(
    conn: Connection, *, organization_id: int, template_id: int, changes: dict[str, Any]
) -> EmailTemplate:
    current = get_template(conn, organization_id=organization_id, template_id=template_id)
    merged = TemplateSettings.model_validate(
        {**current.model_dump(include=set(TemplateSettings.model_fields)), **changes}
    )
    conn.execute(
        update(email_templates)
        .where(email_templates.c.id == template_id)
        .values(updated_at=_now(), **merged.model_dump(mode="json"))
    )
    return get_template(conn, organization_id=organization_id, template_id=template_id)


def create_campaign(
    conn: Connection,
    *,
    organization_id: int,
    settings: CampaignSettings,
    template_id: int,
    list_id: int | None = None,
) -> Campaign:
    """A campaign on ``list_id`` (default: the organization's Segment list)."""
    get_template(conn, organization_id=organization_id, template_id=template_id)
    if list_id is None:
        list_id = segment_list_id(conn, organization_id=organization_id)
    else:
        _check_list(conn, organization_id, list_id)
    now = _now()
    campaign_id = conn.execute(
        insert(campaigns)
        .values(
            organization_id=organization_id,
            contact_list_id=list_id,
            email_template_id=template_id,
            created_at=now,
            updated_at=now,
            **settings.model_dump(mode="json"),
        )
        .returning(campaigns.c.id)
    ).scalar_one()
    return get_campaign(conn, organization_id=organization_id, campaign_id=campaign_id)


def create_default_campaign(conn: Connection, *, organization_id: int, brand: str) -> Campaign:
    """What a new organization starts with: any track event surveys the contact, at most
    once per 90 days."""
    template = create_template(
        conn, organization_id=organization_id, name="Default", settings=default_template(brand)
    )
    return create_campaign(
        conn,
        organization_id=organization_id,
        settings=CampaignSettings(name="Segment campaign"),
        template_id=template.id,
    )


def _check_list(conn: Connection, organization_id: int, list_id: int) -> None:
    found = conn.execute(
        select(contact_lists.c.id).where(
            contact_lists.c.id == list_id, contact_lists.c.organization_id == organization_id
        )
    ).scalar()
    if found is None:
        raise NotFound(f"no contact list {list_id}")


def get_campaign(conn: Connection, *, organization_id: int, campaign_id: int) -> Campaign:
    row = conn.execute(
        select(campaigns).where(
            campaigns.c.id == campaign_id, campaigns.c.organization_id == organization_id
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no campaign {campaign_id}")
    return Campaign.model_validate(row._asdict())


def questions_of(
    conn: Connection, *, organization_id: int, campaign_ids: Collection[int]
) -> dict[int, list[Question]]:
    """The follow-up questions of these campaigns of the organization (others left out)."""
    if not campaign_ids:
        return {}
    rows = conn.execute(
        select(campaigns.c.id, campaigns.c.questions).where(
            campaigns.c.organization_id == organization_id,
            campaigns.c.id.in_(sorted(set(campaign_ids))),
        )
    )
    return {row.id: [Question.model_validate(q) for q in row.questions or []] for row in rows}


def list_campaigns(
    conn: Connection, *, organization_id: int, status: str | None = None
) -> list[Campaign]:
    query = select(campaigns).where(campaigns.c.organization_id == organization_id)
    if status is not None:
        query = query.where(campaigns.c.status == status)
    rows = conn.execute(query.order_by(campaigns.c.id))
    return [Campaign.model_validate(row._asdict()) for row in rows]


def update_campaign(
    conn: Connection,
    *,
    organization_id: int,
    campaign_id: int,
    changes: dict[str, Any],
) -> Campaign:
    """Apply ``changes`` (any campaign setting, ``contact_list_id``, ``email_template_id``).

    Raises :class:`pydantic.ValidationError` when the result would be invalid. A question
    sent without an id keeps the id of the current question with the same text, or gets
    one that no answer of the campaign carries.
    """
    current = get_campaign(conn, organization_id=organization_id, campaign_id=campaign_id)
    changes = dict(changes)
    values: dict[str, Any] = {}
    if "contact_list_id" in changes:
        values["contact_list_id"] = changes.pop("contact_list_id")
        _check_list(conn, organization_id, values["contact_list_id"])
    if "email_template_id" in changes:
        values["email_template_id"] = changes.pop("email_template_id")
        get_template(conn, organization_id=organization_id, template_id=values["email_template_id"])
    merged = CampaignSettings.model_validate(
        {**current.model_dump(include=set(CampaignSettings.model_fields)), **changes},
        context={
            "current": current.questions,
            "reserved": answered_question_ids(
                conn, organization_id=organization_id, campaign_id=campaign_id
            ),
        },
    )
    conn.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id)
        .values(updated_at=_now(), **values, **merged.model_dump(mode="json"))
    )
    return get_campaign(conn, organization_id=organization_id, campaign_id=campaign_id)


def answered_question_ids(conn: Connection, *, organization_id: int, campaign_id: int) -> set[str]:
    """The question ids that the campaign's stored answers carry (a question removed since
    included), so that a new question never takes one over."""
    a = response_answers.c
    return set(
        conn.execute(
            select(a.question_id)
            .distinct()
            .where(a.organization_id == organization_id, a.campaign_id == campaign_id)
        ).scalars()
    )
