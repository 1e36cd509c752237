"""The Users page (admins only) and invitations: inviting by email, the one-time link,
joining with it, changing roles and removing users, each applying on the next request."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from promoter.accounts.invites import LIFETIME, create_invite
from promoter.accounts.users import list_users
from promoter.app import create_app
from promoter.config import Settings
from promoter.delivery.render import ORGANIZATION_HEADER
from promoter.domain.roles import Role
from promoter.orgs.service import list_api_keys
from promoter.services import Services
from promoter.storage.engine import Database
from tests.conftest import Org
from tests.dashboard.conftest import PASSWORD, Browser, add_user, sign_in

HTML = {"accept": "text/html"}
LINK = re.compile(r'data-testid="invite-link">(http://testserver/invite/[^<]+)<')


def _invite(browser: Browser, address: str, role: str) -> str:
    """The link the admin is shown once after inviting ``address``."""
    sent = browser.post("/settings/users/invite", {"email": address, "role": role})
    assert sent.status_code == 303, sent.text  # type: ignore[attr-defined]
    page = browser.client.get("/settings/users")
    found = LINK.search(page.text)
    assert found, page.text
    emailed = "It was emailed to them" in page.text
    assert emailed == browser.client.app.state.services.settings.email_url.startswith("file:")
    assert LINK.search(browser.client.get("/settings/users").text) is None  # shown once
    return found.group(1)


def test_an_invitee_joins_with_the_link_and_has_the_role_chosen(
    services: Services, browser: Browser, mail: Path
) -> None:
    link = _invite(browser, "Bea@Example.com", "read-only")
    page = browser.client.get("/settings/users")
    assert "bea@example.com" in page.text and "Waiting invitations" in page.text
    (sent,) = mail.glob("*.eml")
    message = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    assert message["To"] == "bea@example.com" and "Join Acme" in message["Subject"]
    assert link in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert message[ORGANIZATION_HEADER] is None  # never listed in the mail folder
    assert "bea@example.com" not in browser.client.get("/outbox").text
    path = link.removeprefix("http://testserver")
    with TestClient(create_app(services)) as bea:
        form = bea.get(path)
        assert form.status_code == 200 and "Join Acme" in form.text
        assert "bea@example.com" in form.text and "read-only" in form.text
        differ = {"name": "Bea", "password": PASSWORD, "password_again": PASSWORD + "!"}
        assert bea.post(path, data=differ).status_code == 400
        weak = {"name": "Bea", "password": "short", "password_again": "short"}
        refused = bea.post(path, data=weak)
        assert refused.status_code == 400 and "at least 8 characters" in refused.text
        good = {"name": "Bea", "password": PASSWORD, "password_again": PASSWORD}
        joined = bea.post(path, data=good, follow_redirects=False)
        assert joined.status_code == 303 and joined.headers["location"] == "/"
        home = bea.get("/")
        assert home.status_code == 200 and "Sign out" in home.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]
        tagged = bea.post("/feedback/1/tags", data={"csrf": csrf, "tags": "x"})
        assert tagged.status_code == 403 and "Not allowed" in tagged.text
        used = bea.get(path)
        assert used.status_code == 410 and "used already" in used.text
        assert bea.post(path, data=good).status_code == 410
    with services.database.read() as conn:
        joined_user = [u for u in list_users(conn) if u.email == "bea@example.com"]
    assert [(u.name, u.role, u.last_login_at is not None) for u in joined_user] == [
        ("Bea", Role.READ_ONLY, True)
    ]
    assert "Bea" in browser.client.get("/settings/users").text


def test_invitations_refused_ended_and_unknown_get_clear_pages(
    services: Services, browser: Browser, org: Org, app_client: TestClient
) -> None:
    add_user(services, org, "cy@example.com", Role.MEMBER)
    for body, words in (
        ({"email": "CY@example.com", "role": "member"}, "exists already"),
        ({"email": "not an address", "role": "member"}, "Not a valid email address"),
        ({"email": "dee@example.com", "role": "owner"}, "Unknown role"),
    ):
        refused = browser.post("/settings/users/invite", body)
        assert refused.status_code == 400, body  # type: ignore[attr-defined]
        assert words in refused.text  # type: ignore[attr-defined]
    with services.database.write() as conn:
        old = create_invite(
            conn,
            organization_id=org.id,
            email="old@example.com",
            role=Role.ADMIN,
            invited_by=browser.email,
            now=datetime.now(UTC) - LIFETIME - timedelta(minutes=1),
        )
    with TestClient(create_app(services)) as stranger:
        expired = stranger.get(f"/invite/{old.token}")
        assert expired.status_code == 410 and "expired" in expired.text
        for bad in ("nope", "x" * 300, old.token[:-1]):
            unknown = stranger.get(f"/invite/{bad}")
            assert unknown.status_code == 404 and "not valid" in unknown.text
        body = {"name": "X", "password": PASSWORD, "password_again": PASSWORD}
        answers = [stranger.post("/invite/guess", data=body).status_code for _ in range(11)]
        assert answers == [404] * 10 + [429]  # throttled as sign-ins are


def test_roles_and_removals_apply_on_the_users_next_request(
    services: Services, browser: Browser, org: Org
) -> None:
    add_user(services, org, "cy@example.com", Role.MEMBER)
    with services.database.read() as conn:
        ids = {u.email: u.id for u in list_users(conn, organization_id=org.id)}
    with TestClient(create_app(services)) as cy:
        csrf = sign_in(cy, "cy@example.com")
        page = cy.get("/settings/segment").text
        assert "/settings/users" not in page and "/settings/webhooks" not in page
        assert cy.get("/settings/users").status_code == 403
        segment = {"csrf": csrf, "name": "Mine", "filter": '{"attribute": "plan", "value": "x"}'}
        assert cy.post("/segments", data=segment, follow_redirects=False).status_code == 303
        cy_id = ids["cy@example.com"]
        changed = browser.post(f"/settings/users/{cy_id}/role", {"role": "read-only"})
        assert changed.status_code == 303  # type: ignore[attr-defined]
        assert cy.post("/segments", data=segment).status_code == 403
        assert "Save as segment" not in cy.get("/feedback").text
        removed = browser.post(f"/settings/users/{cy_id}/remove")
        assert removed.status_code == 303  # type: ignore[attr-defined]
        gone = cy.get("/feedback", follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
    me = ids[browser.email]
    myself = browser.post(f"/settings/users/{me}/remove")
    assert myself.status_code == 400 and "yourself" in myself.text  # type: ignore[attr-defined]
    last = browser.post(f"/settings/users/{me}/role", {"role": "member"})
    assert last.status_code == 400 and "only admin" in last.text  # type: ignore[attr-defined]
    assert browser.post("/settings/users/987654/role", {"role": "member"}).status_code == 404  # type: ignore[attr-defined]
    assert browser.post("/settings/users/99999999999/remove", headers=HTML).status_code == 404  # type: ignore[attr-defined]


def test_an_admin_creates_keys_with_a_role(services: Services, browser: Browser, org: Org) -> None:
    made = browser.post("/settings/segment/keys", {"name": "bi", "role": "read-only"})
    assert made.status_code == 303  # type: ignore[attr-defined]
    page = browser.client.get("/settings/segment").text
    assert "Read-only" in page and "/settings/users" in page
    refused = browser.post("/settings/segment/keys", {"name": "x", "role": "root"})
    assert refused.status_code == 400  # type: ignore[attr-defined]
    with services.database.read() as conn:
        roles = {k.name: k.role for k in list_api_keys(conn, organization_id=org.id)}
    assert roles == {"default": Role.ADMIN, "bi": Role.READ_ONLY}


def test_an_invitation_the_mail_server_refuses_is_still_shown_to_copy(
    services: Services, org: Org, settings: Settings, database: Database
) -> None:
    # Nothing listens on port 1: the SMTP connection is refused at once.
    unreachable = settings.model_copy(update={"email_url": "smtp://127.0.0.1:1?timeout=5"})
    smtp = Services.build(unreachable, database)
    add_user(smtp, org, "sam@example.com")
    with TestClient(create_app(smtp)) as client:
        browser = Browser(client, org, "sam@example.com", sign_in(client, "sam@example.com"))
        link = _invite(browser, "bea@example.com", "member")
        assert link.startswith("http://testserver/invite/")
        page = client.get("/settings/users")
        assert "bea@example.com" in page.text  # waiting, all the same
