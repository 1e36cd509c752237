"""The demo's campaigns: the default one (made with the organization), one after each
purchase, an onboarding check-in, and the monthly relationship survey sent by hand."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from promoter.campaigns import service as campaigns
from promoter.campaigns.models import Campaign, CampaignSettings, TemplateSettings
from promoter.campaigns.questions import Question
from promoter.demo.login import DEMO_ORGANIZATION

REPLY_TO = "feedback@demo-inc.example"
#: What every template of the demo says it is from.
SENDER = {"from_name": DEMO_ORGANIZATION, "brand_name": DEMO_ORGANIZATION}


@dataclass(frozen=True, slots=True)
class Campaigns:
    """The demo's campaigns by the kind of survey they send: ids and throttles (days)."""

    ids: dict[str, int]
    throttle_days: dict[str, int]


#: The choices of the purchase survey's question to detractors.
IMPROVEMENTS = ("Delivery time", "Packaging", "Price", "Product range")
#: What the purchase survey asks after the score.
PURCHASE_QUESTIONS = [
    Question(id="delivery", text="How smooth was the delivery?", type="scale"),
    Question(
        id="improve",
        text="What should we improve first?",
        type="single",
        choices=list(IMPROVEMENTS),
        audience="detractors",
    ),
]


def setup_campaigns(conn: Connection, organization_id: int) -> Campaigns:
    """The default campaign (made with the organization) and three more."""
    (default,) = campaigns.list_campaigns(conn, organization_id=organization_id)
    campaigns.update_template(
        conn,
        organization_id=organization_id,
        template_id=default.email_template_id,
        changes={
            **SENDER,
            "subject": f"How likely are you to recommend {DEMO_ORGANIZATION}?",
            "reply_to": REPLY_TO,
            "intro_message": "Thanks for using Demo Inc. One quick question, one click:",
        },
    )
    purchase = _purchase_campaign(conn, organization_id)
    onboarding = campaigns.create_campaign(
        conn,
        organization_id=organization_id,
        settings=CampaignSettings(
            name="Onboarding check-in",
            trigger_events=["Invited Teammate"],
            delay_minutes=3 * 24 * 60,
            throttle_days=365,
        ),
        template_id=default.email_template_id,
    )
    relationship = campaigns.create_campaign(
        conn,
        organization_id=organization_id,
        settings=CampaignSettings(name="Relationship survey", kind="manual", throttle_days=50),
        template_id=default.email_template_id,
    )
    made = {
        "default": default,
        "purchase": purchase,
        "onboarding": onboarding,
        "relationship": relationship,
    }
    return Campaigns(
        ids={kind: c.id for kind, c in made.items()},
        throttle_days={kind: c.throttle_days for kind, c in made.items()},
    )


def _purchase_campaign(conn: Connection, organization_id: int) -> Campaign:
    """The survey a day after each order, with a template of its own."""
    template = campaigns.create_template(
        conn,
        organization_id=organization_id,
        name="After a purchase",
        settings=TemplateSettings(
            subject="How was your order?",
            reply_to=REPLY_TO,
            intro_message="Thank you for your order! How did it go?",
            **SENDER,
        ),
    )
    return campaigns.create_campaign(
        conn,
        organization_id=organization_id,
        settings=CampaignSettings(
            name="After a purchase",
            trigger_events=["Order Completed"],
            delay_minutes=24 * 60,
            throttle_days=30,
            questions=PURCHASE_QUESTIONS,
        ),
        template_id=template.id,
    )
