"""Budgets per API key on the REST API and on Segment's endpoints, through the ASGI app."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from promoter.app import create_app
from promoter.config import Settings
from promoter.ratelimits import RateLimits
from promoter.services import Services
from promoter.storage.engine import Database
from tests.conftest import Org
from tests.credentials import basic, token


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def identify(user: str) -> dict[str, Any]:
    return {"type": "identify", "userId": user, "traits": {"email": f"{user}@example.com"}}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limited(settings: Settings, database: Database, clock: Clock) -> Iterator[TestClient]:
    """An app allowing 2 API requests at once then 1 a second, and 3 Segment requests at
    once then 1 a second, per key, on a clock the test moves."""
    settings = Settings(
        database_url=settings.database_url,
        base_url=settings.base_url,
        rate_limit_api="1,2",
        rate_limit_ingest="1,3",
    )
    services = Services.build(settings, database)
    services = dataclasses.replace(
        services, rate_limits=RateLimits.from_settings(settings, clock=clock)
    )
    with TestClient(create_app(services)) as client:
        yield client


def contacts(client: TestClient, key: str) -> Any:
    return client.get("/api/v2/contacts/", headers=token(key))


def test_settings_limit_the_api_per_key(
    settings: Settings, database: Database, org: Org, other_org: Org
) -> None:
    settings = Settings(database_url=settings.database_url, rate_limit_api="0.001,2")
    with TestClient(create_app(Services.build(settings, database))) as client:
        assert [contacts(client, org.key).status_code for _ in range(2)] == [200, 200]
        throttled = contacts(client, org.key)
        assert throttled.status_code == 429
        assert throttled.headers["retry-after"] == "1000"
        assert throttled.json() == {
            "detail": "Request was throttled. Expected available in 1000 seconds."
        }
        assert contacts(client, other_org.key).status_code == 200
        # The key is counted, however it is sent.
        bearer = client.get("/api/v2/lists/", headers={"Authorization": f"Bearer {org.key}"})
        assert bearer.status_code == 429
        # Requests without a key are refused as such, never counted.
        for _ in range(5):
            assert client.get("/api/v2/contacts/").status_code == 401
        # Other paths, and ingestion's own budget, are not the API's.
        assert client.get("/health", headers=token(org.key)).status_code == 200
        assert (
            client.post("/segment", json=identify("u"), headers=basic(org.key)).status_code == 200
        )


def test_an_api_key_gets_its_budget_back_with_time(
    limited: TestClient, clock: Clock, org: Org
) -> None:
    assert [contacts(limited, org.key).status_code for _ in range(2)] == [200, 200]
    refused = contacts(limited, org.key)
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "1")
    assert refused.json()["detail"].endswith("Expected available in 1 second.")
    clock.now += 0.5
    assert contacts(limited, org.key).status_code == 429
    clock.now += 0.5
    assert contacts(limited, org.key).status_code == 200
    assert contacts(limited, org.key).status_code == 429
    clock.now += 60
    assert [contacts(limited, org.key).status_code for _ in range(3)] == [200, 200, 429]


def test_unknown_keys_are_counted_too(limited: TestClient) -> None:
    codes = [contacts(limited, "pk_unknown").status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_segment_requests_over_budget_get_429_and_are_not_ingested(
    limited: TestClient, clock: Clock, org: Org, other_org: Org
) -> None:
    codes = [
        limited.post("/segment", json=identify(f"u{n}"), headers=basic(org.key)).status_code
        for n in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    refused = limited.post("/segment", json=identify("late"), headers=basic(org.key))
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["code"] == "rate_limited"
    assert "retry" in refused.json()["message"]
    assert limited.post("/segment", json=identify("x"), headers=basic(other_org.key)).is_success
    emails = {c["email"] for c in contacts(limited, org.key).json()["results"]}
    assert emails == {"u0@example.com", "u1@example.com", "u2@example.com"}
    clock.now += 1
    assert limited.post("/segment", json=identify("late"), headers=basic(org.key)).is_success


def test_the_tracking_api_counts_the_write_key_in_the_body(
    limited: TestClient, clock: Clock, org: Org, other_org: Org
) -> None:
    def track(key: str) -> int:
        body = {"userId": "u", "event": "Signed Up", "writeKey": key}
        return limited.post("/v1/track", json=body).status_code

    assert [track(org.key) for _ in range(4)] == [200, 200, 200, 429]
    assert (
        limited.post("/v1/identify", json=identify("u"), headers=basic(org.key)).status_code == 429
    )
    batch = {"batch": [{"type": "track", "userId": "u", "event": "E"}], "writeKey": org.key}
    assert limited.post("/v1/batch", json=batch).status_code == 429
    assert track(other_org.key) == 200
    # The API's budget is a separate one.
    assert contacts(limited, org.key).status_code == 200
    clock.now += 2
    assert [track(org.key) for _ in range(3)] == [200, 200, 429]


def test_throttled_segment_requests_show_in_the_live_view(limited: TestClient, org: Org) -> None:
    for n in range(4):
        limited.post("/segment", json=identify(f"u{n}"), headers=basic(org.key))
    services = limited.app.state.services  # type: ignore[attr-defined]
    latest = services.received.latest(org.id)
    assert any(r.reason == "rate limit exceeded" for r in latest)


def test_zero_turns_the_limits_off(settings: Settings, database: Database, org: Org) -> None:
    settings = Settings(
        database_url=settings.database_url,
        rate_limit_api="0",
        rate_limit_ingest="0",
        rate_limit_failed_auth="0",
        rate_limit_survey_pages="0",
        rate_limit_web_survey_site="0",
        rate_limit_web_survey_visitor="0",
        rate_limit_link_answers="0",
    )
    services = Services.build(settings, database)
    assert services.rate_limits == RateLimits()
    with TestClient(create_app(services)) as client:
        assert all(contacts(client, org.key).status_code == 200 for _ in range(110))


def random_key(n: int) -> str:
    return f"pk_{n:032d}"


def _failed_auth_limited(
    settings: Settings, database: Database, clock: Clock, budget: str
) -> Services:
    """Services whose only limit is the failed-authentication ``budget``, on ``clock``."""
    settings = Settings(
        database_url=settings.database_url,
        rate_limit_api="0",
        rate_limit_ingest="0",
        rate_limit_failed_auth=budget,
    )
    return dataclasses.replace(
        Services.build(settings, database),
        rate_limits=RateLimits.from_settings(settings, clock=clock),
    )


def test_failed_authentication_is_budgeted_per_client_address(
    settings: Settings, database: Database, clock: Clock, org: Org, other_org: Org
) -> None:
    """Well-formed random keys, each with a bucket of its own under the per-key limits,
    spend one budget: the client address's."""
    services = _failed_auth_limited(settings, database, clock, "1,5")
    app = create_app(services)
    with (
        TestClient(app, client=("192.0.2.1", 1000)) as prober,
        TestClient(app, client=("192.0.2.2", 1000)) as bystander,
    ):
        assert contacts(prober, org.key).status_code == 200  # a key this process has seen
        codes = [contacts(prober, random_key(n)).status_code for n in range(5)]
        assert codes == [401] * 5
        refused = contacts(prober, random_key(5))
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert refused.json()["detail"].startswith("Request was throttled.")
        segment = prober.post("/segment", json=identify("u"), headers=basic(random_key(6)))
        assert segment.status_code == 429 and segment.json()["code"] == "rate_limited"
        tracking = prober.post("/v1/identify", json=identify("u"), headers=basic(random_key(7)))
        assert tracking.status_code == 429
        assert contacts(prober, "").status_code == 429  # no key at all: the same budget
        # A key known to be valid still gets through from that address; one this process
        # has not seen yet waits with the rest.
        assert contacts(prober, org.key).status_code == 200
        assert contacts(prober, other_org.key).status_code == 429
        # Other addresses are not held up.
        assert contacts(bystander, random_key(8)).status_code == 401
        assert contacts(bystander, other_org.key).status_code == 200
        # A token a second comes back.
        clock.now += 1
        assert contacts(prober, random_key(9)).status_code == 401
        assert contacts(prober, random_key(10)).status_code == 429


