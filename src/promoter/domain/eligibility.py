"""Who may be surveyed now: the rules, free of storage.

- Unsubscribed, bounced and inactive contacts, and the anonymous contacts of link
  answers, never are; nor are contacts without an email by email (the web survey needs
  none).
- A contact has at most one scheduled (not yet sent) survey per campaign.
- Within a campaign, a contact is surveyed at most once per ``throttle_days``.
- Across all campaigns and channels, at most once per the organization's
  ``cooldown_days``, and never twice within 24 hours (the hard floor). A survey dismissed
  in the app counts as one sent.

A trigger that fails a rule is dropped, not queued for later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

#: The status of the contact an anonymous link answer belongs to (one per answer): never
#: listed, counted or emailed.
ANONYMOUS = "anonymous"
#: Contact statuses that never receive a survey.
SUPPRESSED = frozenset({"unsubscribed", "bounced", "inactive", ANONYMOUS})
#: Survey statuses that did not reach the contact and so do not count towards throttling.
NOT_COUNTED = frozenset({"cancelled", "failed"})
FLOOR = timedelta(hours=24)
#: An organization's cooldown across campaigns, in days: its default and its bounds (0:
#: only the hard floor).
DEFAULT_COOLDOWN_DAYS = 30
MAX_COOLDOWN_DAYS = 365


@dataclass(frozen=True, slots=True)
class PastSurvey:
    campaign_id: int
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Decision:
    eligible: bool
    reason: str


ELIGIBLE = Decision(True, "eligible")


def cooldown(cooldown_days: int) -> timedelta:
    """The time between two surveys of a contact across campaigns: the organization's
    cooldown, and never less than the hard floor."""
    return max(timedelta(days=cooldown_days), FLOOR)


def decide(
    *,
    contact_status: str,
    has_email: bool,
    campaign_id: int,
    throttle_days: int,
    history: Iterable[PastSurvey],
    now: datetime,
    cooldown_days: int = 0,
    needs_email: bool = True,
) -> Decision:
    """Whether a contact may get a survey of ``campaign_id`` now, and if not, why."""
    if contact_status in SUPPRESSED:
        return Decision(False, f"contact is {contact_status}")
    if needs_email and not has_email:
        return Decision(False, "contact has no email address")
    window = timedelta(days=throttle_days)
    between = cooldown(cooldown_days)
    for past in history:
        if past.status in NOT_COUNTED:
            continue
        if past.campaign_id == campaign_id and past.status == "scheduled":
            return Decision(False, "a survey of this campaign is already scheduled")
        if past.campaign_id == campaign_id and now - past.created_at < window:
            return Decision(
                False,
                f"throttled: surveyed {past.created_at:%Y-%m-%d} "
                f"(at most once every {throttle_days} days)",
            )
        if now - past.created_at < FLOOR:
            return Decision(False, "throttled: surveyed less than 24 hours ago")
        if now - past.created_at < between:
            return Decision(
                False,
                f"cooldown: surveyed {past.created_at:%Y-%m-%d} "
                f"(at most one survey every {cooldown_days} days across campaigns)",
            )
    return ELIGIBLE


def history_window(throttle_days: Iterable[int], cooldown_days: int = 0) -> timedelta:
    """How far back history matters for these campaigns' rules."""
    return max([timedelta(days=d) for d in throttle_days] + [cooldown(cooldown_days)])
