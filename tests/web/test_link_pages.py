"""Public links through the ASGI app: answered with and without a signature, replayed,
remembered per browser, refused (honeypot, bad input, bad signature, rate limit), and the
QR code."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import segno
from fastapi.testclient import TestClient
from sqlalchemy import select

from promoter.app import create_app
from promoter.config import Settings
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import responses, surveys
from promoter.surveys.link_nonces import issue_nonce
from tests.conftest import Org
from tests.credentials import token
from tests.links import (
    answer_link,
    identity_secret,
    link_answers,
    make_link,
    nonce_of,
    signed_query,
)
from tests.surveys import schedule
from tests.web.rest_api import default_campaign


def test_anyone_with_the_link_answers_anonymously_then_goes_on_to_the_survey_page(
    client: TestClient, database: Database, org: Org
) -> None:
    link = make_link(client, org)
    page = client.get(link, headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.5"})
    assert page.status_code == 200
    assert '<html lang="fr" dir="ltr">' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert len(re.findall(r'type="radio" name="score" value="\d+" required', page.text)) == 11
    trap = re.search(r'<div class="trap" aria-hidden="true">.*?</div>', page.text, re.S)
    assert trap and 'tabindex="-1"' in trap.group(0) and 'autocomplete="off"' in trap.group(0)
    sent = client.post(
        link,
        data={"score": "9", "nonce": nonce_of(page), "website": ""},
        headers={"Accept-Language": "fr"},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert re.fullmatch(r"/s/[^/?]+\?saved", sent.headers["location"])
    cookie = sent.headers["set-cookie"]
    key = link.removeprefix("/l/")
    assert f"Path=/l/{key}" in cookie and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and f"Max-Age={90 * 86400}" in cookie
    assert "Secure" not in cookie  # the base URL is http
    [answer] = link_answers(database)
    assert (answer.score, answer.channel, answer.survey_channel) == (9, "link", "link")
    assert (answer.status, answer.user_id) == ("anonymous", None)
    assert answer.contact_snapshot == {} and answer.attributes == {"language": "fr"}
    with database.read() as conn:
        survey = conn.execute(select(surveys)).one()
    assert survey.status == "answered" and survey.sent_at == survey.answered_at
    # The survey's own page takes the comment, in the language the link's page spoke.
    survey_page = client.get(sent.headers["location"])
    assert survey_page.status_code == 200 and '<html lang="fr"' in survey_page.text
    signed = sent.headers["location"].split("?")[0]
    done = client.post(
        signed, data={"score": "9", "comment": "Found it", "action": "send"}, follow_redirects=False
    )
    assert done.status_code == 303
    with database.read() as conn:
        assert conn.execute(select(responses.c.comment)).scalar_one() == "Found it"


def test_the_same_form_sent_twice_records_one_answer(
    client: TestClient, database: Database, org: Org
) -> None:
    link = make_link(client, org)
    form = {"score": "7", "nonce": nonce_of(client.get(link)), "website": ""}
    first = client.post(link, data=form, follow_redirects=False)
    client.cookies.clear()  # a replay from elsewhere: no cookie to go by
    again = client.post(link, data={**form, "score": "2"}, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert again.headers["location"] == first.headers["location"].removesuffix("?saved")
    assert [a.score for a in link_answers(database)] == [7]


def test_a_browser_answers_once_per_throttle_and_is_taken_back_to_its_answer(
    client: TestClient, database: Database, org: Org
) -> None:
    link = make_link(client, org)
    opened_before = nonce_of(client.get(link))
    first = answer_link(client, link, 10)
    answer_page = first.headers["location"].removesuffix("?saved")
    back = client.get(link, follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == answer_page
    # A form opened before answering, sent after: still the one answer.
    stale = client.post(
        link, data={"score": "1", "nonce": opened_before, "website": ""}, follow_redirects=False
    )
    assert stale.headers["location"] == answer_page
    assert [a.score for a in link_answers(database)] == [10]
    # The answer can still be changed on its page.
    client.post(answer_page, data={"score": "8", "action": "confirm"})
    assert [a.score for a in link_answers(database)] == [8]
    # Another browser answers on its own.
    client.cookies.clear()
    assert answer_link(client, link, 3).status_code == 303
    found = link_answers(database)
    assert [a.score for a in found] == [8, 3]
    assert len({a.contact_id for a in found}) == 2  # one anonymous contact per answer


def test_a_filled_honeypot_gets_thanks_and_records_nothing(
    client: TestClient, database: Database, org: Org
) -> None:
    link = make_link(client, org)
    caught = answer_link(client, link, 10, website="http://spam.example")
    assert caught.status_code == 200 and "Thank you for your feedback." in caught.text
    assert "set-cookie" not in caught.headers
    assert link_answers(database) == []


def _alice_and_a_link(client: TestClient, database: Database, org: Org) -> tuple[str, str]:
    """The contact alice, the organization's identity secret, and a link: the link and
    alice's signed query."""
    schedule(database, org, "alice")
    secret = identity_secret(client, org)
    return make_link(client, org), signed_query(secret, "alice")


