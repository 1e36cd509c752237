"""The demo organization: built once, through the real write paths, with a realistic
year of data; `promoter demo` and `promoter serve --demo`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from promoter import demo
from promoter.accounts.passwords import Passwords
from promoter.accounts.users import check_credentials
from promoter.analytics.breakdown import breakdown
from promoter.analytics.query import NpsQuery, scope
from promoter.analytics.trend import trend
from promoter.campaigns.service import list_campaigns
from promoter.cli import main
from promoter.demo.clock import Clock
from promoter.orgs.service import authenticate, list_organizations
from promoter.storage.engine import Database
from promoter.storage.migrate import upgrade
from promoter.storage.tables import (
    contacts,
    deliveries,
    events,
    orders,
    response_answers,
    response_tags,
    responses,
    surveys,
)

NOW = datetime(2026, 6, 30, 15, 0, tzinfo=UTC)
SMALL = 40


def _count(database: Database, table: Any, *where: Any) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _sqlite(tmp_path: Path, name: str) -> Database:
    database = Database.from_url(f"sqlite:///{tmp_path / name}")
    upgrade(database.engine)
    return database


def _fingerprint(database: Database) -> list[Any]:
    """What the demo is made of, without ids and random tokens."""
    with database.read() as conn:
        return [
            conn.execute(
                select(contacts.c.user_id, contacts.c.email, contacts.c.status).order_by(
                    contacts.c.user_id
                )
            ).all(),
            conn.execute(
                select(events.c.user_id, events.c.name, events.c.timestamp).order_by(
                    events.c.timestamp, events.c.user_id, events.c.name
                )
            ).all(),
            conn.execute(
                select(
                    responses.c.created_at,
                    responses.c.score,
                    responses.c.comment,
                    responses.c.status,
                    responses.c.contact_snapshot,
                ).order_by(responses.c.created_at, responses.c.score)
            ).all(),
        ]


def test_demo_is_built_once(database: Database) -> None:
    passwords = Passwords()
    login = demo.ensure_demo(database, passwords, now=NOW, size=SMALL)
    assert login.created and login.api_key is not None
    assert login.organization_name == "Demo Inc." and login.contacts == SMALL
    counts = (
        _count(database, contacts),
        _count(database, events),
        _count(database, surveys),
        _count(database, responses),
    )
    assert counts[0] == SMALL and counts[1] == login.events and counts[3] == login.responses > 0

    again = demo.ensure_demo(database, passwords, now=NOW + timedelta(days=1), size=SMALL)
    assert not again.created and again.api_key is None
    assert again.organization_id == login.organization_id
    assert (
        _count(database, contacts),
        _count(database, events),
        _count(database, surveys),
        _count(database, responses),
    ) == counts
    with database.write() as conn:
        assert [o.name for o in list_organizations(conn)] == ["Demo Inc."]
        assert authenticate(conn, key=login.api_key) is not None
        user = check_credentials(
            conn, passwords, email=demo.DEMO_EMAIL, password=demo.DEMO_PASSWORD, now=NOW
        )
        assert user is not None and user.organization_id == login.organization_id
        assert (
            check_credentials(conn, passwords, email=demo.DEMO_EMAIL, password="wrong!!!", now=NOW)
            is None
        )


def test_an_interrupted_build_is_made_again(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("interrupted")

    with monkeypatch.context() as patch:
        patch.setattr("promoter.demo.build.create_user", fail)
        with pytest.raises(RuntimeError, match="interrupted"):
            demo.ensure_demo(database, Passwords(), now=NOW, size=SMALL)
    with database.read() as conn:
        assert [o.name for o in list_organizations(conn)] == [demo.INCOMPLETE_NAME]
    assert _count(database, responses) > 0

    login = demo.ensure_demo(database, Passwords(), now=NOW, size=SMALL)
    assert login.created
    with database.read() as conn:
        assert [o.name for o in list_organizations(conn)] == ["Demo Inc."]
    assert _count(database, contacts) == SMALL
    assert _count(database, events) == login.events
    assert _count(database, responses) == login.responses
    assert _count(database, orders) == _count(database, events, events.c.name == "Order Completed")


def test_the_same_seed_and_time_make_the_same_demo(tmp_path: Path) -> None:
    first, second = _sqlite(tmp_path, "a.sqlite3"), _sqlite(tmp_path, "b.sqlite3")
    try:
        demo.ensure_demo(first, Passwords(), now=NOW, size=SMALL)
        demo.ensure_demo(second, Passwords(), now=NOW, size=SMALL)
        assert _fingerprint(first) == _fingerprint(second)
    finally:
        first.dispose()
        second.dispose()


def _nps(rows: list[tuple[datetime, int]], since: datetime, until: datetime) -> float:
    scores = [score for at, score in rows if since <= at < until]
    assert len(scores) >= 30, (since, until, len(scores))
    return 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)


def test_the_default_demo_looks_like_a_year_of_use(tmp_path: Path) -> None:
    """The default size, on SQLite: counts, shape, and the stories the data tells."""
    database = _sqlite(tmp_path, "demo.sqlite3")
    try:
        started = datetime.now(UTC)
        login = demo.ensure_demo(database, Passwords(), now=NOW)
        assert datetime.now(UTC) - started < timedelta(seconds=60)
        org = login.organization_id
        assert 300 <= login.contacts <= 600
        sent = _count(database, surveys, surveys.c.sent_at.is_not(None))
        answered = _count(database, responses)
        assert 1500 <= answered <= 3000
        assert 0.3 <= answered / sent <= 0.45
        # Nothing left for the delivery worker: the demo sends no email by itself.
        assert _count(database, deliveries, deliveries.c.status == "pending") == 0
        assert _count(database, surveys, surveys.c.status == "scheduled") == 0
        assert _count(database, contacts, contacts.c.status == "bounced") > 0
        assert _count(database, contacts, contacts.c.status == "unsubscribed") > 0

        with database.read() as conn:
            names = set(conn.execute(select(events.c.name).distinct()).scalars())
            assert {
                "Logged In",
                "Feature Used",
                "Invited Teammate",
                "Exported Report",
                "Order Completed",
            } <= names
            order_rows = conn.execute(select(orders.c.total, orders.c.products)).all()
            assert len(order_rows) >= 300
            assert all(total > 0 and products for total, products in order_rows)

            made = list_campaigns(conn, organization_id=org)
            assert len(made) >= 3
            assert any(c.kind == "manual" for c in made)
            assert any(c.trigger_events == ["Order Completed"] for c in made)
            assert any(c.kind == "segment" and not c.trigger_events for c in made)
            used = set(conn.execute(select(surveys.c.campaign_id).distinct()).scalars())
            assert used == {c.id for c in made}

            comments = list(
                conn.execute(
                    select(responses.c.comment).where(responses.c.comment.is_not(None))
                ).scalars()
            )
            assert len(comments) >= 300 and len(set(comments)) >= 30
            assert any(c in comments for c, _ in demo.COMMENTS["de"]["promoter"])
            tags = set(conn.execute(select(response_tags.c.tag).distinct()).scalars())
            assert tags == set(demo.TAGS)
            closed = _count(database, responses, responses.c.status == "CLOSED")
            assert 100 <= closed < answered / 2

            query = NpsQuery(organization_id=org, since=NOW - timedelta(days=400), until=NOW)
            resolved = scope(conn, query, now=NOW)
            months = trend(conn, resolved, interval="month", zone=ZoneInfo("UTC"))
            assert sum(1 for p in months if p.summary.responses >= 30) >= 12
            by_plan = {
                row.value: row.summary.nps
                for row in breakdown(conn, resolved, by="plan").rows
                if row.summary.responses >= 100
            }
            assert set(by_plan) == {"Free", "Starter", "Pro", "Enterprise"}
            assert by_plan["Enterprise"] > by_plan["Pro"] > by_plan["Starter"] > by_plan["Free"]  # type: ignore[operator]
            assert by_plan["Enterprise"] - by_plan["Free"] >= 30  # type: ignore[operator]

            # The purchase survey's follow-up questions are answered, detractors' "improve".
            (purchase,) = [c for c in made if c.trigger_events == ["Order Completed"]]
            assert [q.id for q in purchase.questions] == ["delivery", "improve"]
            given = conn.execute(
                select(response_answers.c.question_id, responses.c.score)
                .join(responses, responses.c.id == response_answers.c.response_id)
                .where(response_answers.c.campaign_id == purchase.id)
            ).all()
            assert sum(1 for q, _ in given if q == "delivery") >= 100
            assert any(q == "improve" for q, _ in given)
            assert all(score <= 6 for q, score in given if q == "improve")

            rows = [(r.created_at, r.score) for r in conn.execute(select(responses))]
        year = _nps(rows, NOW - timedelta(days=365), NOW)
        change = Clock.at(NOW).pricing_change
        after_change = _nps(rows, change, change + timedelta(days=40))
        last_quarter = _nps(rows, NOW - timedelta(days=45), NOW)
        earlier = _nps(rows, NOW - timedelta(days=365), NOW - timedelta(days=90))
        assert after_change < year - 15
        assert last_quarter > earlier + 10
    finally:
        database.dispose()


@pytest.fixture
def runner(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("PROMOTER_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    # A small demo keeps the command tests fast.
    build = demo.ensure_demo

    def small(*args: Any, **kwargs: Any) -> demo.DemoLogin:
        return build(*args, **{**kwargs, "size": SMALL})

    monkeypatch.setattr("promoter.cli.demo.ensure_demo", small)
    return CliRunner()


def _invoke(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_command(runner: CliRunner, database: Database) -> None:
    out = _invoke(runner, "demo")
    assert re.search(rf"organization \d+: Demo Inc\., with {SMALL} contacts", out), out
    assert re.search(r"API key: +pk_\S+", out)
    assert "http://127.0.0.1:8000/login" in out
    assert "demo@promoter.example" in out and "demo-password" in out
    responses_made = _count(database, responses)

    out = _invoke(runner, "demo")
    assert "exists already" in out and "pk_" not in out
    assert "demo@promoter.example" in out and "demo-password" in out
    assert _count(database, responses) == responses_made
    assert "Demo Inc." in _invoke(runner, "org", "list")


def test_serve_with_demo(
    runner: CliRunner, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[object] = []

    def run(app: Any, **kwargs: Any) -> None:
        served.append(app)
        app.state.services.database.dispose()

    monkeypatch.setattr("uvicorn.run", run)

    out = _invoke(runner, "serve", "--demo", "--no-worker")
    assert re.search(r"API key \(Demo Inc\.\): +pk_\S+", out), out
    assert "demo@promoter.example" in out and "demo-password" in out
    assert "/login" in out and "(Default)" not in out
    out = _invoke(runner, "serve", "--demo", "--no-worker")
    assert "pk_" not in out and "demo@promoter.example" in out
    assert len(served) == 2
    with database.read() as conn:
        assert [o.name for o in list_organizations(conn)] == ["Demo Inc."]


def test_serve_without_demo_makes_an_empty_default_organization(
    runner: CliRunner, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: app.state.services.database.dispose())
    out = _invoke(runner, "serve", "--no-worker")
    assert re.search(r"API key \(Default\): +pk_\S+", out), out
    assert "demo login" not in out
    assert _count(database, contacts) == 0