def test_failed_segment_authentication_spends_the_address_budget(
    settings: Settings, database: Database, clock: Clock, org: Org
) -> None:
    """Segment's POSTs are answered before the middlewares: their 401s still count, and a
    valid write key still gets through from an address over budget."""
    services = _failed_auth_limited(settings, database, clock, "1,3")
    with TestClient(create_app(services), client=("192.0.2.3", 1000)) as prober:
        assert prober.post("/segment", json=identify("u"), headers=basic(org.key)).is_success
        codes = [
            prober.post(path, json=identify("u"), headers=basic(random_key(n))).status_code
            for n, path in enumerate(["/segment", "/v1/identify", "/segment"])
        ]
        assert codes == [401, 401, 401]
        refused = prober.post("/v1/identify", json=identify("u"), headers=basic(random_key(3)))
        assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
        assert contacts(prober, random_key(4)).status_code == 429  # one budget for all paths
        assert prober.post("/segment", json=identify("v"), headers=basic(org.key)).is_success


def test_each_process_counts_its_own_budget(
    settings: Settings, database: Database, clock: Clock, org: Org
) -> None:
    """docs/configuration.md: with N processes a key may reach N times each limit. Two
    apps built on one database, as two `promoter serve --processes 2` processes are."""
    settings = Settings(
        database_url=settings.database_url, base_url=settings.base_url, rate_limit_api="1,2"
    )
    other_database = Database.from_url(settings.database_url)
    apps = [
        create_app(
            dataclasses.replace(
                Services.build(settings, db),
                rate_limits=RateLimits.from_settings(settings, clock=clock),
            )
        )
        for db in (database, other_database)
    ]
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        answers = [contacts(client, org.key).status_code for client in (first, first, first)]
        assert answers == [200, 200, 429]
        answers = [contacts(second, org.key).status_code for _ in range(3)]
        assert answers == [200, 200, 429]
