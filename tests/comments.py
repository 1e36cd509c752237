"""Comments for the search tests: one response for each, by a contact named after it."""

from __future__ import annotations

from sqlalchemy import select

from promoter.storage.engine import Database
from promoter.storage.tables import responses
from tests.conftest import Org
from tests.surveys import answer

COMMENTS = {
    "prices": "The prices are too high",
    "fast": "Great service, fast support",
    "slow": "Service was not great",
    "cafe": "Café zu teuer für Über-Kunden",
    "cjk": "价格太高了",
    "ui": "Don't like the new UI",
}
#: Searches that a query language would take for syntax.
HOSTILE = [
    '"',
    "*",
    "NEAR(",
    "NEAR(great service, 2)",
    "-",
    "'",
    "AND",
    "OR NOT",
    '"unbalanced phrase',
    "comment:great",
    "^great",
    "\\",
    "'; DROP TABLE responses; --",
    "great\x00service",
    "(",
    ")",
    "{} [] !:&|<->",
    "great*",
    "a''b",
    "c:\\temp\\ great\\",
]
#: Those who gave a 9; the others gave a 3.
PROMOTERS = ("fast", "cafe")


def say_comments(database: Database, org: Org) -> dict[str, int]:
    """One response for each of ``COMMENTS``: their ids, by the contact's user id."""
    for user_id, comment in COMMENTS.items():
        answer(database, org, user_id, 9 if user_id in PROMOTERS else 3, comment)
    with database.read() as conn:
        rows = conn.execute(
            select(responses.c.comment, responses.c.id).where(responses.c.organization_id == org.id)
        ).all()
    by_comment = {comment: response_id for comment, response_id in rows}
    return {user_id: by_comment[comment] for user_id, comment in COMMENTS.items()}
