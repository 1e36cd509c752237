"""A secret shown once after a redirect, with several server processes: the POST that
makes it and the GET that shows it may reach different processes on one database."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from promoter.accounts import shown_once
from promoter.app import create_app
from promoter.config import Settings
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import shown_once as shown_once_table
from promoter.web.dashboard.session import COOKIE
from tests.dashboard.conftest import Browser, add_user, sign_in

NEW_KEY = re.compile(r'data-testid="new-key">([^<]+)<')
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_new_key_made_on_one_process_is_shown_once_by_another(
    browser: Browser, services: Services, settings: Settings, database: Database
) -> None:
    made = browser.post("/settings/segment/keys", {"name": "Segment prod"})
    assert made.status_code == 303  # type: ignore[attr-defined]
    cookie = browser.client.cookies[COOKIE]
    with database.read() as conn:
        (row,) = conn.execute(select(shown_once_table)).all()
    # Neither the cookie's digest (the session's id) nor the key in clear are stored.
    assert row.id != hashlib.sha256(cookie.encode()).hexdigest()
    assert b"pk_" not in bytes(row.sealed) and b"Segment" not in bytes(row.sealed)

    other_database = Database.from_url(settings.database_url)
    with TestClient(create_app(Services.build(settings, other_database))) as other:
        # Another user of the same organization, on the other process, sees nothing.
        add_user(services, browser.org, "bo@example.com")
        sign_in(other, "bo@example.com")
        assert not NEW_KEY.search(other.get("/settings/segment").text)
        other.cookies.clear()
        other.cookies.set(COOKIE, cookie)
        shown = other.get("/settings/segment")
        assert shown.status_code == 200
        match = NEW_KEY.search(shown.text)
        assert match, "the key made on the first process is shown by the second"
        assert "Segment prod" in shown.text
        assert not NEW_KEY.search(other.get("/settings/segment").text)
    assert not NEW_KEY.search(browser.client.get("/settings/segment").text)
    with database.read() as conn:
        assert conn.execute(select(shown_once_table)).all() == []


def test_what_is_not_shown_in_time_is_gone_and_purged(database: Database) -> None:
    with database.write() as conn:
        shown_once.keep(conn, session_token="t1", page="/p", context={"s": "x"}, now=NOW)
        shown_once.keep(conn, session_token="t2", page="/p", context={"s": "y"}, now=NOW)
    late = NOW + shown_once.KEEP
    with database.read() as conn:
        assert shown_once.waiting(conn, session_token="t1", page="/p", now=NOW)
        assert not shown_once.waiting(conn, session_token="t1", page="/other", now=NOW)
        assert not shown_once.waiting(conn, session_token="t1", page="/p", now=late)
    with database.write() as conn:
        assert shown_once.take(conn, session_token="t1", page="/p", now=late) == {}
        assert shown_once.purge_expired(conn, now=late - timedelta(seconds=1)) == 0
        assert shown_once.purge_expired(conn, now=late) == 1
        assert shown_once.take(conn, session_token="t2", page="/p", now=NOW) == {}
