"""integrations/segment-function/promoter.js, run as Segment's Functions runtime runs it
(tests/e2e/node/function_harness.mjs), against a real ``promoter serve``."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from promoter.orgs.service import set_webhook_secret
from promoter.storage.engine import Database
from tests.conftest import Org
from tests.e2e.conftest import KEY_CACHE_SECONDS, Api, ServerProcess
from tests.e2e.http_front import UnavailableFront
from tests.e2e.stored import stored
from tests.segment_events import segment_event

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
FUNCTION = ROOT / "integrations" / "segment-function" / "promoter.js"
HARNESS = Path(__file__).parent / "node" / "function_harness.mjs"


IDENTIFY = segment_event(
    "identify",
    "fn-1",
    "fn-m1",
    traits={"email": "robin@example.com", "name": "Robin Scherbatsky", "plan": "Pro"},
)
TRACK = segment_event("track", "fn-1", "fn-m2", event="Signed Up", properties={"plan": "Pro"})
ORDER = segment_event(
    "track",
    "fn-1",
    "fn-m3",
    event="Order Completed",
    properties={"order_id": "o-77", "revenue": 40, "currency": "USD"},
)


def run(settings: dict[str, Any], *events: dict[str, Any]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to run the Segment function")
    done = subprocess.run(
        [node, str(HARNESS), str(FUNCTION), json.dumps(settings), json.dumps(list(events))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcomes: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return outcomes


def errors(outcomes: list[dict[str, Any]]) -> list[str | None]:
    return [outcome.get("error") for outcome in outcomes]


def test_identify_track_and_delete_reach_promoter(
    server: ServerProcess, database: Database, org: Org, other_org: Org, api: Api
) -> None:
    settings = {"apiKey": org.key, "host": server.url + "/"}
    assert errors(run(settings, IDENTIFY, TRACK, ORDER)) == [None, None, None]
    contact = api.contact("fn-1")
    assert (contact["email"], contact["first_name"]) == ("robin@example.com", "Robin")
    assert contact["attributes"] == {"plan": "Pro"}
    assert {e["event"] for e in api.events(contact["id"])["results"]} == {
        "Signed Up",
        "Order Completed",
    }
    (order,) = api.orders(contact["id"])["results"]
    assert (order["order_id"], order["revenue"]) == ("o-77", 40)
    assert stored(database, other_org) == (set(), {})

    # Segment retried an event whose answer it did not get: applied once.
    (again,) = run(settings, TRACK)
    assert again["ok"] and again["result"]["duplicates"] == 1

    assert errors(run(settings, segment_event("delete", "fn-1", "fn-m4"))) == [None]
    assert api.contacts() == []
    assert stored(database, org)[1] == {}


def test_errors_are_the_ones_segment_expects(
    server: ServerProcess, database: Database, org: Org, api: Api
) -> None:
    settings = {"apiKey": org.key, "host": server.url}
    page = segment_event("page", "fn-1", "fn-p", name="Home")
    no_email = segment_event("identify", "fn-2", "fn-n", traits={"plan": "Free"})
    outcomes = run(settings, page, no_email)
    assert errors(outcomes) == ["EventNotSupported", "InvalidEventPayload"]
    assert "email" in outcomes[1]["message"]

    (refused,) = run({"apiKey": "pk_" + "x" * 32, "host": server.url}, IDENTIFY)
    assert refused["error"] == "ValidationError" and "401" in refused["message"]
    (unset,) = run({"apiKey": "", "host": server.url}, IDENTIFY)
    assert unset["error"] == "ValidationError"

    with UnavailableFront(server.url, lost_answers=1, refused=1) as front:
        front_settings = {"apiKey": org.key, "host": front.url}
        # Stored, then the answer is lost; then refused: Segment is told to retry twice.
        assert errors(run(front_settings, IDENTIFY, IDENTIFY)) == ["RetryError", "RetryError"]
        assert errors(run(front_settings, IDENTIFY)) == [None]
    assert stored(database, org)[0] == {"fn-m1"}
    assert api.contact("fn-1")["email"] == "robin@example.com"

    closed = {"apiKey": org.key, "host": "http://127.0.0.1:9"}
    assert errors(run(closed, TRACK)) == ["RetryError"]


def test_signed_with_the_shared_secret_when_the_organization_has_one(
    server: ServerProcess, database: Database, org: Org, api: Api
) -> None:
    with database.write() as conn:
        set_webhook_secret(conn, organization_id=org.id, secret="fn-secret")
    time.sleep(KEY_CACHE_SECONDS)
    unsigned = {"apiKey": org.key, "host": server.url}
    assert errors(run(unsigned, IDENTIFY)) == ["ValidationError"]
    signed = {**unsigned, "sharedSecret": "fn-secret"}
    assert errors(run(signed, IDENTIFY, TRACK)) == [None, None]
    assert api.contact("fn-1")["email"] == "robin@example.com"
