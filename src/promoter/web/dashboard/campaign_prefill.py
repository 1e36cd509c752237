"""What the campaign forms offer besides a campaign's own settings: a new campaign's email
filled in from the organization, the event names it tracks, and its time zone (the send
window's for contacts without one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from promoter.campaigns.event_names import suggested_event_names
from promoter.campaigns.models import TemplateSettings
from promoter.campaigns.service import default_template
from promoter.orgs.service import get_organization

#: The form field whose value, when sent, is added to the trigger events (without script;
#: with it, its Add button adds the name to the list at once).
ADD_EVENT = "trigger_event_add"


@dataclass(frozen=True)
class FormHelp:
    """The organization's event names (the most frequent lately first) and time zone."""

    event_names: list[str] = field(default_factory=list)
    timezone: str = ""

    def context(self) -> dict[str, Any]:
        return {"event_names": self.event_names, "timezone": self.timezone}


def form_help(conn: Connection, organization_id: int) -> FormHelp:
    org = get_organization(conn, organization_id=organization_id)
    names = suggested_event_names(conn, organization_id=organization_id, now=datetime.now(UTC))
    return FormHelp(names, org.timezone)


def new_template(conn: Connection, organization_id: int) -> TemplateSettings:
    """A new campaign's email as the organization's first campaign has it: from and about
    the organization, asking in English."""
    return default_template(get_organization(conn, organization_id=organization_id).name)


def with_added_event(trigger_events: str, added: str) -> str:
    """The trigger events' lines with ``added`` as one more (when it is not one yet)."""
    added = added.strip()
    lines = trigger_events.splitlines()
    if not added or added in (line.strip() for line in lines):
        return trigger_events
    return "\n".join([*(line for line in lines if line.strip()), added])
