"""The `promoter` command, through click's runner, against the test databases."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from promoter.cli import main
from promoter.orgs.service import authenticate, get_organization
from promoter.storage.engine import Database


def test_org_and_key_lifecycle(run, database: Database) -> None:  # type: ignore[no-untyped-def]
    out = run("org", "create", "Acme Inc")
    org_id = int(re.search(r"organization (\d+)", out).group(1))  # type: ignore[union-attr]
    first = re.search(r"(pk_\S+)", out).group(1)  # type: ignore[union-attr]
    assert "Acme Inc" in run("org", "list")
    out = run("key", "create", str(org_id), "--name", "ci")
    second = re.search(r"(pk_\S+)", out).group(1)  # type: ignore[union-attr]
    key_id = int(re.search(r"API key (\d+)", out).group(1))  # type: ignore[union-attr]
    listing = run("key", "list", str(org_id))
    assert first[:10] in listing and second[:10] in listing
    assert first not in listing and second not in listing  # prefix only
    run("key", "revoke", str(org_id), str(key_id))
    assert "revoked" in run("key", "list", str(org_id))
    with database.read() as conn:
        assert authenticate(conn, key=second) is None
        assert authenticate(conn, key=first) is not None
    assert "no active API key" in run("key", "revoke", str(org_id), str(key_id), code=1)
    assert "no organization" in run("key", "create", "999", code=1)


def test_webhook_secret(run) -> None:  # type: ignore[no-untyped-def]
    run("org", "create", "Acme")
    assert "set" in run("org", "secret", "1", "s3cret")
    assert "webhook secret set" in run("org", "list")
    assert "cleared" in run("org", "secret", "1", "--clear")
    run("org", "secret", "1", code=2)
    assert "no organization" in run("org", "secret", "42", "x", code=1)


def test_survey_cooldown(run, database: Database) -> None:  # type: ignore[no-untyped-def]
    run("org", "create", "Acme")
    assert run("org", "cooldown", "1").strip() == "survey cooldown: 30 days across campaigns"
    assert "1 day across" in run("org", "cooldown", "1", "1")
    assert "0 days across" in run("org", "cooldown", "1", "0")
    with database.read() as conn:
        assert get_organization(conn, organization_id=1).cooldown_days == 0
    for bad in ("366", "soon"):
        assert "Invalid value for '[DAYS]'" in run("org", "cooldown", "1", bad, code=2)
    assert "Invalid value for '[DAYS]'" in run("org", "cooldown", "1", "--", "-1", code=2)
    assert "no organization" in run("org", "cooldown", "42", code=1)
    assert "no organization" in run("org", "cooldown", "42", "5", code=1)
    assert "0 days" in run("org", "cooldown", "1")


def test_db_commands(run, database: Database) -> None:  # type: ignore[no-untyped-def]
    from alembic.script import ScriptDirectory

    from promoter.storage.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(database.engine)).get_current_head()
    assert f"revision {head}" in run("db", "upgrade")
    assert run("db", "current").strip() == head
    assert "empty" in run("org", "create", "  ", code=2)


def test_bad_configuration_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMOTER_DATABASE_URL", "mysql://nope")
    result = CliRunner().invoke(main, ["db", "current"])
    assert result.exit_code == 1 and "unsupported database URL" in result.output
    monkeypatch.setenv("PROMOTER_PORT", "-3")
    result = CliRunner().invoke(main, ["db", "current"])
    assert result.exit_code == 1 and "invalid configuration" in result.output


@pytest.mark.one_database(reason="SQLite is the database that refuses several processes")
def test_serve_refuses_several_processes_on_sqlite(run) -> None:  # type: ignore[no-untyped-def]
    out = run("serve", "--processes", "2", "--no-migrate", code=1)
    assert "--processes above 1 needs PostgreSQL" in out
    assert "Invalid value for '--processes'" in run("serve", "--processes", "0", code=2)
