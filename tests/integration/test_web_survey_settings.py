"""An organization's web survey settings on both databases: saved and read back, checked,
the secret rotated with its 24-hour grace (the clock driven), the site key rotated, and a
site key naming its own organization only (never an API key's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from promoter.storage.engine import Database
from promoter.websurveys.identity import sign_user, verify_user
from promoter.websurveys.settings import (
    GRACE,
    InvalidSettings,
    get_settings,
    rotate_secret,
    rotate_site_key,
    save_settings,
    site_by_key,
)
from tests.conftest import Org

NOW = datetime(2026, 12, 8, 9, tzinfo=UTC)


def _save(database: Database, org: Org, *origins: str, enabled: bool = True) -> None:
    with database.write() as conn:
        save_settings(
            conn, organization_id=org.id, allowed_origins=origins, enabled=enabled, now=NOW
        )


def test_settings_round_trip(database: Database, org: Org) -> None:
    with database.read() as conn:
        assert get_settings(conn, organization_id=org.id) is None
    with database.write() as conn:
        saved, created = save_settings(
            conn,
            organization_id=org.id,
            allowed_origins=["https://App.Example.com:443/", "http://localhost:3000"],
            enabled=True,
            now=NOW,
        )
    assert created and saved.enabled
    assert saved.allowed_origins == ("https://app.example.com", "http://localhost:3000")
    assert saved.site_key.startswith("ps_") and saved.identity_secret.startswith("psi_")
    assert saved.masked_secret == "…" + saved.identity_secret[-4:]
    assert saved.created_at == NOW and saved.previous_secret is None
    later = NOW + timedelta(minutes=5)
    with database.write() as conn:
        changed, created = save_settings(
            conn, organization_id=org.id, allowed_origins=[], enabled=False, now=later
        )
    assert not created and changed.allowed_origins == () and not changed.enabled
    assert changed.site_key == saved.site_key
    assert changed.identity_secret == saved.identity_secret
    assert changed.updated_at == later
    with database.read() as conn:
        assert get_settings(conn, organization_id=org.id) == changed


def test_bad_origins_are_refused(database: Database, org: Org) -> None:
    _save(database, org, "https://app.example.com")
    for origins in (["https://app.example.com/path"], [f"https://s{n}.io" for n in range(51)]):
        with database.write() as conn, pytest.raises(InvalidSettings) as refused:
            save_settings(
                conn, organization_id=org.id, allowed_origins=origins, enabled=True, now=NOW
            )
        assert list(refused.value.errors) == ["allowed_origins"]
    with database.read() as conn:
        found = get_settings(conn, organization_id=org.id)
    assert found is not None and found.allowed_origins == ("https://app.example.com",)


def test_the_secret_rotates_with_a_grace(database: Database, org: Org) -> None:
    _save(database, org, "https://app.example.com")
    with database.read() as conn:
        first = get_settings(conn, organization_id=org.id)
    assert first is not None and first.secrets_at(NOW) == (first.identity_secret,)
    old_signature = sign_user(first.identity_secret, "user-42")
    rotated_at = NOW + timedelta(days=3)
    with database.write() as conn:
        second = rotate_secret(conn, organization_id=org.id, now=rotated_at)
    assert second is not None and second.identity_secret != first.identity_secret
    assert second.previous_secret == first.identity_secret
    assert second.previous_secret_until == rotated_at + GRACE == rotated_at + timedelta(hours=24)
    assert second.site_key == first.site_key
    new_signature = sign_user(second.identity_secret, "user-42")
    for at, old_ok in (
        (rotated_at, True),
        (rotated_at + timedelta(hours=23, minutes=59, seconds=59), True),
        (rotated_at + timedelta(hours=24), False),
        (rotated_at + timedelta(days=10), False),
    ):
        assert verify_user(second.secrets_at(at), "user-42", old_signature) is old_ok, at
        assert verify_user(second.secrets_at(at), "user-42", new_signature)
    # A second rotation within the grace: the first secret stops at once.
    with database.write() as conn:
        third = rotate_secret(conn, organization_id=org.id, now=rotated_at + timedelta(hours=1))
    assert third is not None and third.previous_secret == second.identity_secret
    secrets = third.secrets_at(rotated_at + timedelta(hours=2))
    assert not verify_user(secrets, "user-42", old_signature)
    assert verify_user(secrets, "user-42", new_signature)


def test_the_site_key_rotates(database: Database, org: Org) -> None:
    _save(database, org, "https://app.example.com")
    with database.read() as conn:
        before = get_settings(conn, organization_id=org.id)
    assert before is not None
    with database.write() as conn:
        after = rotate_site_key(conn, organization_id=org.id, now=NOW)
    assert after is not None and after.site_key.startswith("ps_")
    assert after.site_key != before.site_key
    assert after.identity_secret == before.identity_secret
    with database.read() as conn:
        assert site_by_key(conn, before.site_key) is None
        found = site_by_key(conn, after.site_key)
    assert found is not None and found.organization_id == org.id


def test_nothing_to_rotate_before_settings(database: Database, org: Org) -> None:
    with database.write() as conn:
        assert rotate_secret(conn, organization_id=org.id, now=NOW) is None
        assert rotate_site_key(conn, organization_id=org.id, now=NOW) is None
    with database.read() as conn:
        assert get_settings(conn, organization_id=org.id) is None


def test_a_site_key_names_its_own_organization(
    database: Database, org: Org, other_org: Org
) -> None:
    _save(database, org, "https://a.example")
    _save(database, other_org, "https://b.example")
    with database.read() as conn:
        mine = get_settings(conn, organization_id=org.id)
        theirs = get_settings(conn, organization_id=other_org.id)
        assert mine is not None and theirs is not None
        assert mine.site_key != theirs.site_key
        assert mine.identity_secret != theirs.identity_secret
        found_mine = site_by_key(conn, mine.site_key)
        found_theirs = site_by_key(conn, theirs.site_key)
        assert found_mine is not None and found_mine.organization_id == org.id
        assert found_theirs is not None and found_theirs.organization_id == other_org.id
        # An API key is never a site key, nor a secret, nor anything else close.
        for wrong in (org.key, other_org.key, mine.identity_secret, "", "ps_", "ps_x" * 40):
            assert site_by_key(conn, wrong) is None, wrong
        assert site_by_key(conn, mine.site_key.upper()) is None


def test_the_cli_signs_a_user_id(run, database: Database, org: Org) -> None:  # type: ignore[no-untyped-def]
    assert "no web survey settings" in run("web-survey", "sign", str(org.id), "u1", code=1)
    _save(database, org, "https://a.example")
    with database.read() as conn:
        found = get_settings(conn, organization_id=org.id)
    assert found is not None
    out = run("web-survey", "sign", str(org.id), "user-42")
    assert out.strip() == sign_user(found.identity_secret, "user-42")
