"""Segment's own Python library (segment-analytics-python), its host pointed at the server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import segment.analytics as analytics
from segment.analytics import request as segment_request

from tests.conftest import Org
from tests.e2e.conftest import HTTP_TIMEOUT, Api, ServerProcess

pytestmark = pytest.mark.e2e

TRAITS = {
    "email": "ted@mosbiusdesigns.com",
    "firstName": "Ted",
    "lastName": "Mosby",
    "plan": "Premium",
    "company": {"name": "Mosbius Designs", "employees": 12, "industry": "Architecture"},
}
ORDER = {
    "order_id": "50314b8e9bcf000000000000",
    "total": 27.5,
    "currency": "USD",
    "products": [
        {"product_id": "507f1f77bcf86cd799439011", "sku": "45790-32", "price": 19, "quantity": 1},
        {"product_id": "505bd76785ebb509fc183733", "sku": "46493-32", "price": 8.5, "quantity": 1},
    ],
}


@pytest.fixture(autouse=True)
def _close_segment_session() -> Iterator[None]:
    """The library keeps one module-level requests session: close its sockets afterwards."""
    yield
    segment_request._session.close()


def test_client_batches_arrive_as_contact_events_and_orders(
    server: ServerProcess, org: Org, api: Api
) -> None:
    errors: list[tuple[Exception, Any]] = []
    client = analytics.Client(
        write_key=org.key,
        host=server.url,
        on_error=lambda error, batch: errors.append((error, batch)),
        max_retries=1,
        timeout=HTTP_TIMEOUT,
        upload_interval=0.05,
    )
    try:
        ok, identify = client.identify("user-100", TRAITS)
        assert ok
        ok, signed_up = client.track("user-100", "Signed Up", {"plan": "Premium"})
        assert ok
        ok, order = client.track("user-100", "Order Completed", ORDER)
        assert ok
        client.flush()
    finally:
        client.join()
    assert errors == []

    contact = api.contact("user-100")
    assert contact["email"] == "ted@mosbiusdesigns.com"
    assert (contact["first_name"], contact["last_name"]) == ("Ted", "Mosby")
    assert contact["attributes"] == {
        "company.employees": 12,
        "company.industry": "Architecture",
        "company.name": "Mosbius Designs",
        "plan": "Premium",
    }
    assert [entry["name"] for entry in contact["contact_lists"]] == ["Segment List"]
    assert [c["user_id"] for c in api.contacts(**{"attributes[company.name]": "Mosbius Designs"})]
    assert [c["user_id"] for c in api.contacts(**{"attributes[company.name]": "Mosbius"})] == []

    events = api.events(contact["id"])
    assert events["count"] == 2
    by_name = {e["event"]: e for e in events["results"]}
    assert set(by_name) == {"Signed Up", "Order Completed"}
    assert by_name["Signed Up"]["message_id"] == signed_up["messageId"]
    assert by_name["Signed Up"]["properties"] == {"plan": "Premium"}
    assert by_name["Order Completed"]["message_id"] == order["messageId"]
    assert identify["messageId"] not in {e["message_id"] for e in events["results"]}
    for event in events["results"]:  # "now", corrected for clock skew: anything but far off
        stored_at = datetime.fromisoformat(event["timestamp"])
        assert abs(stored_at - datetime.now(UTC)) < timedelta(hours=1), event

    orders = api.orders(contact["id"])
    assert orders["count"] == 1
    (stored,) = orders["results"]
    assert stored["event_id"] == by_name["Order Completed"]["id"]
    assert stored["order_id"] == ORDER["order_id"]
    assert stored["total"] == 27.5
    assert stored["revenue"] == 27.5  # `total` only: it fills `revenue` too
    assert stored["currency"] == "USD"
    assert [p["product_id"] for p in stored["products"]] == [
        p["product_id"] for p in ORDER["products"]
    ]


def test_sync_client_with_gzip_and_a_replayed_message(
    server: ServerProcess, org: Org, api: Api
) -> None:
    client = analytics.Client(
        write_key=org.key, host=server.url, sync_mode=True, gzip=True, timeout=HTTP_TIMEOUT
    )
    traits = {"email": "marshall@example.com", "name": "Marshall Eriksen", "plan": "Free"}
    client.identify("user-200", traits, message_id="m-200-identify")
    for _ in range(2):  # what a client retrying after a lost answer does
        client.track("user-200", "Clicked", {"n": 1}, message_id="m-200-clicked")
    client.identify("user-200", {"plan": "Pro", "email": None}, message_id="m-200-upgrade")
    # A historical import: the client's own timestamp is kept (the clock-skew correction
    # only shifts it by the time the request took).
    past = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    client.track("user-200", "Imported", {}, timestamp=past, message_id="m-200-imported")

    contact = api.contact("user-200")
    assert (contact["first_name"], contact["last_name"]) == ("Marshall", "Eriksen")
    assert contact["email"] == "marshall@example.com"
    assert contact["attributes"] == {"plan": "Pro"}
    events = api.events(contact["id"])
    assert [e["message_id"] for e in events["results"]] == ["m-200-clicked", "m-200-imported"]
    imported = datetime.fromisoformat(events["results"][1]["timestamp"])
    assert abs(imported - past) < timedelta(minutes=5), imported


def test_wrong_write_key_is_reported_to_the_client(server: ServerProcess, api: Api) -> None:
    client = analytics.Client(
        write_key="pk_" + "x" * 32, host=server.url, sync_mode=True, timeout=HTTP_TIMEOUT
    )
    with pytest.raises(segment_request.APIError) as caught:
        client.identify("user-300", {"email": "robin@example.com"})
    assert caught.value.status == 401
    assert caught.value.code == "invalid_api_key"
    assert api.contacts() == []
