"""Segment's and RudderStack's own libraries, unmodified, against a real ``promoter serve``.

Four libraries: segment-analytics-python and rudder-sdk-python in this process,
@segment/analytics-node and @rudderstack/rudder-sdk-node through ``node`` (tests/e2e/node/
send.mjs). Each sends the same calls: identifies (traits with email, name, plan), tracks, an
"Order Completed", queued together so that they travel as a batch, gzipped where the library
compresses, through a front that answers 503 to the first requests. The database must then
hold every message exactly once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
import segment.analytics as segment_analytics
from rudderstack import analytics as rudder_analytics
from rudderstack.analytics import request as rudder_request
from segment.analytics import request as segment_request

from promoter.storage.engine import Database
from tests.conftest import Org
from tests.e2e.conftest import HTTP_TIMEOUT, Api, ServerProcess
from tests.e2e.http_front import UnavailableFront
from tests.e2e.stored import stored

pytestmark = pytest.mark.e2e

SEND_SCRIPT = Path(__file__).parent / "node" / "send.mjs"
NODE_MODULES = Path(__file__).parents[2] / "node_modules"

#: Calls in a neutral form: (method, userId, messageId, traits or (event, properties)).
ORDER = {
    "order_id": "ord-1001",
    "total": 27.5,
    "currency": "EUR",
    "products": [{"product_id": "p-1", "sku": "45790-32", "price": 19, "quantity": 1}],
}


def calls(prefix: str) -> list[dict[str, Any]]:
    """What every library sends; ``prefix`` keeps messageIds and userIds apart per library."""
    ted, lily = f"{prefix}-ted", f"{prefix}-lily"
    return [
        {
            "method": "identify",
            "userId": ted,
            "messageId": f"{prefix}-m1",
            "traits": {
                "email": "ted@example.com",
                "name": "Ted Mosby",
                "plan": "Premium",
                "company": {"name": "Mosbius Designs", "employees": 12},
            },
        },
        {
            "method": "track",
            "userId": ted,
            "messageId": f"{prefix}-m2",
            "event": "Signed Up",
            "properties": {"plan": "Premium"},
        },
        {
            "method": "track",
            "userId": ted,
            "messageId": f"{prefix}-m3",
            "event": "Order Completed",
            "properties": ORDER,
        },
        {
            "method": "identify",
            "userId": lily,
            "messageId": f"{prefix}-m4",
            "traits": {"email": "lily@example.com", "firstName": "Lily", "plan": "Free"},
        },
        {
            "method": "track",
            "userId": lily,
            "messageId": f"{prefix}-m5",
            "event": "Clicked",
            "properties": {"n": 1},
        },
        {"method": "page", "userId": lily, "messageId": f"{prefix}-m6", "name": "Home"},
    ]


# --- the libraries -----------------------------------------------------------------------


def _python_library(module: Any, request_module: Any, *, gzip: bool) -> Callable[..., list[str]]:
    def send(host: str, key: str, sent: list[dict[str, Any]]) -> list[str]:
        errors: list[str] = []
        client = module.Client(
            write_key=key,
            host=host,
            gzip=gzip,
            on_error=lambda error, batch: errors.append(repr(error)),
            max_retries=5,
            timeout=HTTP_TIMEOUT,
            upload_interval=0.2,
        )
        try:
            for call in sent:
                method = getattr(client, call["method"])
                if call["method"] == "identify":
                    method(call["userId"], call["traits"], message_id=call["messageId"])
                elif call["method"] == "track":
                    method(
                        call["userId"],
                        call["event"],
                        call["properties"],
                        message_id=call["messageId"],
                    )
                else:
                    method(call["userId"], name=call["name"], message_id=call["messageId"])
            client.flush()
        finally:
            client.join()
            request_module._session.close()
        return errors

    return send


def _node_library(name: str) -> Callable[..., list[str]]:
    def send(host: str, key: str, sent: list[dict[str, Any]]) -> list[str]:
        node = shutil.which("node")
        if node is None or not (NODE_MODULES / "@segment" / "analytics-node").is_dir():
            pytest.fail("node and the npm packages are needed: run `npm ci` at the root")
        node_calls = [
            {"method": call["method"], "params": {k: v for k, v in call.items() if k != "method"}}
            for call in sent
        ]
        done = subprocess.run(
            [node, str(SEND_SCRIPT), name, host, key, json.dumps(node_calls)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode not in (0, 1) or not done.stdout.strip():
            pytest.fail(f"node exited with {done.returncode}:\n{done.stdout}\n{done.stderr}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert isinstance(report["errors"], list)
        return [str(error) for error in report["errors"]]

    return send


@dataclass(frozen=True)
class Library:
    name: str
    send: Callable[[str, str, list[dict[str, Any]]], list[str]]
    #: The Content-Encoding it sends with (None: it does not compress).
    encoding: str | None


LIBRARIES = {
    "segment-python": Library(
        "segment-python",
        _python_library(segment_analytics, segment_request, gzip=True),
        "gzip",
    ),
    "rudder-python": Library(
        "rudder-python",
        _python_library(rudder_analytics, rudder_request, gzip=True),
        "gzip",
    ),
    "segment-node": Library("segment-node", _node_library("segment"), None),
    "rudder-node": Library("rudder-node", _node_library("rudderstack"), "gzip"),
}


@pytest.fixture(params=sorted(LIBRARIES))
def library(request: pytest.FixtureRequest) -> Library:
    return LIBRARIES[request.param]


# --- the checks --------------------------------------------------------------------------


def test_every_call_is_stored_once_through_503s(
    server: ServerProcess,
    database: Database,
    org: Org,
    other_org: Org,
    api: Api,
    http: httpx2.Client,
    library: Library,
) -> None:
    sent = calls(library.name)
    with UnavailableFront(server.url, lost_answers=1, refused=1) as front:
        errors = library.send(front.url, org.key, sent)
    assert errors == []
    statuses = front.statuses()
    assert statuses[:2] == [503, 503] and set(statuses[2:]) == {200}, statuses
    assert {seen.path for seen in front.seen} == {"/v1/batch"}
    assert {seen.content_encoding for seen in front.seen} == {library.encoding}

    # The first request was stored before its answer was lost: the retry is a duplicate.
    # (A page is acknowledged and not used, so not recorded.)
    processed, per_message = stored(database, org)
    assert processed == {call["messageId"] for call in sent if call["method"] != "page"}
    tracks = [call["messageId"] for call in sent if call["method"] == "track"]
    assert per_message == dict.fromkeys(tracks, 1)

    ted = api.contact(f"{library.name}-ted")
    assert ted["email"] == "ted@example.com"
    assert (ted["first_name"], ted["last_name"]) == ("Ted", "Mosby")
    assert ted["attributes"] == {
        "plan": "Premium",
        "company.name": "Mosbius Designs",
        "company.employees": 12,
    }
    events = {e["event"]: e for e in api.events(ted["id"])["results"]}
    assert set(events) == {"Signed Up", "Order Completed"}
    assert events["Signed Up"]["properties"] == {"plan": "Premium"}
    (order,) = api.orders(ted["id"])["results"]
    assert order["event_id"] == events["Order Completed"]["id"]
    assert (order["order_id"], order["total"], order["currency"]) == ("ord-1001", 27.5, "EUR")
    assert [p["product_id"] for p in order["products"]] == ["p-1"]

    lily = api.contact(f"{library.name}-lily")
    assert (lily["email"], lily["first_name"]) == ("lily@example.com", "Lily")
    assert lily["attributes"] == {"plan": "Free"}
    assert [e["event"] for e in api.events(lily["id"])["results"]] == ["Clicked"]

    assert Api(http, other_org).contacts() == []
    assert stored(database, other_org) == (set(), {})


def test_a_wrong_write_key_is_reported_and_nothing_is_stored(
    server: ServerProcess, database: Database, org: Org, api: Api, library: Library
) -> None:
    errors = library.send(server.url, "pk_" + "x" * 32, calls(library.name)[:2])
    assert errors, "the library reported no error for a refused key"
    assert api.contacts() == []
    assert stored(database, org) == (set(), {})
