"""Organizations and API keys."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from promoter.orgs import service as orgs
from promoter.orgs.keys import hash_key
from promoter.storage.engine import Database
from promoter.storage.tables import api_keys


def test_keys_are_stored_hashed_and_listed_by_prefix(database: Database) -> None:
    with database.write() as conn:
        org, key = orgs.create_organization(conn, name="  Acme  ")
        second = orgs.create_api_key(conn, organization_id=org.id, name="ci")
    assert org.name == "Acme"
    assert key.key.startswith("pk_") and len(key.key) > 30
    with database.read() as conn:
        stored = conn.execute(select(api_keys)).all()
        listed = orgs.list_api_keys(conn, organization_id=org.id)
    assert all(key.key not in tuple(map(str, row)) for row in stored)
    assert {row.key_hash for row in stored} == {hash_key(key.key), hash_key(second.key)}
    assert [(k.name, k.prefix, k.active) for k in listed] == [
        ("default", key.key[:10], True),
        ("ci", second.key[:10], True),
    ]


def test_authenticate_and_revoke(database: Database) -> None:
    with database.write() as conn:
        org, key = orgs.create_organization(conn, name="Acme")
        other, other_key = orgs.create_organization(conn, name="Globex")
    with database.read() as conn:
        found = orgs.authenticate(conn, key=key.key)
        assert found is not None and found.id == org.id
        found_other = orgs.authenticate(conn, key=other_key.key)
        assert found_other is not None and found_other.id == other.id
        for bad in ("", "pk_", key.key + "x", key.key[:-1], "Basic abc"):
            assert orgs.authenticate(conn, key=bad) is None
    with database.write() as conn:
        orgs.revoke_api_key(conn, organization_id=org.id, key_id=key.id)
    with database.read() as conn:
        assert orgs.authenticate(conn, key=key.key) is None
    with database.write() as conn, pytest.raises(orgs.NotFound):
        orgs.revoke_api_key(conn, organization_id=org.id, key_id=key.id)
    with database.write() as conn, pytest.raises(orgs.NotFound):
        # Another organization's key cannot be revoked through this one.
        orgs.revoke_api_key(conn, organization_id=org.id, key_id=other_key.id)


def test_empty_name_is_refused(database: Database) -> None:
    with database.write() as conn, pytest.raises(ValueError, match="empty"):
        orgs.create_organization(conn, name="   ")
