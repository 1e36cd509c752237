"""A signed-in dashboard client (TestClient) on each database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from promoter.accounts.users import create_user
from promoter.app import create_app
from promoter.config import Settings
from promoter.domain.roles import Role
from promoter.services import Services
from tests.conftest import Org

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Browser:
    """A TestClient signed in as a user of ``org``; ``csrf`` is the session's token."""

    client: TestClient
    org: Org
    email: str
    csrf: str

    def post(self, url: str, data: dict[str, object] | None = None, **kwargs: object) -> object:
        fields = {"csrf": self.csrf, **(data or {})}
        return self.client.post(url, data=fields, follow_redirects=False, **kwargs)  # type: ignore[arg-type]


def add_user(services: Services, org: Org, email: str, role: Role = Role.ADMIN) -> None:
    with services.database.write() as conn:
        create_user(
            conn,
            services.passwords,
            organization_id=org.id,
            email=email,
            password=PASSWORD,
            role=role,
        )


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    response = client.post(
        "/login", data={"email": email, "password": password}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    page = client.get("/")
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match, "the signed-in page carries a CSRF token"
    return match.group(1)


@pytest.fixture
def mail(tmp_path: Path) -> Path:
    """The folder the file mail backend writes the dashboard's emails to."""
    return tmp_path / "mail"


@pytest.fixture
def settings(settings: Settings, mail: Path) -> Settings:
    """The suite's settings, with mail written to ``mail`` (never the working directory)."""
    return settings.model_copy(update={"email_url": f"file:{mail}"})


@pytest.fixture
def app_client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as client:
        yield client


@pytest.fixture
def browser(services: Services, org: Org, app_client: TestClient) -> Browser:
    email = "ana@example.com"
    add_user(services, org, email)
    return Browser(app_client, org, email, sign_in(app_client, email))
