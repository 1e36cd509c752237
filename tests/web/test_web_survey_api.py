"""The web survey script's endpoints: a signed visitor is shown its due web survey, which
is recorded shown, dismissed or answered on the web channel; an unsigned or wrongly
signed visitor, another origin, another organization's visitor get nothing and store
nothing; bad bodies get clear 4xx answers, never a 500."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import deliveries, events, responses, segment_messages, surveys
from tests.conftest import Org
from tests.credentials import token
from tests.web_surveys import (
    ORIGIN,
    Site,
    identify_and_track,
    script_call,
    set_up_site,
    web_campaign,
)

PAGE = ORIGIN + "/projects/42"


def _survey_rows(database: Database) -> list[Any]:
    with database.read() as conn:
        return list(conn.execute(select(surveys).order_by(surveys.c.id)).all())


def _shown_survey(client: TestClient, site: Site, user: str) -> dict[str, Any]:
    asked = script_call(client, "survey", site.body(user, url=PAGE, languages=["en-GB"]))
    assert asked.status_code == 200, asked.text
    assert asked.headers["access-control-allow-origin"] == ORIGIN
    survey = asked.json()["survey"]
    assert survey is not None
    return dict(survey)


def test_a_signed_visitor_is_shown_the_survey_and_answers_it(
    client: TestClient, org: Org, database: Database
) -> None:
    site = set_up_site(client, org)
    web_campaign(client, org, questions=[{"id": "why", "text": "Why?", "type": "text"}])
    identify_and_track(client, org, "ann")
    (row,) = _survey_rows(database)
    assert row.channel == "web" and row.status == "scheduled"
    with database.read() as conn:
        emails = conn.execute(select(func.count()).select_from(deliveries)).scalar_one()
    assert emails == 0  # a web campaign emails nothing

    survey = _shown_survey(client, site, "ann")
    assert survey["language"] == "en" and survey["dir"] == "ltr"
    assert "recommend" in survey["text"]["question"]
    assert survey["brand"]["color"].startswith("#")
    assert [q["id"] for q in survey["questions"]] == ["why"]
    path = f"surveys/{survey['token']}"
    assert script_call(client, f"{path}/shown", site.body("ann", url=PAGE)).status_code == 200
    (row,) = _survey_rows(database)
    assert row.status == "sent" and row.shown_at is not None and row.page_url == PAGE
    # Shown once per page view: it is not offered again.
    again = script_call(client, "survey", site.body("ann", url=PAGE))
    assert again.json() == {"survey": None}

    scored = script_call(client, f"{path}/answer", site.body("ann", url=PAGE, score=9))
    assert scored.status_code == 200, scored.text
    commented = script_call(
        client,
        f"{path}/answer",
        site.body("ann", url=PAGE, comment="Fast", answers={"why": "Speed"}),
    )
    assert commented.status_code == 200, commented.text
    with database.read() as conn:
        response = conn.execute(select(responses)).one()
    assert (response.score, response.comment, response.channel) == (9, "Fast", "web")
    assert response.page_url == PAGE
    (row,) = _survey_rows(database)
    assert row.status == "answered"


def test_without_a_valid_signature_nothing_is_shown_or_stored(
    client: TestClient, org: Org, database: Database
) -> None:
    site = set_up_site(client, org)
    web_campaign(client, org)
    identify_and_track(client, org, "ann")
    token = _survey_rows(database)[0].token
    forged = {**site.body("ann", url=PAGE), "signature": "0" * 64}
    unsigned = {**site.body("ann", url=PAGE), "signature": ""}
    someone_else = {**site.body("bob", url=PAGE), "user_id": "ann"}
    for body in (forged, unsigned, someone_else):
        for path in ("survey", f"surveys/{token}/shown", f"surveys/{token}/dismiss"):
            refused = script_call(client, path, body)
            assert refused.status_code == 403, (path, refused.text)
            assert "signature" in refused.json()["error"]
        refused = script_call(client, f"surveys/{token}/answer", {**body, "score": 10})
        assert refused.status_code == 403
        refused = script_call(client, "track", {**body, "event": "Clicked"})
        assert refused.status_code == 403
    (row,) = _survey_rows(database)
    assert row.status == "scheduled" and row.shown_at is None
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(responses)).scalar_one() == 0
        names = set(conn.execute(select(events.c.name)).scalars())
    assert "Clicked" not in names


def test_only_allowed_origins_get_an_answer(client: TestClient, org: Org) -> None:
    site = set_up_site(client, org)
    web_campaign(client, org)
    identify_and_track(client, org, "ann")
    for origin in ("https://evil.example.net", None):
        refused = script_call(client, "survey", site.body("ann", url=PAGE), origin=origin)
        assert refused.status_code == 403
        assert "access-control-allow-origin" not in refused.headers
    unknown = script_call(client, "survey", {**site.body("ann"), "site_key": "ps_" + "x" * 24})
    assert unknown.status_code == 403 and "site key" in unknown.json()["error"]
    preflight = client.options(
        f"/w/v1/survey?site_key={site.site_key}",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-credentials" not in preflight.headers
    other = client.options(
        f"/w/v1/survey?site_key={site.site_key}", headers={"Origin": "https://evil.example.net"}
    )
    assert other.status_code == 403 and "access-control-allow-origin" not in other.headers


def test_another_organizations_visitor_and_survey_are_not_found(
    client: TestClient, org: Org, other_org: Org, database: Database
) -> None:
    mine = set_up_site(client, org)
    theirs = set_up_site(client, other_org)
    web_campaign(client, org)
    web_campaign(client, other_org)
    identify_and_track(client, org, "ann")
    identify_and_track(client, other_org, "ann")
    their_token = next(r.token for r in _survey_rows(database) if r.organization_id == other_org.id)
    survey = _shown_survey(client, mine, "ann")
    assert survey["token"] != their_token
    for action in ("shown", "dismiss", "answer"):
        refused = script_call(
            client, f"surveys/{their_token}/{action}", mine.body("ann", url=PAGE, score=1)
        )
        assert refused.status_code == 404, refused.text
    # Their secret signs nothing for us.
    crossed = {**theirs.body("ann"), "site_key": mine.site_key}
    assert script_call(client, "survey", crossed).status_code == 403


def test_a_dismissed_survey_is_not_shown_or_emailed_and_counts_for_the_cooldown(
    client: TestClient, org: Org, database: Database
) -> None:
    site = set_up_site(client, org)
    web_campaign(client, org, channel="both")
    identify_and_track(client, org, "ann")
    (row,) = _survey_rows(database)
    with database.read() as conn:
        (delivery,) = conn.execute(select(deliveries)).all()
    # In the app first; the email waits three days.
    assert delivery.due_at - row.scheduled_at == timedelta(days=3)
    survey = _shown_survey(client, site, "ann")
    path = f"surveys/{survey['token']}"
    dismissed = script_call(client, f"{path}/dismiss", site.body("ann", url=PAGE))
    assert dismissed.status_code == 200 and dismissed.json()["dismissed"] is True
    (row,) = _survey_rows(database)
    assert row.status == "dismissed" and row.dismissed_at is not None
    with database.read() as conn:
        (delivery,) = conn.execute(select(deliveries)).all()
    assert delivery.status == "cancelled"
    assert script_call(client, "survey", site.body("ann")).json() == {"survey": None}
    late = script_call(client, f"{path}/answer", site.body("ann", score=3))
    assert late.status_code == 409
    # The next event is within the cooldown: no new survey on any channel.
    identify_and_track(client, org, "ann", "Opened again")
    assert len(_survey_rows(database)) == 1


def test_a_both_survey_not_seen_in_the_app_is_emailed_and_then_can_be_answered_there(
    client: TestClient, org: Org, services: Services, database: Database
) -> None:
    site = set_up_site(client, org)
    web_campaign(client, org, channel="both")
    identify_and_track(client, org, "ann")
    with database.write() as conn:
        conn.execute(update(deliveries).values(due_at=datetime.now(UTC) - timedelta(minutes=1)))
    assert asyncio.run(services.worker().run_once()) >= 1
    (row,) = _survey_rows(database)
    assert row.status == "sent" and row.channel == "email"
    survey = _shown_survey(client, site, "ann")
    path = f"surveys/{survey['token']}"
    assert script_call(client, f"{path}/answer", site.body("ann", score=4)).status_code == 200
    with database.read() as conn:
        response = conn.execute(select(responses)).one()
    assert response.channel == "web" and response.score == 4


def test_a_contact_surveyed_by_email_is_not_shown_a_web_survey_within_the_cooldown(
    client: TestClient, org: Org, database: Database
) -> None:
    site = set_up_site(client, org)
    identify_and_track(client, org, "ann")  # the default campaign emails
    assert _survey_rows(database)[0].channel == "email"
    web_campaign(client, org)
    identify_and_track(client, org, "ann", "Opened again")
    assert len(_survey_rows(database)) == 1
    assert script_call(client, "survey", site.body("ann")).json() == {"survey": None}


def test_track_and_identify_from_the_page_go_through_ingestion(
    client: TestClient, org: Org, database: Database
) -> None:
    site = set_up_site(client, org)
    identify_and_track(client, org, "ann")
    tracked = script_call(
        client, "track", site.body("ann", event="Viewed Report", url=PAGE, properties={"n": 1})
    )
    assert tracked.status_code == 202 and tracked.json() == {"ok": True}
    changed = script_call(
        client,
        "identify",
        site.body("ann", traits={"theme": "dark", "email": "attacker@example.net"}),
    )
    assert changed.status_code == 202 and changed.json() == {"ok": True}
    nobody = script_call(client, "track", site.body("nobody", event="Viewed Report"))
    assert nobody.json() == {"ok": False, "reason": "no such contact"}
    contact = client.get(
        "/api/v2/contacts/", params={"email": "ann@example.com"}, headers=token(org.key)
    ).json()["results"][0]
    assert contact["email"] == "ann@example.com"
    assert contact["attributes"]["theme"] == "dark"
    with database.read() as conn:
        assert "Viewed Report" in set(conn.execute(select(events.c.name)).scalars())


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"not json", 400, "JSON"),
        (b"[1, 2]", 400, "object"),
        (b'{"site_key": "ps_x"}', 400, "user_id"),
        (b"{" + b'"a": "' + b"x" * 20_000 + b'"}', 413, "limit"),
    ],
)
def test_bad_bodies_get_clear_errors(
    client: TestClient, org: Org, body: bytes, status: int, needle: str
) -> None:
    set_up_site(client, org)
    answered = client.post(
        "/w/v1/survey", content=body, headers={"Origin": ORIGIN, "Content-Type": "text/plain"}
    )
    assert answered.status_code == status, answered.text
    assert needle in answered.json()["error"]


def test_bad_answers_get_clear_errors(client: TestClient, org: Org) -> None:
    site = set_up_site(client, org)
    web_campaign(
        client,
        org,
        questions=[{"id": "pick", "text": "Pick", "type": "single", "choices": ["a", "b"]}],
    )
    identify_and_track(client, org, "ann")
    path = f"surveys/{_shown_survey(client, site, 'ann')['token']}/answer"
    for body, needle in (
        (site.body("ann", score=11), "score"),
        (site.body("ann", comment="no score yet"), "score"),
        (site.body("ann", score=5, answers={"pick": "c"}), "answers"),
        (site.body("ann", score=5, comment="x" * 6000), "5000"),
    ):
        refused = script_call(client, path, body)
        assert refused.status_code == 400, refused.text
        assert needle in refused.text
    assert script_call(client, "surveys/nope/answer", site.body("ann", score=5)).status_code == 404
    assert script_call(client, f"{path[:-7]}/other", site.body("ann")).status_code == 404


def test_a_visitor_over_budget_is_told_to_wait(client: TestClient, org: Org) -> None:
    site = set_up_site(client, org)
    statuses = [script_call(client, "survey", site.body("ann")).status_code for _ in range(40)]
    assert statuses[0] == 200 and statuses[-1] == 429
    limited = script_call(client, "survey", site.body("ann"))
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["access-control-allow-origin"] == ORIGIN
    # Another visitor of the same site still gets through.
    assert script_call(client, "survey", site.body("bob")).status_code == 200


def test_shown_and_dismissed_surveys_flow_to_the_segment_source(
    client: TestClient, org: Org, database: Database
) -> None:
    site = set_up_site(client, org)
    web_campaign(client, org)
    source = {
        "write_key": "wk_acme",
        "host": "https://segment.example",
        "events": ["Survey Sent", "Survey Dismissed"],
    }
    saved = client.put("/api/v2/segment-source/", json=source, headers=token(org.key))
    assert saved.status_code == 200, saved.text
    identify_and_track(client, org, "ann")
    path = f"surveys/{_shown_survey(client, site, 'ann')['token']}"
    assert script_call(client, f"{path}/shown", site.body("ann")).status_code == 200
    assert script_call(client, f"{path}/dismiss", site.body("ann")).status_code == 200
    with database.read() as conn:
        queued = conn.execute(select(segment_messages.c.kind, segment_messages.c.message)).all()
    assert [kind for kind, _ in queued] == ["Survey Sent", "Survey Dismissed"]
    for _, message in queued:
        assert message["userId"] == "ann"
        assert message["properties"]["channel"] == "web"