def test_a_signed_link_answers_as_the_contact_and_takes_them_back_to_their_answer(
    client: TestClient, database: Database, org: Org
) -> None:
    link, query = _alice_and_a_link(client, database, org)
    page = client.get(link + query)
    assert 'name="u" value="alice"' in page.text
    sent = answer_link(client, link, 6, query)
    assert sent.status_code == 303
    [answer] = link_answers(database)
    assert (answer.user_id, answer.status, answer.score) == ("alice", "active", 6)
    assert answer.contact_snapshot == {"plan": "pro"}
    # The same contact on another browser: taken to the answer, no second one.
    client.cookies.clear()
    back = client.get(link + query, follow_redirects=False)
    assert back.status_code == 303
    assert back.headers["location"] == sent.headers["location"].removesuffix("?saved")
    assert len(link_answers(database)) == 1


def test_a_signed_user_id_without_a_contact_answers_anonymously_and_keeps_it(
    client: TestClient, database: Database, org: Org
) -> None:
    secret = identity_secret(client, org)
    link = make_link(client, org)
    assert answer_link(client, link, 9, signed_query(secret, "newcomer")).status_code == 303
    [answer] = link_answers(database)
    assert (answer.status, answer.user_id) == ("anonymous", None)
    assert answer.attributes["user_id"] == "newcomer"


def test_a_bad_or_partial_signature_is_refused_and_records_nothing(
    client: TestClient, database: Database, org: Org
) -> None:
    link, good = _alice_and_a_link(client, database, org)
    for query in (
        "?u=alice&sig=" + "0" * 64,
        "?u=alice",
        "?sig=" + good.split("sig=")[1],
        good.replace("alice", "mallory", 1),
        "?u=&sig=",
    ):
        refused = client.get(link + query)
        assert refused.status_code == 403, query
        assert "This survey link is not valid." in refused.text
    nonce = nonce_of(client.get(link))
    posted = client.post(
        link, data={"score": "10", "nonce": nonce, "u": "alice", "sig": "0" * 64, "website": ""}
    )
    assert posted.status_code == 403
    assert link_answers(database) == []


def test_a_signature_without_web_survey_settings_is_refused(
    client: TestClient, database: Database, org: Org
) -> None:
    link = make_link(client, org)
    assert client.get(link + signed_query("psi_none", "alice")).status_code == 403


def test_bad_input_gets_a_400_page_never_an_answer(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    link = make_link(client, org)
    nonce = nonce_of(client.get(link))
    for score in ("11", "-1", "", "x", "\uff11"):
        refused = client.post(link, data={"score": score, "nonce": nonce})
        assert refused.status_code == 400, score
        assert "Please choose a score from 0 to 10." in refused.text
    for bad in ("", "forged.nonce", nonce + "x"):
        refused = client.post(link, data={"score": "5", "nonce": bad})
        assert refused.status_code == 400 and "This page has expired." in refused.text
    key = link.removeprefix("/l/")
    old = issue_nonce(services.signer, link_key=key, now=datetime.now(UTC) - timedelta(hours=25))
    assert client.post(link, data={"score": "5", "nonce": old}).status_code == 400
    other = issue_nonce(services.signer, link_key="x" * 24, now=datetime.now(UTC))
    assert client.post(link, data={"score": "5", "nonce": other}).status_code == 400
    huge = client.post(link, data={"score": "5", "nonce": nonce, "pad": "x" * 70_000})
    assert huge.status_code == 400
    assert link_answers(database) == []


def test_unknown_rotated_removed_and_completed_links_are_not_found(
    client: TestClient, database: Database, org: Org
) -> None:
    assert client.get("/l/nope").status_code == 404
    assert client.get("/l/" + "a" * 24).status_code == 404
    assert client.post("/l/" + "a" * 24, data={"score": "5"}).status_code == 404
    campaign_id = default_campaign(client, org)["id"]
    old = make_link(client, org, campaign_id)
    new = make_link(client, org, campaign_id)
    assert old != new
    assert client.get(old).status_code == 404 and client.get(old + "/qr.svg").status_code == 404
    assert client.get(new).status_code == 200
    headers = token(org.key)
    assert client.delete(f"/api/v2/campaigns/{campaign_id}/link/", headers=headers).status_code
    assert client.get(new).status_code == 404
    completed = make_link(client, org, campaign_id)
    client.post(f"/api/v2/campaigns/{campaign_id}/complete/", headers=headers)
    assert client.get(completed).status_code == 404


def test_answers_over_the_budget_get_429_with_retry_after(
    settings: Settings, database: Database, org: Org
) -> None:
    limited = Services.build(
        settings.model_copy(update={"rate_limit_link_answers": "0.01,3"}), database
    )
    with TestClient(create_app(limited)) as client:
        link = make_link(client, org)
        for score in (1, 2, 3):
            client.cookies.clear()
            assert answer_link(client, link, score).status_code == 303
        client.cookies.clear()
        throttled = answer_link(client, link, 4)
        assert throttled.status_code == 429
        assert int(throttled.headers["Retry-After"]) >= 1
        assert client.get(link).status_code == 200  # the page itself is not an answer
    assert [a.score for a in link_answers(database)] == [1, 2, 3]


def test_the_qr_code_is_an_svg_of_the_link(client: TestClient, org: Org) -> None:
    link = make_link(client, org)
    qr = client.get(link + "/qr.svg")
    assert qr.status_code == 200
    assert qr.headers["content-type"] == "image/svg+xml"
    assert "max-age" in qr.headers["cache-control"]
    root = ElementTree.fromstring(qr.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}path") is not None
    # No QR decoder here: the code is the one segno makes of the link's full URL.
    expected = io.BytesIO()
    segno.make(f"http://testserver{link}", error="m").save(
        expected, kind="svg", scale=4, title="Acme"
    )
    assert qr.content == expected.getvalue()
