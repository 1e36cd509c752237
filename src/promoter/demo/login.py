"""Who signs in to the demo: its organization's name, its user and password; finding it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from promoter.accounts.users import normalise_email
from promoter.storage.tables import organizations, users

DEMO_ORGANIZATION = "Demo Inc."
DEMO_EMAIL = "demo@promoter.example"
DEMO_PASSWORD = "demo-password"
#: The name the organization has until its build is complete.
INCOMPLETE_NAME = "Demo Inc. (incomplete)"


@dataclass(frozen=True, slots=True)
class DemoLogin:
    """Where to sign in to the demo, and its API key if it was made just now."""

    organization_id: int
    organization_name: str
    email: str
    password: str
    created: bool
    api_key: str | None = None
    contacts: int = 0
    events: int = 0
    responses: int = 0


def find_demo(conn: Connection) -> DemoLogin | None:
    """The demo, if it was made: its organization is the demo user's."""
    row = conn.execute(
        select(users.c.organization_id, organizations.c.name)
        .join(organizations, organizations.c.id == users.c.organization_id)
        .where(users.c.email == normalise_email(DEMO_EMAIL))
    ).first()
    if row is None:
        return None
    return DemoLogin(
        organization_id=row.organization_id,
        organization_name=row.name,
        email=DEMO_EMAIL,
        password=DEMO_PASSWORD,
        created=False,
    )
