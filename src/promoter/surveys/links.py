"""Answers given through a campaign's public link (``/l/<key>``): one survey and its
response made together, on the ``link`` channel.

Whoever opens the link answers: a visitor whose userId the organization signed answers as
that contact; anyone else (or a signed userId the organization has no contact for) as an
anonymous contact made for that one answer (never listed, counted or emailed; see
``contacts.writes.create_anonymous_contact``). An answer of the campaign given within its
``throttle_days`` (by the same contact, or the same browser) is found again instead of a
second one being made.

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select

from promoter.campaigns.links import campaign_by_link_key
from promoter.campaigns.models import Campaign
from promoter.contacts.writes import create_anonymous_contact
from promoter.delivery.branding import BRANDING_COLUMNS, StoredLogo, stored_logo, with_logo
from promoter.domain.channels import LINK
from promoter.domain.eligibility import ANONYMOUS
from promoter.storage.tables import contacts, email_templates, surveys
from promoter.surveys.responses import PAGE_LANGUAGE, record_score, survey_by_id

#: The survey attribute that keeps a signed userId the organization has no contact for.
SIGNED_USER_ID = "user_id"


@dataclass(frozen=True, slots=True)
class LinkAnswer:
    """The survey an answer through the link is recorded in, and whether it was made now
    (False: an earlier answer found again)."""

    token: str
    created: bool


@dataclass(frozen=True, slots=True)
class LinkPage:
    """What a public link's page shows: its campaign's template's brand and language."""

    campaign: Campaign
    brand_name: str
    brand_color: str | None
    logo: StoredLogo | None
    logo_url: str | None
    #: The template's language, spoken unless the browser prefers another one.
    language: str


def link_page(conn: Connection, *, link_key: str) -> LinkPage | None:
    """The page of the public link with this key, or ``None`` (no such link, or its
    campaign is complete)."""
    campaign = campaign_by_link_key(conn, link_key)
    if campaign is None:
        return None
    row = conn.execute(
        select(email_templates.c.language, *BRANDING_COLUMNS)
        .select_from(with_logo(email_templates))
        .where(email_templates.c.id == campaign.email_template_id)
    ).one()
    return LinkPage(
        campaign=campaign,
        brand_name=row.brand_name,
        brand_color=row.brand_color,
        logo=stored_logo(row),
        logo_url=row.logo_url,
        language=row.language,
    )


def signed_contact(conn: Connection, *, organization_id: int, user_id: str) -> int | None:
    """The organization's contact with this (verified) userId, or ``None``."""
    return conn.execute(
        select(contacts.c.id).where(
            contacts.c.organization_id == organization_id,
            contacts.c.user_id == user_id,
            contacts.c.status != ANONYMOUS,
        )
    ).scalar()


def _since(campaign: Campaign, now: datetime) -> datetime:
    return now - timedelta(days=campaign.throttle_days)


def answer_by_token(conn: Connection, *, campaign: Campaign, token: str, now: datetime) -> bool:
    """Whether ``token`` (a browser's cookie) names an answer of this campaign given within
    its ``throttle_days``."""
    found = conn.execute(
        select(surveys.c.id).where(
            surveys.c.token == token,
            surveys.c.campaign_id == campaign.id,
            surveys.c.status == "answered",
            surveys.c.answered_at >= _since(campaign, now),
        )
    ).scalar()
    return found is not None


def contact_answer(
    conn: Connection, *, campaign: Campaign, contact_id: int, now: datetime
) -> str | None:
    """The token of the contact's latest answer of this campaign (by any channel) within
    its ``throttle_days``, or ``None``."""
    token: str | None = conn.execute(
        select(surveys.c.token)
        .where(
            surveys.c.organization_id == campaign.organization_id,
            surveys.c.contact_id == contact_id,
            surveys.c.campaign_id == campaign.id,
            surveys.c.status == "answered",
            surveys.c.answered_at >= _since(campaign, now),
        )
        .order_by(surveys.c.answered_at.desc(), surveys.c.id.desc())
        .limit(1)
    ).scalar()
    return token


def answer_link(
    conn: Connection,
    *,
    campaign: Campaign,
    token: str,
    score: int,
    user_id: str | None,
    language: str,
    now: datetime,
) -> LinkAnswer | None:
    """Record ``score`` through the campaign's link in a new survey with ``token`` (from
    the form's nonce), as the contact ``user_id`` names (verified by the caller) or an
    anonymous one; its pages speak ``language`` (unless the contact's traits name one).

    A survey with ``token`` already (the same form sent again) is found, not made twice;
    so is the contact's answer of the campaign within its ``throttle_days``. ``None``: the
    token names another campaign's survey. Raises ``InvalidAnswer`` for a bad score."""
    existing = conn.execute(
        select(surveys.c.campaign_id).where(surveys.c.token == token)
    ).one_or_none()
    if existing is not None:
        return LinkAnswer(token, False) if existing.campaign_id == campaign.id else None
    contact_id = None
    if user_id is not None:
        contact_id = signed_contact(conn, organization_id=campaign.organization_id, user_id=user_id)
    if contact_id is not None:
        earlier = contact_answer(conn, campaign=campaign, contact_id=contact_id, now=now)
        if earlier is not None:
            return LinkAnswer(earlier, False)
    attributes = {PAGE_LANGUAGE: language}
    if contact_id is None:
        contact_id = create_anonymous_contact(
            conn, organization_id=campaign.organization_id, now=now
        )
        if user_id is not None:
            attributes[SIGNED_USER_ID] = user_id
    survey_id = conn.execute(
        insert(surveys)
        .values(
            organization_id=campaign.organization_id,
            campaign_id=campaign.id,
            contact_id=contact_id,
            status="answered",
            token=token,
            attributes=attributes,
            scheduled_at=now,
            sent_at=now,
            answered_at=now,
            created_at=now,
            channel=LINK,
        )
        .returning(surveys.c.id)
    ).scalar_one()
    survey = survey_by_id(conn, survey_id=survey_id)
    assert survey is not None
    record_score(conn, survey, score=score, now=now)
    return LinkAnswer(token, True)
