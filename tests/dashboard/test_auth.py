"""Signing in and out: hashed passwords, sessions, CSRF, throttling, safe redirects."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from promoter.app import create_app
from promoter.services import Services
from promoter.storage.tables import user_sessions, users
from tests.conftest import Org
from tests.dashboard.conftest import PASSWORD, Browser, add_user, sign_in

#: "example" in fullwidth letters (U+FF45 ...), which IDNA maps to ASCII.
FULLWIDTH_EXAMPLE = "".join(chr(ord(c) + 0xFEE0) for c in "example")


def test_pages_need_a_session(app_client: TestClient) -> None:
    for path in ("/", "/filter"):
        response = app_client.get(path + "?range=90", follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
    page = app_client.get("/", follow_redirects=True)
    assert page.status_code == 200 and "Sign in to Promoter" in page.text


def test_sign_in_sets_a_safe_cookie_and_returns_to_next(
    services: Services, org: Org, app_client: TestClient
) -> None:
    add_user(services, org, "Ana@Example.com")
    response = app_client.post(
        "/login",
        data={"email": "ana@example.COM", "password": PASSWORD, "next": "/feedback?range=30"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/feedback?range=30"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    with services.database.read() as conn:
        stored = conn.execute(select(users.c.password_hash)).scalar_one()
        session_ids = conn.execute(select(user_sessions.c.id)).scalars().all()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    token = app_client.cookies.get("promoter_session")
    assert token and token not in session_ids  # only its digest is stored


def test_secure_cookie_when_served_over_https(
    services: Services, org: Org, app_client: TestClient
) -> None:
    object.__setattr__(services.settings, "base_url", "https://nps.example.com")
    add_user(services, org, "ana@example.com")
    response = app_client.post(
        "/login", data={"email": "ana@example.com", "password": PASSWORD}, follow_redirects=False
    )
    assert "secure" in response.headers["set-cookie"].lower()


def test_next_cannot_leave_the_site(services: Services, org: Org, app_client: TestClient) -> None:
    add_user(services, org, "ana@example.com")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:1"):
        response = app_client.post(
            "/login",
            data={"email": "ana@example.com", "password": PASSWORD, "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/", target
        app_client.cookies.clear()


def test_wrong_password_and_unknown_email_look_the_same(
    services: Services, org: Org, app_client: TestClient
) -> None:
    add_user(services, org, "ana@example.com")
    wrong = app_client.post("/login", data={"email": "ana@example.com", "password": "nope"})
    unknown = app_client.post("/login", data={"email": "bob@example.com", "password": "nope"})
    garbage = app_client.post("/login", data={"email": "not an email", "password": "x" * 5000})
    for response in (wrong, unknown, garbage):
        assert response.status_code == 400
        assert "do not match an account" in response.text
    assert "promoter_session" not in app_client.cookies


def test_failed_sign_ins_are_throttled(
    services: Services, org: Org, app_client: TestClient
) -> None:
    add_user(services, org, "ana@example.com")
    for _ in range(10):
        app_client.post("/login", data={"email": "ana@example.com", "password": "wrong"})
    blocked = app_client.post("/login", data={"email": "ana@example.com", "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "promoter_session" not in app_client.cookies


def test_other_spellings_of_a_throttled_address_are_throttled_too(
    services: Services, org: Org
) -> None:
    """Fullwidth letters and an ideographic full stop name the same account at sign-in, so
    they count against the same address, from any client."""
    add_user(services, org, "ana@example.com")
    app = create_app(services)
    with TestClient(app, client=("192.0.2.1", 1000)) as first:
        for _ in range(10):
            first.post("/login", data={"email": "ana@example.com", "password": "wrong"})
    variants = (
        "ana@" + FULLWIDTH_EXAMPLE + ".com",
        "ana@example。com",
        "ANA@EXAMPLE.COM",
        " ana@example.com",
    )
    for n, variant in enumerate(variants):
        with TestClient(app, client=(f"192.0.2.{10 + n}", 1000)) as other:
            blocked = other.post("/login", data={"email": variant, "password": PASSWORD})
            assert blocked.status_code == 429, variant
            assert "promoter_session" not in other.cookies
    # Another account is not held up by it.
    add_user(services, org, "bob@example.com")
    with TestClient(app, client=("192.0.2.99", 1000)) as third:
        sign_in(third, "bob@example.com")


def test_one_client_failing_on_many_addresses_is_throttled(services: Services, org: Org) -> None:
    add_user(services, org, "ana@example.com")
    app = create_app(services)
    with TestClient(app, client=("192.0.2.1", 1000)) as sprayer:
        for n in range(10):
            sprayer.post("/login", data={"email": f"guess{n}@example.com", "password": "x"})
        blocked = sprayer.post("/login", data={"email": "ana@example.com", "password": PASSWORD})
        assert blocked.status_code == 429
    with TestClient(app, client=("192.0.2.2", 1000)) as someone_else:
        sign_in(someone_else, "ana@example.com")


def test_sign_in_forms_from_another_site_are_refused(services: Services, org: Org) -> None:
    """Login CSRF: a page elsewhere must not sign this browser into the attacker's account."""
    add_user(services, org, "ana@example.com")
    form = {"email": "ana@example.com", "password": PASSWORD}
    with TestClient(create_app(services)) as client:
        for headers in (
            {"Origin": "http://evil.example"},
            {"Origin": "null"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Origin": "http://testserver.evil.example", "Sec-Fetch-Site": "same-site"},
        ):
            refused = client.post("/login", data=form, headers=headers, follow_redirects=False)
            assert refused.status_code == 403, headers
            assert "forms from other sites are refused" in refused.text
            assert "promoter_session" not in client.cookies
        same = client.post(
            "/login",
            data=form,
            headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
            follow_redirects=False,
        )
        assert same.status_code == 303 and "promoter_session" in client.cookies


def test_a_planted_session_cookie_is_not_adopted(
    services: Services, org: Org, app_client: TestClient
) -> None:
    """Session fixation: a cookie set before sign-in is replaced, never promoted."""
    add_user(services, org, "ana@example.com")
    app_client.cookies.set("promoter_session", "planted-by-attacker", domain="testserver.local")
    sign_in(app_client, "ana@example.com")
    assert app_client.cookies.get("promoter_session") != "planted-by-attacker"
    with services.database.read() as conn:
        assert len(conn.execute(select(user_sessions.c.id)).all()) == 1


def test_sign_out_needs_the_csrf_token_and_ends_the_session(browser: Browser) -> None:
    client = browser.client
    refused = client.post("/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200
    token = client.cookies.get("promoter_session")
    done = browser.post("/logout")
    assert done.status_code == 303  # type: ignore[attr-defined]
    client.cookies.set("promoter_session", token or "")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_forms_from_another_origin_are_refused(browser: Browser) -> None:
    response = browser.post("/logout", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403  # type: ignore[attr-defined]


def test_pages_carry_security_headers(browser: Browser) -> None:
    response = browser.client.get("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


def test_bad_form_bodies_are_clear_errors(app_client: TestClient) -> None:
    huge = app_client.post(
        "/login",
        content=b"a=" + b"x" * 400_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 400
    binary = app_client.post(
        "/login",
        content=b"email=\xff\xfe",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert binary.status_code == 400


def test_a_browser_gets_pages_for_bad_urls(browser: Browser) -> None:
    html = {"Accept": "text/html,application/xhtml+xml"}
    for url in ("/campaigns/abc", "/contacts/x", "/no-such-page"):
        response = browser.client.get(url, headers=html)
        assert response.status_code == 404, url
        assert response.headers["content-type"].startswith("text/html")
        assert "<h1>" in response.text
    api = browser.client.get("/api/v2/contacts/abc/", headers={"Accept": "text/html"})
    assert api.headers["content-type"].startswith("application/json")
