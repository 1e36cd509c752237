"""The survey pages through the ASGI app: nothing recorded by a GET, answers by POST."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from promoter.app import create_app
from promoter.campaigns import service as campaigns
from promoter.config import Settings
from promoter.domain.colors import accessible_accent, contrast_ratio, text_on
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, deliveries, responses, surveys
from tests.conftest import Org
from tests.credentials import token
from tests.surveys import survey_link, survey_link_for


def one(database: Database, table: Any) -> Any:
    with database.read() as conn:
        return conn.execute(select(table)).one_or_none()


def test_a_score_link_records_nothing_and_one_confirm_press_records_it(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    link = survey_link(client, services, database, org)
    page = client.get(f"{link}/9")
    assert page.status_code == 200
    assert re.findall(r'value="(\d+)" checked', page.text) == ["9"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "Press Confirm to save your score." in page.text  # what a page without script says
    assert one(database, responses) is None  # a mail scanner fetching the link changes nothing
    posted = client.post(link, data={"score": "9", "action": "confirm"}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == f"{link}?saved"
    response = one(database, responses)
    assert response.score == 9 and response.comment is None
    assert response.contact_snapshot == {"plan": "Premium", "seats": 4}
    assert one(database, surveys).status == "answered"
    saved = client.get(f"{link}?saved")
    assert "Your score is saved" in saved.text
    assert re.findall(r'value="(\d+)" checked', saved.text) == ["9"]
    assert re.search(r'id="confirm"[^>]* hidden', saved.text)  # nothing left to confirm
    assert re.search(r'<textarea id="comment"[^>]* autofocus', saved.text)
    done = client.post(
        link,
        data={"score": "9", "comment": "Great support", "action": "send"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"{link}/thanks"
    assert one(database, responses).comment == "Great support"
    assert "Thank you for your feedback." in client.get(f"{link}/thanks").text
    # Re-opening the link shows what was recorded, and it can be changed: the last one wins.
    again = client.get(link)
    assert re.findall(r'value="(\d+)" checked', again.text) == ["9"]
    assert "Great support</textarea>" in again.text and "already answered" in again.text
    skipped = client.post(link, data={"score": "3", "action": "skip"}, follow_redirects=False)
    assert skipped.headers["location"] == f"{link}/thanks"
    with database.read() as conn:
        assert conn.execute(select(responses.c.score, responses.c.comment)).all() == [
            (3, "Great support")  # Skip keeps the comment given before
        ]


def test_send_takes_the_score_the_page_saved(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    link = survey_link(client, services, database, org)
    client.post(link, data={"score": "10", "action": "confirm"})
    sent = client.post(link, data={"comment": "Fast", "action": "send"}, follow_redirects=False)
    assert sent.status_code == 303
    assert (one(database, responses).score, one(database, responses).comment) == (10, "Fast")
    # A Send with no score at all, on a survey never answered, asks for one.
    other = survey_link_for(client, services, database, org, "amy")
    refused = client.post(other, data={"comment": "x", "action": "send"})
    assert refused.status_code == 400 and "from 0 to 10" in refused.text
    assert 'value="x"' not in refused.text and ">x</textarea>" in refused.text


def test_bad_links_and_scores(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    link = survey_link(client, services, database, org)
    token, signature = link[len("/s/") :].split(".")
    other = "x" if signature[-1] != "x" else "y"  # a last character it does not have
    for bad in (f"/s/{token}.{signature[:-1]}{other}/5", f"/s/{token}/5", "/s/nope/5", "/u/nope"):
        response = client.get(bad)
        assert response.status_code == 404 and "not valid" in response.text
    for score in ("11", "-1", "x", "100"):
        response = client.get(f"{link}/{score}")
        assert response.status_code == 400 and "from 0 to 10" in response.text
    assert client.post(link, data={"score": "11"}).status_code == 400
    assert client.post(link, data={}).status_code == 400
    assert client.post(f"{link}/comment", data={"comment": "first"}).status_code == 400
    assert one(database, responses) is None
    long = client.post(link, data={"score": "7"})
    assert long.status_code == 200
    too_long = client.post(f"{link}/comment", data={"comment": "x" * 6000})
    assert too_long.status_code == 400


def test_unsubscribe_asks_then_one_click_post_unsubscribes(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    link = survey_link(client, services, database, org)
    unsubscribe = "/u/" + link[len("/s/") :]
    page = client.get(unsubscribe)
    assert page.status_code == 200 and "Stop receiving" in page.text
    assert one(database, contacts).status == "active"
    response = client.post(
        unsubscribe,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200 and "You are unsubscribed" in response.text
    assert one(database, contacts).status == "unsubscribed"
    assert one(database, deliveries).status == "cancelled"
    assert one(database, surveys).status == "cancelled"
    assert "You are unsubscribed" in client.get(unsubscribe).text


def test_sender_content_is_escaped(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    with database.write() as conn:
        (campaign,) = campaigns.list_campaigns(conn, organization_id=org.id)
        campaigns.update_template(
            conn,
            organization_id=org.id,
            template_id=campaign.email_template_id,
            changes={"brand_name": '<script>alert(1)</script>"onmouseover="x', "language": "de"},
        )
    link = survey_link(client, services, database, org)
    page = client.get(f"{link}/5").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;onmouseover=&#34;x" in page
    assert 'lang="de"' in page and "Wie wahrscheinlich" in page


def test_survey_pages_forbid_scripts_and_framing(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    link = survey_link(client, services, database, org)
    for response in (client.get(link), client.get(f"{link}/7"), client.get("/s/nope/5")):
        policy = response.headers["Content-Security-Policy"]
        # The page's own script, by its hash: no other script, inline or fetched, runs.
        for script in re.findall(r"<script>(.*?)</script>", response.text, re.S):
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"script-src 'sha256-{digest}';" in policy
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        assert "default-src 'none'" in policy and "connect-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy and "form-action 'self'" in policy
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_comment_too_large_to_read_is_refused_and_the_stored_one_kept(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    link = survey_link(client, services, database, org)
    client.post(link, data={"score": "7"})
    client.post(f"{link}/comment", data={"comment": "first"})
    # 3,700 CJK characters: under the 5,000-character limit, over 32 KB percent-encoded.
    wide = "好" * 3700
    assert client.post(f"{link}/comment", data={"comment": wide}).status_code == 200
    assert one(database, responses).comment == wide
    # The longest comment allowed, in four-byte characters, is read and kept whole.
    widest = "😀" * 5000
    assert client.post(f"{link}/comment", data={"comment": widest}).status_code == 200
    assert one(database, responses).comment == widest
    client.post(f"{link}/comment", data={"comment": "kept"})
    # A body over the form limit is refused on the page, never taken for an empty comment.
    oversize = client.post(f"{link}/comment", data={"comment": "好" * 8000})
    assert oversize.status_code == 413
    assert "too long" in oversize.text and 'role="alert"' in oversize.text
    assert one(database, responses).comment == "kept"
    # A post without the comment field is not the page's form: nothing changes either.
    missing = client.post(f"{link}/comment", data={"other": "x"})
    assert missing.status_code == 400 and "not received" in missing.text
    assert one(database, responses).comment == "kept"


def test_survey_pages_have_a_budget_per_client_address(
    settings: Settings, database: Database, org: Org
) -> None:
    limited = settings.model_copy(update={"rate_limit_survey_pages": "0.001,5"})
    services = Services.build(limited, database)
    app = create_app(services)
    with TestClient(app, client=("192.0.2.1", 1000)) as respondent:
        link = survey_link(respondent, services, database, org)
        assert [respondent.get(f"{link}/{n}").status_code for n in range(5)] == [200] * 5
        throttled = respondent.post(link, data={"score": "9"})
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) > 1
        assert "Too many requests" in throttled.text
        assert throttled.headers["content-security-policy"].startswith("default-src 'none'")
        assert one(database, responses) is None  # nothing recorded past the budget
        assert respondent.get("/health").status_code == 200  # other paths are not counted
    with TestClient(app, client=("192.0.2.2", 1000)) as someone_else:
        answered = someone_else.post(link, data={"score": "9"}, follow_redirects=False)
        assert answered.status_code == 303
    assert one(database, responses).score == 9


def test_the_pages_wear_the_brand_of_the_email(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    with database.write() as conn:
        (campaign,) = campaigns.list_campaigns(conn, organization_id=org.id)
        campaigns.update_template(
            conn,
            organization_id=org.id,
            template_id=campaign.email_template_id,
            changes={"brand_color": "#f7c948"},
        )
    logo = io.BytesIO()
    Image.new("RGB", (120, 40), "#0b7285").save(logo, "PNG")
    uploaded = client.put(
        f"/api/v2/email/{campaign.email_template_id}/logo/",
        content=logo.getvalue(),
        headers={**token(org.key), "Content-Type": "image/png"},
    )
    assert uploaded.status_code == 200, uploaded.text
    link = survey_link(client, services, database, org)
    accent = accessible_accent("#f7c948")  # a light yellow, darkened to read on white
    assert contrast_ratio(accent, "#ffffff") >= 4.5
    for page in (client.get(f"{link}/8").text, client.get(f"{link}/thanks").text):
        assert "border-top: 6px solid #f7c948" in page
        (src,) = re.findall(r'<img class="logo" src="([^"]+)"', page)
        assert src.startswith("http://testserver/logos/") and src.endswith(".png")
        assert client.get(src.removeprefix("http://testserver")).content == logo.getvalue()
    assert f"background: {accent}; color: {text_on(accent)};" in client.get(f"{link}/8").text
