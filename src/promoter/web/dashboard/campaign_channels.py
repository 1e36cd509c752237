"""The campaign form's channel (email, in the app, or both) and what the pages say about
it: each channel's name, and whether the organization's web survey can show anything."""

from __future__ import annotations

from typing import Final, Literal

from sqlalchemy import Connection

from promoter.domain.channels import WEB_FIRST
from promoter.websurveys.settings import get_settings

#: The web survey's state, for the hint beside the channel: ready, never saved, or off.
WebSurveyState = Literal["ready", "not set up", "not enabled"]

WEB_FIRST_DAYS: Final = WEB_FIRST.days
#: The radio group's choices, as (value, label, hint).
OPTIONS: Final = (
    ("email", "Email", "The survey is emailed."),
    (
        "web",
        "In the app (web survey)",
        "Shown when the person is on a page with the snippet; dropped after 30 days "
        "if they never are.",
    ),
    (
        "both",
        "Both",
        f"In the app first; emailed after {WEB_FIRST_DAYS} days if not shown there.",
    ),
)
#: How the campaign list names each channel.
NAMES: Final = {"email": "Email", "web": "In the app", "both": "App, then email"}


def web_survey_state(conn: Connection, organization_id: int) -> WebSurveyState:
    found = get_settings(conn, organization_id=organization_id)
    if found is None:
        return "not set up"
    return "ready" if found.enabled else "not enabled"
