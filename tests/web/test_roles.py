"""Every route's role (web/access.py) on the app's real routes.

Every route is open (``OPEN``) or needs a role, and every state-changing route names its
role in the table. Then, route by route: a read-only user and key get 403 on everything
that changes something, a member on everything an admin's, and each role gets through
(no 403) where its role is enough, so that no 403 is an accident of the probe.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from promoter.accounts.users import user_id_by_email
from promoter.app import create_app
from promoter.domain.roles import ROLES, Role
from promoter.orgs.service import create_api_key
from promoter.services import Services
from promoter.web.access import API_PREFIX, NEEDS, OPEN, READ_METHODS, role_needed
from tests.conftest import Org
from tests.credentials import token
from tests.dashboard.conftest import add_user, sign_in
from tests.web.routes import app_routes

PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
#: The one thing a read-only user changes: signing out.
#: What a read-only user may still change: their own session, their own alert and digest emails.
READ_ONLY_MAY_POST = {
    ("POST", "/logout"),
    ("POST", "/alerts/emails"),
    ("POST", "/alerts/digest"),
}


@pytest.fixture(autouse=True)
def _one_database(database_url: str) -> None:
    """Which role a route needs does not depend on the database: checked on SQLite only
    (the services behind it run on both in tests/integration/test_roles.py)."""
    if not database_url.startswith("sqlite"):
        pytest.skip("the route table: checked once, on SQLite")


def _served(services: Services) -> set[tuple[str, str]]:
    return app_routes(create_app(services))


def test_every_route_is_open_or_named_with_its_role(services: Services) -> None:
    served = _served(services)
    assert sorted(OPEN - served) == [], "open routes the app does not serve"
    assert sorted(set(NEEDS) - served) == [], "routes with a role the app does not serve"
    assert sorted(set(NEEDS) & OPEN) == []
    assert [path for _, path in OPEN if path.startswith(API_PREFIX)] == []
    unnamed = [
        (method, path)
        for method, path in served
        if (method, path) not in OPEN and method not in READ_METHODS and (method, path) not in NEEDS
    ]
    assert sorted(unnamed) == [], "state-changing routes without their role in web/access.py"


def test_the_openapi_document_declares_403_where_a_role_is_needed(services: Services) -> None:
    document = create_app(services).openapi()
    wrong = [
        (method, path)
        for path, item in document["paths"].items()
        if path.startswith(API_PREFIX)
        for method, operation in item.items()
        if ("403" in operation["responses"])
        != (role_needed(method.upper(), path) not in (None, Role.READ_ONLY))
    ]
    assert wrong == []
    assert any(
        "403" in op["responses"] for item in document["paths"].values() for op in item.values()
    )


def _path(route: str, values: dict[str, str]) -> str:
    return PARAM.sub(lambda match: values.get(match.group(1), "1"), route)


@dataclass
class Signed:
    role: Role
    client: TestClient
    csrf: str
    user_id: str

    def send(self, method: str, path: str) -> object:
        if method == "GET":
            return self.client.get(path, follow_redirects=False)
        return self.client.request(method, path, data={"csrf": self.csrf}, follow_redirects=False)


@pytest.fixture
def signed(services: Services, org: Org) -> Iterator[dict[Role, Signed]]:
    found = {}
    with (
        TestClient(create_app(services)) as admin,
        TestClient(create_app(services)) as member,
        TestClient(create_app(services)) as reader,
    ):
        for role, client in zip(ROLES, (admin, member, reader), strict=True):
            email = f"{role.value}@example.com"
            add_user(services, org, email, role)
            with services.database.read() as conn:
                user_id = str(user_id_by_email(conn, email=email))
            found[role] = Signed(role, client, sign_in(client, email), user_id)
        yield found


def _needed(method: str, path: str) -> Role:
    """What the route needs: what the table says, but at least member to change anything
    (whatever the table says, read-only changes nothing)."""
    needed = role_needed(method, path)
    assert needed is not None
    if method in READ_METHODS or (method, path) in READ_ONLY_MAY_POST:
        return needed
    return Role.ADMIN if needed is Role.ADMIN else Role.MEMBER


def _dashboard_routes(services: Services) -> list[tuple[str, str, Role]]:
    routes = []
    for method, path in sorted(_served(services)):
        if (method, path) in OPEN | READ_ONLY_MAY_POST or path.startswith(API_PREFIX):
            continue
        routes.append((method, path, _needed(method, path)))
    return routes


def test_each_dashboard_page_and_form_refuses_a_role_too_small_with_a_clear_403(
    services: Services, signed: dict[Role, Signed]
) -> None:
    routes = _dashboard_routes(services)
    assert len([r for r in routes if r[0] != "GET"]) > 30
    problems = []
    # The smallest role first; the admin last (their forms change the most).
    for role in reversed(ROLES):
        user = signed[role]
        for method, route, needed in routes:
            got = user.send(method, _path(route, {"user_id": user.user_id}))
            where = f"{role} {method} {route} (needs {needed})"
            text = got.text  # type: ignore[attr-defined]
            status = got.status_code  # type: ignore[attr-defined]
            if not role.allows(needed):
                if (
                    status != 403
                    or "Not allowed" not in text
                    or "An admin of your organization" not in text
                ):
                    problems.append(f"{where}: {status} {text[:200]!r}")
            elif status == 403 or status >= 500:
                problems.append(f"{where}: {status} {text[:200]!r}")
    assert problems == [], "\n".join(problems)
    # Signing out is every role's.
    reader = signed[Role.READ_ONLY]
    assert reader.send("POST", "/logout").status_code == 303  # type: ignore[attr-defined]


def test_each_rest_operation_refuses_a_key_whose_role_is_too_small(
    services: Services, org: Org
) -> None:
    with TestClient(create_app(services)) as client:
        _rest_sweep(services, org, client)


def _rest_sweep(services: Services, org: Org, app_client: TestClient) -> None:
    keys = {}
    with services.database.write() as conn:
        for role in ROLES:
            keys[role] = create_api_key(conn, organization_id=org.id, name="k", role=role).key
    routes = [
        (method, path, _needed(method, path))
        for method, path in sorted(_served(services))
        if path.startswith(API_PREFIX)
    ]
    assert len([r for r in routes if r[0] != "GET"]) > 40
    problems = []
    for role in reversed(ROLES):
        for method, route, needed in routes:
            path = _path(route, {"table": "contacts"})
            got = app_client.request(method, path, json={}, headers=token(keys[role]))
            where = f"{role} key {method} {route} (needs {needed})"
            if not role.allows(needed):
                detail = got.json().get("detail", "") if got.status_code == 403 else ""
                if f"This API key is {role}" not in detail:
                    problems.append(f"{where}: {got.status_code} {got.text[:200]!r}")
            elif got.status_code == 403 or got.status_code >= 500:
                problems.append(f"{where}: {got.status_code} {got.text[:200]!r}")
    assert problems == [], "\n".join(problems)
    # Promoter's v1 paths are the v2 operations: the same roles.
    reader = token(keys[Role.READ_ONLY])
    v1 = app_client.post("/api/contacts/", json={"email": "a@example.com"}, headers=reader)
    assert v1.status_code == 403
    assert app_client.get("/api/contacts/", headers=reader).status_code == 200
    # Any active key sends Segment data, whatever its role.
    batch = {"batch": [{"type": "identify", "userId": "u1"}]}
    sent = app_client.post("/v1/batch", json=batch, auth=(keys[Role.READ_ONLY], ""))
    assert sent.status_code == 200


def test_keyword_rules_are_read_by_every_role_and_changed_by_members(
    services: Services, org: Org, client: TestClient
) -> None:
    """As saved segments: any key or user reads the keywords and their rules; hiding,
    renaming, merging and deleting a rule needs a member."""
    rules = "/api/v2/analytics/keywords/rules/"
    for method, path in [("POST", rules), ("DELETE", rules + "{rule_id}/")]:
        assert role_needed(method, path) is Role.MEMBER
    for method, path in [("POST", "/keywords/rules"), ("POST", "/keywords/rules/{rule_id}/delete")]:
        assert role_needed(method, path) is Role.MEMBER
    assert role_needed("GET", rules) is Role.READ_ONLY
    assert role_needed("GET", "/keywords") is Role.READ_ONLY
    with services.database.write() as conn:
        keys = {
            r: create_api_key(conn, organization_id=org.id, name="k", role=r).key for r in ROLES
        }
    body = {"keyword": "price", "action": "hide"}
    reader = token(keys[Role.READ_ONLY])
    assert client.get("/api/v2/analytics/keywords/", headers=reader).status_code == 200
    assert client.get(rules, headers=reader).status_code == 200
    assert client.post(rules, json=body, headers=reader).status_code == 403
    made = client.post(rules, json=body, headers=token(keys[Role.MEMBER]))
    assert made.status_code == 201
    gone = f"{rules}{made.json()['id']}/"
    assert client.delete(gone, headers=reader).status_code == 403
    assert client.delete(gone, headers=token(keys[Role.MEMBER])).status_code == 204


def test_themes_are_read_by_every_role_and_renamed_by_members(
    services: Services, org: Org, client: TestClient
) -> None:
    """As keyword rules: any key or user reads the themes; renaming or hiding one needs a
    member."""
    assert role_needed("PATCH", "/api/v2/analytics/themes/{theme_id}/") is Role.MEMBER
    assert role_needed("POST", "/themes/{theme_id}") is Role.MEMBER
    for path in ("/api/v2/analytics/themes/", "/api/v2/analytics/themes/{theme_id}/"):
        assert role_needed("GET", path) is Role.READ_ONLY
    assert role_needed("GET", "/themes") is Role.READ_ONLY
    with services.database.write() as conn:
        keys = {
            r: create_api_key(conn, organization_id=org.id, name="k", role=r).key for r in ROLES
        }
    reader = token(keys[Role.READ_ONLY])
    assert client.get("/api/v2/analytics/themes/", headers=reader).status_code == 200
    patch = {"name": "Cost"}
    assert (
        client.patch("/api/v2/analytics/themes/1/", json=patch, headers=reader).status_code == 403
    )
    member = token(keys[Role.MEMBER])
    assert (
        client.patch("/api/v2/analytics/themes/1/", json=patch, headers=member).status_code == 404
    )
