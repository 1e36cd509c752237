"""Users' and keys' roles, the last-admin guard, invitations (both databases) and the CLI
commands that manage them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from promoter.accounts.invites import (
    LIFETIME,
    InviteGone,
    InviteUnknown,
    NewInvite,
    accept_invite,
    create_invite,
    find_invite,
    pending_invites,
    withdraw_invite,
)
from promoter.accounts.passwords import Passwords, WeakPassword
from promoter.accounts.sessions import find_session, start_session
from promoter.accounts.team import TeamError, UserNotFound, remove_user, set_role
from promoter.accounts.users import UserError, check_credentials, create_user, get_user
from promoter.domain.roles import Role, parse_role
from promoter.orgs.service import create_api_key, key_holder, list_api_keys
from promoter.storage.engine import Database
from promoter.storage.tables import user_invites
from tests.conftest import Org

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
#: Cheap hashing: these tests make many users.
PASSWORDS = Passwords()


def _user(database: Database, org: Org, email: str, role: Role) -> int:
    with database.write() as conn:
        made = create_user(
            conn, PASSWORDS, organization_id=org.id, email=email, password=PASSWORD, role=role
        )
    return made.id


def _invite(database: Database, org: Org, email: str, role: Role = Role.MEMBER) -> NewInvite:
    with database.write() as conn:
        return create_invite(
            conn,
            organization_id=org.id,
            email=email,
            role=role,
            invited_by="ana@example.com",
            now=NOW,
        )


def test_roles_rank_and_parse() -> None:
    assert Role.ADMIN.allows(Role.MEMBER) and Role.MEMBER.allows(Role.READ_ONLY)
    assert not Role.READ_ONLY.allows(Role.MEMBER) and not Role.MEMBER.allows(Role.ADMIN)
    assert parse_role(" Read-Only ") is Role.READ_ONLY
    with pytest.raises(ValueError, match="admin, member, read-only"):
        parse_role("owner")


def test_a_role_change_applies_to_the_sessions_the_user_has(database: Database, org: Org) -> None:
    admin = _user(database, org, "ana@example.com", Role.ADMIN)
    bea = _user(database, org, "bea@example.com", Role.MEMBER)
    with database.write() as conn:
        token = start_session(conn, user_id=bea, now=NOW)
        assert set_role(conn, organization_id=org.id, user_id=bea, role=Role.READ_ONLY).role == (
            Role.READ_ONLY
        )
        session = find_session(conn, token=token, now=NOW)
        assert session is not None and session.user.role is Role.READ_ONLY
        remove_user(conn, organization_id=org.id, user_id=bea, acting_user_id=admin)
        assert find_session(conn, token=token, now=NOW) is None


def test_an_organization_always_keeps_an_admin(
    database: Database, org: Org, other_org: Org
) -> None:
    ana = _user(database, org, "ana@example.com", Role.ADMIN)
    bea = _user(database, org, "bea@example.com", Role.MEMBER)
    _user(database, other_org, "cy@example.com", Role.ADMIN)  # another organization's admin
    with database.write() as conn:
        for role in (Role.MEMBER, Role.READ_ONLY):
            with pytest.raises(TeamError, match="only admin"):
                set_role(conn, organization_id=org.id, user_id=ana, role=role)
        with pytest.raises(TeamError, match="only admin"):
            remove_user(conn, organization_id=org.id, user_id=ana, acting_user_id=bea)
        with pytest.raises(TeamError, match="yourself"):
            remove_user(conn, organization_id=org.id, user_id=ana, acting_user_id=ana)
        with pytest.raises(UserNotFound):  # one organization's admin, another's user
            set_role(conn, organization_id=other_org.id, user_id=bea, role=Role.ADMIN)
        with pytest.raises(UserNotFound):
            remove_user(conn, organization_id=other_org.id, user_id=bea, acting_user_id=None)
        set_role(conn, organization_id=org.id, user_id=bea, role=Role.ADMIN)
        set_role(conn, organization_id=org.id, user_id=ana, role=Role.READ_ONLY)
        remove_user(conn, organization_id=org.id, user_id=ana, acting_user_id=bea)
        assert get_user(conn, user_id=ana) is None
        assert get_user(conn, user_id=bea).role is Role.ADMIN  # type: ignore[union-attr]


def test_an_invitation_makes_a_user_with_its_role_once(
    database: Database, org: Org, other_org: Org
) -> None:
    _user(database, org, "ana@example.com", Role.ADMIN)
    new = _invite(database, org, " Bea@Example.com ", Role.READ_ONLY)
    with database.read() as conn:
        stored = conn.scalar(select(user_invites.c.token_hash))
    assert new.token not in str(stored) and len(new.token) >= 40
    assert new.invite.email == "bea@example.com"
    assert new.invite.expires_at == NOW + LIFETIME
    with database.read() as conn:
        assert [i.id for i in pending_invites(conn, organization_id=org.id, now=NOW)] == [
            new.invite.id
        ]
        assert pending_invites(conn, organization_id=other_org.id, now=NOW) == []
        assert find_invite(conn, token=new.token, now=NOW).role is Role.READ_ONLY
    with database.write() as conn, pytest.raises(WeakPassword):
        accept_invite(conn, PASSWORDS, token=new.token, name="Bea", password="short", now=NOW)
    again = _invite(database, other_org, "bea@example.com", Role.ADMIN)
    with database.write() as conn:  # the refused password left the invitation usable
        user = accept_invite(
            conn, PASSWORDS, token=new.token, name=" Bea\x00\n ", password=PASSWORD, now=NOW
        )
    assert (user.email, user.role, user.organization_id) == (
        "bea@example.com",
        Role.READ_ONLY,
        org.id,
    )
    assert user.name == "Bea" and user.last_login_at == NOW
    with database.write() as conn:
        signed_in = check_credentials(
            conn, PASSWORDS, email="bea@example.com", password=PASSWORD, now=NOW
        )
        assert signed_in is not None and signed_in.role is Role.READ_ONLY
        with pytest.raises(InviteGone, match="used"):
            accept_invite(conn, PASSWORDS, token=new.token, name="X", password=PASSWORD, now=NOW)
        assert pending_invites(conn, organization_id=org.id, now=NOW) == []
        assert pending_invites(conn, organization_id=other_org.id, now=NOW) == []
        with pytest.raises(InviteGone):  # the address is a user now
            find_invite(conn, token=again.token, now=NOW)


def test_invitations_expire_are_withdrawn_and_unknown_tokens_are_refused(
    database: Database, org: Org, other_org: Org
) -> None:
    late = _invite(database, org, "late@example.com").token
    withdrawn = _invite(database, org, "gone@example.com").token
    with database.write() as conn:
        (waiting, _) = pending_invites(conn, organization_id=org.id, now=NOW)
        with pytest.raises(InviteUnknown):  # not from another organization
            withdraw_invite(conn, organization_id=other_org.id, invite_id=waiting.id, now=NOW)
        withdraw_invite(conn, organization_id=org.id, invite_id=waiting.id, now=NOW)
        with pytest.raises(InviteUnknown):
            withdraw_invite(conn, organization_id=org.id, invite_id=waiting.id, now=NOW)
        after = NOW + LIFETIME
        assert find_invite(conn, token=late, now=after - timedelta(seconds=1))
        with pytest.raises(InviteGone, match="expired"):
            accept_invite(conn, PASSWORDS, token=late, name="", password=PASSWORD, now=after)
        with pytest.raises(InviteGone, match="used"):
            find_invite(conn, token=withdrawn, now=NOW)
        for unknown in ("", "x" * 201, late[:-2], "nope"):
            with pytest.raises(InviteUnknown):
                find_invite(conn, token=unknown, now=NOW)
        assert pending_invites(conn, organization_id=org.id, now=after) == []


def test_an_address_that_is_a_user_cannot_be_invited_nor_taken(
    database: Database, org: Org, other_org: Org
) -> None:
    _user(database, other_org, "cy@example.com", Role.ADMIN)
    for address in ("CY@example.com", "not an address"):
        with pytest.raises(UserError):
            _invite(database, org, address)
    token = _invite(database, org, "dee@example.com").token
    _user(database, other_org, "dee@example.com", Role.MEMBER)  # signed up meanwhile
    with database.write() as conn, pytest.raises(UserError, match="exists already"):
        accept_invite(conn, PASSWORDS, token=token, name="", password=PASSWORD, now=NOW)
    with database.read() as conn:
        assert find_invite(conn, token=token, now=NOW).email == "dee@example.com"


def test_api_keys_have_roles(database: Database, org: Org) -> None:
    with database.write() as conn:
        reader = create_api_key(conn, organization_id=org.id, name="bi", role=Role.READ_ONLY)
        holder = key_holder(conn, key=reader.key)
        assert holder is not None and holder.role is Role.READ_ONLY
        assert holder.organization.id == org.id
        first = key_holder(conn, key=org.key)
        assert first is not None and first.role is Role.ADMIN  # the organization's first key
        roles = {k.name: k.role for k in list_api_keys(conn, organization_id=org.id)}
    assert roles == {"default": Role.ADMIN, "bi": Role.READ_ONLY}


def test_the_cli_creates_users_with_roles_and_changes_them(  # type: ignore[no-untyped-def]
    run, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMOTER_USER_PASSWORD", PASSWORD)
    run("org", "create", "Acme")
    assert "(admin)" in run("user", "create", "ana@example.com")
    assert "(read-only)" in run("user", "create", "bea@example.com", "--role", "read-only")
    assert "Invalid value for '--role'" in run(
        "user", "create", "c@example.com", "--role", "x", code=2
    )
    listing = run("user", "list")
    assert "ana@example.com\tadmin" in listing and "bea@example.com\tread-only" in listing
    assert "only admin" in run("user", "role", "ana@example.com", "member", code=1)
    assert "only admin" in run("user", "delete", "ana@example.com", code=1)
    assert "now admin" in run("user", "role", "bea@example.com", "admin")
    assert "now member" in run("user", "role", "ana@example.com", "member")
    assert "ana@example.com\tmember" in run("user", "list")
    assert "user deleted" in run("user", "delete", "ana@example.com")
    out = run("key", "create", "1", "--name", "bi", "--role", "read-only")
    assert "(read-only, shown once)" in out
    assert "\tbi\tread-only\tactive" in run("key", "list", "1")
