"""One click records a person's score; a link scanner opening every score link records none.

The scanner is simulated as scanners behave: it fetches every score link of the email,
with and without running the page's script (the script's only request is the click POST).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import responses, score_clicks, surveys
from promoter.surveys.clicks import QUIET, SCANNER_SCORES, add_click, settle_clicks
from promoter.surveys.responses import find_survey
from promoter.surveys.settler import ClickSettler
from tests.conftest import Org
from tests.credentials import token
from tests.surveys import survey_link


def click(client: TestClient, link: str, score: int | str, source: str = "link") -> str:
    """What a browser running the page's script does on opening the score link."""
    page = client.get(f"{link}/{score}")
    assert page.status_code == 200 and "<script>" in page.text and "data-auto" in page.text
    answer = client.post(f"{link}/click", data={"score": str(score), "source": source})
    assert answer.status_code == 200
    status: str = answer.json()["status"]
    return status


def settle(database: Database, after: timedelta = QUIET + timedelta(seconds=1)) -> tuple[int, int]:
    with database.write() as conn:
        settled = settle_clicks(conn, now=datetime.now(UTC) + after)
    return settled.recorded, settled.discarded


def answers(database: Database) -> list[int]:
    with database.read() as conn:
        return list(conn.execute(select(responses.c.score)).scalars())


def click_statuses(database: Database) -> list[str]:
    with database.read() as conn:
        rows = conn.execute(select(score_clicks.c.status).order_by(score_clicks.c.id))
        return list(rows.scalars())


