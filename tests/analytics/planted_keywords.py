"""A planted set of comments for the keyword tests, small enough to count by hand.

The window is the four weeks from Monday 2026-06-01 to 2026-06-29; the window before it,
of equal length, starts 2026-05-04.

- "price" (English, "prices"/"price"): 6 detractors in week 1 ("The prices are too
  high", 2), 2 passives in week 2 ("Price is fine", 8), 4 promoters in week 3 ("Good
  price", 10): 12 comments, NPS (4 - 6) / 12 = -16.7; "good" only ever with "good price".
  The window before: 3 promoters ("The prices are too high", 10).
- "customer support" (3 detractors, 3, week 1) and "support" (those and 2 promoters, "The
  support is great", 10, week 2); "customer" only ever with "customer support".
- French "Les prix sont trop chers" (0) twice, German "Die Preise sind zu hoch" (5) twice,
  Spanish "Los precios son altos" (10) twice: "prix", "preis", "precio" and "alto".
- "Nice onboarding" once: in fewer than 2 comments, no keyword.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, update

from promoter.campaigns.service import list_campaigns
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, response_attributes, responses
from tests.analytics.dataset import answer_survey
from tests.conftest import Org

SINCE = datetime(2026, 6, 1, tzinfo=UTC)
UNTIL = datetime(2026, 6, 29, tzinfo=UTC)
WINDOW = {"since": "2026-06-01", "until": "2026-06-28"}

#: (comment, score, week (0: the first of the window; -1: the week before it), language)
COMMENTS: list[tuple[str, int, int, str | None]] = [
    *[("The prices are too high", 2, 0, None)] * 6,
    *[("Price is fine", 8, 1, None)] * 2,
    *[("Good price", 10, 2, None)] * 4,
    *[("The prices are too high", 10, -1, None)] * 3,
    *[("Customer support was slow", 3, 0, None)] * 3,
    *[("The support is great", 10, 1, None)] * 2,
    *[("Les prix sont trop chers", 0, 0, "fr")] * 2,
    *[("Die Preise sind zu hoch", 5, 1, "de-DE")] * 2,
    *[("Los precios son altos", 10, 2, "es")] * 2,
    ("Nice onboarding", 9, 3, None),
]


def plant(
    database: Database,
    org: Org,
    comments: list[tuple[str, int, int, str | None]],
    *,
    prefix: str = "k",
) -> None:
    """One contact and response for each comment, answered on the Tuesday of its week;
    contacts are ``prefix`` and a number (another prefix: more contacts)."""
    with database.write() as conn:
        campaign_id = list_campaigns(conn, organization_id=org.id)[0].id
        for i, (comment, score, week, language) in enumerate(comments):
            at = SINCE + timedelta(weeks=week, days=1, hours=i % 20)
            email = f"{prefix}{i}-{secrets.token_hex(3)}@example.com"
            contact_id = conn.execute(
                insert(contacts)
                .values(
                    organization_id=org.id,
                    user_id=f"{prefix}{i}",
                    email=email,
                    email_key=email,
                    created_at=at,
                    updated_at=at,
                )
                .returning(contacts.c.id)
            ).scalar_one()
            _, response_id = answer_survey(conn, org.id, contact_id, campaign_id, score, at)
            conn.execute(
                update(responses).where(responses.c.id == response_id).values(comment=comment)
            )
            if language is not None:
                conn.execute(
                    insert(response_attributes).values(
                        response_id=response_id,
                        name="language",
                        organization_id=org.id,
                        value_type="string",
                        value_text=language,
                    )
                )
