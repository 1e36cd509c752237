"""The outbox: emails written by the file backend, listed and opened per organization, the
HTML part framed under a restrictive policy, and nothing outside the folder reachable."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from promoter.app import create_app
from promoter.config import Settings
from promoter.delivery.render import ORGANIZATION_HEADER
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.web.dashboard.mail_folder import linkify, open_message, with_base_target
from tests.conftest import Org, make_org
from tests.dashboard.conftest import Browser, add_user, sign_in

HTML_CSP = "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
SCORE_LINK = re.compile(r'href="(http://testserver/s/[^"/]+/(\d+))"')


def deliver(client: TestClient, services: Services, org: Org, *user_ids: str) -> None:
    """Sends each user's identify and a track through the Tracking API, then runs the
    delivery worker once: one survey email each."""
    batch: list[dict[str, object]] = []
    for user_id in user_ids:
        traits = {"email": f"{user_id}@example.com", "firstName": user_id.title()}
        batch.append({"type": "identify", "userId": user_id, "traits": traits})
        batch.append({"type": "track", "userId": user_id, "event": "Signed Up"})
    sent = client.post("/v1/batch", json={"batch": batch}, auth=(org.key, ""))
    assert sent.status_code == 200 and sent.json()["accepted"] == len(batch)
    assert asyncio.run(services.worker().run_once()) == len(user_ids)


def files_of(mail: Path) -> dict[int, list[str]]:
    by_org: dict[int, list[str]] = {}
    for path in mail.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        by_org.setdefault(int(message[ORGANIZATION_HEADER]), []).append(path.name)
    return by_org


def test_a_delivered_survey_can_be_read_and_answered(
    browser: Browser, services: Services, mail: Path
) -> None:
    client = browser.client
    empty = client.get("/outbox")
    assert empty.status_code == 200 and 'data-testid="outbox-empty"' in empty.text
    deliver(client, services, browser.org, "ann")
    (name,) = files_of(mail)[browser.org.id]

    listing = client.get("/outbox")
    assert listing.status_code == 200
    assert "Ann &lt;ann@example.com&gt;" in listing.text
    assert f'href="/outbox/{name}"' in listing.text
    assert '<link rel="stylesheet" href="/static/outbox.css">' in listing.text
    assert 'aria-current="page"' in listing.text and ">Outbox</a>" in listing.text

    page = client.get(f"/outbox/{name}")
    assert page.status_code == 200
    for field in ("From", "To", "Subject", "Date"):
        assert f"<dt>{field}</dt>" in page.text
    assert "How likely are you to recommend Acme" in page.text
    assert (
        f'<iframe class="email-html" src="/outbox/{name}/html" title="The email as HTML" '
        'sandbox="allow-popups allow-top-navigation-by-user-activation"></iframe>'
    ) in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    text_links = SCORE_LINK.findall(page.text)  # the plain-text part, its links clickable
    assert [int(n) for _, n in text_links] == list(range(11))

    html = client.get(f"/outbox/{name}/html")
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert html.headers["content-security-policy"] == HTML_CSP
    assert html.headers["x-frame-options"] == "SAMEORIGIN"
    assert '<base target="_top">' in html.text
    links = SCORE_LINK.findall(html.text)
    assert [int(n) for _, n in links] == list(range(11))
    assert links == text_links
    answer = client.get(links[9][0].removeprefix("http://testserver"))
    assert answer.status_code == 200 and 'value="9"' in answer.text


def test_each_organization_sees_its_own_emails(
    browser: Browser, services: Services, database: Database, mail: Path
) -> None:
    other = make_org(database, "Other")
    deliver(browser.client, services, browser.org, "ann")
    deliver(browser.client, services, other, "zed")
    by_org = files_of(mail)
    (mine,) = by_org[browser.org.id]
    (theirs,) = by_org[other.id]

    listing = browser.client.get("/outbox")
    assert mine in listing.text and "ann@example.com" in listing.text
    assert theirs not in listing.text and "zed@example.com" not in listing.text
    for url in (f"/outbox/{theirs}", f"/outbox/{theirs}/html"):
        response = browser.client.get(url)
        assert response.status_code == 404, url
        assert "zed@example.com" not in response.text

    # The other organization's user sees theirs only.
    add_user(services, other, "otto@example.com")
    with TestClient(create_app(services)) as client:
        sign_in(client, "otto@example.com")
        listing = client.get("/outbox")
        assert theirs in listing.text and mine not in listing.text
        assert client.get(f"/outbox/{mine}").status_code == 404
        assert client.get(f"/outbox/{theirs}").status_code == 200


def test_messages_without_a_single_organization_header_are_nobodys(
    browser: Browser, services: Services, mail: Path
) -> None:
    deliver(browser.client, services, browser.org, "ann")
    (name,) = files_of(mail)[browser.org.id]
    data = (mail / name).read_bytes()
    header = f"{ORGANIZATION_HEADER}: {browser.org.id}\r\n".encode()
    (mail / "no-header.eml").write_bytes(data.replace(header, b""))
    (mail / "two-headers.eml").write_bytes(header.replace(b"\r\n", b"0\r\n") + data)
    listing = browser.client.get("/outbox")
    assert name in listing.text
    for other in ("no-header.eml", "two-headers.eml"):
        assert other not in listing.text
        assert browser.client.get(f"/outbox/{other}").status_code == 404


def test_names_outside_the_folder_are_not_found(
    browser: Browser, services: Services, mail: Path
) -> None:
    deliver(browser.client, services, browser.org, "ann")
    (name,) = files_of(mail)[browser.org.id]
    data = (mail / name).read_bytes()
    outside = mail.parent / "outside.eml"  # the organization's header, outside the folder
    outside.write_bytes(data)
    (mail / "sub").mkdir()
    (mail / "sub" / "nested.eml").write_bytes(data)
    (mail / ".hidden.eml").write_bytes(data)
    (mail / "linked.eml").symlink_to(outside)
    org_id = browser.org.id
    assert open_message(mail, name, org_id) is not None
    for bad in (
        "../outside.eml",
        "..",
        ".",
        "",
        str(outside),
        "/etc/passwd",
        "sub/nested.eml",
        "sub",
        ".hidden.eml",
        "linked.eml",
        name.removesuffix(".eml"),
        name + "/",
        "..\\outside.eml",
    ):
        assert open_message(mail, bad, org_id) is None, bad
    for path in (
        "/outbox/..%2Foutside.eml",
        "/outbox/%2E%2E%2Foutside.eml",
        "/outbox/%2E%2E",
        "/outbox/..%5Coutside.eml",
        "/outbox/%2Fetc%2Fpasswd",
        f"/outbox/{outside}".replace("/", "%2F").replace("%2Foutbox%2F", "/outbox/", 1),
        "/outbox/sub%2Fnested.eml",
        "/outbox/.hidden.eml",
        "/outbox/linked.eml",
        "/outbox/linked.eml/html",
        "/outbox/..%2Foutside.eml/html",
    ):
        response = browser.client.get(path)
        assert response.status_code == 404, path
    listing = browser.client.get("/outbox")
    assert name in listing.text
    for hidden in ("outside.eml", "nested.eml", ".hidden.eml", "linked.eml"):
        assert f"/outbox/{hidden}" not in listing.text


def test_a_missing_folder_is_an_empty_outbox(browser: Browser, mail: Path) -> None:
    assert not mail.exists()
    page = browser.client.get("/outbox")
    assert page.status_code == 200 and 'data-testid="outbox-empty"' in page.text
    assert browser.client.get("/outbox/anything.eml").status_code == 404


def test_the_listing_is_paged(browser: Browser, services: Services, mail: Path) -> None:
    deliver(browser.client, services, browser.org, "ann")
    (name,) = files_of(mail)[browser.org.id]
    data = (mail / name).read_bytes()
    for n in range(60):
        (mail / f"copy-{n:03}.eml").write_bytes(data)
    first = browser.client.get("/outbox")
    assert first.text.count('href="/outbox/') == 50
    assert "Page 1 of 2" in first.text and 'href="/outbox?page=2"' in first.text
    second = browser.client.get("/outbox", params={"page": "2"})
    assert second.text.count('href="/outbox/') == 11 and "Page 2 of 2" in second.text
    assert browser.client.get("/outbox", params={"page": "x"}).status_code == 200


@pytest.fixture
def smtp_client(settings: Settings, database: Database, org: Org) -> Iterator[TestClient]:
    smtp = settings.model_copy(update={"email_url": "smtp://mail.example.com:587"})
    services = Services.build(smtp, database)
    add_user(services, org, "sam@example.com")
    with TestClient(create_app(services)) as client:
        sign_in(client, "sam@example.com")
        yield client


def test_with_smtp_the_outbox_says_so(smtp_client: TestClient) -> None:
    page = smtp_client.get("/outbox")
    assert page.status_code == 200
    assert 'data-testid="smtp-notice"' in page.text and "<table" not in page.text
    assert smtp_client.get("/outbox/x.eml").status_code == 404
    assert smtp_client.get("/outbox/x.eml/html").status_code == 404


def test_the_outbox_needs_a_session(client: TestClient) -> None:
    for path in ("/outbox", "/outbox/x.eml", "/outbox/x.eml/html"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_links_and_base_target() -> None:
    assert linkify("Answer: https://x.example/s/a.b/9.\nBye") == [
        ("Answer: ", None),
        ("https://x.example/s/a.b/9", "https://x.example/s/a.b/9"),
        (".\nBye", None),
    ]
    assert linkify("no links") == [("no links", None)]
    assert linkify("javascript:alert(1)") == [("javascript:alert(1)", None)]
    assert with_base_target('<html><HEAD lang="en"><title>') == (
        '<html><HEAD lang="en"><base target="_top"><title>'
    )
    assert with_base_target("<p>x</p>") == '<base target="_top"><p>x</p>'
