"""The organization's REST resource: read, its cooldown and time zone changed, clear 400s
(never a 500), and each organization's own."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from promoter.orgs.service import get_organization
from promoter.services import Services
from tests.conftest import Org
from tests.web.rest_api import call, ok

PATH = "/api/v2/organization/"


def test_read_and_change_the_cooldown(client: TestClient, services: Services, org: Org) -> None:
    found = ok(call(client, org, "GET", PATH))
    assert found == {"id": org.id, "name": "Acme", "timezone": "UTC", "cooldown_days": 30}
    changed = ok(call(client, org, "PATCH", PATH, {"cooldown_days": 7}))
    assert changed == {**found, "cooldown_days": 7}
    assert ok(call(client, org, "GET", PATH))["cooldown_days"] == 7
    # 0 leaves only the 24-hour floor; the answer sent back whole is taken.
    zero = ok(call(client, org, "PATCH", PATH, {**changed, "cooldown_days": 0}))
    assert zero["cooldown_days"] == 0
    assert ok(call(client, org, "PATCH", PATH, {"cooldown_days": 365}))["cooldown_days"] == 365
    moved = ok(call(client, org, "PATCH", PATH, {"timezone": "Europe/Paris"}))
    assert (moved["timezone"], moved["cooldown_days"]) == ("Europe/Paris", 365)
    assert ok(call(client, org, "PATCH", PATH, {})) == moved
    with services.database.read() as conn:
        stored = get_organization(conn, organization_id=org.id)
    assert (stored.cooldown_days, stored.timezone) == (365, "Europe/Paris")
    assert call(client, None, "GET", PATH).status_code == 401
    assert call(client, None, "PATCH", PATH, {"cooldown_days": 1}).status_code == 401


def test_bad_input_is_a_400_by_field(client: TestClient, org: Org) -> None:
    cases: list[tuple[Any, str, str]] = [
        ({"cooldown_days": -1}, "cooldown_days", "greater than or equal to 0"),
        ({"cooldown_days": 366}, "cooldown_days", "less than or equal to 365"),
        ({"cooldown_days": 10**30}, "cooldown_days", "A valid integer is required."),
        ({"cooldown_days": 1.5}, "cooldown_days", "A valid integer is required."),
        ({"cooldown_days": "soon"}, "cooldown_days", "A valid integer is required."),
        ({"cooldown_days": True}, "cooldown_days", "A valid integer is required."),
        ({"cooldown_days": None}, "cooldown_days", "This field may not be null."),
        ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone"),
        ({"timezone": "x" * 65}, "timezone", "no more than 64 characters"),
        ({"webhook_secret": "s"}, "webhook_secret", "Unknown field."),
        ([1], "non_field_errors", "Expected a dictionary"),
    ]
    for body, field, message in cases:
        got = call(client, org, "PATCH", PATH, body)
        assert got.status_code == 400, (body, got.text)
        assert message in " ".join(got.json()[field]), (body, got.text)
    assert call(client, org, "PATCH", PATH, content=b"{").status_code == 400
    # Nothing was changed by a refused body, even with a good field beside the bad one.
    mixed = call(client, org, "PATCH", PATH, {"cooldown_days": 3, "timezone": "Nowhere"})
    assert mixed.status_code == 400
    assert ok(call(client, org, "GET", PATH))["cooldown_days"] == 30


def test_each_organization_has_its_own(client: TestClient, org: Org, other_org: Org) -> None:
    ok(call(client, other_org, "PATCH", PATH, {"cooldown_days": 2}))
    mine = ok(call(client, org, "GET", PATH))
    theirs = ok(call(client, other_org, "GET", PATH))
    assert (mine["id"], mine["name"], mine["cooldown_days"]) == (org.id, "Acme", 30)
    assert (theirs["id"], theirs["name"], theirs["cooldown_days"]) == (other_org.id, "Globex", 2)
    # The id in the body names nothing: it is the key that says whose.
    ok(call(client, org, "PATCH", PATH, {"id": other_org.id, "cooldown_days": 9}))
    assert ok(call(client, other_org, "GET", PATH))["cooldown_days"] == 2
