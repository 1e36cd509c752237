"""The channels a survey reaches people by: email, an in-app web survey, a public link;
and the channels a campaign surveys by."""

from __future__ import annotations

from datetime import timedelta
from typing import Final, Literal

Channel = Literal["email", "web", "link"]

#: Every channel, in the order they are listed; a survey is sent by email unless told.
CHANNELS: tuple[Channel, ...] = ("email", "web", "link")
EMAIL: Channel = "email"
WEB: Channel = "web"
LINK: Channel = "link"

#: How a campaign surveys the people its events trigger: by email, in the app (the web
#: survey), or both: in the app first, by email if they are not in the app meanwhile.
CampaignChannel = Literal["email", "web", "both"]
CAMPAIGN_CHANNELS: tuple[CampaignChannel, ...] = ("email", "web", "both")

#: A "both" campaign's survey waits this long for the person to be in the app before it
#: is emailed instead.
WEB_FIRST: Final = timedelta(days=3)
#: A web survey not shown within this long of its time is dropped (the person was not in
#: the app): it would be stale by then.
WEB_PENDING: Final = timedelta(days=30)


def uses_web(channel: str) -> bool:
    return channel in ("web", "both")


def uses_email(channel: str) -> bool:
    return channel in ("email", "both")
