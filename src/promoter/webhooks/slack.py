"""The message a ``slack`` subscription posts (a Slack incoming webhook's JSON).

Text that came from contacts (comments, names, emails, tags) is escaped as Slack asks
(``&``, ``<``, ``>``), so a comment cannot mention ``@channel`` or disguise a link.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from promoter.webhooks.events import (
    CONTACT_UNSUBSCRIBED,
    FEEDBACK_ADDED_OR_CHANGED,
    FEEDBACK_REMOVED,
    FEEDBACK_STATUS_CHANGED,
    FEEDBACK_TAGS_ADDED_OR_CHANGED,
    METRIC_SCORE_CHANGED,
    NPS_CHANGED,
    PING,
    SURVEY_BOUNCED,
    SURVEY_SENT,
)

_FEEDBACK = (FEEDBACK_ADDED_OR_CHANGED, FEEDBACK_STATUS_CHANGED, FEEDBACK_TAGS_ADDED_OR_CHANGED)
#: Slack cuts a section's text at 3000 characters; a comment is quoted up to this many.
MAX_QUOTE = 1500


def escape(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _quote(comment: str) -> str:
    text = comment if len(comment) <= MAX_QUOTE else comment[:MAX_QUOTE].rstrip() + "…"
    return escape(text)


def _who(contact: Mapping[str, Any] | None) -> str:
    if not contact:
        return "a contact"
    return escape(contact.get("email") or contact.get("user_id") or f"contact {contact.get('id')}")


def _campaign(name: str | None, campaign_id: Any) -> str:
    if name:
        return escape(name)
    return f"campaign {campaign_id}" if campaign_id is not None else "no campaign"


def _signed(value: Any) -> str:
    if value is None:
        return "n/a"
    number = round(float(value))
    return f"+{number}" if number > 0 else str(number)


def _nps_changed(data: Mapping[str, Any]) -> tuple[str, tuple[str, str] | None]:
    """An NPS alert: which scope, which way, from what to what, how sure."""
    scope = data.get("scope") or {}
    kind = str(scope.get("kind", ""))
    name = escape(scope.get("name", ""))
    what = f"*{name}*" if kind == "organization" else f"{escape(kind)} *{name}*"
    moved = "dropped" if data.get("direction") == "down" else "rose"
    interval = data.get("interval") or {}
    text = (
        f"NPS alert: the NPS of {what} {moved} {round(abs(float(data.get('difference', 0))))} "
        f"points over the last 3 weeks, {_signed(data.get('nps_before'))} → "
        f"{_signed(data.get('nps'))} ({_signed(interval.get('low'))} to "
        f"{_signed(interval.get('high'))} at 95%, p = {float(data.get('p_value', 1)):.2g})"
    )
    overview = (data.get("links") or {}).get("overview")
    return text, (str(overview), "Open in Promoter") if overview else None


def message(
    payload: Mapping[str, Any], *, base_url: str, campaign_name: str | None = None
) -> dict[str, Any]:
    """``{"text", "blocks"}`` for the event ``payload`` (the stored envelope)."""
    event = str(payload.get("event", ""))
    data: Mapping[str, Any] = payload.get("data") or {}
    campaign_id = data.get("campaign_id")
    campaign = _campaign(campaign_name, campaign_id)
    contact = data.get("contact") if isinstance(data.get("contact"), Mapping) else None
    link: tuple[str, str] | None = None
    if contact and contact.get("id") is not None and event != FEEDBACK_REMOVED:
        link = (f"{base_url}/contacts/{int(contact['id'])}", "Open in Promoter")
    elif campaign_id is not None:
        query = urlencode({"campaign": int(campaign_id)})
        link = (f"{base_url}/feedback?{query}", "Open the feedback")

    if event in _FEEDBACK:
        kind = str(data.get("score_type", "")).capitalize() or "Response"
        head = f"{kind} ({data.get('score')}) from {_who(contact)} on {campaign}"
        comment = data.get("comment")
        text = f"{head}: '{_quote(comment)}'" if comment else head
        if event == FEEDBACK_STATUS_CHANGED:
            text = f"{text} is now {escape(data.get('status', ''))}"
        elif event == FEEDBACK_TAGS_ADDED_OR_CHANGED:
            tags = ", ".join(escape(t) for t in data.get("tags") or []) or "no tags"
            text = f"{text}, tagged: {tags}"
    elif event == FEEDBACK_REMOVED:
        text = f"Feedback {data.get('id')} on {campaign} was removed (its contact was erased)"
    elif event == METRIC_SCORE_CHANGED:
        org = data.get("organization") or {}
        camp = data.get("campaign") or {}
        text = (
            f"NPS over the last {data.get('window_days', 30)} days on {campaign}: "
            f"{_signed(camp.get('nps'))} (was {_signed(camp.get('previous_nps'))}); "
            f"all campaigns: {_signed(org.get('nps'))} (was {_signed(org.get('previous_nps'))})"
        )
    elif event == CONTACT_UNSUBSCRIBED:
        where = f" from {campaign}" if campaign_id is not None else ""
        text = f"{_who(contact)} unsubscribed{where}"
    elif event == SURVEY_SENT:
        what = "Reminder" if data.get("reminder") else "Survey"
        text = f"{what} sent to {_who(contact)} on {campaign}"
    elif event == SURVEY_BOUNCED:
        text = f"Survey to {_who(contact)} on {campaign} bounced: {escape(data.get('error', ''))}"
    elif event == NPS_CHANGED:
        text, link = _nps_changed(data)
    elif event == PING:
        text = "Promoter test message: this webhook works."
    else:
        text = f"Promoter event {escape(event)}"

    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if link is not None:
        url, label = link
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{url}|{label}>"}]}
        )
        text_with_link = f"{text} <{url}|{label}>"
    else:
        text_with_link = text
    return {"text": text_with_link, "blocks": blocks}
