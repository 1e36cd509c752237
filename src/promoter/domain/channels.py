"""The channels a survey reaches people by: email, an in-app web survey, a public link."""

from __future__ import annotations

from typing import Literal

Channel = Literal["email", "web", "link"]

#: Every channel, in the order they are listed; a survey is sent by email unless told.
CHANNELS: tuple[Channel, ...] = ("email", "web", "link")
EMAIL: Channel = "email"
