"""The dashboard's campaign form, filled in by the tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from promoter.campaigns import service
from promoter.campaigns.models import Campaign, CampaignSettings, EmailTemplate, TemplateSettings
from promoter.domain.messages import Envelope
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.service import Ingestor
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, events
from tests.conftest import Org


#: A form with every campaign and template setting, all different from the defaults.
def every_setting(list_id: int) -> dict[str, object]:
    return {
        "name": "Onboarding <b>NPS</b>",
        "kind": "segment",
        "status": "paused",
        "channel": "both",
        "trigger_events": "Signed Up\r\nOrder Completed\r\n\r\nSigned Up",
        "delay_minutes": "120",
        "throttle_days": "30",
        "weekdays_only": "on",
        "send_window_start": "9",
        "send_window_end": "17",
        "reminder_days": "5",
        "forward_email": "feedback@acme.example.com",
        "contact_list_id": str(list_id),
        "subject": "A quick question about <Acme>",
        "from_name": "Ana from Acme",
        "reply_to": "ana@acme.example.com",
        "intro_message": "Thanks for signing up & welcome.",
        "brand_name": "Acme Shop",
        "language": "fr",
        "logo_url": "https://acme.example.com/logo.png",
    }


def status_of(response: Any) -> int:
    return int(response.status_code)


def load(database: Database, org_id: int, campaign_id: int) -> tuple[Campaign, EmailTemplate]:
    with database.read() as conn:
        campaign = service.get_campaign(conn, organization_id=org_id, campaign_id=campaign_id)
        template = service.get_template(
            conn, organization_id=org_id, template_id=campaign.email_template_id
        )
    return campaign, template


def add_campaign(database: Database, org_id: int, name: str = "Post-purchase") -> Campaign:
    with database.write() as conn:
        template = service.create_template(
            conn,
            organization_id=org_id,
            name=name,
            settings=TemplateSettings(
                subject="How was your order?", from_name="Acme", brand_name="Acme Shop"
            ),
        )
        return service.create_campaign(
            conn,
            organization_id=org_id,
            settings=CampaignSettings(name=name, trigger_events=["Order Completed"]),
            template_id=template.id,
        )


def add_contact(database: Database, org_id: int, user_id: str) -> int:
    """A contact identified through the Tracking API (with an email): its id."""
    now = datetime.now(UTC)
    results = ingest_messages(
        database=database,
        ingestor=Ingestor(),
        organization_id=org_id,
        messages=[
            {"type": "identify", "userId": user_id, "traits": {"email": f"{user_id}@example.com"}}
        ],
        envelope=Envelope(received_at=now),
        allowed=TRACKING_API_TYPES,
    )
    assert all(r.status == "accepted" for r in results), results
    with database.read() as conn:
        return int(
            conn.execute(
                select(contacts.c.id).where(
                    contacts.c.organization_id == org_id, contacts.c.user_id == user_id
                )
            ).scalar_one()
        )


def track(database: Database, org: Org, name: str, *, times: int = 1, days_ago: int = 0) -> None:
    """``times`` events ``name`` of the organization, ``days_ago`` days old."""
    at = datetime.now(UTC) - timedelta(days=days_ago)
    with database.write() as conn:
        conn.execute(
            insert(events),
            [
                {
                    "organization_id": org.id,
                    "user_id": f"u{i}",
                    "name": name,
                    "properties": {},
                    "timestamp": at,
                    "received_at": at,
                    "message_id": f"{name}-{days_ago}-{i}",
                }
                for i in range(times)
            ],
        )
