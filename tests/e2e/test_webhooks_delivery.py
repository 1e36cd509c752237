"""Webhooks end to end: a real ``promoter serve`` process sends them to a receiver run by
the test, which checks every signature as a customer's would.

A webhook is subscribed through the REST API; a contact comes in through the Tracking
API; the survey email goes out (``survey.sent``); the contact answers on the survey pages
(``feedback.added_or_changed``, as JSON and as a Slack message).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from promoter.webhooks.signing import verify_signature
from tests.conftest import Org
from tests.credentials import basic, token
from tests.e2e.conftest import Api, ServerProcess
from tests.e2e.survey_mail import survey_link
from tests.receiver import Receiver, Request

pytestmark = pytest.mark.e2e

#: Bound on every wait (the sender polls about once a second when idle).
WAIT_TIMEOUT = 60.0
SIGNED = re.compile(rb"/u/([A-Za-z0-9_.-]+)")


def wait_for(receiver: Receiver, event: str, count: int) -> list[Request]:
    deadline = time.monotonic() + WAIT_TIMEOUT
    while time.monotonic() < deadline:
        found = [r for r in receiver.requests if r.headers.get("Promoter-Event") == event]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    pytest.fail(f"fewer than {count} {event} requests arrived: {receiver.requests}")


def recorded(api: Api, hook_id: int, done: Callable[[dict[str, Any]], bool]) -> Any:
    """The deliveries log of ``hook_id`` once ``done`` holds for each delivery in it."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        log = api.get(f"/api/v2/webhooks/{hook_id}/deliveries/")
        if all(done(d) for d in log["results"]) or time.monotonic() > deadline:
            return log
        time.sleep(0.1)


def subscribe(http: httpx2.Client, org: Org, **body: Any) -> dict[str, Any]:
    response = http.post("/api/v2/webhooks/", json=body, headers=token(org.key))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_the_survey_loop_notifies_subscribers(
    server: ServerProcess, http: httpx2.Client, api: Api, org: Org, receiver: Receiver
) -> None:
    sent_hook = subscribe(http, org, event="survey.sent", target_url=receiver.url)
    feedback_hook = subscribe(
        http, org, event="feedback.added_or_changed", target_url=receiver.url + "/json"
    )
    slack_hook = subscribe(
        http,
        org,
        event="feedback.added_or_changed",
        target_url=receiver.url + "/slack",
        format="slack",
    )
    secrets = {h["id"]: h["secret"] for h in (sent_hook, feedback_hook, slack_hook)}
    assert len(set(secrets.values())) == 3

    batch = {
        "batch": [
            {
                "type": "identify",
                "userId": "ted",
                "messageId": "m-1",
                "traits": {"email": "ted@mosbius.example", "plan": "Premium"},
            },
            {"type": "track", "userId": "ted", "messageId": "m-2", "event": "Signed Up"},
        ]
    }
    response = http.post("/v1/batch", json=batch, headers=basic(org.key))
    assert response.status_code == 200, response.text

    (sent,) = wait_for(receiver, "survey.sent", 1)
    assert verify_signature(sent_hook["secret"], sent.headers["Promoter-Signature"], sent.body)
    assert sent.json["data"]["contact"]["email"] == "ted@mosbius.example"

    signed = survey_link(server.workdir / "promoter-mail")
    answered = http.post(f"/s/{signed}", data={"score": "4"})
    assert answered.status_code == 303, answered.text
    commented = http.post(f"/s/{signed}/comment", data={"comment": "Export is <slow> & buggy"})
    assert commented.status_code == 303, commented.text

    requests = wait_for(receiver, "feedback.added_or_changed", 4)
    as_json = [r for r in requests if r.path.endswith("/json")]
    as_slack = [r for r in requests if r.path.endswith("/slack")]
    assert len(as_json) == 2 and len(as_slack) == 2
    for request in as_json:
        assert verify_signature(
            feedback_hook["secret"], request.headers["Promoter-Signature"], request.body
        )
    for request in as_slack:
        assert verify_signature(
            slack_hook["secret"], request.headers["Promoter-Signature"], request.body
        )
    comments = sorted((r.json["data"]["comment"] or "") for r in as_json)
    assert comments == ["", "Export is <slow> & buggy"]
    data = as_json[0].json["data"]
    assert data["score"] == 4 and data["score_type"] == "detractor"
    assert data["contact"]["user_id"] == "ted" and data["attributes"] == {"plan": "Premium"}
    # JSON and Slack subscribers hear of the same events (the ids match).
    assert {r.headers["Promoter-Event-Id"] for r in as_json} == {
        r.headers["Promoter-Event-Id"] for r in as_slack
    }
    texts = [r.json["text"] for r in as_slack]
    assert any("Export is &lt;slow&gt; &amp; buggy" in t for t in texts)
    assert all(t.startswith("Detractor (4) from ted@mosbius.example on ") for t in texts)
    assert all(f"<{server.url}/contacts/" in t for t in texts)

    # The sender records a delivery once it has the receiver's answer: a moment after the
    # receiver has the request.
    log = recorded(api, feedback_hook["id"], lambda d: d["status"] != "pending")
    assert log["count"] == 2
    assert {d["status"] for d in log["results"]} == {"delivered"}
    assert {d["last_status_code"] for d in log["results"]} == {200}


def test_a_failing_receiver_is_retried_and_logged(
    server: ServerProcess, http: httpx2.Client, api: Api, org: Org, receiver: Receiver
) -> None:
    receiver.respond = lambda request: 503
    hook = subscribe(http, org, event="survey.sent", target_url=receiver.url)
    pinged = http.post(f"/api/v2/webhooks/{hook['id']}/test/", headers=token(org.key))
    assert pinged.status_code == 200
    assert pinged.json()["status"] == "failed" and pinged.json()["last_status_code"] == 503
    batch = {
        "batch": [
            {"type": "identify", "userId": "u", "messageId": "i", "traits": {"email": "u@x.io"}},
            {"type": "track", "userId": "u", "messageId": "t", "event": "Signed Up"},
        ]
    }
    assert http.post("/v1/batch", json=batch, headers=basic(org.key)).status_code == 200
    (first,) = wait_for(receiver, "survey.sent", 1)
    deadline = time.monotonic() + WAIT_TIMEOUT
    while time.monotonic() < deadline:
        log = api.get(f"/api/v2/webhooks/{hook['id']}/deliveries/")
        pending = [d for d in log["results"] if d["event"] == "survey.sent"]
        if pending and pending[0]["attempts"] == 1 and pending[0]["last_status_code"] == 503:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the failed attempt was not recorded: {log}")
    (delivery,) = pending
    assert delivery["status"] == "pending" and delivery["next_attempt_at"] is not None
    receiver.respond = lambda request: 200
    again = http.post(
        f"/api/v2/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver/",
        headers=token(org.key),
    )
    assert again.status_code == 200 and again.json()["status"] == "delivered"
    second = wait_for(receiver, "survey.sent", 2)[1]
    assert second.headers["Promoter-Event-Id"] == first.headers["Promoter-Event-Id"]
