"""The webhook form of Settings > Webhooks (adding a webhook, and changing one on its
page): what each event means, reading what was sent, and the service's errors as the form
shows them."""

from __future__ import annotations

from typing import Any, Final

from promoter.web.dashboard.forms import Form, chosen_id
from promoter.webhooks.subscriptions import InvalidWebhook, Subscription

EVENT_HINTS: Final = {
    "feedback.added_or_changed": "a score or a comment recorded",
    "feedback.tags_added_or_changed": "tags added or removed",
    "feedback.status_changed": "feedback closed or reopened",
    "feedback.removed": "responses deleted when their contact is erased",
    "metric.score_changed": "the NPS of the last 30 days changed",
    "contact.unsubscribed": "a contact unsubscribed",
    "survey.sent": "a survey or reminder email sent",
    "survey.bounced": "a survey email refused for good",
    "nps.changed": "an NPS alert: a scope's NPS moved beyond chance",
}

Values = dict[str, Any]


def blank() -> Values:
    """A new webhook's form: no event chosen yet, JSON, every campaign."""
    return {"events": [], "target_url": "", "campaign": "", "format": "json"}


def values_of(subscription: Subscription) -> Values:
    """The form showing a webhook as it is."""
    campaign = subscription.campaign_id
    return {
        "events": list(subscription.events),
        "target_url": subscription.target_url,
        "campaign": "" if campaign is None else str(campaign),
        "format": subscription.format,
    }


def read(form: Form) -> tuple[Values, int | None, dict[str, str]]:
    """What was sent, the campaign chosen (None: every campaign) and what cannot be read."""
    chosen = form.get("campaign").strip()
    values: Values = {
        "events": form.getlist("events"),
        "target_url": form.get("target_url"),
        "campaign": chosen,
        "format": form.get("format", "json"),
    }
    errors: dict[str, str] = {}
    campaign_id: int | None = None
    if chosen:
        campaign_id = chosen_id(chosen)
        if campaign_id is None:
            errors["campaign"] = "Choose a campaign from the list."
    return values, campaign_id, errors


def settings(values: Values, campaign_id: int | None) -> dict[str, Any]:
    """What the form sets, as the service's arguments."""
    return {
        "events": values["events"],
        "target_url": values["target_url"],
        "campaign_id": campaign_id,
        "format": values["format"],
    }


def errors_of(exc: InvalidWebhook) -> dict[str, str]:
    """The service's field errors under the form's field names."""
    return {
        ("campaign" if field == "campaign_id" else field): " ".join(messages)
        for field, messages in exc.errors.items()
    }
