"""The web survey's pure pieces: the identity signature (known HMAC-SHA256 vectors), the
origins' normalisation and matching, and the CORS answer."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from promoter.websurveys.cors import cors_headers
from promoter.websurveys.identity import sign_user, verify_user
from promoter.websurveys.origins import (
    MAX_ORIGINS,
    InvalidOrigin,
    matches,
    normalise_origin,
    normalise_origins,
)
from promoter.websurveys.settings import WebSurveySettings, origin_allowed
from promoter.websurveys.sites import SiteCache

SECRET = "psi_test-secret"
#: `printf '%s' 'user-42' | openssl dgst -sha256 -hmac 'psi_test-secret'`
OPENSSL_USER_42 = "5bc1b3f4dc58341983baba156b71779cef406a4ea1062f4b417f42d2bc1377e8"
#: The same for 'ünïcode@example.com' (UTF-8).
OPENSSL_UNICODE = "1ea0840a376fbcd9ee86c7c1fbfaf53499662eadc1a210a2879191ae594b32ea"
NOW = datetime(2026, 12, 8, 12, tzinfo=UTC)


def _settings(*origins: str, enabled: bool = True) -> WebSurveySettings:
    return WebSurveySettings(
        organization_id=1,
        site_key="ps_abcdefghijkl",
        identity_secret=SECRET,
        previous_secret="psi_old",
        previous_secret_until=NOW + timedelta(hours=24),
        allowed_origins=tuple(normalise_origins(origins)),
        enabled=enabled,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("user_id", "expected"),
    [("user-42", OPENSSL_USER_42), ("ünïcode@example.com", OPENSSL_UNICODE)],
)
def test_signatures_match_openssl(user_id: str, expected: str) -> None:
    assert sign_user(SECRET, user_id) == expected
    assert verify_user(SECRET, user_id, expected)
    assert verify_user([SECRET], user_id, expected.upper())


@pytest.mark.parametrize("user_id", ["1", "ann@example.com", "x" * 500, "日本"])
def test_signatures_are_hmac_sha256_hex(user_id: str) -> None:
    expected = hmac.new(SECRET.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    assert sign_user(SECRET, user_id) == expected
    assert verify_user([SECRET], user_id, expected)


def test_wrong_signatures_are_refused() -> None:
    good = sign_user(SECRET, "user-42")
    assert not verify_user(SECRET, "user-43", good)
    assert not verify_user("psi_other", "user-42", good)
    assert not verify_user([], "user-42", good)
    assert not verify_user([""], "user-42", good)
    for bad in ("", good[:-1], good + "0", "g" * 64, " " * 64, good[:32]):
        assert not verify_user(SECRET, "user-42", bad), bad
    assert not verify_user(SECRET, "", sign_user(SECRET, ""))
    assert not verify_user(SECRET, "\ud800", good)


def test_the_previous_secret_verifies_during_its_grace() -> None:
    settings = _settings("https://app.example.com")
    old = sign_user("psi_old", "user-42")
    assert verify_user(settings.secrets_at(NOW), "user-42", old)
    assert verify_user(settings.secrets_at(NOW + timedelta(hours=23, minutes=59)), "user-42", old)
    assert not verify_user(settings.secrets_at(NOW + timedelta(hours=24)), "user-42", old)
    current = sign_user(SECRET, "user-42")
    assert verify_user(settings.secrets_at(NOW + timedelta(days=30)), "user-42", current)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://app.example.com", "https://app.example.com"),
        ("https://App.Example.COM/", "https://app.example.com"),
        ("HTTPS://app.example.com:443", "https://app.example.com"),
        ("http://app.example.com:80", "http://app.example.com"),
        ("http://app.example.com:443", "http://app.example.com:443"),
        ("https://app.example.com:8443", "https://app.example.com:8443"),
        ("  https://app.example.com  ", "https://app.example.com"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://[0:0:0:0:0:0:0:1]", "https://[::1]"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("https://*.example.com", "https://*.example.com"),
        ("https://*.Example.com:443", "https://*.example.com"),
    ],
)
def test_origins_are_normalised(given: str, stored: str) -> None:
    assert normalise_origin(given) == stored


@pytest.mark.parametrize(
    "given",
    [
        "",
        "app.example.com",
        "ftp://app.example.com",
        "https://",
        "https://app.example.com/path",
        "https://app.example.com/?q=1",
        "https://app.example.com#top",
        "https://user@app.example.com",
        "https://app.example.com:99999",
        "https://app.example.com:0",
        "https://app.example.com:port",
        "https://*",
        "*",
        "https://*.com",
        "https://app.*.example.com",
        "https://*example.com",
        "https://**.example.com",
        "https://app example.com",
        "https://-app.example.com",
        "https://[::zz]",
        "null",
        "https://" + "a" * 300 + ".com",
    ],
)
def test_bad_origins_are_refused(given: str) -> None:
    with pytest.raises(InvalidOrigin):
        normalise_origin(given)


def test_origin_lists() -> None:
    given = ["https://a.example", "https://A.example/", "https://b.example"]
    assert normalise_origins(given) == ["https://a.example", "https://b.example"]
    assert len(normalise_origins([f"https://s{n}.example" for n in range(MAX_ORIGINS)])) == 50
    with pytest.raises(InvalidOrigin, match="At most 50"):
        normalise_origins([f"https://s{n}.example" for n in range(MAX_ORIGINS + 1)])
    with pytest.raises(InvalidOrigin, match=r"'https://a\.example/x'"):
        normalise_origins(["https://ok.example", "https://a.example/x"])


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://app.example.com", True),
        ("https://APP.example.com:443", True),
        ("http://app.example.com", False),
        ("https://app.example.com:8443", False),
        ("https://other.example.com", False),
        ("https://evil-app.example.com", False),
        ("https://app.example.com.evil.net", False),
        ("https://eu.shop.test", True),
        ("https://a.b.shop.test", True),
        ("https://shop.test", False),
        ("https://evilshop.test", False),
        ("https://eu.shop.test:8443", False),
        ("http://eu.shop.test", False),
        ("http://localhost:3000", True),
        ("http://localhost:3001", False),
        ("https://*.shop.test", False),
        ("null", False),
        ("", False),
        ("https://app.example.com/path", False),
    ],
)
def test_origins_allowed(origin: str, allowed: bool) -> None:
    settings = _settings("https://app.example.com", "https://*.shop.test", "http://localhost:3000")
    assert origin_allowed(settings, origin) is allowed
    assert matches(settings.allowed_origins, origin) is allowed


def test_nothing_is_allowed_when_disabled_or_unset() -> None:
    assert not origin_allowed(
        _settings("https://app.example.com", enabled=False), "https://app.example.com"
    )
    assert not origin_allowed(None, "https://app.example.com")
    assert not origin_allowed(_settings(), "https://app.example.com")


def test_cors_headers_name_the_allowed_origin_only() -> None:
    settings = _settings("https://app.example.com")
    assert cors_headers(settings, "https://app.example.com") == {
        "Access-Control-Allow-Origin": "https://app.example.com",
        "Vary": "Origin",
    }
    preflight = cors_headers(settings, "https://app.example.com", preflight=True)
    assert preflight is not None
    assert preflight["Access-Control-Allow-Methods"] == "GET, POST"
    assert preflight["Access-Control-Allow-Headers"] == "Content-Type"
    assert not any("Credentials" in name for name in preflight)
    assert preflight["Access-Control-Allow-Origin"] != "*"
    assert cors_headers(settings, "https://evil.example") is None
    assert cors_headers(settings, None) is None
    assert cors_headers(settings, "null") is None
    assert (
        cors_headers(_settings("https://app.example.com", enabled=False), "https://app.example.com")
        is None
    )


def test_site_lookups_are_remembered_for_the_ttl_and_forgotten_on_change() -> None:
    clock = [0.0]
    lookups: list[str] = []
    site = _settings("https://app.example.com")

    def lookup(key: str) -> WebSurveySettings | None:
        lookups.append(key)
        return site if key == "ps_known_key_1" else None

    cache = SiteCache(lookup, ttl=1.0, clock=lambda: clock[0])
    assert cache.site("ps_known_key_1") is site
    assert cache.site("ps_unknown_key") is None
    assert cache.site("ps_known_key_1") is site
    assert lookups == ["ps_known_key_1", "ps_unknown_key"]
    clock[0] = 1.5
    cache.site("ps_known_key_1")
    assert lookups[-1] == "ps_known_key_1" and len(lookups) == 3
    cache.forget_organization(site.organization_id)
    cache.site("ps_known_key_1")
    cache.site("ps_unknown_key")
    assert len(lookups) == 5
