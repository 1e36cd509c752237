"""``promoter digest preview`` and ``promoter digest send``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from promoter.digest.week import last_complete_week
from promoter.storage.engine import Database
from promoter.storage.tables import notice_emails, responses
from tests.alerts.planted import add_user, answer_at
from tests.analytics.writes import identify
from tests.conftest import Org
from tests.integration.conftest import Run

pytestmark = pytest.mark.one_database(
    reason="the commands read and queue through the functions tests/digest runs on both"
)


def test_digest_preview_then_send(run: Run, database: Database, org: Org, other_org: Org) -> None:
    week = last_complete_week(datetime.now(UTC))
    identify(database, org, "u1", plan="Free")
    answer_at(database, org, "u1", [(week.since + timedelta(days=1), 2)])
    with database.write() as conn:
        conn.execute(update(responses).values(comment="Billing is <b>broken</b>"))
    add_user(database, org, "admin@acme.example", "admin", None)
    add_user(database, other_org, "admin@globex.example", "admin", None)

    text = run("digest", "preview", str(org.id))
    assert text.startswith(f"Acme: your NPS week, {week.label}")
    assert "NPS -100 (1 answers)" in text and "- [2] Billing is <b>broken</b>" in text
    assert "/feedback/" in text
    assert run("digest", "send", str(org.id)).strip() == "queued 1 digest emails"
    with database.read() as conn:
        assert list(conn.execute(select(notice_emails.c.to_address)).scalars()) == [
            "admin@acme.example"
        ]
    assert "no organization with id 999" in run("digest", "preview", "999", code=1)