def test_a_scanner_fetching_every_link_without_script_records_nothing(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    link = survey_link(client, services, database, org)
    for score in range(11):
        assert client.get(f"{link}/{score}").status_code == 200
    assert settle(database) == (0, 0)
    assert answers(database) == [] and click_statuses(database) == []


def test_a_scanner_running_the_script_on_every_link_is_discarded(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    link = survey_link(client, services, database, org)
    said = [click(client, link, score) for score in range(11)]
    # From the third different score on, the page asks for a Confirm press instead.
    assert said == ["saved"] * (SCANNER_SCORES - 1) + ["confirm"] * (12 - SCANNER_SCORES)
    assert settle(database, after=timedelta(seconds=30)) == (0, 0)  # not quiet yet
    assert settle(database) == (0, 11)
    assert answers(database) == []
    assert click_statuses(database) == ["discarded"] * 11
    with database.read() as conn:
        assert conn.execute(select(surveys.c.status)).scalar_one() != "answered"


def test_a_persons_single_click_becomes_the_answer_once_quiet(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    link = survey_link(client, services, database, org)
    before = datetime.now(UTC)
    assert click(client, link, 9) == "saved"
    # Re-opened before it is settled, the page shows the score as saved.
    page = client.get(link)
    assert 'value="9" checked' in page.text and "already answered" in page.text
    assert answers(database) == []
    assert settle(database) == (1, 0)
    with database.read() as conn:
        response = conn.execute(select(responses)).one()
        # Answered when clicked; changed when settled, so readers catching up by
        # updated_at (analytics, incremental exports) see it.
        assert response.score == 9 and before <= response.created_at <= datetime.now(UTC)
        assert response.updated_at > datetime.now(UTC) + QUIET - timedelta(seconds=5)
        assert conn.execute(select(surveys.c.status)).scalar_one() == "answered"
    assert click_statuses(database) == ["recorded"]
    assert settle(database) == (0, 0)  # settled once


def test_a_scanner_before_the_person_does_not_take_the_persons_click(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    link = survey_link(client, services, database, org)
    token = services.signer.unsign(link[len("/s/") :])
    assert token is not None
    delivered = datetime.now(UTC) - timedelta(hours=1)
    with database.write() as conn:
        survey = find_survey(conn, token=token)
        assert survey is not None
        for score in range(11):  # the scanner, seconds after delivery
            add_click(conn, survey, score=score, now=delivered + timedelta(seconds=score))
    # A link scanner that fetches the link the person clicks, just before them (as link
    # rewriting services do), names the same score: still the person's answer.
    assert click(client, link, 8) == "saved"
    assert click(client, link, 8) == "saved"
    assert settle(database) == (1, 11)
    assert answers(database) == [8]


def test_an_answer_given_on_the_page_supersedes_the_click(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    link = survey_link(client, services, database, org)
    assert click(client, link, 9) == "saved"
    changed = client.post(f"{link}/click", data={"score": "7", "source": "page"})
    assert changed.json() == {"status": "saved"}
    assert answers(database) == [7]  # a score changed on the page is recorded at once
    assert settle(database) == (0, 0)
    assert answers(database) == [7] and click_statuses(database) == ["superseded"]
    # A click after the answer (the person clicks another score in the email) wins later.
    assert click(client, link, 10) == "saved"
    assert settle(database) == (1, 0)
    assert answers(database) == [10]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"score": "11"}, 400),
        ({"score": "-1"}, 400),
        ({"score": "x"}, 400),
        ({}, 400),
        ({"score": "٣"}, 400),  # a digit, but not an ASCII one
    ],
)
def test_bad_clicks_are_refused_plainly(
    client: TestClient,
    services: Services,
    database: Database,
    org: Org,
    body: dict[str, str],
    status: int,
) -> None:
    link = survey_link(client, services, database, org)
    answer = client.post(f"{link}/click", data=body)
    assert answer.status_code == status and "error" in answer.json()
    assert client.post("/s/nope.nope/click", data={"score": "5"}).status_code == 404
    oversize = client.post(f"{link}/click", content=b"score=5&x=" + b"a" * 70_000)
    assert oversize.status_code == 400
    assert click_statuses(database) == []


def test_the_settler_loop_settles_quiet_clicks(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    link = survey_link(client, services, database, org)
    assert click(client, link, 6) == "saved"
    now = datetime.now(UTC)
    assert ClickSettler(database=database, clock=lambda: now).settle_once().recorded == 0
    later = ClickSettler(database=database, clock=lambda: now + QUIET + timedelta(seconds=1))
    assert later.settle_once().recorded == 1
    assert answers(database) == [6]


def test_erasing_the_contact_takes_its_clicks(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    link = survey_link(client, services, database, org)
    assert click(client, link, 4) == "saved"
    with database.read() as conn:
        contact_id = conn.execute(select(surveys.c.contact_id)).scalar_one()
    erased = client.delete(f"/api/v2/contacts/{contact_id}/", headers=token(org.key))
    assert erased.status_code == 204
    assert click_statuses(database) == []
    assert settle(database) == (0, 0)


def clicks_at(
    services: Services, database: Database, link: str, clicks: list[tuple[int, float]]
) -> datetime:
    """Clicks of (score, seconds after a start an hour ago); the start."""
    token = services.signer.unsign(link[len("/s/") :])
    assert token is not None
    start = datetime.now(UTC) - timedelta(hours=1)
    with database.write() as conn:
        survey = find_survey(conn, token=token)
        assert survey is not None
        for score, seconds in clicks:
            add_click(conn, survey, score=score, now=start + timedelta(seconds=seconds))
    return start


def test_a_persons_click_before_a_scanners_burst_is_kept(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    link = survey_link(client, services, database, org)
    # The person clicks 9; 40 s later a scanner opens every link, a second apart (a
    # forwarded email, say): the person's click was saved and stays their answer.
    scanner = [(score, 40 + score) for score in range(11)]
    start = clicks_at(services, database, link, [(9, 0), *scanner])
    assert settle(database) == (1, 11)
    with database.read() as conn:
        response = conn.execute(select(responses)).one()
    assert response.score == 9 and response.created_at == start
    assert click_statuses(database) == ["recorded"] + ["discarded"] * 11


def test_a_slow_scanner_is_discarded_whole(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    link = survey_link(client, services, database, org)
    # Every link, 15 s apart: no click stands apart from the others.
    clicks_at(services, database, link, [(score, 15 * score) for score in range(11)])
    assert settle(database) == (0, 11)
    assert answers(database) == []
